//! `ExecError`: what stops a run from starting at all (a stage that fails is a `Failure`, not
//! this).

/// A run that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The async runtime could not be built.
    #[error("cannot start the runtime: {source}")]
    Runtime {
        /// The OS error.
        source: std::io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot handle signals: {source}")]
    Signals {
        /// The OS error.
        source: std::io::Error,
    },
    /// Cluster jobs need the path of this binary.
    #[error("cannot find the path of this wf binary for the jobs: {source}")]
    CurrentExe {
        /// The OS error.
        source: std::io::Error,
    },
}

impl ExecError {
    /// What to do about it.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            ExecError::CurrentExe { .. } => {
                Some("set `wf = \"/path/to/wf\"` in [executor.slurm] of .wf/config")
            }
            ExecError::Runtime { .. } | ExecError::Signals { .. } => None,
        }
    }
}
