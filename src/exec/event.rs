//! `Event`: what the scheduler and the executor report while a run goes on. `report` alone turns
//! them into text; nothing here prints.

use std::time::Duration;

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
