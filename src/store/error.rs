//! `StoreError`: why the run store cannot be read or written.

use std::path::PathBuf;

/// The run store refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be opened or read (not a database, unreadable, locked too long).
    #[error("cannot read the run store `{}`: {message}", path.display())]
    Unreadable {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason, in a sentence.
        message: String,
    },
    /// It was written by a newer wf.
    #[error("the run store `{}` has schema version {found}, newer than this wf's {known}", path.display())]
    Newer {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this wf knows.
        known: i64,
    },
    /// A write failed.
    #[error("cannot write the run store `{}`: {message}", path.display())]
    Write {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        message: String,
    },
}

impl StoreError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            StoreError::Unreadable { .. } => {
                "move the file away to start a new store; the pipeline, the lock and the cache do not depend on it"
            }
            StoreError::Newer { .. } => {
                "use a newer wf, or move the file away to start a new store"
            }
            StoreError::Write { .. } => "check the disk has room and `.wf/` is writable",
        }
    }
}
