//! `VerifyError`: why `wf verify` cannot start.

/// Why verification cannot start.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A targeted stage has no lock entry.
    #[error("stage `{stage}` has never run, so there is nothing to verify")]
    NeverRan {
        /// Its address.
        stage: String,
    },
    /// The workspace is not what the lock records: re-running would prove nothing.
    #[error("stage `{stage}` is not as the lock records it")]
    NotAsLocked {
        /// Its address.
        stage: String,
    },
    /// A stage's inputs cannot be read.
    #[error("{message}")]
    Inputs {
        /// Why, naming the file.
        message: String,
    },
    /// The scratch copy cannot be made.
    #[error("cannot copy the repository into a scratch folder: {source}")]
    Scratch {
        /// The OS error.
        source: std::io::Error,
    },
}

impl VerifyError {
    /// What to do about it.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            VerifyError::NeverRan { .. } => Some("run `wf repro` first"),
            VerifyError::NotAsLocked { .. } => Some(
                "`wf status` says why; run `wf repro` (or `wf checkout`) first, so that the workspace is what the lock records",
            ),
            VerifyError::Inputs { .. } | VerifyError::Scratch { .. } => None,
        }
    }
}
