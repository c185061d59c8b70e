//! `wf tune`: run a study declared in the spec's `tune:` block; `wf tune show`: its trials.

use std::path::PathBuf;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exec::Events;
use crate::exit_code;
use crate::report;
use crate::run::RunStatus;
use crate::spec::{ExecutorName, Pipeline};
use crate::store::Store;
use crate::table::Table;
use crate::tune::{self, SamplerKind};

/// Tune the pipeline's params: run the study of the spec's `tune:` block, each trial an
/// experiment in its own scratch copy, the next trial's params chosen as trials end.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `show`: the trials of a study.
    #[command(subcommand)]
    pub command: Option<TuneCommand>,
    /// What to run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `wf tune` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TuneCommand {
    /// The trials of a study, best first.
    Show(ShowArgs),
}

/// Options of a study's run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Trials to run now (default: as many as the study lacks of its `trials:`).
    #[arg(short = 'n', long, value_name = "TRIALS")]
    pub trials: Option<usize>,
    /// Slots for the stages of all trials, and trials at once (default: the cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The sampler (default: the study's, else `tpe`).
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerKind>,
    /// The sampler's seed (default: the study's, else 0).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// The study's name in the run store; running it again continues it.
    #[arg(long, value_name = "STUDY", default_value = "default")]
    pub name: String,
    /// Where the trials' stages run.
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorName>,
    /// A file with the `tune:` block (for a DVC project, whose `dvc.yaml` cannot hold one).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Options of `wf tune show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The study (default: the only one; with several, a list of them).
    #[arg(value_name = "STUDY")]
    pub study: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub md: bool,
}

/// Runs `wf tune`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    match &args.command {
        Some(TuneCommand::Show(a)) => show(ctx, a),
        None => study(ctx, &args.run),
    }
}

fn study(ctx: &Context, args: &RunArgs) -> Result<Report, Error> {
    let repo = ctx.repo();
    let pipeline = Pipeline::load(&repo.root, &repo.cwd, &[])?;
    let Some(study) = tune::load(&pipeline, &repo.cwd, args.config.as_deref())? else {
        return Err(Error::Usage {
            message: format!(
                "{} has no `tune:` block",
                args.config.as_ref().map_or_else(
                    || "the working folder's spec".to_string(),
                    |c| format!("`{}`", c.display())
                )
            ),
            help: Some("declare the study: `tune: {objective: FILE:KEY, direction: max, space: {KEY: {float: [lo, hi]}}}` (see the README)".into()),
        });
    };
    let opts = tune::Options {
        name: args.name.clone(),
        more: args.trials,
        jobs: args.jobs,
        sampler: args.sampler,
        seed: args.seed,
        executor: args.executor,
        command: ctx.command.clone(),
    };
    let mut events = Events::none();
    let reporter = report::Reporter::spawn(&mut events, crate::cmd::report_options(ctx));
    let outcome = tune::run(&repo, &study, &opts, &events);
    drop(events);
    reporter.finish();
    let outcome = outcome?;
    let interrupted = outcome
        .ended
        .iter()
        .filter(|e| !outcome.pruned.contains(&e.id))
        .any(|e| match &e.record {
            Ok(r) => r.status == RunStatus::Interrupted,
            Err(m) => m.starts_with("cancelled"),
        });
    let mut out = String::new();
    if !ctx.quiet {
        out.push_str(
            &tune::show::trials_table(&outcome.trials, &study.key, study.direction).text(),
        );
    }
    let mut err = String::new();
    let code = match &outcome.best {
        Some(best) => {
            out.push_str(&format!(
                "Best trial {} '{}': {} = {}; `wf exp apply {}` puts it in the workspace.\n",
                best.number,
                best.name,
                study.key,
                best.value
                    .map(crate::spec::value::python_float)
                    .unwrap_or_default(),
                best.name
            ));
            exit_code::OK
        }
        None => {
            err.push_str(&format!(
                "error: no trial of study '{}' finished with `{}`\n",
                opts.name, study.objective
            ));
            exit_code::FAILED
        }
    };
    Ok(Report {
        stdout: out,
        stderr: err,
        code: if interrupted {
            exit_code::INTERRUPTED
        } else {
            code
        },
    })
}

fn show(ctx: &Context, args: &ShowArgs) -> Result<Report, Error> {
    let root = ctx.repo().root;
    let store = if Store::path(&root).exists() {
        Some(Store::open(&root)?)
    } else {
        None
    };
    let studies = match &store {
        Some(s) => s.studies()?,
        None => Vec::new(),
    };
    let chosen = match &args.study {
        Some(name) => studies
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| Error::Usage {
                message: format!("no study named `{name}`"),
                help: Some(if studies.is_empty() {
                    "`wf tune` runs the study of the spec's `tune:` block".into()
                } else {
                    format!(
                        "the studies are {}",
                        studies
                            .iter()
                            .map(|s| format!("`{}`", s.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            })?,
        None => match studies.as_slice() {
            [] => {
                return Ok(Report::ok(if args.json {
                    "[]\n".into()
                } else {
                    "No study yet: `wf tune` runs the spec's `tune:` block.\n".into()
                }));
            }
            [only] => only,
            several => {
                let mut t = Table::new(["Study", "Objective", "Direction", "Trials"]);
                for s in several {
                    t.push([
                        s.name.clone(),
                        s.objective.clone(),
                        s.direction.clone(),
                        s.trials.to_string(),
                    ]);
                }
                return Ok(Report::ok(if args.md { t.markdown() } else { t.text() }));
            }
        },
    };
    let (file, key, direction) = tune::show::objective(chosen);
    let trials = match &store {
        Some(s) => s.trials(&chosen.name, file, key)?,
        None => Vec::new(),
    };
    if args.json {
        let v = tune::show::json(chosen, &trials, direction);
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        return Ok(Report::ok(format!("{text}\n")));
    }
    let t = tune::show::trials_table(&trials, key, direction);
    Ok(Report::ok(if args.md { t.markdown() } else { t.text() }))
}
