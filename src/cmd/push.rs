//! `wf push`, `wf fetch` and `wf pull`: share the cache through a remote.

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::remote::Remote;
use crate::transfer::{self, Objects};

/// Options shared by push, fetch and pull.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, groups or spec files whose outputs to move (default: all, and every `wf add`ed
    /// path).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The remote (default: `core.remote` of `.wf/config`, else `dvc_remote/`).
    #[arg(short, long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Objects moved at once.
    #[arg(short, long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// Also move the run-cache, so others can restore runs instead of repeating them.
    #[arg(long)]
    pub run_cache: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// `wf pull`: fetch, then check out.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// What to fetch.
    #[command(flatten)]
    pub common: Args,
    /// Overwrite workspace changes.
    #[arg(short, long)]
    pub force: bool,
}

fn summary(verb: &str, remote: &Remote, s: &transfer::Summary, json: bool) -> Report {
    let code = if s.failed.is_empty() && s.not_attempted == 0 {
        exit_code::OK
    } else {
        exit_code::FAILED
    };
    if json {
        let v = serde_json::json!({ "remote": remote.name, "url": remote.url, verb: s.transferred, "present": s.present, "failed": s.failed, "not_attempted": s.not_attempted });
        return Report {
            stdout: format!("{v}\n"),
            stderr: String::new(),
            code,
        };
    }
    // A remote that went away fails every object the same way: the first few say why.
    const SHOWN: usize = 5;
    let mut err = format!("{}\n", transfer::describe(verb, remote, s));
    for f in s.failed.iter().take(SHOWN) {
        err.push_str(&format!("error: {f}\n"));
    }
    if s.failed.len() > SHOWN {
        err.push_str(&format!(
            "error: {} more objects failed (`--json` lists them all)\n",
            s.failed.len() - SHOWN
        ));
    }
    if s.not_attempted > 0 {
        err.push_str(&format!(
            "error: the remote failed after its retries, so {} objects were not tried; run the \
             command again once it answers (what moved is kept)\n",
            s.not_attempted
        ));
    }
    Report {
        stdout: String::new(),
        stderr: err,
        code,
    }
}

/// Runs `wf push`.
pub fn push(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let sync = Objects::open(&ctx.repo(), &args.targets, args.remote.as_deref())?;
    let bars = crate::report::progress_sink(ctx.terminal && !ctx.quiet && !args.json);
    let s = crate::exec::runtime()?.block_on(sync.push(args.jobs, args.run_cache, bars))?;
    Ok(summary("pushed", &sync.remote, &s, args.json))
}

/// Runs `wf fetch`.
pub fn fetch(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let (report, _) = fetch_inner(ctx, args)?;
    Ok(report)
}

fn fetch_inner(ctx: &Context, args: &Args) -> Result<(Report, Objects), Error> {
    let sync = Objects::open(&ctx.repo(), &args.targets, args.remote.as_deref())?;
    let bars = crate::report::progress_sink(ctx.terminal && !ctx.quiet && !args.json);
    let s = crate::exec::runtime()?.block_on(sync.fetch(args.jobs, args.run_cache, bars))?;
    Ok((summary("fetched", &sync.remote, &s, args.json), sync))
}

/// Runs `wf pull`.
pub fn pull(ctx: &Context, args: &PullArgs) -> Result<Report, Error> {
    let (mut report, sync) = fetch_inner(ctx, &args.common)?;
    if report.code != exit_code::OK {
        return Ok(report);
    }
    let done = crate::checkout::restore(
        &ctx.root,
        &sync.cache,
        &sync.tracked,
        args.force,
        false,
        crate::report::progress_sink(ctx.terminal && !ctx.quiet),
    )?;
    let (lines, code) = super::checkout::render(ctx, &done);
    report.stderr.push_str(&lines);
    report.code = code;
    Ok(report)
}
