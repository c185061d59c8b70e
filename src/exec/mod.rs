//! Execution: the scheduler that runs ready stages in parallel (tokio), the executor that runs
//! one stage's commands in its own process group, and the events they report. The fourth arrow
//! of DESIGN.md's flow.

pub mod event;
pub mod scheduler;
pub mod shell;

pub use event::{Event, Outcome};
pub use scheduler::{Plan, Summary, run};
