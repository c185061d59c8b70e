//! `wf push`, `wf fetch` and `wf pull`: share the cache through a remote.

use std::collections::BTreeSet;

use crate::cache::refs;
use crate::cmd::Report;
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::remote::Remote;
use crate::transfer;
use crate::workspace;

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
    let code = if s.failed.is_empty() {
        exit_code::OK
    } else {
        exit_code::FAILED
    };
    if json {
        let v = serde_json::json!({ "remote": remote.name, "url": remote.url, verb: s.transferred, "present": s.present, "failed": s.failed });
        return Report {
            stdout: format!("{v}\n"),
            stderr: String::new(),
            code,
        };
    }
    let mut err = format!(
        "{verb} {} objects ({} already there) with remote `{}` ({})\n",
        s.transferred, s.present, remote.name, remote.url
    );
    for f in &s.failed {
        err.push_str(&format!("error: {f}\n"));
    }
    Report {
        stdout: String::new(),
        stderr: err,
        code,
    }
}

/// What push and fetch start from: the cache, the remote, and the tracked contents.
struct Setup {
    cache: crate::cache::Cache,
    remote: Remote,
    tracked: Vec<refs::Tracked>,
    infos: Vec<crate::hash::HashInfo>,
}

fn setup(ctx: &Context, args: &Args) -> Result<Setup, Error> {
    let config = Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let remote = Remote::open(&ctx.root, &config, args.remote.as_deref())?;
    let tracked = super::checkout::tracked(ctx, &args.targets)?;
    let infos = tracked
        .iter()
        .filter(|t| t.cached)
        .map(|t| t.info.clone())
        .collect();
    Ok(Setup {
        cache,
        remote,
        tracked,
        infos,
    })
}

/// Runs `wf push`.
pub fn push(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let Setup {
        cache,
        remote,
        infos,
        ..
    } = setup(ctx, args)?;
    let mut keys = refs::object_keys(&cache, &infos);
    if args.run_cache {
        keys.extend(transfer::local_runs(cache.dir()));
    }
    let s = crate::exec::runtime()?.block_on(transfer::push(
        &remote,
        cache.dir(),
        &keys,
        args.jobs,
        ctx.quiet || args.json,
    ))?;
    Ok(summary("pushed", &remote, &s, args.json))
}

/// Runs `wf fetch`.
pub fn fetch(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let (report, _) = fetch_inner(ctx, args)?;
    Ok(report)
}

pub(crate) fn fetch_inner(
    ctx: &Context,
    args: &Args,
) -> Result<(Report, Vec<refs::Tracked>), Error> {
    let Setup {
        cache,
        remote,
        tracked,
        infos,
    } = setup(ctx, args)?;
    let quiet = ctx.quiet || args.json;
    let rt = crate::exec::runtime()?;
    let runs = if args.run_cache {
        rt.block_on(transfer::remote_runs(&remote))?
    } else {
        BTreeSet::new()
    };
    let s = rt.block_on(transfer::fetch_infos(
        &remote, &cache, &infos, runs, args.jobs, quiet,
    ))?;
    Ok((summary("fetched", &remote, &s, args.json), tracked))
}

/// Runs `wf pull`.
pub fn pull(ctx: &Context, args: &PullArgs) -> Result<Report, Error> {
    let (mut report, tracked) = fetch_inner(ctx, &args.common)?;
    if report.code != exit_code::OK {
        return Ok(report);
    }
    let config = Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let (lines, code) = super::checkout::restore(ctx, &cache, &tracked, args.force, false)?;
    report.stderr.push_str(&lines);
    report.code = code;
    Ok(report)
}
