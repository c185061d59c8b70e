//! Execution: the scheduler that runs ready stages in parallel (tokio), the executor that runs
//! one stage's commands in its own process group, and the events they report. The fourth arrow
//! of DESIGN.md's flow.

pub mod event;
pub mod executor;
pub mod scheduler;
pub mod shell;
pub mod ship;
pub mod slurm;

pub use event::{Event, Outcome};
pub use scheduler::{Plan, Summary, run};

/// The tokio runtime of a command that needs one (built explicitly, so `wf dag` never starts
/// one).
pub fn runtime() -> Result<tokio::runtime::Runtime, crate::error::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::Error::Usage {
            message: format!("cannot start the runtime: {e}"),
            help: None,
        })
}
