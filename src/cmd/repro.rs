//! `wf repro`: run what changed, in parallel, as `dvc repro` decides it.

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::report;
use crate::run::{self, DryStage, RunOptions, RunRecord, RunStatus, StageOutcome};
use crate::spec::ExecutorName;

/// Reproduce the pipeline: run every stage whose inputs changed, and what depends on it.
///
/// Stages run as soon as the stages they read from are done, several at once (`-j`). A stage
/// runs when its command, a dependency, a tracked param or an output differs from
/// `pipeline.lock`; its downstream runs only if its outputs really changed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which stages run and how.
    #[command(flatten)]
    pub run: RunArgs,
    /// Run the targets and their upstream even if nothing changed.
    #[arg(short, long)]
    pub force: bool,
    /// Only the targets, not their upstream.
    #[arg(short, long)]
    pub single_item: bool,
    /// The targets and everything downstream of them, not their upstream.
    #[arg(long, conflicts_with = "single_item")]
    pub downstream: bool,
    /// Once a stage runs, run everything downstream of it too.
    #[arg(long)]
    pub force_downstream: bool,
    /// Targets are shell-style wildcards (`'train@*'`).
    #[arg(long)]
    pub glob: bool,
    /// Print what would run, and why, without running anything.
    #[arg(long)]
    pub dry: bool,
    /// Do not restore stages from earlier runs with the same inputs (runs are still recorded).
    #[arg(long)]
    pub no_run_cache: bool,
    /// First fetch from the default remote what the stages need (their locked outputs, added
    /// data, the run-cache) and check out what is missing, so that nothing is re-run that a
    /// teammate already ran.
    #[arg(long)]
    pub pull: bool,
}

/// The flags of every command that runs stages (`repro`, `watch`): which stages, and how.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (default: the working folder's
    /// spec).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many stages may run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// After a failure, keep running every stage that does not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
    /// Where stages that do not name an executor run: `local` (this machine) or `slurm`
    /// (`[executor.slurm]` in .wf/config); default: `[executor] default`, else `local`.
    #[arg(long, value_name = "NAME", value_enum)]
    pub executor: Option<ExecutorName>,
}

impl RunArgs {
    /// The run these flags ask for, shown as the global flags say; `kind` names the command in
    /// the run store.
    pub fn options(&self, ctx: &Context, kind: &str) -> RunOptions {
        RunOptions {
            targets: self.targets.clone(),
            jobs: self.jobs,
            keep_going: self.keep_going,
            executor: self.executor,
            run_cache: true,
            progress: !ctx.quiet && ctx.terminal,
            origin: Some(crate::run::Origin {
                kind: kind.into(),
                command: ctx.command.clone(),
                recorded: None,
            }),
            ..RunOptions::default()
        }
    }
}

/// Runs `wf repro`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let opts = RunOptions {
        reach: run::reach(args.single_item, args.downstream),
        glob: args.glob,
        force: args.force,
        force_downstream: args.force_downstream,
        run_cache: !args.no_run_cache,
        pull: args.pull && !args.dry,
        ..args.run.options(ctx, "repro")
    };
    let repo = ctx.repo();
    if args.dry {
        let loaded = run::load(&repo, &opts)?;
        let prepared = run::prepare(&repo, loaded, &opts, &crate::exec::Events::none())?;
        return Ok(Report::ok(dry_run(&prepared.dry())));
    }
    let mut events = crate::exec::Events::none();
    let reporter = report::Reporter::spawn(&mut events, super::report_options(ctx));
    let record = run::run(&repo, &opts, events);
    reporter.finish();
    Ok(finished(ctx, &record?))
}

/// The last lines of a run and its exit code.
pub(crate) fn finished(ctx: &Context, record: &RunRecord) -> Report {
    let mut err = String::new();
    let code = match record.status {
        RunStatus::Interrupted => {
            err.push_str("error: interrupted; the lock keeps every stage that finished\n");
            exit_code::INTERRUPTED
        }
        RunStatus::Failed => {
            let failed: Vec<_> = record
                .stages
                .iter()
                .filter_map(|s| match &s.outcome {
                    StageOutcome::Failed { cause } => Some((s.stage.as_str(), cause)),
                    _ => None,
                })
                .collect();
            let names: Vec<String> = failed.iter().map(|(s, _)| format!("'{s}'")).collect();
            err.push_str(&format!(
                "error: failed to reproduce {}\n",
                names.join(", ")
            ));
            if failed.iter().all(|(_, cause)| cause.bad_input()) {
                exit_code::BAD_INPUT
            } else {
                exit_code::FAILED
            }
        }
        RunStatus::Finished => {
            let ran =
                record.stages_where(|o| matches!(o, StageOutcome::Ran | StageOutcome::Restored));
            if ran.is_empty() && !ctx.quiet {
                err.push_str("Data and pipelines are up to date.\n");
            }
            exit_code::OK
        }
    };
    Report {
        stdout: String::new(),
        stderr: err,
        code,
    }
}

/// `--dry`'s lines, in DVC's words where DVC has them.
fn dry_run(stages: &[DryStage]) -> String {
    let mut out = String::new();
    for stage in stages {
        out.push_str(&match stage {
            DryStage::Frozen(s) => format!("Stage '{s}' is frozen, skipping\n"),
            DryStage::Skip(s) => format!("Stage '{s}' didn't change, skipping\n"),
            DryStage::Run { stage, reasons, on } => {
                let on = on.map(|e| format!(" on {e}")).unwrap_or_default();
                format!("Would run stage '{stage}'{on}: {}\n", reasons.join("; "))
            }
        });
    }
    out
}
