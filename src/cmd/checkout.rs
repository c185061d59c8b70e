//! `wf checkout`: put every locked out and every `wf add`ed path back from the cache.

use crate::cmd::Report;
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::workspace;

/// Restore outputs and tracked data from the cache.
///
/// Every path the lock (or a `wf add` pointer) records is made to hold its recorded content. A
/// path whose content was changed in the workspace is left alone unless `--force`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, groups or spec files whose outputs to restore (default: all, and every
    /// `wf add`ed path).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Overwrite workspace changes.
    #[arg(short, long)]
    pub force: bool,
    /// Place every path again, even unchanged ones (after changing `[cache] type`).
    #[arg(long)]
    pub relink: bool,
}

/// Runs `wf checkout`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let tracked = crate::checkout::tracked(&ctx.repo(), &args.targets)?;
    let config = Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let done = crate::checkout::restore(
        &ctx.root,
        &cache,
        &tracked,
        args.force,
        args.relink,
        crate::report::progress_sink(ctx.terminal && !ctx.quiet),
    )?;
    let (lines, code) = render(ctx, &done);
    Ok(Report {
        stdout: String::new(),
        stderr: lines,
        code,
    })
}

/// What a checkout did, as lines for stderr, and the exit code.
pub(crate) fn render(ctx: &Context, done: &crate::checkout::Restored) -> (String, u8) {
    let mut lines = String::new();
    if !ctx.quiet {
        for path in &done.restored {
            lines.push_str(&format!("restored {path}\n"));
        }
    }
    if !done.refused.is_empty() {
        lines.push_str(&format!(
            "error: {} changed in the workspace and kept: {}\nhelp: pass `--force` to overwrite them with the locked version\n",
            if done.refused.len() == 1 { "1 path was" } else { "some paths were" },
            done.refused.join(", ")
        ));
        return (lines, exit_code::FAILED);
    }
    if done.restored.is_empty() && !ctx.quiet {
        lines.push_str("Everything is in place.\n");
    }
    (lines, exit_code::OK)
}
