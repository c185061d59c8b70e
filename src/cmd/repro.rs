//! `wf repro`: run what changed, in parallel, as `dvc repro` decides it.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use crate::cache::run_cache::RunCache;
use crate::cmd::Report;
use crate::context::Context;
use crate::dag::Dag;
use crate::error::Error;
use crate::exec::executor::Executors;
use crate::exec::{self, Plan, scheduler::Shared};
use crate::exit_code;
use crate::hash::Hasher;
use crate::params::Params;
use crate::repo_lock::RepoLock;
use crate::report;
use crate::select::{self, Reach};
use crate::spec::{ExecutorName, Pipeline};
use crate::status;
use crate::target;
use crate::workspace;

/// Reproduce the pipeline: run every stage whose inputs changed, and what depends on it.
///
/// Stages run as soon as the stages they read from are done, several at once (`-j`). A stage
/// runs when its command, a dependency, a tracked param or an output differs from
/// `pipeline.lock`; its downstream runs only if its outputs really changed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (default: the working folder's
    /// spec).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
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
    /// How many stages may run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// After a failure, keep running every stage that does not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
    /// Do not restore stages from earlier runs with the same inputs (runs are still recorded).
    #[arg(long)]
    pub no_run_cache: bool,
    /// Where stages that do not name an executor run: `local` (this machine) or `slurm`
    /// (`[executor.slurm]` in .wf/config); default: `[executor] default`, else `local`.
    #[arg(long, value_name = "NAME", value_enum)]
    pub executor: Option<ExecutorName>,
    /// First fetch from the default remote what the stages need (their locked outputs, added
    /// data, the run-cache) and check out what is missing, so that nothing is re-run that a
    /// teammate already ran.
    #[arg(long)]
    pub pull: bool,
}

/// What `wf repro` and `wf watch` select and how they run it: the flags both share.
pub(crate) struct Options<'a> {
    /// The targets as given.
    pub(crate) targets: &'a [String],
    /// `-f`.
    pub(crate) force: bool,
    /// `-s`.
    pub(crate) single_item: bool,
    /// `--downstream`.
    pub(crate) downstream: bool,
    /// `--force-downstream`.
    pub(crate) force_downstream: bool,
    /// `--glob`.
    pub(crate) glob: bool,
    /// `-j`.
    pub(crate) jobs: Option<usize>,
    /// `-k`.
    pub(crate) keep_going: bool,
}

/// Loads the pipeline and chooses the stages to consider, as `wf repro` does.
pub(crate) fn load(ctx: &Context, opts: &Options) -> Result<(Pipeline, Dag, Plan), Error> {
    let extra = target::named_specs(&ctx.root, &ctx.cwd, opts.targets);
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &extra)?;
    let dag = Dag::build(&pipeline)?;
    let targets = select::targets(ctx, &pipeline, opts.targets, opts.glob)?;
    let reach = if opts.single_item {
        Reach::Single
    } else if opts.downstream {
        Reach::Downstream
    } else {
        Reach::Upstream
    };
    let stages = select::stages(&pipeline, &dag, &targets, reach);
    let force: BTreeSet<usize> = if opts.force {
        stages.clone()
    } else {
        BTreeSet::new()
    };
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = Plan {
        stages,
        force,
        force_downstream: opts.force_downstream,
        keep_going: opts.keep_going,
        jobs,
    };
    Ok((pipeline, dag, plan))
}

/// What every stage of a run shares; built once the repository lock is held (it opens the
/// state table).
pub(crate) fn shared(
    ctx: &Context,
    pipeline: Pipeline,
    dag: Dag,
    use_run_cache: bool,
    executor: Option<ExecutorName>,
) -> Result<Shared, Error> {
    let hasher = Arc::new(
        Hasher::open(&ctx.root, &workspace::state_path(&ctx.root)).with_progress(!ctx.quiet),
    );
    let config = crate::config::Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let executors = executors(ctx, &pipeline, &config, executor, &hasher, &cache)?;
    Ok(Shared {
        root: ctx.root.clone(),
        pipeline,
        dag,
        hasher,
        params: Mutex::new(Params::default()),
        executors,
        cache,
        run_cache: RunCache::new(workspace::cache_dir(&ctx.root).join("runs")),
        use_run_cache,
        git: workspace::in_git(&ctx.root),
        gitignore: Mutex::new(()),
    })
}

/// Who runs each stage: the stage's `executor:`, else `--executor`, else `[executor] default`,
/// else this machine. The Slurm executor is set up only if a stage needs it.
fn executors(
    ctx: &Context,
    pipeline: &Pipeline,
    config: &crate::config::Config,
    chosen: Option<ExecutorName>,
    hasher: &Arc<Hasher>,
    cache: &crate::cache::Cache,
) -> Result<Executors, Error> {
    let default = chosen
        .or(config.executor.default)
        .unwrap_or(ExecutorName::Local);
    let names: Vec<ExecutorName> = pipeline
        .stages
        .iter()
        .map(|s| s.executor.unwrap_or(default))
        .collect();
    let mut executors = Executors::local();
    if names.contains(&ExecutorName::Slurm) {
        let c = &config.executor.slurm;
        let bad = |message: String| {
            Error::Config(crate::config::ConfigError::Parse {
                path: crate::config::Config::path(&ctx.root).display().to_string(),
                message,
            })
        };
        let poll = c.poll_interval.unwrap_or(0.5);
        if !(0.01..=3600.0).contains(&poll) {
            return Err(bad(format!(
                "`poll_interval` in [executor.slurm] must be between 0.01 and 3600 seconds, not {poll}"
            )));
        }
        let wf = match &c.wf {
            Some(path) => std::path::PathBuf::from(path),
            None => std::env::current_exe().map_err(|e| Error::Usage {
                message: format!("cannot find the path of this wf binary for the jobs: {e}"),
                help: Some("set `wf = \"/path/to/wf\"` in [executor.slurm] of .wf/config".into()),
            })?,
        };
        let settings = exec::slurm::Settings {
            partition: c.partition.clone(),
            account: c.account.clone(),
            time: c.time.clone(),
            sbatch_args: c.sbatch_args.clone().unwrap_or_default(),
            poll: std::time::Duration::from_secs_f64(poll),
            wf,
            log_dir: exec::slurm::log_dir(&ctx.root),
            max_jobs: c.max_jobs.unwrap_or(500).max(1),
            scratch: c.scratch.clone(),
        };
        let shipping = if c.shared_fs.unwrap_or(true) {
            None
        } else {
            Some(
                exec::ship::Shipping::open(
                    &ctx.root,
                    config,
                    c.remote.as_deref(),
                    hasher.clone(),
                    cache.clone(),
                )
                .map_err(Error::Remote)?,
            )
        };
        executors
            .all
            .push(Arc::new(exec::slurm::Slurm::new(settings, shipping)));
    }
    executors.of_stage = names
        .iter()
        .map(|n| match n {
            ExecutorName::Local => 0,
            ExecutorName::Slurm => 1,
        })
        .collect();
    Ok(executors)
}

/// Runs the plan, printing its events as they come; returns what ran.
pub(crate) async fn execute(ctx: &Context, shared: Arc<Shared>, plan: Plan) -> exec::Summary {
    let options = report::Options {
        quiet: ctx.quiet,
        verbose: ctx.verbose,
        progress: std::io::stderr().is_terminal() && !ctx.verbose,
        prefix: true,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let bars = indicatif::MultiProgress::new();
    shared.hasher.set_progress_bars(Some(bars.clone()));
    let printer = tokio::spawn(report::report(rx, options, bars));
    let summary = exec::run(shared.clone(), plan, tx).await;
    shared.hasher.set_progress_bars(None);
    let _ = printer.await;
    summary
}

/// Runs `wf repro`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let (pipeline, dag, plan) = load(
        ctx,
        &Options {
            targets: &args.targets,
            force: args.force,
            single_item: args.single_item,
            downstream: args.downstream,
            force_downstream: args.force_downstream,
            glob: args.glob,
            jobs: args.jobs,
            keep_going: args.keep_going,
        },
    )?;
    if args.pull && !args.dry {
        pull_first(ctx, &args.targets)?;
    }
    let _lock = if args.dry {
        None
    } else {
        Some(RepoLock::acquire(&ctx.root)?)
    };
    let shared = shared(ctx, pipeline, dag, !args.no_run_cache, args.executor)?;
    if args.dry {
        return Ok(Report::ok(dry_run(&shared, &plan)));
    }
    if let Some(report) = nothing_to_do(ctx, &shared, &plan) {
        return Ok(report);
    }
    let runtime = crate::exec::runtime()?;
    let shared = Arc::new(shared);
    let summary = runtime.block_on(execute(ctx, shared.clone(), plan));
    let p = &shared.pipeline;
    let mut err = String::new();
    let code = if summary.interrupted {
        err.push_str("error: interrupted; the lock keeps every stage that finished\n");
        exit_code::INTERRUPTED
    } else if !summary.failed.is_empty() {
        let names: Vec<String> = summary
            .failed
            .iter()
            .map(|(i, _, _)| format!("'{}'", p.stages[*i].address()))
            .collect();
        err.push_str(&format!(
            "error: failed to reproduce {}\n",
            names.join(", ")
        ));
        if summary.failed.iter().all(|(_, _, bad_input)| *bad_input) {
            exit_code::BAD_INPUT
        } else {
            exit_code::FAILED
        }
    } else {
        if summary.ran.is_empty() && !ctx.quiet {
            err.push_str("Data and pipelines are up to date.\n");
        }
        exit_code::OK
    };
    Ok(Report {
        stdout: String::new(),
        stderr: err,
        code,
    })
}

/// The exact prediction of `--dry`: a stage runs if it is stale now, forced, or downstream of a
/// stage that will run (unless that stage writes the same bytes again, which cannot be known).
fn dry_run(shared: &Shared, plan: &Plan) -> String {
    let p = &shared.pipeline;
    let mut will_run: BTreeSet<usize> = BTreeSet::new();
    let mut out = String::new();
    walk(shared, plan, |i, cur, entry| {
        let stage = &p.stages[i];
        let reasons: Vec<String> = match cur {
            Ok(cur) => status::changes(stage, &cur, entry)
                .iter()
                .map(ToString::to_string)
                .collect(),
            Err(e) => vec![e],
        };
        let upstream: Vec<String> = shared
            .dag
            .parents(i)
            .filter(|j| will_run.contains(j))
            .map(|j| p.stages[j].address())
            .collect();
        let forced = plan.force.contains(&i) || plan.force_downstream && !upstream.is_empty();
        if stage.frozen {
            out.push_str(&format!(
                "Stage '{}' is frozen, skipping\n",
                stage.address()
            ));
        } else if !reasons.is_empty() || forced || !upstream.is_empty() {
            will_run.insert(i);
            let mut why = reasons;
            if forced {
                why.push("forced".into());
            }
            if !upstream.is_empty() {
                why.push(format!("upstream {} will run", upstream.join(", ")));
            }
            let on = match shared.executors.index(i) {
                0 => String::new(),
                _ => format!(" on {}", shared.executors.of(i).name()),
            };
            out.push_str(&format!(
                "Would run stage '{}'{on}: {}\n",
                stage.address(),
                why.join("; ")
            ));
        } else {
            out.push_str(&format!(
                "Stage '{}' didn't change, skipping\n",
                stage.address()
            ));
        }
        true
    });
    out
}

/// `--pull`: fetch what the targets need and check out what is missing. Objects the remote
/// lacks are not an error: their stages simply run.
fn pull_first(ctx: &Context, targets: &[String]) -> Result<(), Error> {
    let fetch = crate::cmd::push::Args {
        targets: targets.to_vec(),
        remote: None,
        jobs: 8,
        run_cache: true,
        json: false,
    };
    let (report, tracked) = crate::cmd::push::fetch_inner(ctx, &fetch)?;
    let config = crate::config::Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let missing: Vec<_> = tracked
        .into_iter()
        .filter(|t| !t.path.to_path(&ctx.root).exists() && cache.contains(&t.info))
        .collect();
    let (lines, _) = crate::cmd::checkout::restore(ctx, &cache, &missing, false, false)?;
    if !ctx.quiet {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("{}{lines}", report.stderr).as_bytes(),
        );
    }
    Ok(())
}

/// The common no-op: when no stage is stale (and none is forced), say so without starting the
/// scheduler. The decisions are the scheduler's own (`status::changes` against the lock); any
/// stale stage, or anything the scheduler must report (an unreadable dep, a frozen stage's
/// missing out), goes through the full run instead.
fn nothing_to_do(ctx: &Context, shared: &Shared, plan: &Plan) -> Option<Report> {
    if !plan.force.is_empty() {
        return None;
    }
    let started = (std::time::SystemTime::now(), std::time::Instant::now());
    let p = &shared.pipeline;
    let mut skipped = Vec::new();
    let mut stale = false;
    walk(shared, plan, |i, cur, entry| {
        let stage = &p.stages[i];
        let fresh = match cur {
            Ok(cur) if stage.frozen => cur.outs.iter().all(|(_, h)| h.is_some()),
            Ok(cur) => status::changes(stage, &cur, entry).is_empty(),
            Err(_) => false,
        };
        if fresh {
            skipped.push(i);
        }
        stale = !fresh;
        fresh
    });
    if stale {
        return None;
    }
    let mut err = String::new();
    if !ctx.quiet {
        for &i in &skipped {
            err.push_str(&format!(
                "Stage '{}' didn't change, skipping\n",
                p.stages[i].address()
            ));
        }
        err.push_str("Data and pipelines are up to date.\n");
    }
    let summary = exec::Summary {
        skipped,
        ..exec::Summary::default()
    };
    crate::exec::scheduler::record_run(shared, &summary, started);
    let _ = shared.hasher.save();
    Some(Report {
        stdout: String::new(),
        stderr: err,
        code: exit_code::OK,
    })
}

/// Each selected stage in run order, with its deps, outs and params as they are now and its lock
/// entry: what `--dry` and the no-op check decide from. `visit` returns false to stop early.
fn walk(
    shared: &Shared,
    plan: &Plan,
    mut visit: impl FnMut(usize, Result<status::Current, String>, Option<&crate::lock::Entry>) -> bool,
) {
    let p = &shared.pipeline;
    let locks = crate::lock::LockSet::read(&shared.root, p, &plan.stages);
    let mut params = Params::default();
    for i in shared
        .dag
        .topo_order()
        .into_iter()
        .filter(|i| plan.stages.contains(i))
    {
        let stage = &p.stages[i];
        let cur = status::current(stage, &shared.root, &shared.hasher, &mut params)
            .map_err(|e| e.to_string());
        if !visit(i, cur, locks.entry(stage)) {
            return;
        }
    }
}
