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
    /// A run of that name exists.
    #[error("a run named `{name}` exists")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No run has that name (or id).
    #[error("no run named `{name}`")]
    NoSuchRun {
        /// The name asked for.
        name: String,
        /// The closest name there is.
        suggestion: Option<String>,
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
    pub fn help(&self) -> String {
        match self {
            StoreError::NameTaken { .. } => {
                "choose another name with `-n`, or remove the old run with `wf exp remove`".into()
            }
            StoreError::NoSuchRun {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`? (`wf exp show` lists them)"),
            StoreError::NoSuchRun { .. } => "`wf exp show` lists the experiments".into(),
            StoreError::Unreadable { .. } => {
                "move the file away to start a new store; the pipeline, the lock and the cache do not depend on it".into()
            }
            StoreError::Newer { .. } => {
                "use a newer wf, or move the file away to start a new store".into()
            }
            StoreError::Write { .. } => "check the disk has room and `.wf/` is writable".into(),
        }
    }
}
