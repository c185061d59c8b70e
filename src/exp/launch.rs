//! Launching experiments: one in the workspace as `dvc exp run` does (its params files
//! rewritten, then the run API), or several (a sweep, the queue) each in its own scratch copy,
//! all at once, sharing the cache, the `-j` slots and the stages they have in common. Each is a
//! run of the store from the moment it is known: queued, running, then how it ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::scratch;
use super::variant::Variant;
use crate::error::Error;
use crate::exec::{Event, Events};
use crate::repo::Repo;
use crate::repo_lock::RepoLock;
use crate::run::{self, Origin, Recorded, RunOptions, RunRecord, RunStatus, Sharing};
use crate::store::{EXPERIMENT, NewRun, Store};

/// How experiments run: what the command line sets for every one of them.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The command line, as the store records it.
    pub command: String,
    /// The name of a single experiment (`None`: a readable one is made up).
    pub name: Option<String>,
    /// The stages to run (empty: all).
    pub targets: Vec<String>,
    /// Slots for the stages of all experiments together (`None`: the number of cores).
    pub jobs: Option<usize>,
    /// Within an experiment, after a failure, run what does not depend on it.
    pub keep_going: bool,
    /// Where stages run (`None`: as `wf repro` decides).
    pub executor: Option<crate::spec::ExecutorName>,
}

/// An experiment that was launched, and how it ended.
#[derive(Debug)]
pub struct Ended {
    /// Its id in the store.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its run record; `Err`: it could not start, and why.
    pub record: Result<RunRecord, String>,
}

/// A recorded experiment about to run.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its id in the store.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its overrides.
    pub variant: Variant,
}

/// Records the variants as queued experiments of the repository's store.
pub fn queue(repo: &Repo, launch: &Launch, variants: Vec<Variant>) -> Result<Vec<Queued>, Error> {
    record(repo, launch, variants, true)
}

/// The queued experiments of the repository, oldest first.
pub fn queued(repo: &Repo) -> Result<Vec<Queued>, Error> {
    let store = Store::open(&repo.root)?;
    let mut out = Vec::new();
    for run in store.runs()? {
        if run.kind == EXPERIMENT && run.status == "queued" {
            out.push(Queued {
                variant: Variant::recorded(&run.overrides)?,
                id: run.id,
                name: run.name,
            });
        }
    }
    Ok(out)
}

/// Runs one experiment in the workspace: its params files are rewritten with its overrides,
/// then the pipeline runs as `wf repro` runs it.
pub fn run_here(
    repo: &Repo,
    launch: &Launch,
    variant: Variant,
    events: Events,
) -> Result<Ended, Error> {
    // Checked before anything is recorded or written.
    variant.rewritten(&repo.root, &repo.cwd)?;
    let queued = record(repo, launch, vec![variant], false)?.remove(0);
    let files = match queued.variant.apply(&repo.root, &repo.cwd) {
        Ok(files) => files,
        Err(e) => {
            Store::open(&repo.root)?.abandon(&queued.id, "failed")?;
            return Err(e.into());
        }
    };
    let opts = options(repo, launch, &queued, &files, None);
    let record = run::run(repo, &opts, events);
    if record.is_err() {
        Store::open(&repo.root)?.abandon(&queued.id, "failed")?;
    }
    Ok(Ended {
        id: queued.id,
        name: queued.name,
        record: Ok(record?),
    })
}

/// Runs recorded experiments, each in its own scratch copy, all at once; the workspace is left
/// as it is. On Ctrl-C every experiment stops and is recorded as cancelled.
pub fn run_copies(
    repo: &Repo,
    launch: &Launch,
    queued: Vec<Queued>,
    events: &Events,
) -> Result<Vec<Ended>, Error> {
    run_pool(repo, launch, queued, events, |_| Vec::new(), Vec::new)
}

/// [`run_copies`], where each experiment that ends may bring more: `next` is called with it (on
/// the runtime's thread, so it should be quick) and what it returns starts at once. `stop` is
/// asked a few times a second which running experiments to stop (as Ctrl-C stops a run). After
/// a Ctrl-C nothing more starts. The ended experiments come back in the order they started.
pub fn run_pool(
    repo: &Repo,
    launch: &Launch,
    first: Vec<Queued>,
    events: &Events,
    mut next: impl FnMut(&Ended) -> Vec<Queued>,
    mut stop: impl FnMut() -> Vec<String>,
) -> Result<Vec<Ended>, Error> {
    let _lock = RepoLock::acquire(&repo.root)?;
    scratch::clear(&repo.root);
    let jobs = launch
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let sharing = Sharing::new(&repo.root, jobs);
    let config = crate::config::Config::load(&repo.root)?;
    let cache = crate::cache::Cache::new(sharing.cache.clone(), config.link_type()?);
    let runtime = crate::exec::runtime()?;
    let ended = runtime.block_on(async {
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut signals = crate::exec::signals::Signals::new().ok();
        let mut tasks = tokio::task::JoinSet::new();
        let mut started = 0usize;
        let mut stops: std::collections::HashMap<String, tokio::sync::watch::Sender<bool>> =
            std::collections::HashMap::new();
        let mut spawn = |tasks: &mut tokio::task::JoinSet<_>,
                         stops: &mut std::collections::HashMap<_, _>,
                         q: Queued| {
            let (own, forwarding) = prefixed(events, &q.name);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            stops.insert(q.id.clone(), stop_tx);
            let task = Task {
                repo: repo.clone(),
                launch: launch.clone(),
                sharing: sharing.clone(),
                cache: cache.clone(),
                events: own,
                cancelled: cancelled.clone(),
                stop: stop_rx,
            };
            let position = started;
            started += 1;
            tasks.spawn(async move {
                let ended = task.run(q).await;
                // Every line the experiment printed is passed on before it counts as ended.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), forwarding).await;
                (position, ended)
            });
        };
        for q in first {
            spawn(&mut tasks, &mut stops, q);
        }
        let mut ended = Vec::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    for id in stop() {
                        if let Some(tx) = stops.get(&id) {
                            let _ = tx.send(true);
                        }
                    }
                }
                joined = tasks.join_next() => match joined {
                    Some(Ok(done)) => {
                        if !cancelled.load(Ordering::SeqCst) {
                            for q in next(&done.1) {
                                spawn(&mut tasks, &mut stops, q);
                            }
                        }
                        ended.push(done);
                    }
                    Some(Err(e)) => {
                        let _ = events.send(Event::Warning { message: format!("internal error: {e}") });
                    }
                    None => break,
                },
                () = async {
                    match &mut signals {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                }, if !cancelled.load(Ordering::SeqCst) => {
                    // Every running scheduler hears the signal too; those not started yet
                    // see the flag.
                    cancelled.store(true, Ordering::SeqCst);
                }
            }
        }
        ended.sort_by_key(|(position, _)| *position);
        ended.into_iter().map(|(_, e)| e).collect::<Vec<_>>()
    });
    Ok(ended)
}

/// One experiment of a sweep.
struct Task {
    repo: Repo,
    launch: Launch,
    sharing: Sharing,
    cache: crate::cache::Cache,
    events: Events,
    cancelled: Arc<AtomicBool>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Task {
    async fn run(self, q: Queued) -> Ended {
        let name = q.name.clone();
        let store_root = self.repo.root.clone();
        let abandon = |status: &str, message: String| {
            if let Ok(mut store) = Store::open(&store_root) {
                let _ = store.abandon(&q.id, status);
            }
            Ended {
                id: q.id.clone(),
                name: name.clone(),
                record: Err(message),
            }
        };
        if self.cancelled.load(Ordering::SeqCst) {
            return abandon("cancelled", "cancelled before it started".into());
        }
        let setup = {
            let (repo, launch, sharing, cache, q, events, stop) = (
                self.repo.clone(),
                self.launch.clone(),
                self.sharing.clone(),
                self.cache.clone(),
                q.clone(),
                self.events.clone(),
                self.stop.clone(),
            );
            tokio::task::spawn_blocking(move || -> Result<_, Error> {
                let copy = scratch::make(&repo, &q.name, &cache)?;
                let files = q.variant.apply(&copy.repo.root, &copy.repo.cwd)?;
                let mut opts = options(&repo, &launch, &q, &files, Some(sharing));
                opts.stop = Some(stop);
                let loaded = run::load(&copy.repo, &opts)?;
                let lock = RepoLock::acquire(&copy.repo.root)?;
                let prepared = run::prepare(&copy.repo, loaded, &opts, &events)?;
                Ok((copy, lock, prepared))
            })
            .await
        };
        let (copy, lock, prepared) = match setup {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => return abandon("failed", render(&e)),
            Err(e) => return abandon("failed", format!("internal error: {e}")),
        };
        if self.cancelled.load(Ordering::SeqCst) {
            return abandon("cancelled", "cancelled before it started".into());
        }
        let mut record = prepared.execute(self.events).await;
        // A stage killed by the Ctrl-C may have ended as failed before its run heard of it.
        if self.cancelled.load(Ordering::SeqCst) && record.status == RunStatus::Failed {
            record.status = RunStatus::Interrupted;
            if let Ok(mut store) = Store::open(&self.repo.root) {
                let _ = store.abandon(&q.id, "cancelled");
            }
        }
        drop(lock);
        drop(copy);
        Ended {
            id: q.id,
            name,
            record: Ok(record),
        }
    }
}

/// The error as one line.
fn render(e: &Error) -> String {
    e.to_string()
}

/// The run options of a recorded experiment.
fn options(
    repo: &Repo,
    launch: &Launch,
    q: &Queued,
    files: &[crate::repo_path::RepoPath],
    sharing: Option<Sharing>,
) -> RunOptions {
    RunOptions {
        targets: launch.targets.clone(),
        jobs: launch.jobs,
        keep_going: launch.keep_going,
        executor: launch.executor,
        run_cache: true,
        origin: Some(Origin {
            kind: EXPERIMENT.into(),
            command: launch.command.clone(),
            recorded: Some(Recorded {
                root: repo.root.clone(),
                id: q.id.clone(),
                params: files.iter().map(ToString::to_string).collect(),
                set: q.variant.values(&repo.cwd),
            }),
        }),
        sharing,
        ..RunOptions::default()
    }
}

/// Records a variant as a queued experiment with these tags (a study's trial).
pub fn queue_tagged(
    repo: &Repo,
    launch: &Launch,
    variant: Variant,
    tags: &[(&str, String)],
) -> Result<Queued, Error> {
    let q = record(repo, launch, vec![variant], true)?.remove(0);
    Store::open(&repo.root)?.tag(&q.id, tags)?;
    Ok(q)
}

/// Records variants as experiments (queued, or running), baselined on the workspace's commit.
fn record(
    repo: &Repo,
    launch: &Launch,
    variants: Vec<Variant>,
    queued: bool,
) -> Result<Vec<Queued>, Error> {
    let baseline = crate::git::Git::find(&repo.root)
        .ok()
        .flatten()
        .and_then(|g| g.head().ok().flatten());
    let mut store = Store::open(&repo.root)?;
    let started = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let single = variants.len() == 1;
    let mut out = Vec::new();
    for variant in variants {
        let run = NewRun {
            kind: EXPERIMENT.into(),
            parent: baseline.clone(),
            revision: baseline.clone(),
            command: launch.command.clone(),
            started,
            name: if single { launch.name.clone() } else { None },
            queued,
            overrides: variant.overrides.clone(),
            cwd: repo.cwd.to_string(),
            dirty: None,
        };
        let (id, name) = store.begin(&run)?;
        // What the params files were before: `wf exp apply` knows them as no edits of the user's.
        let base: Vec<(String, &str, Vec<u8>)> = variant
            .rewritten(&repo.root, &repo.cwd)?
            .into_iter()
            .filter_map(|(path, _)| {
                let text = std::fs::read(path.to_path(&repo.root)).ok()?;
                Some((path.to_string(), "base", text))
            })
            .collect();
        store.keep_files(&id, &base)?;
        out.push(Queued { id, name, variant });
    }
    Ok(out)
}

/// The events of one experiment of several, forwarded to `to` with the experiment's name before
/// each stage's (`brave-lynx/train`); the per-run ones (start, end, progress) stay behind.
fn prefixed(to: &Events, name: &str) -> (Events, tokio::task::JoinHandle<()>) {
    let mut events = Events::none();
    let mut rx = events.subscribe();
    let (to, name) = (to.clone(), name.to_string());
    let forwarding = tokio::spawn(async move {
        let at = |stage: String| format!("{name}/{stage}");
        while let Some(event) = rx.recv().await {
            let forwarded = match event {
                Event::StageSkipped { stage } => Event::StageSkipped { stage: at(stage) },
                Event::StageRestored { stage } => Event::StageRestored { stage: at(stage) },
                Event::StageBlocked { stage, failed } => Event::StageBlocked {
                    stage: at(stage),
                    failed: at(failed),
                },
                Event::StageStarted { stage, commands } => Event::StageStarted {
                    stage: at(stage),
                    commands,
                },
                Event::Output {
                    stage,
                    line,
                    stderr,
                } => Event::Output {
                    stage: at(stage),
                    line,
                    stderr,
                },
                Event::StageFinished {
                    stage,
                    outcome,
                    elapsed,
                } => Event::StageFinished {
                    stage: at(stage),
                    outcome,
                    elapsed,
                },
                Event::Note { message } => Event::Note {
                    message: format!("{name}: {message}"),
                },
                Event::Warning { message } => Event::Warning {
                    message: format!("{name}: {message}"),
                },
                Event::Error { message } => Event::Error {
                    message: format!("{name}: {message}"),
                },
                Event::RunStarted { .. }
                | Event::RunFinished
                | Event::LockWritten { .. }
                | Event::Progress(_) => continue,
            };
            let _ = to.send(forwarded);
        }
    });
    (events, forwarding)
}
