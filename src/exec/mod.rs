//! Execution: the scheduler that runs ready stages in parallel (tokio), the executor that runs
//! one stage's commands in its own process group, and the events they report. The fourth arrow
//! of DESIGN.md's flow.

pub mod error;
pub mod event;
pub mod executor;
mod inflight;
pub mod node;
pub mod scheduler;
pub mod shell;
pub mod ship;
pub mod signals;
pub mod slurm;
mod stage;

pub use crate::progress::Progress;
pub use error::ExecError;
pub use event::{Event, Events, Failure, Outcome};
pub use inflight::InFlight;
pub use scheduler::{Plan, StageRun, Summary, run};
pub use stage::{Shared, Tracking};

/// The tokio runtime of a command that needs one (built explicitly, so `wf dag` never starts
/// one).
pub fn runtime() -> Result<tokio::runtime::Runtime, ExecError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ExecError::Runtime { source })
}
