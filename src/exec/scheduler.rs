//! The scheduler: a stage starts as soon as the stages it reads from are done, at most `-j`
//! slots at once (a stage takes `resources.cpus` of them). Each stage is decided just in time,
//! after its upstream ran, so early cutoff falls out: a re-run that writes the same bytes leaves
//! its readers fresh. The lock is written after every finished stage; Ctrl-C stops every running
//! process group and keeps what finished.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::event::{Event, Outcome};
use super::executor::{Executors, Input, Task};
use crate::cache::{Cache, run_cache::RunCache};
use crate::dag::Dag;
use crate::hash::Hasher;
use crate::lock::{Entry, LockSet};
use crate::params::Params;
use crate::spec::{OutKind, Pipeline};
use crate::status;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The stages to consider.
    pub stages: BTreeSet<usize>,
    /// Stages that run even when fresh.
    pub force: BTreeSet<usize>,
    /// Once a stage runs, force every stage downstream of it.
    pub force_downstream: bool,
    /// After a failure, run every stage that does not depend on it.
    pub keep_going: bool,
    /// Slots for concurrent stages.
    pub jobs: usize,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Stages that ran (or were restored from the cache: see `restored`).
    pub ran: Vec<usize>,
    /// Stages restored from the cache instead of run.
    pub restored: Vec<usize>,
    /// Stages that were fresh.
    pub skipped: Vec<usize>,
    /// Stages that failed, with the message and whether the cause is bad input (a missing dep
    /// or param) rather than a failing command.
    pub failed: Vec<(usize, String, bool)>,
    /// Stages not run because an upstream stage failed.
    pub blocked: Vec<usize>,
    /// Ctrl-C or SIGTERM arrived.
    pub interrupted: bool,
}

impl Summary {
    /// The stages that really ran (not restored from the cache).
    pub fn executed(&self) -> Vec<usize> {
        self.ran
            .iter()
            .copied()
            .filter(|i| !self.restored.contains(i))
            .collect()
    }
}

/// What every stage task shares.
pub struct Shared {
    /// The repository root.
    pub root: PathBuf,
    /// The stages.
    pub pipeline: Pipeline,
    /// Their graph.
    pub dag: Dag,
    /// Content hashes with the state table.
    pub hasher: Arc<Hasher>,
    /// Params files read so far.
    pub params: Mutex<Params>,
    /// Who runs each stage.
    pub executors: Executors,
    /// The object cache.
    pub cache: Cache,
    /// The run-cache.
    pub run_cache: RunCache,
    /// Whether the repository is a git checkout (cached outs go to `.gitignore`).
    pub git: bool,
    /// Held while a `.gitignore` is rewritten: stages finishing together share folders.
    pub gitignore: Mutex<()>,
    /// Whether to restore from the run-cache (`--no-run-cache` turns it off; runs are recorded
    /// either way).
    pub use_run_cache: bool,
}

/// The result of one stage's task.
enum Done {
    Fresh,
    Ran(Box<Entry>),
    Restored(Box<Entry>),
    Failed(String, bool),
    Interrupted,
    /// Not started: another stage failed while it waited for a slot.
    Halted,
}

/// Runs the plan; events go to `events`. Returns when every started stage has ended.
pub async fn run(
    shared: Arc<Shared>,
    mut plan: Plan,
    events: mpsc::UnboundedSender<Event>,
) -> Summary {
    let p = &shared.pipeline;
    let _ = events.send(Event::RunStarted {
        total: plan.stages.len(),
    });
    let started = (std::time::SystemTime::now(), Instant::now());
    let mut locks = LockSet::read(&shared.root, p, &plan.stages);
    let mut pending: HashMap<usize, usize> = plan
        .stages
        .iter()
        .map(|&i| {
            (
                i,
                shared
                    .dag
                    .parents(i)
                    .filter(|j| plan.stages.contains(j))
                    .count(),
            )
        })
        .collect();
    let order = shared.dag.topo_order();
    let mut ready: VecDeque<usize> = order
        .iter()
        .copied()
        .filter(|i| pending.get(i) == Some(&0))
        .collect();
    let jobs = plan.jobs.max(1);
    // One pool of slots per executor: `-j` for local processes, the executor's own for others.
    let slots: Vec<Arc<Semaphore>> = shared
        .executors
        .all
        .iter()
        .map(|e| Arc::new(Semaphore::new(e.capacity().unwrap_or(jobs).max(1))))
        .collect();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    // Set on a failure without `-k`: stages waiting for a slot do not start.
    let (halt_tx, halt_rx) = watch::channel(false);
    let mut running: JoinSet<(usize, Done)> = JoinSet::new();
    let mut summary = Summary::default();
    let mut blocked: BTreeSet<usize> = BTreeSet::new();
    let mut stop_new = false;
    let mut signals = Signals::new();

    loop {
        while !stop_new && let Some(i) = ready.pop_front() {
            let forced = plan.force.contains(&i);
            let entry = locks.entry(&p.stages[i]).cloned();
            let cpus = match shared.executors.of(i).capacity() {
                None => u32::try_from(jobs)
                    .unwrap_or(u32::MAX)
                    .min(p.stages[i].resources.cpus.max(1)),
                Some(_) => 1,
            };
            running.spawn(stage_task(
                i,
                shared.clone(),
                entry,
                forced,
                slots[shared.executors.index(i)].clone(),
                cpus,
                events.clone(),
                (cancel_rx.clone(), halt_rx.clone()),
            ));
        }
        if running.is_empty() {
            break;
        }
        let (i, done) = tokio::select! {
            Some(joined) = running.join_next() => match joined {
                Ok(r) => r,
                Err(e) => {
                    // A stage task panicked or was cancelled: nothing to record for it.
                    let _ = events.send(Event::Output { stage: "wf".into(), line: format!("internal error: {e}"), stderr: true });
                    continue;
                }
            },
            () = signals.recv(), if !summary.interrupted => {
                summary.interrupted = true;
                stop_new = true;
                let _ = cancel_tx.send(true);
                continue;
            }
        };
        let stage = &p.stages[i];
        if matches!(done, Done::Restored(_)) {
            summary.restored.push(i);
        }
        match done {
            Done::Fresh => summary.skipped.push(i),
            Done::Ran(entry) | Done::Restored(entry) => {
                summary.ran.push(i);
                if plan.force_downstream {
                    plan.force.extend(shared.dag.descendants(&[i]));
                }
                match locks.update(stage, *entry) {
                    Ok(path) => {
                        let _ = events.send(Event::LockWritten {
                            path: path.display().to_string(),
                        });
                    }
                    Err(e) => {
                        summary.failed.push((i, e.to_string(), false));
                        stop_new = true;
                    }
                }
            }
            Done::Failed(message, bad_input) => {
                summary.failed.push((i, message, bad_input));
                if plan.keep_going {
                    for d in shared.dag.descendants(&[i]) {
                        if d != i && plan.stages.contains(&d) && blocked.insert(d) {
                            summary.blocked.push(d);
                            let _ = events.send(Event::StageBlocked {
                                stage: p.stages[d].address(),
                                failed: stage.address(),
                            });
                        }
                    }
                } else {
                    stop_new = true;
                    let _ = halt_tx.send(true);
                }
            }
            Done::Interrupted => summary.interrupted = true,
            Done::Halted => {}
        }
        for c in shared.dag.children(i) {
            if let Some(n) = pending.get_mut(&c) {
                *n -= 1;
                if *n == 0 && !blocked.contains(&c) {
                    ready.push_back(c);
                }
            }
        }
    }
    record_run(&shared, &summary, started);
    if let Err(e) = locks.sync() {
        let _ = events.send(Event::Output {
            stage: "wf".into(),
            line: format!("error: {e}"),
            stderr: true,
        });
    }
    if let Err(e) = shared.hasher.save() {
        let _ = events.send(Event::Output {
            stage: "wf".into(),
            line: format!("warning: {e}"),
            stderr: true,
        });
    }
    summary
}

/// One stage: decide, and run if it must.
#[expect(
    clippy::too_many_arguments,
    reason = "a task takes what it needs by value"
)]
async fn stage_task(
    i: usize,
    shared: Arc<Shared>,
    entry: Option<Entry>,
    forced: bool,
    slots: Arc<Semaphore>,
    cpus: u32,
    events: mpsc::UnboundedSender<Event>,
    (cancel, halt): (watch::Receiver<bool>, watch::Receiver<bool>),
) -> (usize, Done) {
    let address = shared.pipeline.stages[i].address();
    let decided = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || decide(&shared, i, entry.as_ref(), forced)).await
    };
    let verdict = match decided {
        Ok(Ok(v)) => v,
        Ok(Err((message, bad_input))) => {
            let _ = events.send(Event::StageFinished {
                stage: address,
                outcome: Outcome::Failed(message.clone()),
                elapsed: Default::default(),
            });
            return (i, Done::Failed(message, bad_input));
        }
        Err(e) => return (i, Done::Failed(format!("internal error: {e}"), false)),
    };
    let inputs = match verdict {
        Verdict::Fresh => {
            let _ = events.send(Event::StageSkipped { stage: address });
            return (i, Done::Fresh);
        }
        Verdict::Restore(entry) => {
            let restored = {
                let shared = shared.clone();
                tokio::task::spawn_blocking(move || restore(&shared, i, *entry)).await
            };
            return match restored {
                Ok(Ok(entry)) => {
                    let _ = events.send(Event::StageRestored { stage: address });
                    (i, Done::Restored(Box::new(entry)))
                }
                Ok(Err(message)) => finish(
                    &events,
                    address,
                    Instant::now(),
                    i,
                    Done::Failed(message, false),
                ),
                Err(e) => (i, Done::Failed(format!("internal error: {e}"), false)),
            };
        }
        Verdict::Run(inputs) => inputs,
    };
    let Ok(_permit) = slots.acquire_many(cpus).await else {
        return (i, Done::Interrupted);
    };
    if *cancel.borrow() {
        return (i, Done::Interrupted);
    }
    if *halt.borrow() {
        return (i, Done::Halted);
    }
    let task = Task::new(&shared.pipeline.stages[i], shared.root.clone(), inputs);
    let _ = events.send(Event::StageStarted {
        stage: address.clone(),
        commands: task.commands(),
    });
    let started = Instant::now();
    if let Err(e) = remove_outs(&shared, i) {
        return finish(&events, address, started, i, Done::Failed(e, false));
    }
    let executor = shared.executors.of(i);
    let outcome = executor.run(&task, &events, cancel.clone()).await;
    let done = match outcome {
        Outcome::Ok => {
            let shared = shared.clone();
            match tokio::task::spawn_blocking(move || record(&shared, i, true)).await {
                Ok(Ok(entry)) => Done::Ran(Box::new(entry)),
                Ok(Err(message)) => Done::Failed(message, false),
                Err(e) => Done::Failed(format!("internal error: {e}"), false),
            }
        }
        Outcome::Failed(message) => Done::Failed(message, false),
        Outcome::Interrupted => Done::Interrupted,
    };
    finish(&events, address, started, i, done)
}

fn finish(
    events: &mpsc::UnboundedSender<Event>,
    stage: String,
    started: Instant,
    i: usize,
    done: Done,
) -> (usize, Done) {
    let outcome = match &done {
        Done::Failed(m, _) => Outcome::Failed(m.clone()),
        Done::Interrupted => Outcome::Interrupted,
        Done::Fresh | Done::Ran(_) | Done::Restored(_) | Done::Halted => Outcome::Ok,
    };
    let _ = events.send(Event::StageFinished {
        stage,
        outcome,
        elapsed: started.elapsed(),
    });
    (i, done)
}

/// What to do with a stage, decided just before it would run.
enum Verdict {
    /// Nothing changed.
    Fresh,
    /// Its outs come back from the cache: this entry's outs, and it is the new lock entry.
    Restore(Box<Entry>),
    /// Run it; what it reads, hashed, if its executor ships data.
    Run(Vec<Input>),
}

/// Decides stage `i`, as DVC: fresh, restorable from the cache, or to run;
/// `Err((message, bad_input))` when it cannot run.
fn decide(
    shared: &Shared,
    i: usize,
    entry: Option<&Entry>,
    forced: bool,
) -> Result<Verdict, (String, bool)> {
    let stage = &shared.pipeline.stages[i];
    let cur = {
        let mut params = shared
            .params
            .lock()
            .map_err(|_| ("internal error: params lock poisoned".to_string(), false))?;
        status::current(stage, &shared.root, &shared.hasher, &mut params)
            .map_err(|e| (e.to_string(), true))?
    };
    if stage.frozen {
        // As DVC: a frozen stage never runs, and its outs must be there.
        if let Some((path, _)) = cur.outs.iter().find(|(_, h)| h.is_none()) {
            return Err((
                format!("stage is frozen and its output '{path}' is missing"),
                true,
            ));
        }
        return Ok(Verdict::Fresh);
    }
    let changes = status::changes(stage, &cur, entry);
    if !forced && changes.is_empty() {
        return Ok(Verdict::Fresh);
    }
    if let Some((path, _)) = cur.deps.iter().find(|(_, h)| h.is_none()) {
        return Err((format!("dependency '{path}' does not exist"), true));
    }
    if let Some((file, keys)) = status::missing_params(&cur).into_iter().next() {
        let keys = keys
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err((
            format!("Parameters {keys} are missing from '{file}'."),
            true,
        ));
    }
    let run = || {
        Verdict::Run(if shared.executors.of(i).reads_inputs() {
            inputs(shared, stage, &cur)
        } else {
            Vec::new()
        })
    };
    if forced
        || stage.always_changed
        || stage.outs.is_empty()
        || stage.outs.iter().any(|o| o.persist)
    {
        return Ok(run());
    }
    // As DVC (§6 step 1): only outs differ from the lock and the lock's outs are cached.
    if let Some(entry) = entry
        && !stage.deps.is_empty()
        && changes.iter().all(|c| matches!(c, status::Change::Out(..)))
        && entry.outs.iter().all(|o| shared.cache.contains(&o.info()))
        && entry.outs.len() == stage.outs.len()
    {
        return Ok(Verdict::Restore(Box::new(entry.clone())));
    }
    // As DVC (§6 step 2), and also for stages without deps: an earlier run with the same inputs.
    if shared.use_run_cache
        && let Some(hit) = shared
            .run_cache
            .lookup(&status::probe(stage, &cur), &shared.cache)
    {
        return Ok(Verdict::Restore(Box::new(hit)));
    }
    Ok(run())
}

/// What a stage reads, with its hashes: its deps, its params files and its `persist` outs.
fn inputs(shared: &Shared, stage: &crate::spec::Stage, cur: &status::Current) -> Vec<Input> {
    let mut inputs: Vec<Input> = stage
        .deps
        .iter()
        .zip(&cur.deps)
        .filter_map(|(dep, (_, info))| {
            Some(Input {
                path: dep.path.clone(),
                info: info.clone()?,
            })
        })
        .collect();
    for param in &stage.params {
        if inputs.iter().any(|i| i.path == param.file) {
            continue;
        }
        if let Ok(Some(info)) = shared.hasher.hash(&param.file) {
            inputs.push(Input {
                path: param.file.clone(),
                info,
            });
        }
    }
    // A `persist` out is read too: the stage starts from what it left last time.
    for (out, (_, info)) in stage.outs.iter().zip(&cur.outs) {
        if let (true, Some(info)) = (out.persist, info) {
            inputs.push(Input {
                path: out.entry.path.clone(),
                info: info.clone(),
            });
        }
    }
    inputs
}

/// Checks a stage's outs out of the cache; returns its lock entry.
fn restore(shared: &Shared, i: usize, entry: Entry) -> Result<Entry, String> {
    let stage = &shared.pipeline.stages[i];
    for out in &stage.outs {
        let Some(locked) = entry.outs.iter().find(|o| o.path == out.entry.written) else {
            return Err(format!(
                "output '{}' is not in the cached run",
                out.entry.written
            ));
        };
        shared
            .cache
            .checkout(
                &out.entry.path.to_path(&shared.root),
                &out.entry.written,
                &locked.info(),
            )
            .map_err(|e| e.to_string())?;
    }
    // The restored outs are hashed now, so the lock records exactly what is in the workspace.
    record(shared, i, false)
}

/// Deletes the stage's outs before it runs, except `persist` ones (as DVC).
fn remove_outs(shared: &Shared, i: usize) -> Result<(), String> {
    for out in &shared.pipeline.stages[i].outs {
        // Whatever the stage writes is hashed afresh.
        shared.hasher.forget(&out.entry.path);
        if out.persist {
            continue;
        }
        let path = out.entry.path.to_path(&shared.root);
        let result = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(_) => Ok(()),
        };
        result.map_err(|e| {
            format!(
                "cannot remove output '{}' before running: {e}",
                out.entry.written
            )
        })?;
    }
    Ok(())
}

/// After a run (or a restore): every out must exist; hash everything for the lock. After a run
/// (`save`), cache the outs and remember the run in the run-cache.
fn record(shared: &Shared, i: usize, save: bool) -> Result<Entry, String> {
    let stage = &shared.pipeline.stages[i];
    let cur = {
        let mut params = shared
            .params
            .lock()
            .map_err(|_| "internal error: params lock poisoned".to_string())?;
        status::current(stage, &shared.root, &shared.hasher, &mut params)
            .map_err(|e| e.to_string())?
    };
    if let Some((path, _)) = cur.outs.iter().find(|(_, h)| h.is_none()) {
        return Err(format!("output '{path}' does not exist"));
    }
    let entry = status::entry(stage, &cur);
    if save {
        for (out, (_, info)) in stage.outs.iter().zip(&cur.outs) {
            let Some(info) = info else { continue };
            // As DVC: uncached metrics and plots are still stored, for the run-cache.
            if !out.cache && out.kind == OutKind::Out {
                continue;
            }
            let abs = out.entry.path.to_path(&shared.root);
            let manifest = shared
                .hasher
                .manifest(&out.entry.path)
                .map_err(|e| e.to_string())?;
            shared
                .cache
                .save(&abs, info, manifest.as_deref())
                .map_err(|e| e.to_string())?;
            if out.cache {
                shared
                    .cache
                    .relink(&abs, &out.entry.written, info)
                    .map_err(|e| e.to_string())?;
            }
        }
        // As DVC: a run with an uncached plain out cannot be restored, so it is not remembered.
        if stage.outs.iter().all(|o| o.cache || o.kind != OutKind::Out) && !stage.always_changed {
            shared.run_cache.save(&entry).map_err(|e| e.to_string())?;
        }
    }
    Ok(entry)
}

/// Writes `.wf/runs/last.json`: what the last run did, for `wf report`.
pub(crate) fn record_run(
    shared: &Shared,
    summary: &Summary,
    (at, clock): (std::time::SystemTime, Instant),
) {
    let names = |v: &[usize]| {
        v.iter()
            .map(|&i| shared.pipeline.stages[i].address())
            .collect::<Vec<_>>()
    };
    let ran = summary.executed();
    let record = serde_json::json!({
        "version": 1,
        "started": at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "seconds": clock.elapsed().as_secs_f64(),
        "ran": names(&ran),
        "restored": names(&summary.restored),
        "skipped": names(&summary.skipped),
        "failed": summary.failed.iter().map(|(i, m, _)| serde_json::json!({"stage": shared.pipeline.stages[*i].address(), "error": m})).collect::<Vec<_>>(),
        "interrupted": summary.interrupted,
    });
    let path = shared
        .root
        .join(crate::workspace::DIR)
        .join("runs")
        .join("last.json");
    let _ = crate::atomic::replace(&path, format!("{record:#}\n").as_bytes());
}

/// Ctrl-C and SIGTERM, as one stream.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        Signals {
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    async fn recv(&mut self) {
        let term = async {
            match &mut self.term {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
}
