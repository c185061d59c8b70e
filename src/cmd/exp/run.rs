//! `wf exp run`: one experiment in the workspace, or a sweep (and the queue) in scratch copies.

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exec::Events;
use crate::exit_code;
use crate::exp::{self, Ended, Launch, Variant};
use crate::report;
use crate::run::{RunStatus, StageOutcome};

/// Run an experiment: the pipeline with params changed by `-S`, recorded in the run store.
///
/// One experiment runs in the workspace, as `dvc exp run`: its params files are rewritten (their
/// comments and layout kept) and the pipeline is reproduced. A sweep (`-S 'train.C=1,2,4'`,
/// `range(1,10,2)`, `choice(a,b)`; several make their product) runs each experiment in its own
/// scratch copy, all at once on the `-j` slots, sharing the cache: what they have in common runs
/// once. The workspace is untouched by a sweep.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A param to set, in Hydra's grammar: `[FILE:]key=value` changes a key (of `params.yaml`
    /// by default), `+key=value` adds one, `~key` removes one; `key=a,b`, `range()` and
    /// `choice()` sweep.
    #[arg(short = 'S', long = "set-param", value_name = "OVERRIDE")]
    pub set: Vec<String>,
    /// The experiment's name (default: a made-up one such as `brave-lynx`).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Only record the experiments as queued; `--run-all` runs them.
    #[arg(long, conflicts_with = "run_all")]
    pub queue: bool,
    /// Run every queued experiment (and those these flags ask for), each in a scratch copy.
    #[arg(long)]
    pub run_all: bool,
    /// Stages to run (default: all).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many stages may run at once, across all experiments (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Within an experiment, after a failure, keep running what does not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
}

/// Runs `wf exp run`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let repo = ctx.repo();
    let variants = if args.set.is_empty() && (args.queue || args.run_all) {
        Vec::new()
    } else {
        exp::expand(&args.set)?
    };
    let launch = Launch {
        command: ctx.command.clone(),
        name: args.name.clone(),
        targets: args.targets.clone(),
        jobs: args.jobs,
        keep_going: args.keep_going,
        executor: None,
    };
    if args.name.is_some() && variants.len() > 1 {
        return Err(Error::Usage {
            message: format!(
                "`--name` names one experiment, and these overrides make {}",
                variants.len()
            ),
            help: Some("drop `--name`: each experiment of a sweep gets a name of its own".into()),
        });
    }
    if args.queue {
        for v in &variants {
            v.rewritten(&repo.root, &repo.cwd)?;
        }
        let queued = exp::queue(&repo, &launch, variants)?;
        let mut out = String::new();
        for q in &queued {
            out.push_str(&format!(
                "Queued experiment '{}' for future execution.\n",
                q.name
            ));
        }
        return Ok(Report::ok(out));
    }
    let mut events = Events::none();
    let reporter = report::Reporter::spawn(&mut events, crate::cmd::report_options(ctx));
    let ended = if args.run_all || variants.len() > 1 {
        run_copies(&repo, &launch, variants, args.run_all, &events)
    } else {
        let variant = variants
            .into_iter()
            .next()
            .unwrap_or(Variant::recorded(&[])?);
        exp::run_here(&repo, &launch, variant, events.clone()).map(|e| vec![e])
    };
    drop(events);
    reporter.finish();
    Ok(summary(ctx, &ended?))
}

/// The queue (with `--run-all`) and the new variants, each in a scratch copy.
fn run_copies(
    repo: &crate::repo::Repo,
    launch: &Launch,
    variants: Vec<Variant>,
    run_all: bool,
    events: &Events,
) -> Result<Vec<Ended>, Error> {
    let mut queued = if run_all {
        exp::queued(repo)?
    } else {
        Vec::new()
    };
    if !variants.is_empty() {
        for v in &variants {
            v.rewritten(&repo.root, &repo.cwd)?;
        }
        queued.extend(exp::queue(repo, launch, variants)?);
    }
    if queued.is_empty() {
        return Err(exp::ExpError::NothingQueued.into());
    }
    exp::run_copies(repo, launch, queued, events)
}

/// One line per experiment, and the exit code: interrupted, else failed, else ok.
fn summary(ctx: &Context, ended: &[Ended]) -> Report {
    let mut out = String::new();
    let mut err = String::new();
    let mut code = exit_code::OK;
    for e in ended {
        match &e.record {
            Ok(r) if r.status == RunStatus::Finished => {
                let ran = r.stages_where(|o| matches!(o, StageOutcome::Ran)).len();
                let restored = r
                    .stages_where(|o| matches!(o, StageOutcome::Restored))
                    .len();
                if !ctx.quiet {
                    out.push_str(&format!(
                        "Ran experiment '{}' ({ran} stages ran, {restored} restored)\n",
                        e.name
                    ));
                }
            }
            Ok(r) if r.status == RunStatus::Interrupted => {
                err.push_str(&format!("error: experiment '{}' was cancelled\n", e.name));
                code = exit_code::INTERRUPTED;
            }
            Ok(r) => {
                let failed: Vec<String> = r
                    .stages
                    .iter()
                    .filter_map(|s| match &s.outcome {
                        StageOutcome::Failed { cause } => Some(format!("'{}': {cause}", s.stage)),
                        _ => None,
                    })
                    .collect();
                err.push_str(&format!(
                    "error: experiment '{}' failed: {}\n",
                    e.name,
                    failed.join("; ")
                ));
                if code == exit_code::OK {
                    code = exit_code::FAILED;
                }
            }
            Err(message) => {
                let cancelled = message.starts_with("cancelled");
                err.push_str(&format!("error: experiment '{}': {message}\n", e.name));
                if cancelled {
                    code = exit_code::INTERRUPTED;
                } else if code == exit_code::OK {
                    code = exit_code::FAILED;
                }
            }
        }
    }
    Report {
        stdout: out,
        stderr: err,
        code,
    }
}
