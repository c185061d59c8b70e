//! `Event`: what the scheduler and the executor report while a run goes on, and `Events`, the
//! one channel type that fans them out to every subscriber (the terminal reporter, `wf watch`'s
//! summary, a run store, a live view). `report` alone turns them into text; nothing here prints.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

/// The sending half of a run's events: every event goes to every subscriber, in order. Cloned
/// into each stage task; a subscriber that has gone away is skipped.
#[derive(Debug, Clone, Default)]
pub struct Events {
    subscribers: Arc<Vec<mpsc::UnboundedSender<Event>>>,
}

impl Events {
    /// Events that nobody receives.
    pub fn none() -> Events {
        Events::default()
    }

    /// Adds a subscriber; call before the events are cloned into a run.
    pub fn subscribe(&mut self) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::make_mut(&mut self.subscribers).push(tx);
        rx
    }

    /// Sends an event to every subscriber; whether anyone received it.
    pub fn send(&self, event: Event) -> bool {
        let mut delivered = false;
        if let Some((last, rest)) = self.subscribers.split_last() {
            for tx in rest {
                delivered |= tx.send(event.clone()).is_ok();
            }
            delivered |= last.send(event).is_ok();
        }
        delivered
    }
}

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run starts with this many stages to consider.
    RunStarted {
        /// Stages considered.
        total: usize,
    },
    /// A stage is fresh and does not run.
    StageSkipped {
        /// Its address.
        stage: String,
    },
    /// A stage's outs come back from the cache instead of running it.
    StageRestored {
        /// Its address.
        stage: String,
    },
    /// A stage does not run because a stage it depends on failed.
    StageBlocked {
        /// Its address.
        stage: String,
        /// The failed upstream stage.
        failed: String,
    },
    /// A stage starts.
    StageStarted {
        /// Its address.
        stage: String,
        /// The commands it runs (or the built-in stage it calls).
        commands: Vec<String>,
    },
    /// A line a stage printed.
    Output {
        /// Its address.
        stage: String,
        /// The line, without its newline.
        line: String,
        /// Whether it came from stderr.
        stderr: bool,
    },
    /// A stage finished.
    StageFinished {
        /// Its address.
        stage: String,
        /// How it ended.
        outcome: Outcome,
        /// How long it ran.
        elapsed: Duration,
    },
    /// The lock of a spec was written.
    LockWritten {
        /// The lock file, relative to the root.
        path: String,
    },
    /// A line about the run itself, not from a stage (what `--pull` fetched).
    Note {
        /// The line.
        message: String,
    },
    /// Something went wrong that does not stop the run (the state table could not be saved).
    Warning {
        /// What, in a sentence.
        message: String,
    },
    /// Something went wrong after a stage had finished (its lock entry could not be written):
    /// the stage counts as failed.
    Error {
        /// What, in a sentence.
        message: String,
    },
    /// The run is over: every stage has ended and nothing more will be said of them.
    RunFinished,
    /// Work that takes a while (hashing, transfers) moved on.
    Progress(crate::progress::Progress),
}

/// How a stage that started ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and wrote every out.
    Ok,
    /// It failed; the message says why (`failed to run: exit 3`, `output 'x' does not exist`).
    Failed(String),
    /// It was stopped by Ctrl-C.
    Interrupted,
}

/// Why a stage failed: its inputs were not there (bad input), its command failed, or wf could
/// not record what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A dependency does not exist.
    MissingDep {
        /// The dependency.
        path: String,
    },
    /// Tracked params are missing from their file.
    MissingParams {
        /// The params file.
        file: String,
        /// The missing keys.
        keys: Vec<String>,
    },
    /// A frozen stage's out is missing (a frozen stage never runs).
    FrozenOutMissing {
        /// The out.
        path: String,
    },
    /// The stage's deps, outs or params could not be read.
    Inputs {
        /// Why.
        message: String,
    },
    /// The stage's command (or built-in) failed.
    Command {
        /// Why (`failed to run: exit 3`).
        message: String,
    },
    /// The stage ended without writing an out.
    MissingOut {
        /// The out.
        path: String,
    },
    /// Its outs could not be cached, restored or removed, or its lock entry written.
    Record {
        /// Why.
        message: String,
    },
}

impl Failure {
    /// Whether the cause is bad input (a missing dep or param), which exits with 2, rather than a
    /// failing command.
    pub fn bad_input(&self) -> bool {
        matches!(
            self,
            Failure::MissingDep { .. }
                | Failure::MissingParams { .. }
                | Failure::FrozenOutMissing { .. }
                | Failure::Inputs { .. }
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::MissingDep { path } => write!(f, "dependency '{path}' does not exist"),
            Failure::MissingParams { file, keys } => {
                let keys: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
                write!(
                    f,
                    "Parameters {} are missing from '{file}'.",
                    keys.join(", ")
                )
            }
            Failure::FrozenOutMissing { path } => {
                write!(f, "stage is frozen and its output '{path}' is missing")
            }
            Failure::MissingOut { path } => write!(f, "output '{path}' does not exist"),
            Failure::Inputs { message }
            | Failure::Command { message }
            | Failure::Record { message } => f.write_str(message),
        }
    }
}
