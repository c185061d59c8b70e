//! The grid's cache: every run's values as last read, in `.wf/runs.grid` beside the database,
//! so that `wf exp show` over 10 000 runs reads one file and the few runs that changed instead of
//! half a million rows. Each run's entry carries the key its row had when it was read (its seq,
//! and the version that triggers bump whenever one of its params, metrics or tags changes, with
//! those of its MLflow runs); an entry whose key differs is read again. It is only a cache: a
//! missing, unreadable or foreign file is rebuilt from the database, and it is replaced
//! atomically, so readers in several processes at once never see half of one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::grid_value::{GridColumn, GridValue};

/// Bumped whenever what the file holds changes meaning.
const FORMAT: u32 = 1;

/// The cache file of the store at `db`.
pub(super) fn path(db: &Path) -> PathBuf {
    db.with_file_name("runs.grid")
}

/// A run's values: its key when read, and (column, value) in the order read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    pub key: u64,
    pub cells: Vec<(u32, GridValue)>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Cache {
    format: u32,
    /// What entries' column numbers refer to.
    pub columns: Vec<GridColumn>,
    pub runs: HashMap<String, Entry>,
}

impl Cache {
    /// The cache at `path`, or an empty one when there is none usable.
    pub(super) fn load(path: &Path) -> Cache {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<Cache>(&bytes).ok())
            .filter(|cache| {
                let n = cache.columns.len();
                cache.format == FORMAT
                    && cache
                        .runs
                        .values()
                        .all(|e| e.cells.iter().all(|(c, _)| (*c as usize) < n))
            })
            .unwrap_or_default()
    }

    /// Replaces the file; a cache that cannot be written is only a slower next read.
    pub(super) fn save(&mut self, path: &Path) {
        self.format = FORMAT;
        if let Ok(bytes) = postcard::to_stdvec(self) {
            let _ = crate::atomic::replace(path, &bytes);
        }
    }
}
