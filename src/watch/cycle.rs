//! The watch loop: run, wait for a relevant change to settle, run again. Each cycle is the run
//! API's own (the same loading and selection, the same just-in-time decisions, the same
//! scheduler); this file only decides when to start one. The repository is locked only while a
//! run writes it, so `wf status` works from another terminal between runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use super::changes::{Changes, Wake, wait};
use super::error::WatchError;
use super::paths::{Folders, Watched};
use crate::error::Error;
use crate::exec::signals::Signals;
use crate::exec::{Events, ExecError};
use crate::repo::Repo;
use crate::repo_lock::{RepoLock, RepoLockError};
use crate::run::{self, RunOptions, RunRecord, RunStatus};

/// The notify debouncer's own window (at most): short, as the quiet period comes on top of it.
const NOTIFY_WINDOW: Duration = Duration::from_millis(20);

/// How often to try again while another `wf` holds the repository.
const LOCK_RETRY: Duration = Duration::from_millis(250);

/// Something the watch has to say; the command renders it.
pub enum Notice {
    /// Watching has begun, on this many paths.
    Watching {
        /// Paths watched.
        paths: usize,
    },
    /// Another wf holds the repository; the watch waits for it.
    Locked {
        /// Its process id.
        pid: i32,
    },
    /// A cycle could not run (a broken spec, a bad config): watching goes on.
    Error(Error),
    /// Something the file watcher could not do.
    Warning(String),
    /// A cycle ended.
    Cycle {
        /// What started it (`first run`, `params.yaml changed`).
        what: String,
        /// What it did; `None` when it did not run (see the error before it).
        record: Option<RunRecord>,
        /// How long it took.
        elapsed: Duration,
    },
}

/// How a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Ctrl-C or SIGTERM between runs.
    Stopped,
    /// Ctrl-C or SIGTERM during a run (the lock keeps what finished).
    Interrupted,
    /// The file watcher's thread is gone.
    Broken,
}

/// Watches until Ctrl-C or SIGTERM. `events` makes each run's events (and their subscribers);
/// `notice` hears everything else.
pub async fn watch(
    repo: &Repo,
    opts: &RunOptions,
    debounce: Duration,
    mut events: impl FnMut() -> (Events, Box<dyn FnOnce()>),
    mut notice: impl FnMut(Notice),
) -> Result<Ended, Error> {
    let mut signals = Signals::new().map_err(|source| ExecError::Signals { source })?;
    let (tx, mut rx) = mpsc::unbounded_channel::<DebounceEventResult>();
    // The notify debouncer joins a rename's two halves and drops duplicate events within a short
    // window; the quiet period is measured by `wait`.
    let debouncer = new_debouncer(
        debounce.min(NOTIFY_WINDOW),
        None,
        move |result: DebounceEventResult| {
            let _ = tx.send(result);
        },
    )
    .map_err(|source| WatchError { source })?;
    let mut folders = Folders {
        debouncer,
        watched: BTreeMap::new(),
    };
    let mut watched = Watched::default();
    // What changed since the last cycle (nothing before the first).
    let mut changes = Changes::default();
    let mut first = true;
    let mut told_locked = false;
    let mut told_watching = false;
    loop {
        if signals.pending() {
            return Ok(Ended::Stopped);
        }
        let started = Instant::now();
        let what = if first {
            "first run".to_string()
        } else {
            changes.describe()
        };
        let mut retry = None;
        let mut ran = None;
        match run::load(repo, opts) {
            Err(e) => {
                notice(Notice::Error(e));
                // Keep watching what was watched, and the specs that may now be there, so that a
                // fix starts a run.
                watched.add_specs(repo, &opts.targets);
                for w in folders.update(&repo.root, &watched.folders(&repo.root), &changes.moved) {
                    notice(Notice::Warning(w));
                }
                ran = Some(None);
            }
            Ok(loaded) => {
                watched = Watched::of(&loaded.pipeline, &loaded.plan);
                for w in folders.update(&repo.root, &watched.folders(&repo.root), &changes.moved) {
                    notice(Notice::Warning(w));
                }
                if !told_watching {
                    told_watching = true;
                    notice(Notice::Watching {
                        paths: watched.triggers.len(),
                    });
                }
                match RepoLock::acquire(&repo.root) {
                    Err(RepoLockError::Held { pid, .. }) => {
                        if !told_locked {
                            notice(Notice::Locked { pid });
                        }
                        told_locked = true;
                        retry = Some(LOCK_RETRY);
                    }
                    Err(e) => {
                        notice(Notice::Error(e.into()));
                        ran = Some(None);
                    }
                    Ok(lock) => {
                        told_locked = false;
                        let (events, done) = events();
                        let record = match run::prepare(repo, loaded, opts, &events) {
                            Err(e) => {
                                // The subscribers end when the last sender does.
                                drop(events);
                                notice(Notice::Error(e));
                                None
                            }
                            Ok(prepared) => Some(prepared.execute(events).await),
                        };
                        done();
                        drop(lock);
                        if record
                            .as_ref()
                            .is_some_and(|r| r.status == RunStatus::Interrupted)
                        {
                            return Ok(Ended::Interrupted);
                        }
                        ran = Some(record);
                    }
                }
            }
        }
        if let Some(record) = ran {
            notice(Notice::Cycle {
                what,
                record,
                elapsed: started.elapsed(),
            });
            first = false;
            changes = Changes::default();
        }
        // A retry keeps what changed so far and adds what changes meanwhile.
        let found = (&watched, repo.root.as_path());
        let wake = wait(&mut rx, &mut signals, found, debounce, retry, &mut changes).await;
        for w in std::mem::take(&mut changes.warnings) {
            notice(Notice::Warning(w));
        }
        match wake {
            Wake::Stop => return Ok(Ended::Stopped),
            Wake::Broken => return Ok(Ended::Broken),
            Wake::Changed | Wake::Retry => {}
        }
    }
}
