//! The run-cache (DVC's, §6 step 2): `(command, dep hashes, params, out paths) → out hashes`, so a
//! stage whose inputs match any earlier run, under any stage name, is restored instead of run.
//! Entries live in `.wf/cache/runs/<key[:2]>/<key>/<entry hash>`.

use std::fs;
use std::path::PathBuf;

use serde_json::json;

use super::{Cache, CacheError};
use crate::hash::hash_bytes;
use crate::lock::Entry;

/// The run-cache of one repository.
#[derive(Debug, Clone)]
pub struct RunCache {
    dir: PathBuf,
}

impl RunCache {
    /// The run-cache in `dir` (`ROOT/.wf/cache/runs`).
    pub fn new(dir: PathBuf) -> RunCache {
        RunCache { dir }
    }

    /// What identifies a run: everything but the out hashes (and never the stage's name).
    pub fn key(entry: &Entry) -> String {
        let deps: Vec<_> = entry
            .deps
            .iter()
            .map(|d| json!([d.path, d.blake3]))
            .collect();
        let outs: Vec<_> = entry.outs.iter().map(|o| o.path.clone()).collect();
        let key = json!({
            "cmd": entry.cmd,
            "uses": entry.uses,
            "version": entry.version,
            "with": entry.with,
            "deps": deps,
            "params": entry.params,
            "outs": outs,
        });
        hash_bytes(key.to_string().as_bytes())
    }

    fn key_dir(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2.min(key.len())]).join(key)
    }

    /// Records a finished run.
    pub fn save(&self, entry: &Entry) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| CacheError::BadManifest {
            path: "run-cache entry".into(),
            message: e.to_string(),
        })?;
        let path = self.key_dir(&Self::key(entry)).join(hash_bytes(&bytes));
        if path.is_file() {
            return Ok(());
        }
        crate::atomic::replace(&path, &bytes).map_err(|source| CacheError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        })
    }

    /// An earlier run with the same key whose outs are all in `cache`, newest first.
    pub fn lookup(&self, probe: &Entry, cache: &Cache) -> Option<Entry> {
        let dir = self.key_dir(&Self::key(probe));
        let mut found: Vec<(std::time::SystemTime, Entry)> = fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let bytes = fs::read(e.path()).ok()?;
                // An entry is named by its own hash: a damaged one is skipped.
                if hash_bytes(&bytes) != e.file_name().to_string_lossy() {
                    return None;
                }
                let entry: Entry = serde_json::from_slice(&bytes).ok()?;
                let when = e.metadata().and_then(|m| m.modified()).ok()?;
                Some((when, entry))
            })
            .collect();
        found.sort_by_key(|(when, _)| std::cmp::Reverse(*when));
        found
            .into_iter()
            .map(|(_, e)| e)
            .find(|e| e.outs.iter().all(|o| cache.contains(&o.info())))
    }
}
