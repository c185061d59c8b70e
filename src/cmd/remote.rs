//! `wf remote`: configure where `push` and `pull` share the cache.

use crate::cmd::Report;
use crate::config::{Config, ConfigError, RemoteConfig};
use crate::context::Context;
use crate::error::Error;

/// Configure remotes in `.wf/config` (credentials in the git-ignored `.wf/config.local`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subcommand.
    #[command(subcommand)]
    pub command: RemoteCommand,
}

/// `wf remote` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RemoteCommand {
    /// Add a remote: a folder, or `s3://bucket/prefix`.
    Add {
        /// Its name.
        name: String,
        /// Where it is.
        url: String,
        /// Make it the default remote.
        #[arg(short, long)]
        default: bool,
        /// An S3-compatible endpoint (`http://127.0.0.1:9000`).
        #[arg(long)]
        endpoint: Option<String>,
        /// The S3 region.
        #[arg(long)]
        region: Option<String>,
    },
    /// Set an option of a remote (`endpoint`, `region`, `url`, `access_key_id`,
    /// `secret_access_key`, `retries`); `--local` writes it to `.wf/config.local`, for secrets.
    Modify {
        /// The remote.
        name: String,
        /// The option.
        option: String,
        /// Its value.
        value: String,
        /// Write to `.wf/config.local` (not committed).
        #[arg(long)]
        local: bool,
    },
    /// Remove a remote.
    Remove {
        /// Its name.
        name: String,
    },
    /// List remotes (the default marked).
    List,
    /// Show or set the default remote.
    Default {
        /// The remote to make the default.
        name: Option<String>,
    },
}

/// Runs `wf remote`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    crate::workspace::ensure_dir(&ctx.root).map_err(|(path, source)| ConfigError::Io {
        action: "create",
        path: path.display().to_string(),
        source,
    })?;
    let path = Config::path(&ctx.root);
    let mut config = Config::read_file(&path)?;
    let unknown = |name: &str| Error::Usage {
        message: format!("no remote named `{name}`"),
        help: Some("`wf remote list` shows the remotes; `wf remote add NAME URL` adds one".into()),
    };
    match &args.command {
        RemoteCommand::Add {
            name,
            url,
            default,
            endpoint,
            region,
        } => {
            if config.remote.contains_key(name) {
                return Err(Error::Usage {
                    message: format!("remote `{name}` exists already"),
                    help: Some(format!("`wf remote modify {name} url URL` changes it")),
                });
            }
            config.remote.insert(
                name.clone(),
                RemoteConfig {
                    url: Some(url.clone()),
                    endpoint: endpoint.clone(),
                    region: region.clone(),
                    ..RemoteConfig::default()
                },
            );
            if *default {
                config.core.remote = Some(name.clone());
            }
            config.write_file(&path)?;
            Ok(Report::ok(String::new()))
        }
        RemoteCommand::Modify {
            name,
            option,
            value,
            local,
        } => {
            let file = if *local {
                Config::local_path(&ctx.root)
            } else {
                path.clone()
            };
            let mut target = if *local {
                Config::read_file(&file)?
            } else {
                config.clone()
            };
            if !*local && !config.remote.contains_key(name) {
                return Err(unknown(name));
            }
            let r = target.remote.entry(name.clone()).or_default();
            if option == "retries" {
                r.retries = Some(value.parse().map_err(|_| {
                    Error::Usage {
                        message: format!("`retries` must be a whole number, not `{value}`"),
                        help: Some(
                            "for example `wf remote modify NAME retries 5` (0 turns retries off)"
                                .into(),
                        ),
                    }
                })?);
                target.write_file(&file)?;
                return Ok(Report::ok(String::new()));
            }
            let slot = match option.as_str() {
                "url" => &mut r.url,
                "endpoint" => &mut r.endpoint,
                "region" => &mut r.region,
                "access_key_id" => &mut r.access_key_id,
                "secret_access_key" => &mut r.secret_access_key,
                other => {
                    return Err(Error::Usage {
                        message: format!("unknown remote option `{other}`"),
                        help: Some("options are `url`, `endpoint`, `region`, `access_key_id`, `secret_access_key`, `retries`".into()),
                    });
                }
            };
            *slot = Some(value.clone());
            target.write_file(&file)?;
            Ok(Report::ok(String::new()))
        }
        RemoteCommand::Remove { name } => {
            if config.remote.remove(name).is_none() {
                return Err(unknown(name));
            }
            if config.core.remote.as_deref() == Some(name) {
                config.core.remote = None;
            }
            config.write_file(&path)?;
            Ok(Report::ok(String::new()))
        }
        RemoteCommand::List => {
            let merged = Config::load(&ctx.root)?;
            let mut out = String::new();
            for (name, r) in &merged.remote {
                let mark = if merged.core.remote.as_deref() == Some(name) {
                    " (default)"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "{name}\t{}{mark}\n",
                    crate::config::shown_url(r.url.as_deref().unwrap_or(""))
                ));
            }
            if merged.core.remote.is_none() {
                out.push_str(&format!(
                    "default\t{} (built in)\n",
                    crate::config::DEFAULT_REMOTE_DIR
                ));
            }
            Ok(Report::ok(out))
        }
        RemoteCommand::Default { name: None } => {
            let merged = Config::load(&ctx.root)?;
            Ok(Report::ok(format!(
                "{}\n",
                merged
                    .core
                    .remote
                    .as_deref()
                    .unwrap_or(crate::config::DEFAULT_REMOTE_DIR)
            )))
        }
        RemoteCommand::Default { name: Some(name) } => {
            if !config.remote.contains_key(name) {
                return Err(unknown(name));
            }
            config.core.remote = Some(name.clone());
            config.write_file(&path)?;
            Ok(Report::ok(String::new()))
        }
    }
}
