//! The grid's cache: every run's row and values as last read, in `.wf/runs.grid` beside the
//! database, so that `wf exp show` over 10 000 runs reads one file and the few runs that changed
//! instead of half a million rows. Each run's entry carries the key its row had when it was read
//! (its seq, and the version that triggers bump whenever the row or one of its params, metrics
//! or tags changes, with those of its MLflow runs); an entry whose key differs is read again. It
//! is only a cache: a missing, unreadable or foreign file is rebuilt from the database, and it is
//! replaced atomically, so readers in several processes at once never see half of one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::grid_value::{Cells, GridColumn};
use super::runs::StoredRun;

/// Bumped whenever what the file holds changes meaning.
const FORMAT: u32 = 2;

/// The cache file of the store at `db`.
pub(super) fn path(db: &Path) -> PathBuf {
    db.with_file_name("runs.grid")
}

/// A run: its key when read, its row, and its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    pub key: u64,
    pub run: StoredRun,
    pub cells: Cells,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Cache {
    format: u32,
    /// What entries' column numbers refer to.
    pub columns: Vec<GridColumn>,
    /// Each run's entry, the run's id in its row.
    pub runs: Vec<Entry>,
}

impl Cache {
    /// The cache at `path`, or an empty one when there is none usable.
    pub(super) fn load(path: &Path) -> Cache {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<Cache>(&bytes).ok())
            .filter(|cache| {
                let n = cache.columns.len();
                cache.format == FORMAT && cache.runs.iter().all(|e| e.cells.fits(n))
            })
            .unwrap_or_default()
    }

    /// Where each run's entry is, by id.
    pub(super) fn places(&self) -> HashMap<String, usize> {
        (self.runs.iter().enumerate())
            .map(|(j, e)| (e.run.id.clone(), j))
            .collect()
    }

    /// Replaces the file; a cache that cannot be written is only a slower next read.
    pub(super) fn save(&mut self, path: &Path) {
        self.format = FORMAT;
        if let Ok(bytes) = postcard::to_stdvec(self) {
            let _ = crate::atomic::replace(path, &bytes);
        }
    }
}
