//! `ExpError`: why experiments cannot be launched, applied or removed.

use std::path::PathBuf;

use super::hydra::HydraError;
use super::rewrite::RewriteError;

/// An experiment command refused.
#[derive(Debug, thiserror::Error)]
pub enum ExpError {
    /// An override does not parse.
    #[error("bad override `{}`: {source}", source.text())]
    Override {
        /// Why.
        #[source]
        source: HydraError,
    },
    /// An override does not apply to its params file.
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    /// An override names a file outside the repository.
    #[error("the params file `{file}` of `{text}` is outside the repository")]
    Outside {
        /// The file.
        file: String,
        /// The override.
        text: String,
    },
    /// A scratch copy could not be made or a file written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// What.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--run-all` with nothing queued.
    #[error("no experiment is queued")]
    NothingQueued,
    /// An experiment cannot be applied over uncommitted changes.
    #[error("the workspace has changes `wf exp apply` would overwrite: {}", files.join(", "))]
    Dirty {
        /// The files that differ.
        files: Vec<String>,
    },
    /// The experiment kept nothing to apply.
    #[error("experiment `{name}` has no files to apply (it is {status})")]
    NothingToApply {
        /// Its name.
        name: String,
        /// Its status.
        status: String,
    },
    /// A run document on a remote cannot be read or added.
    #[error("the experiment `{key}` on remote `{remote}` cannot be read: {message}")]
    BadDocument {
        /// The remote.
        remote: String,
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
    /// An experiment still running or queued has nothing final to share.
    #[error("experiment `{name}` is {status}: only finished, failed or cancelled ones are pushed")]
    NotEnded {
        /// Its name.
        name: String,
        /// Its status.
        status: String,
    },
}

impl ExpError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            ExpError::Override { source } => source.help().map(str::to_string),
            ExpError::Rewrite(e) => e.help(),
            ExpError::Outside { .. } => Some(
                "params files are paths inside the repository, relative to the working folder"
                    .into(),
            ),
            ExpError::Write { .. } => Some("check the disk has room and `.wf/` is writable".into()),
            ExpError::NothingQueued => {
                Some("queue experiments with `wf exp run --queue -S key=value`".into())
            }
            ExpError::Dirty { .. } => {
                Some("commit or stash them, or pass `--force` to overwrite them".into())
            }
            ExpError::BadDocument { .. } => Some(
                "it was written by another tool or a newer wf; remove it from the remote or use a newer wf".into(),
            ),
            ExpError::NotEnded { .. } => {
                Some("wait for it to end, or run the queue with `wf exp run --run-all`".into())
            }
            ExpError::NothingToApply { .. } => {
                Some("only experiments that ran can be applied; `wf exp show` lists them".into())
            }
        }
    }

    /// The override and the column of its mistake, for a caret under it.
    pub fn at(&self) -> Option<(&str, usize)> {
        match self {
            ExpError::Override { source } => Some((source.text(), source.column())),
            _ => None,
        }
    }
}

impl From<HydraError> for ExpError {
    fn from(source: HydraError) -> ExpError {
        ExpError::Override { source }
    }
}
