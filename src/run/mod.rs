//! The run API: `RunOptions` in, a typed `RunRecord` out. It loads the pipeline, plans, takes
//! the repository lock, hands the plan to the scheduler and records what happened; every command
//! that runs stages calls it. The "RunOptions ──run API──▶ scheduler" arrow of DESIGN.md's flow.

mod engine;
mod live;
mod options;
mod pull;
pub mod record;
mod tails;
mod task;

pub use engine::{DryStage, Loaded, Prepared, load, prepare, run};
pub use options::{Origin, Reach, Recorded, RunOptions, Sharing, reach};
pub use record::{RunRecord, RunStatus, StageOutcome, StageRecord};
pub use task::{TaskEnd, run_task};
