//! One stage from a job spec, on the node a cluster gave it (`wf run-task`): the run API's entry
//! for a single resolved stage, run exactly as the local executor would (see `exec::node`).

use crate::exec::slurm::JobSpec;
use crate::exec::{ExecError, node};

/// How a job ended: its exit code (the failing command's, so the cluster reports it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    /// The exit code.
    pub code: u8,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// Runs the job's stage.
pub fn run_task(spec: JobSpec) -> Result<TaskEnd, ExecError> {
    let runtime = crate::exec::runtime()?;
    let (code, error) = runtime.block_on(node::run_job(spec));
    Ok(TaskEnd { code, error })
}
