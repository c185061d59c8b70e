//! The Slurm executor: each task becomes one batch job (`sbatch --parsable`, the script on
//! stdin) that runs the task through this same binary on the node (`wf run-task`). One queue
//! task per run asks for the state of every job of the run with a single `squeue` call per
//! tick, streams each job's output files into the run's events, and reports each job's end.
//! Ctrl-C cancels every job (`scancel`). Hashing, the lock and the cache stay with the
//! submitting process, as for a local stage; without a shared file system the task's inputs
//! and outputs travel through a remote (`exec::ship`).

mod executor;
mod job;
mod queue;

pub use executor::Slurm;
pub use job::{JobSpec, Settings, log_dir};
