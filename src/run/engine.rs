//! The run API: load the pipeline, choose the stages, take the repository lock, run, and return
//! the run's record. Every command that runs stages (`repro`, `watch`, `verify`, and next
//! experiments and tuning) goes through here, so they all decide and run alike.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use super::options::RunOptions;
use super::record::RunRecord;
use crate::cache::Cache;
use crate::cache::run_cache::RunCache;
use crate::config::Config;
use crate::dag::Dag;
use crate::error::Error;
use crate::exec::executor::Executors;
use crate::exec::{self, Event, Events, ExecError, Plan, Shared, Summary, Tracking};
use crate::hash::Hasher;
use crate::lock::{Entry, LockSet};
use crate::params::Params;
use crate::repo::Repo;
use crate::repo_lock::RepoLock;
use crate::spec::{Action, ExecutorName, Pipeline};
use crate::store::{NewRun, Outcome, Store};
use crate::tracking::Server;
use crate::{select, status, target, workspace};

/// A loaded pipeline and the plan of what to run in it.
pub struct Loaded {
    /// The stages.
    pub pipeline: Pipeline,
    /// Their graph.
    pub dag: Dag,
    /// The selected stages and how to run them.
    pub plan: Plan,
}

/// Loads the pipeline and chooses the stages to consider, as `wf repro` does.
pub fn load(repo: &Repo, opts: &RunOptions) -> Result<Loaded, Error> {
    let extra = target::named_specs(&repo.root, &repo.cwd, &opts.targets);
    let pipeline = Pipeline::load_with(&repo.root, &repo.cwd, &extra, &opts.overrides)?;
    let dag = Dag::build(&pipeline)?;
    let targets = select::targets(&repo.cwd, &pipeline, &opts.targets, opts.glob)?;
    let stages = select::stages(&pipeline, &dag, &targets, opts.reach);
    let force: BTreeSet<usize> = if opts.force {
        stages.clone()
    } else {
        BTreeSet::new()
    };
    let jobs = match &opts.sharing {
        Some(sharing) => sharing.jobs,
        None => opts
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let plan = Plan {
        stages,
        force,
        force_downstream: opts.force_downstream,
        keep_going: opts.keep_going,
        jobs,
        slots: opts.sharing.as_ref().map(|s| s.slots.clone()),
        stop: opts.stop.clone(),
    };
    Ok(Loaded {
        pipeline,
        dag,
        plan,
    })
}

/// A run ready to go: the pipeline, its plan and everything its stages share (the state table,
/// the cache, the executors). Made while the repository lock is held.
pub struct Prepared {
    shared: Arc<Shared>,
    plan: Plan,
    /// The locks of the plan's specs, read once all else is ready (a broken one stops the run).
    locks: LockSet,
    overrides: Arc<crate::overrides::Overrides>,
    /// The folder the run was started from (where metrics are looked up from).
    cwd: crate::repo_path::RepoPath,
    origin: Option<super::Origin>,
}

/// What `--dry` predicts for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DryStage {
    /// Frozen: never runs.
    Frozen(String),
    /// Fresh, and nothing upstream will run.
    Skip(String),
    /// Would run, for these reasons, on this executor (`None`: this machine).
    Run {
        /// Its address.
        stage: String,
        /// Why.
        reasons: Vec<String>,
        /// Where, if not here.
        on: Option<&'static str>,
    },
}

/// Opens what a run shares. The hasher's progress, if `opts.progress`, goes to `events`.
pub fn prepare(
    repo: &Repo,
    loaded: Loaded,
    opts: &RunOptions,
    events: &Events,
) -> Result<Prepared, Error> {
    let Loaded {
        pipeline,
        dag,
        plan,
    } = loaded;
    let sink: Option<crate::progress::Sink> = opts.progress.then(|| {
        let events = events.clone();
        Arc::new(move |p| {
            let _ = events.send(Event::Progress(p));
        }) as crate::progress::Sink
    });
    let hasher =
        Arc::new(Hasher::open(&repo.root, &workspace::state_path(&repo.root)).with_progress(sink));
    let config = Config::load(&repo.root)?;
    let cache_dir = match &opts.sharing {
        Some(sharing) => sharing.cache.clone(),
        None => workspace::cache_dir(&repo.root),
    };
    let cache = crate::cache::Cache::new(cache_dir.clone(), config.link_type()?);
    let executors = executors(repo, &pipeline, &config, opts.executor, &hasher, &cache)?;
    let locks = LockSet::read(&repo.root, &pipeline, &plan.stages)?;
    let shared = Shared {
        root: repo.root.clone(),
        pipeline,
        dag,
        hasher,
        params: Mutex::new(Params::with(opts.overrides.clone())),
        executors,
        cache,
        run_cache: RunCache::new(cache_dir.join("runs")),
        use_run_cache: opts.run_cache,
        running: opts.sharing.as_ref().map(|s| s.running.clone()),
        tracking: std::sync::OnceLock::new(),
        git: workspace::in_git(&repo.root),
        gitignore: Mutex::new(()),
    };
    Ok(Prepared {
        shared: Arc::new(shared),
        plan,
        locks,
        overrides: opts.overrides.clone(),
        cwd: repo.cwd.clone(),
        origin: opts.origin.clone(),
    })
}

/// Runs what `opts` selects: pulls first if asked, takes the repository lock, and runs; the
/// events go to `events`' subscribers. The record is also saved as the last run's.
pub fn run(repo: &Repo, opts: &RunOptions, events: Events) -> Result<RunRecord, Error> {
    let loaded = load(repo, opts)?;
    if opts.pull {
        super::pull::pull_first(repo, &opts.targets, &events)?;
    }
    let _lock = RepoLock::acquire(&repo.root)?;
    let prepared = prepare(repo, loaded, opts, &events)?;
    // A run already in the store (an experiment) is recorded however little it does.
    let recorded = opts.origin.as_ref().is_some_and(|o| o.recorded.is_some());
    if !recorded && let Some(record) = prepared.up_to_date(&events) {
        return Ok(record);
    }
    let runtime = exec::runtime()?;
    Ok(runtime.block_on(prepared.execute(events)))
}

impl Prepared {
    /// Runs the plan; returns (and saves) its record. With an origin, the run is kept in the
    /// run store too: as running from the start, so that a killed run is seen not to have
    /// finished, then with its outcome.
    pub async fn execute(mut self, mut events: Events) -> RunRecord {
        let tails = self
            .origin
            .is_some()
            .then(|| tokio::spawn(super::tails::collect(events.subscribe())));
        // Asking git costs a few processes: it goes on beside the run.
        let root = self.shared.root.clone();
        let git = std::thread::spawn(move || GitState::of(&root));
        let stored = self.begin_stored(&events);
        let live = super::live::start(&mut events, stored.as_ref());
        let tracking = match &stored {
            Some((_, id)) => self.serve_tracking(id, &events).await,
            None => None,
        };
        let locks = std::mem::take(&mut self.locks);
        let summary = exec::run(
            self.shared.clone(),
            self.plan.clone(),
            locks,
            events.clone(),
        )
        .await;
        if let Some(server) = tracking {
            // A stage's leftover process holding a connection open does not hold up the run.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), server.stop()).await;
        }
        // The hasher outlives the run in no one's hands, but its sink must let the events end.
        self.shared.hasher.set_progress_sink(None);
        let _ = events.send(Event::RunFinished);
        super::live::done(live).await;
        let git = git.join().unwrap_or_default();
        let record = self.record(&summary, git.revision.clone());
        if let Some((mut store, id)) = stored {
            let output = match tails {
                Some(t) => t.await.unwrap_or_default(),
                None => Default::default(),
            };
            let outcome = Outcome {
                record: Some(&record),
                dirty: git.dirty,
                params: {
                    let mut params = tracked_params(&record);
                    if let Some(r) = self.origin.as_ref().and_then(|o| o.recorded.as_ref()) {
                        params.extend(r.set.iter().cloned());
                    }
                    params
                },
                metrics: self.metrics(),
                output,
                files: self.files(),
            };
            if let Err(e) = store.finish(&id, &outcome) {
                let _ = events.send(Event::Warning {
                    message: format!("{e} ({})", e.help()),
                });
            }
        }
        record
    }

    /// Serves MLflow's tracking API for the run's local shell stages, whose MLflow runs become
    /// children of the stored run `id`; not when nothing would log to it, nor when the user's
    /// `MLFLOW_TRACKING_URI` names a server of their own. A server that cannot start is a warning.
    async fn serve_tracking(&self, id: &str, events: &Events) -> Option<Server> {
        if std::env::var_os(Tracking::URI_VAR).is_some_and(|v| !v.is_empty()) {
            return None;
        }
        let shared = &self.shared;
        let logs = |&i: &usize| {
            matches!(shared.pipeline.stages[i].action, Action::Cmd(_))
                && shared.executors.name_of(i) == ExecutorName::Local
        };
        if !self.plan.stages.iter().any(logs) {
            return None;
        }
        let root = match self.origin.as_ref().and_then(|o| o.recorded.as_ref()) {
            Some(recorded) => &recorded.root,
            None => &shared.root,
        };
        match Server::start(root, Some(id.to_string())).await {
            Ok(server) => {
                let tokens = server.tokens();
                let _ = shared.tracking.set(Tracking {
                    uri: server.uri(),
                    token_for: Box::new(move |stage| tokens.issue(stage)),
                });
                Some(server)
            }
            Err(e) => {
                let _ = events.send(Event::Warning {
                    message: format!("scripts cannot log to MLflow in this run: {e}"),
                });
                None
            }
        }
    }

    /// Opens the run store and records the run as running; a store that cannot be used is a
    /// warning, never a reason not to run.
    fn begin_stored(&self, events: &Events) -> Option<(Store, String)> {
        let origin = self.origin.as_ref()?;
        let begun = match &origin.recorded {
            Some(recorded) => Store::open(&recorded.root).and_then(|mut store| {
                store.start(&recorded.id)?;
                Ok((store, recorded.id.clone()))
            }),
            None => {
                let run = NewRun {
                    kind: origin.kind.clone(),
                    command: origin.command.clone(),
                    started: SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                    cwd: self.cwd.to_string(),
                    ..NewRun::default()
                };
                Store::open(&self.shared.root).and_then(|mut store| {
                    let (id, _) = store.begin(&run)?;
                    Ok((store, id))
                })
            }
        };
        match begun {
            Ok(begun) => Some(begun),
            Err(e) => {
                let _ = events.send(Event::Warning {
                    message: format!("this run is not recorded: {e} ({})", e.help()),
                });
                None
            }
        }
    }

    /// What a recorded run keeps to be applied later: every spec's lock, and the params files
    /// its origin names. Plain runs keep none (their files are the workspace's).
    fn files(&self) -> Vec<(String, &'static str, Vec<u8>)> {
        let Some(recorded) = self.origin.as_ref().and_then(|o| o.recorded.as_ref()) else {
            return Vec::new();
        };
        let root = &self.shared.root;
        let locks = self.shared.pipeline.specs.iter().filter_map(|spec| {
            let path = crate::lock::Lock::path_for(&spec.dir.to_path(root));
            let rel = spec.dir.join(crate::lock::LOCK_NAME)?;
            Some((rel.to_string(), "lock", std::fs::read(path).ok()?))
        });
        let params = recorded
            .params
            .iter()
            .filter_map(|p| Some((p.clone(), "params", std::fs::read(root.join(p)).ok()?)));
        locks.chain(params).collect()
    }

    /// The numbers in every `metrics:` file after the run, by file and dotted key.
    fn metrics(&self) -> Vec<(String, String, f64)> {
        let Ok(shown) = crate::diff::show(&self.shared.root, &self.cwd) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (path, value) in &shown.found {
            for (key, v) in crate::diff::flatten(Some(value), None) {
                let number = match v {
                    crate::spec::value::Value::Int(i) => i as f64,
                    crate::spec::value::Value::Float(f) => f,
                    _ => continue,
                };
                out.push((path.to_string(), key, number));
            }
        }
        out
    }

    /// The common no-op: when no stage is stale (and none is forced), the record of a run that
    /// skipped them all, without starting the scheduler. The decisions are the scheduler's own
    /// (`status::changes` against the lock); any stale stage, or anything the scheduler must
    /// report (an unreadable dep, a frozen stage's missing out), means `None`: run it.
    pub fn up_to_date(&self, events: &Events) -> Option<RunRecord> {
        if !self.plan.force.is_empty() {
            return None;
        }
        let started = (SystemTime::now(), Instant::now());
        let p = &self.shared.pipeline;
        let mut summary = Summary {
            started: Some(started.0),
            ..Summary::default()
        };
        let mut stale = false;
        self.walk(|i, cur, entry| {
            let stage = &p.stages[i];
            let fresh = match cur {
                Ok(cur) if stage.frozen => cur.outs.iter().all(|(_, h)| h.is_some()),
                Ok(cur) => status::changes(stage, &cur, entry).is_empty(),
                Err(_) => false,
            };
            if fresh {
                summary.skipped.push(i);
                summary.stages.insert(
                    i,
                    exec::StageRun {
                        entry: entry.cloned(),
                        ..exec::StageRun::default()
                    },
                );
            }
            stale = !fresh;
            fresh
        });
        if stale {
            return None;
        }
        for &i in &summary.skipped {
            let _ = events.send(Event::StageSkipped {
                stage: p.stages[i].address(),
            });
        }
        summary.elapsed = started.1.elapsed();
        if let Err(e) = self.shared.hasher.save() {
            let _ = events.send(Event::Warning {
                message: e.to_string(),
            });
        }
        self.shared.hasher.set_progress_sink(None);
        // Nothing ran, so the commit it ran at says nothing (and finding it costs a process).
        Some(self.record(&summary, None))
    }

    /// The exact prediction of `--dry`: a stage runs if it is stale now, forced, or downstream
    /// of a stage that will run (unless that stage writes the same bytes again, which cannot be
    /// known).
    pub fn dry(&self) -> Vec<DryStage> {
        let shared = &self.shared;
        let p = &shared.pipeline;
        let mut will_run: BTreeSet<usize> = BTreeSet::new();
        let mut out = Vec::new();
        self.walk(|i, cur, entry| {
            let stage = &p.stages[i];
            let mut reasons: Vec<String> = match cur {
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
            let forced =
                self.plan.force.contains(&i) || self.plan.force_downstream && !upstream.is_empty();
            if stage.frozen {
                out.push(DryStage::Frozen(stage.address()));
            } else if !reasons.is_empty() || forced || !upstream.is_empty() {
                will_run.insert(i);
                if forced {
                    reasons.push("forced".into());
                }
                if !upstream.is_empty() {
                    reasons.push(format!("upstream {} will run", upstream.join(", ")));
                }
                let on = (shared.executors.name_of(i) != ExecutorName::Local)
                    .then(|| shared.executors.of(i).name());
                out.push(DryStage::Run {
                    stage: stage.address(),
                    reasons,
                    on,
                });
            } else {
                out.push(DryStage::Skip(stage.address()));
            }
            true
        });
        out
    }

    /// The record of this run, saved as the last one.
    fn record(&self, summary: &Summary, revision: Option<String>) -> RunRecord {
        let shared = &self.shared;
        let order: Vec<usize> = shared.dag.topo_order();
        let record = RunRecord::new(
            &shared.pipeline,
            &order,
            |i| shared.executors.of(i).name(),
            summary,
            revision,
        );
        // The record is what `wf report` shows; a run is not failed for want of it.
        let _ = record.save_last(&shared.root);
        record
    }

    /// Each selected stage in run order, with its deps, outs and params as they are now and its
    /// lock entry: what `--dry` and the no-op check decide from. `visit` returns false to stop.
    fn walk(
        &self,
        mut visit: impl FnMut(usize, Result<status::Current, String>, Option<&Entry>) -> bool,
    ) {
        let shared = &self.shared;
        let p = &shared.pipeline;
        let locks = &self.locks;
        let mut params = Params::with(self.overrides.clone());
        for i in shared
            .dag
            .topo_order()
            .into_iter()
            .filter(|i| self.plan.stages.contains(i))
        {
            let stage = &p.stages[i];
            let cur = status::current(stage, &shared.root, &shared.hasher, &mut params)
                .map_err(|e| e.to_string());
            if !visit(i, cur, locks.entry(stage)) {
                return;
            }
        }
    }
}

/// The params the run's stages track: file, dotted key, value; each once.
fn tracked_params(record: &RunRecord) -> Vec<(String, String, serde_json::Value)> {
    let mut seen = std::collections::BTreeMap::new();
    for stage in &record.stages {
        for (file, values) in &stage.params {
            if let serde_json::Value::Object(values) = values {
                for (key, value) in values {
                    seen.entry((file.clone(), key.clone()))
                        .or_insert_with(|| value.clone());
                }
            }
        }
    }
    seen.into_iter().map(|((f, k), v)| (f, k, v)).collect()
}

/// Who runs each stage: the stage's `executor:`, else `--executor`, else `[executor] default`,
/// else this machine. The Slurm executor is set up only if a stage needs it.
fn executors(
    repo: &Repo,
    pipeline: &Pipeline,
    config: &Config,
    chosen: Option<ExecutorName>,
    hasher: &Arc<Hasher>,
    cache: &Cache,
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
        let poll = c.poll_interval.unwrap_or(0.5);
        if !(0.01..=3600.0).contains(&poll) {
            return Err(Error::Config(crate::config::ConfigError::Parse {
                path: Config::path(&repo.root).display().to_string(),
                message: format!(
                    "`poll_interval` in [executor.slurm] must be between 0.01 and 3600 seconds, not {poll}"
                ),
            }));
        }
        let wf = match &c.wf {
            Some(path) => std::path::PathBuf::from(path),
            None => std::env::current_exe().map_err(|source| ExecError::CurrentExe { source })?,
        };
        let settings = exec::slurm::Settings {
            partition: c.partition.clone(),
            account: c.account.clone(),
            time: c.time.clone(),
            sbatch_args: c.sbatch_args.clone().unwrap_or_default(),
            poll: std::time::Duration::from_secs_f64(poll),
            wf,
            log_dir: exec::slurm::log_dir(&repo.root),
            max_jobs: c.max_jobs.unwrap_or(500).max(1),
            scratch: c.scratch.clone(),
        };
        let shipping = if c.shared_fs.unwrap_or(true) {
            None
        } else {
            Some(exec::ship::Shipping::open(
                &repo.root,
                config,
                c.remote.as_deref(),
                hasher.clone(),
                cache.clone(),
            )?)
        };
        executors.add(
            ExecutorName::Slurm,
            Arc::new(exec::slurm::Slurm::new(settings, shipping)),
        );
    }
    executors.assign(&names);
    Ok(executors)
}

/// Where the workspace stands in git, if it is a git checkout.
#[derive(Default)]
struct GitState {
    /// The commit it is at.
    revision: Option<String>,
    /// Whether it has uncommitted changes.
    dirty: Option<bool>,
}

impl GitState {
    fn of(root: &std::path::Path) -> GitState {
        if !workspace::in_git(root) {
            return GitState::default();
        }
        let Some(git) = crate::git::Git::find(root).ok().flatten() else {
            return GitState::default();
        };
        GitState {
            revision: git.head().ok().flatten(),
            dirty: git.dirty().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_path::RepoPath;
    use crate::spec::value::Value;

    #[test]
    fn overrides_reach_interpolation_and_tracked_params_but_not_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir(root.join(".wf")).unwrap();
        std::fs::write(
            root.join("pipeline.yaml"),
            "stages:\n  a:\n    cmd: echo ${train.seed} > out.txt\n    params: [train.seed]\n    outs: [out.txt]\n",
        )
        .unwrap();
        std::fs::write(root.join("params.yaml"), "train:\n  seed: 1\n").unwrap();
        let mut overrides = crate::overrides::Overrides::default();
        overrides.set(
            &RepoPath::root().join("params.yaml").unwrap(),
            "train.seed",
            Value::Int(7),
        );
        let opts = RunOptions {
            overrides: Arc::new(overrides),
            ..RunOptions::default()
        };
        let repo = Repo {
            root: root.clone(),
            cwd: RepoPath::root(),
        };
        let record = run(&repo, &opts, Events::none()).unwrap();
        assert_eq!(record.status, super::super::RunStatus::Finished);
        assert_eq!(
            std::fs::read_to_string(root.join("out.txt"))
                .unwrap()
                .trim(),
            "7"
        );
        assert_eq!(
            record.stages[0].params["params.yaml"]["train.seed"],
            serde_json::json!(7)
        );
        assert_eq!(
            std::fs::read_to_string(root.join("params.yaml")).unwrap(),
            "train:\n  seed: 1\n"
        );
        // Without the override, the same stage is stale: its param is 1 again.
        let plain = RunOptions::default();
        let again = run(&repo, &plain, Events::none()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("out.txt"))
                .unwrap()
                .trim(),
            "1"
        );
        assert!(
            again.stages[0].reasons.iter().any(|r| r.contains("seed")),
            "{:?}",
            again.stages[0].reasons
        );
    }
}
