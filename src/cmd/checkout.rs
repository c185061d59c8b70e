//! `wf checkout`: put every locked out and every `wf add`ed path back from the cache.

use std::collections::BTreeSet;

use crate::cache::Cache;
use crate::cache::refs::{self, Tracked};
use crate::cmd::Report;
use crate::config::Config;
use crate::context::Context;
use crate::dag::Dag;
use crate::error::Error;
use crate::exit_code;
use crate::hash::Hasher;
use crate::select::{self, Reach};
use crate::spec::Pipeline;
use crate::target;
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
    let tracked = tracked(ctx, &args.targets)?;
    let config = Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let (lines, code) = restore(ctx, &cache, &tracked, args.force, args.relink)?;
    Ok(Report {
        stdout: String::new(),
        stderr: lines,
        code,
    })
}

/// The tracked paths of the targets (all stages and pointers without targets).
pub fn tracked(ctx: &Context, targets: &[String]) -> Result<Vec<Tracked>, Error> {
    let extra = target::named_specs(&ctx.root, &ctx.cwd, targets);
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &extra).or_else(|e| match e {
        // A repository with only `wf add`ed data has no spec.
        crate::spec::SpecError::NoSpec { .. } => Ok(Pipeline {
            root: ctx.root.clone(),
            specs: vec![],
            stages: vec![],
        }),
        e => Err(e),
    })?;
    let stages: BTreeSet<usize> = if targets.is_empty() {
        (0..pipeline.stages.len()).collect()
    } else {
        let dag = Dag::build(&pipeline)?;
        let t = select::targets(ctx, &pipeline, targets, false)?;
        select::stages(&pipeline, &dag, &t, Reach::Single)
    };
    refs::tracked(&ctx.root, &pipeline, &stages, targets.is_empty()).map_err(|message| {
        Error::Usage {
            message,
            help: None,
        }
    })
}

/// Makes each tracked path hold its content; returns the lines to print and the exit code.
pub fn restore(
    ctx: &Context,
    cache: &Cache,
    tracked: &[Tracked],
    force: bool,
    relink: bool,
) -> Result<(String, u8), Error> {
    let hasher =
        Hasher::open(&ctx.root, &workspace::state_path(&ctx.root)).with_progress(!ctx.quiet);
    let mut lines = String::new();
    let mut refused = Vec::new();
    let mut restored = 0;
    for t in tracked.iter().filter(|t| t.cached) {
        let now = hasher.hash(&t.path).map_err(|e| Error::Usage {
            message: e.to_string(),
            help: None,
        })?;
        let same = now.as_ref().is_some_and(|h| h.hash == t.info.hash);
        if same && !relink {
            continue;
        }
        if now.is_some() && !same && !force {
            refused.push(t.path.to_string());
            continue;
        }
        cache.checkout(&t.path.to_path(&ctx.root), t.path.as_str(), &t.info)?;
        restored += 1;
        if !ctx.quiet {
            lines.push_str(&format!("restored {}\n", t.path));
        }
    }
    let _ = hasher.save();
    if !refused.is_empty() {
        lines.push_str(&format!(
            "error: {} changed in the workspace and kept: {}\nhelp: pass `--force` to overwrite them with the locked version\n",
            if refused.len() == 1 { "1 path was" } else { "some paths were" },
            refused.join(", ")
        ));
        return Ok((lines, exit_code::FAILED));
    }
    if restored == 0 && !ctx.quiet {
        lines.push_str("Everything is in place.\n");
    }
    Ok((lines, exit_code::OK))
}
