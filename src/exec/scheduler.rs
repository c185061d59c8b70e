//! The scheduler: a stage starts as soon as the stages it reads from are done, at most `-j`
//! slots at once (a stage takes `resources.cpus` of them). Each stage is decided just in time,
//! after its upstream ran, so early cutoff falls out: a re-run that writes the same bytes leaves
//! its readers fresh. The lock is written after every finished stage; Ctrl-C stops every running
//! process group and keeps what finished.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::event::{Event, Events, Failure, Outcome};
use super::executor::{Task, Work};
use super::stage::{self, Shared, Verdict};
use crate::lock::{Entry, LockSet};
use crate::spec::ExecutorName;

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
    /// The pool of `jobs` slots local stages take, when runs started together share one.
    pub slots: Option<Arc<Semaphore>>,
    /// Stops the run as Ctrl-C does once it turns true (a study pruning a trial).
    pub stop: Option<watch::Receiver<bool>>,
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
    /// Stages that failed, and why.
    pub failed: Vec<(usize, Failure)>,
    /// Stages not run because an upstream stage failed, with that stage.
    pub blocked: Vec<(usize, usize)>,
    /// Stages interrupted while they ran.
    pub interrupted_stages: Vec<usize>,
    /// Ctrl-C or SIGTERM arrived.
    pub interrupted: bool,
    /// What the run knows of each stage it decided.
    pub stages: BTreeMap<usize, StageRun>,
    /// When the run started.
    pub started: Option<SystemTime>,
    /// How long it took.
    pub elapsed: Duration,
}

/// One stage of a run: why it ran, when, for how long, and the lock entry it ended with.
#[derive(Debug, Clone, Default)]
pub struct StageRun {
    /// Why it was not fresh (empty for a fresh stage).
    pub reasons: Vec<String>,
    /// When its command started (`None` if it did not run).
    pub started: Option<SystemTime>,
    /// How long it ran.
    pub elapsed: Duration,
    /// Its lock entry after the run: the new one, or for a fresh stage the one it had.
    pub entry: Option<Entry>,
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

/// Set on a failure without `-k`: stages waiting for a slot do not start.
struct Halt {
    /// Whether a failure halts the run (no `-k`).
    on_failure: bool,
    /// Whether it did.
    halted: AtomicBool,
}

/// The result of one stage's task.
enum Done {
    Fresh,
    Ran(Box<Entry>),
    Restored(Box<Entry>),
    Failed(Failure),
    Interrupted,
    /// Not started: another stage failed, or the run was interrupted, while it waited for a
    /// slot.
    Halted,
}

/// Runs the plan, recording finished stages in `locks`; events go to `events`. Returns when every
/// started stage has ended.
pub async fn run(
    shared: Arc<Shared>,
    mut plan: Plan,
    mut locks: LockSet,
    events: Events,
) -> Summary {
    let p = &shared.pipeline;
    let _ = events.send(Event::RunStarted {
        total: plan.stages.len(),
    });
    let clock = Instant::now();
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
        .map(|(_, e)| match (e.capacity(), &plan.slots) {
            (None, Some(shared)) => shared.clone(),
            (capacity, _) => Arc::new(Semaphore::new(capacity.unwrap_or(jobs).max(1))),
        })
        .collect();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let halt = Arc::new(Halt {
        on_failure: !plan.keep_going,
        halted: AtomicBool::new(false),
    });
    let mut running: JoinSet<(usize, Done, StageRun)> = JoinSet::new();
    let mut summary = Summary {
        started: Some(SystemTime::now()),
        ..Summary::default()
    };
    let mut blocked: BTreeSet<usize> = BTreeSet::new();
    let mut stop_new = false;
    // Without signal handlers (which cannot fail on Unix in practice) a run is just not
    // interruptible.
    let mut signals = super::signals::Signals::new().ok();
    let mut stop = plan.stop.clone();

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
                (cancel_rx.clone(), halt.clone()),
            ));
        }
        if running.is_empty() {
            break;
        }
        let (i, done, mut run) = tokio::select! {
            Some(joined) = running.join_next() => match joined {
                Ok(r) => r,
                Err(e) => {
                    // A stage task panicked or was cancelled: nothing to record for it.
                    let _ = events.send(Event::Warning { message: format!("internal error: {e}") });
                    continue;
                }
            },
            () = async {
                match &mut signals {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            }, if !summary.interrupted => {
                summary.interrupted = true;
                stop_new = true;
                let _ = cancel_tx.send(true);
                continue;
            }
            () = async {
                // A dropped sender never stops the run.
                let stopped = match &mut stop {
                    Some(s) => s.wait_for(|&v| v).await.is_ok(),
                    None => false,
                };
                if !stopped {
                    std::future::pending::<()>().await;
                }
            }, if !summary.interrupted => {
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
            Done::Fresh => {
                summary.skipped.push(i);
                run.entry = locks.entry(stage).cloned();
            }
            Done::Ran(entry) | Done::Restored(entry) => {
                summary.ran.push(i);
                if plan.force_downstream {
                    plan.force.extend(shared.dag.descendants(&[i]));
                }
                run.entry = Some((*entry).clone());
                match locks.update(stage, *entry) {
                    Ok(path) => {
                        let _ = events.send(Event::LockWritten {
                            path: path.display().to_string(),
                        });
                    }
                    Err(e) => {
                        let _ = events.send(Event::Error {
                            message: format!("failed to reproduce '{}': {e}", stage.address()),
                        });
                        summary.failed.push((
                            i,
                            Failure::Record {
                                message: e.to_string(),
                            },
                        ));
                        stop_new = true;
                    }
                }
            }
            Done::Failed(failure) => {
                summary.failed.push((i, failure));
                if plan.keep_going {
                    for d in shared.dag.descendants(&[i]) {
                        if d != i && plan.stages.contains(&d) && blocked.insert(d) {
                            summary.blocked.push((d, i));
                            let _ = events.send(Event::StageBlocked {
                                stage: p.stages[d].address(),
                                failed: stage.address(),
                            });
                        }
                    }
                } else {
                    stop_new = true;
                    halt.halted.store(true, Ordering::SeqCst);
                }
            }
            Done::Interrupted => {
                summary.interrupted = true;
                summary.interrupted_stages.push(i);
            }
            Done::Halted => {}
        }
        summary.stages.insert(i, run);
        for c in shared.dag.children(i) {
            if let Some(n) = pending.get_mut(&c) {
                *n -= 1;
                if *n == 0 && !blocked.contains(&c) {
                    ready.push_back(c);
                }
            }
        }
    }
    summary.elapsed = clock.elapsed();
    if let Err(e) = locks.sync() {
        let _ = events.send(Event::Warning {
            message: e.to_string(),
        });
    }
    if let Err(e) = shared.hasher.save() {
        let _ = events.send(Event::Warning {
            message: e.to_string(),
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
    events: Events,
    (cancel, halt): (watch::Receiver<bool>, Arc<Halt>),
) -> (usize, Done, StageRun) {
    let address = shared.pipeline.stages[i].address();
    let mut run = StageRun::default();
    let mut verdict = match decide(&shared, i, entry.clone(), forced).await {
        Ok((verdict, reasons)) => {
            run.reasons = reasons;
            verdict
        }
        Err(failure) => return failed_early(&events, address, i, failure, run),
    };
    // Held while the stage runs and is recorded: a run started together with this one that
    // needs the same stage waits, then restores it.
    let mut _claim = None;
    if let (Verdict::Run(_, Some(key)), Some(running)) = (&verdict, &shared.running) {
        let claim = running.claim(key).await;
        if claim.waited {
            // The run that held the key has probably cached the stage: decide again.
            verdict = match decide(&shared, i, entry, forced).await {
                Ok((verdict, _)) => verdict,
                Err(failure) => return failed_early(&events, address, i, failure, run),
            };
        }
        _claim = Some(claim);
    }
    let inputs = match verdict {
        Verdict::Fresh => {
            let _ = events.send(Event::StageSkipped { stage: address });
            return (i, Done::Fresh, run);
        }
        Verdict::Restore(entry) => {
            let started = Instant::now();
            let restored = {
                let shared = shared.clone();
                tokio::task::spawn_blocking(move || stage::restore(&shared, i, *entry)).await
            };
            run.elapsed = started.elapsed();
            return match restored {
                Ok(Ok(entry)) => {
                    let _ = events.send(Event::StageRestored { stage: address });
                    (i, Done::Restored(Box::new(entry)), run)
                }
                Ok(Err(failure)) => {
                    finish(&events, address, started, i, Done::Failed(failure), run)
                }
                Err(e) => (i, Done::Failed(internal(e)), run),
            };
        }
        Verdict::Run(inputs, _) => inputs,
    };
    // A stage that never started is not interrupted: the run is, and its record says the stage
    // did not start.
    let Ok(_permit) = slots.acquire_many(cpus).await else {
        return (i, Done::Halted, run);
    };
    if *cancel.borrow() {
        return (i, Done::Halted, run);
    }
    if halt.halted.load(Ordering::SeqCst) {
        return (i, Done::Halted, run);
    }
    let mut task = Task::new(&shared.pipeline.stages[i], shared.root.clone(), inputs);
    if let (Some(tracking), Work::Shell(_), ExecutorName::Local) = (
        shared.tracking.get(),
        &task.work,
        shared.executors.name_of(i),
    ) {
        tracking.add_to(&address, &mut task.env);
    }
    let _ = events.send(Event::StageStarted {
        stage: address.clone(),
        commands: task.commands(),
    });
    let started = Instant::now();
    run.started = Some(SystemTime::now());
    if let Err(failure) = stage::remove_outs(&shared, i) {
        return finish(&events, address, started, i, Done::Failed(failure), run);
    }
    let executor = shared.executors.of(i);
    let outcome = executor.run(&task, &events, cancel.clone()).await;

    let done = match outcome {
        Outcome::Ok => {
            let shared = shared.clone();
            match tokio::task::spawn_blocking(move || stage::record(&shared, i, true)).await {
                Ok(Ok(entry)) => Done::Ran(Box::new(entry)),
                Ok(Err(failure)) => Done::Failed(failure),
                Err(e) => Done::Failed(internal(e)),
            }
        }
        Outcome::Failed(message) => Done::Failed(Failure::Command { message }),
        Outcome::Interrupted => Done::Interrupted,
    };
    if matches!(done, Done::Failed(_)) && halt.on_failure {
        // Raised before this stage's slots are given back, so that a stage waiting for them
        // sees it (the run loop raises it too, but only once it hears of the failure).
        halt.halted.store(true, Ordering::SeqCst);
    }
    finish(&events, address, started, i, done, run)
}

/// Decides stage `i` on the blocking pool.
async fn decide(
    shared: &Arc<Shared>,
    i: usize,
    entry: Option<Entry>,
    forced: bool,
) -> Result<(Verdict, Vec<String>), Failure> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || stage::decide(&shared, i, entry.as_ref(), forced))
        .await
        .unwrap_or_else(|e| Err(internal(e)))
}

/// A stage that failed before it could start (its inputs could not be read).
fn failed_early(
    events: &Events,
    stage: String,
    i: usize,
    failure: Failure,
    run: StageRun,
) -> (usize, Done, StageRun) {
    let _ = events.send(Event::StageFinished {
        stage,
        outcome: Outcome::Failed(failure.to_string()),
        elapsed: Duration::default(),
    });
    (i, Done::Failed(failure), run)
}

/// A stage task's blocking part panicked.
fn internal(e: tokio::task::JoinError) -> Failure {
    Failure::Record {
        message: format!("internal error: {e}"),
    }
}

fn finish(
    events: &Events,
    stage: String,
    started: Instant,
    i: usize,
    done: Done,
    mut run: StageRun,
) -> (usize, Done, StageRun) {
    let outcome = match &done {
        Done::Failed(failure) => Outcome::Failed(failure.to_string()),
        Done::Interrupted => Outcome::Interrupted,
        Done::Fresh | Done::Ran(_) | Done::Restored(_) | Done::Halted => Outcome::Ok,
    };
    run.elapsed = started.elapsed();
    let _ = events.send(Event::StageFinished {
        stage,
        outcome,
        elapsed: run.elapsed,
    });
    (i, done, run)
}
