//! `wf exp push` and `wf exp pull`: share experiments through a remote, with the cache objects of
//! their outs and the artifacts their scripts logged.

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::exp::share::{self, Shared};

/// Options of `wf exp push` and `wf exp pull`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiments' names or ids (default: every one; push takes those that ended).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// The remote (default: `core.remote` of `.wf/config`, else `dvc_remote/`).
    #[arg(short, long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Objects moved at once.
    #[arg(short, long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wf exp push`.
pub fn push(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let done = share::push(&ctx.repo(), args.remote.as_deref(), &args.names, args.jobs)?;
    Ok(render(ctx, "pushed", "to", &done, args.json))
}

/// Runs `wf exp pull`.
pub fn pull(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let done = share::pull(&ctx.repo(), args.remote.as_deref(), &args.names, args.jobs)?;
    Ok(render(ctx, "pulled", "from", &done, args.json))
}

fn render(ctx: &Context, verb: &str, direction: &str, done: &Shared, json: bool) -> Report {
    let code = if done.objects.failed.is_empty() {
        exit_code::OK
    } else {
        exit_code::FAILED
    };
    let stdout =
        if json {
            let v = serde_json::json!({
                "remote": done.remote,
                verb: done.moved,
                "present": done.present,
                "objects": done.objects,
            });
            format!("{v}\n")
        } else if ctx.quiet {
            String::new()
        } else {
            let mut out = String::new();
            for name in &done.moved {
                let capital = verb[..1].to_uppercase() + &verb[1..];
                out.push_str(&format!("{capital} experiment '{name}'\n"));
            }
            let n = done.moved.len();
            out.push_str(&format!(
            "{n} experiment{} {verb} {direction} remote `{}`, {} already there; {} file{} moved.\n",
            if n == 1 { "" } else { "s" },
            done.remote,
            done.present.len(),
            done.objects.transferred,
            if done.objects.transferred == 1 { "" } else { "s" },
        ));
            out
        };
    let stderr = done
        .objects
        .failed
        .iter()
        .map(|f| format!("error: {f} (the experiment was not {verb})\n"))
        .collect();
    Report {
        stdout,
        stderr,
        code,
    }
}
