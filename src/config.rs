//! `Config`: `.wf/config` (committed: remotes, the default remote, the link type) merged with
//! `.wf/config.local` (ignored by git: credentials).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::spec::{Loc, Source, Span};

/// The default remote when none is configured: a folder in the repository.
pub const DEFAULT_REMOTE_DIR: &str = "dvc_remote";

/// The config files, relative to the repository root. Their folder is the workspace's `.wf`,
/// named here because the workspace reads the config and not the other way round (a test in
/// `workspace.rs` keeps the two the same).
const FILE: &str = ".wf/config";
const LOCAL_FILE: &str = ".wf/config.local";

/// Errors reading or writing the config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A value the config cannot hold.
    #[error("`{path}` is not a valid config: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file is not TOML of the expected shape.
    #[error("invalid config: {message}")]
    Syntax {
        /// What is wrong, in wf's words (with the place when `loc` is not shown).
        message: String,
        /// The place, when the file may be shown (never `.wf/config.local`: it holds secrets).
        loc: Option<Loc>,
    },
    /// `[cache] type` names no link type.
    #[error("unknown cache type `{value}` in `{FILE}`")]
    UnknownCacheType {
        /// The value written.
        value: String,
    },
}

impl ConfigError {
    /// The place in the file the error points at.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            ConfigError::Syntax { loc, .. } => loc.as_ref(),
            _ => None,
        }
    }

    /// The `help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            ConfigError::UnknownCacheType { .. } => {
                Some("use `reflink`, `copy`, `hardlink` or `symlink`".into())
            }
            _ => None,
        }
    }
}

/// The whole config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[core]`.
    #[serde(default, skip_serializing_if = "Core::is_empty")]
    pub core: Core,
    /// `[cache]`.
    #[serde(default, skip_serializing_if = "CacheConfig::is_empty")]
    pub cache: CacheConfig,
    /// `[remote.NAME]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote: BTreeMap<String, RemoteConfig>,
    /// `[executor]`.
    #[serde(default, skip_serializing_if = "ExecutorConfig::is_empty")]
    pub executor: ExecutorConfig,
}

/// `[executor]`: where stages run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    /// The executor of stages that name none, when `--executor` is not given: `local` or
    /// `slurm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<crate::spec::ExecutorName>,
    /// `[executor.slurm]`.
    #[serde(default, skip_serializing_if = "SlurmConfig::is_empty")]
    pub slurm: SlurmConfig,
}

impl ExecutorConfig {
    fn is_empty(&self) -> bool {
        self.default.is_none() && self.slurm.is_empty()
    }
}

/// `[executor.slurm]`: how stages are submitted to Slurm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// `sbatch -p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `sbatch -A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `sbatch -t` for stages without `resources.time` (`1:00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// More `sbatch` flags, as separate words (`["--qos=short"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbatch_args: Option<Vec<String>>,
    /// Whether the nodes see the repository at the same path (default true). When false, jobs
    /// fetch their inputs from the remote and push their outputs back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_fs: Option<bool>,
    /// The remote jobs exchange data through when `shared_fs = false` (default: the default
    /// remote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Seconds between two polls of the queue (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<f64>,
    /// The `wf` binary on the nodes (default: this one's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wf: Option<String>,
    /// Where a job without a shared file system unpacks its inputs on the node (default
    /// `/tmp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch: Option<String>,
    /// How many jobs may be queued or running at once (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_jobs: Option<usize>,
}

impl SlurmConfig {
    fn is_empty(&self) -> bool {
        self == &SlurmConfig::default()
    }

    /// Fills every field `self` lacks from `other`.
    fn or(self, other: SlurmConfig) -> SlurmConfig {
        SlurmConfig {
            partition: self.partition.or(other.partition),
            account: self.account.or(other.account),
            time: self.time.or(other.time),
            sbatch_args: self.sbatch_args.or(other.sbatch_args),
            shared_fs: self.shared_fs.or(other.shared_fs),
            remote: self.remote.or(other.remote),
            poll_interval: self.poll_interval.or(other.poll_interval),
            wf: self.wf.or(other.wf),
            scratch: self.scratch.or(other.scratch),
            max_jobs: self.max_jobs.or(other.max_jobs),
        }
    }
}

/// `[core]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Core {
    /// The default remote's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

impl Core {
    fn is_empty(&self) -> bool {
        self.remote.is_none()
    }
}

/// `[cache]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `reflink`, `copy`, `hardlink` or `symlink`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl CacheConfig {
    fn is_empty(&self) -> bool {
        self.link.is_none()
    }
}

/// `[remote.NAME]`. Its `Debug` hides the keys, and a URL is shown through [`shown_url`].
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// A folder (relative to the repository root, or absolute) or `s3://bucket/prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The S3 region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The access key (put it in `.wf/config.local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The secret key (put it in `.wf/config.local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    /// How many times a failed request to an S3 remote is retried, with exponential backoff,
    /// before the transfer is given up (default 10; 0 turns retries off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |k: &Option<String>| k.as_ref().map(|_| "***");
        f.debug_struct("RemoteConfig")
            .field("url", &self.url.as_deref().map(shown_url))
            .field("endpoint", &self.endpoint.as_deref().map(shown_url))
            .field("region", &self.region)
            .field("access_key_id", &hidden(&self.access_key_id))
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("retries", &self.retries)
            .finish()
    }
}

/// A URL as wf shows it: a password in it (`https://user:password@host/`) replaced by `***`.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    match authority[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

impl Config {
    /// `.wf/config`.
    pub fn path(root: &Path) -> PathBuf {
        root.join(FILE)
    }

    /// `.wf/config.local`.
    pub fn local_path(root: &Path) -> PathBuf {
        root.join(LOCAL_FILE)
    }

    /// Reads one file (missing: empty).
    pub fn read_file(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Io {
                    action: "read",
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| syntax(path, text, &e))
    }

    /// The config and the local config, merged (local values win).
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::read_file(&Config::path(root))?;
        let local = Config::read_file(&Config::local_path(root))?;
        if local.core.remote.is_some() {
            config.core.remote = local.core.remote;
        }
        if local.cache.link.is_some() {
            config.cache.link = local.cache.link;
        }
        if local.executor.default.is_some() {
            config.executor.default = local.executor.default;
        }
        config.executor.slurm = local.executor.slurm.or(config.executor.slurm);
        for (name, r) in local.remote {
            let into = config.remote.entry(name).or_default();
            for (slot, v) in [
                (&mut into.url, r.url),
                (&mut into.endpoint, r.endpoint),
                (&mut into.region, r.region),
                (&mut into.access_key_id, r.access_key_id),
                (&mut into.secret_access_key, r.secret_access_key),
            ] {
                if v.is_some() {
                    *slot = v;
                }
            }
            into.retries = r.retries.or(into.retries);
        }
        Ok(config)
    }

    /// The link type of `[cache] type` (reflink, then copy, when unset).
    pub fn link_type(&self) -> Result<crate::cache::LinkType, ConfigError> {
        match self.cache.link.as_deref() {
            None => Ok(crate::cache::LinkType::default()),
            Some(t) => {
                crate::cache::LinkType::parse(t).ok_or_else(|| ConfigError::UnknownCacheType {
                    value: t.to_string(),
                })
            }
        }
    }

    /// Writes one file atomically.
    pub fn write_file(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        crate::atomic::write(path, text.as_bytes()).map_err(|source| ConfigError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        })
    }
}

/// toml's error in wf's words: its message without its own rendering of the line, and the place
/// as a `Loc` so the line and caret render as every other error's.
fn syntax(path: &Path, text: String, e: &toml::de::Error) -> ConfigError {
    let local = path.file_name().is_some_and(|n| n == "config.local");
    let name = match path.parent().and_then(Path::file_name) {
        Some(dir) if dir == ".wf" => if local { LOCAL_FILE } else { FILE }.to_string(),
        _ => path.display().to_string(),
    };
    let mut message = e.message().trim_end().to_string();
    let span = e.span().map(|r| Span::of_bytes(&text, r));
    if let Some(s) = span {
        // toml says only "duplicate key": name it.
        let written = text.get(s.offset..s.offset + s.len).unwrap_or("").trim();
        if message == "duplicate key" && !written.is_empty() {
            message = format!("duplicate key `{}`", written.trim_matches(['[', ']', '"']));
        }
        if local {
            message = format!("{message} at `{name}:{}:{}`", s.line, s.col);
        }
    }
    let loc = span.filter(|_| !local).map(|span| Loc {
        src: std::sync::Arc::new(Source {
            name,
            path: path.to_path_buf(),
            text,
        }),
        span,
    });
    ConfigError::Syntax { message, loc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_shown() {
        assert_eq!(
            shown_url("https://ann:hunter2@minio.local:9000/bucket"),
            "https://ann:***@minio.local:9000/bucket"
        );
        assert_eq!(shown_url("https://ann@host/x"), "https://ann@host/x");
        assert_eq!(shown_url("s3://bucket/a@b:c"), "s3://bucket/a@b:c");
        assert_eq!(shown_url("dvc_remote"), "dvc_remote");
        let r = RemoteConfig {
            url: Some("s3://bucket".into()),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI".into()),
            ..RemoteConfig::default()
        };
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("AKIDEXAMPLE") && !shown.contains("wJalrXUtnFEMI"),
            "{shown}"
        );
        assert!(shown.contains("s3://bucket"), "{shown}");
    }
}
