//! `wf serve`: the registry's champion (or another alias, or a pinned version) behind HTTP.

use std::path::PathBuf;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::serve::{Options, Stopped, Target};

/// Serve a registry model over HTTP: wf's `/predict`, MLflow's `/invocations` and the Open
/// Inference Protocol (`/v2`), with `/health`, `/reload` and `/metrics`.
///
/// Without `--model` it serves the `champion` alias and follows it: when `wf model promote`,
/// `wf model rollback` or a `deploy` stage moves the alias, the new version is loaded in the
/// background and swapped in, with no request failed or kept waiting. A version number pins
/// it. `POST /reload` needs `Authorization: Bearer TOKEN`: the token is `WF_SERVE_TOKEN` if
/// set, else a fresh one in `.wf/serve-PORT.token` while the server runs. SIGTERM and Ctrl-C
/// finish the requests in flight, then exit.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The version number (pinned) or alias (followed) to serve.
    #[arg(long, default_value = "champion", value_name = "ALIAS|VERSION")]
    pub model: String,
    /// The registry folder (default: the `deploy` stage's `registry`, as `wf model` finds it).
    #[arg(long, value_name = "DIR")]
    pub registry: Option<PathBuf>,
    /// The address to listen on; anything but loopback exposes the model to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: any free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Threads answering requests (default: one per CPU). On a machine shared with the
    /// clients, fewer can answer faster.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// The model's name in `/v2/models/NAME` (default: the `--model` value).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// Runs `wf serve`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let registry = match &args.registry {
        Some(d) => ctx.cwd.to_path(&ctx.root).join(d),
        None => crate::cmd::model::default_registry(ctx)?,
    };
    // A token file goes in the repository's own folder, never beside a bare registry.
    let in_repo = [".wf", ".dvc", ".git"]
        .iter()
        .any(|d| ctx.root.join(d).exists());
    let options = Options {
        registry: shown(registry),
        target: Target::parse(&args.model),
        host: args.host.clone(),
        port: args.port,
        workers: args.workers.map(usize::from),
        name: args.name.clone(),
        token: std::env::var("WF_SERVE_TOKEN").ok(),
        token_dir: in_repo.then(|| ctx.root.join(".wf")),
        quiet: ctx.quiet,
    };
    let code = match crate::serve::run(options)? {
        Stopped::Terminated => exit_code::OK,
        Stopped::Interrupted => exit_code::INTERRUPTED,
    };
    Ok(Report {
        stdout: String::new(),
        stderr: String::new(),
        code,
    })
}

/// `a/b/../c` as `a/c`, without touching the filesystem (the registry may be a symlink).
fn shown(path: PathBuf) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
