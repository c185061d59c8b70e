//! `Pointer`: the small git-friendly file `wf add` writes beside a tracked file or folder
//! (`data/raw.csv.wf`), holding its hash; the data itself goes to the cache and `.gitignore`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::lock::PathHash;
use crate::repo_path::RepoPath;

/// The suffix of pointer files.
pub const SUFFIX: &str = ".wf";
/// The format version.
pub const VERSION: u32 = 1;

/// A pointer file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    /// The format version.
    pub version: u32,
    /// The tracked path (relative to the pointer's folder) and its hash.
    pub outs: Vec<PathHash>,
}

impl Pointer {
    /// Reads a pointer file.
    pub fn read(path: &Path) -> Result<Pointer, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let p: Pointer = serde_saphyr::from_str(&text)
            .map_err(|e| format!("`{}` is not a valid pointer file: {e}", path.display()))?;
        if p.version != VERSION {
            return Err(format!(
                "`{}` has version {}, this wf reads version {VERSION}",
                path.display(),
                p.version
            ));
        }
        Ok(p)
    }

    /// Writes it atomically.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_saphyr::to_string(self).map_err(|e| e.to_string())?;
        crate::atomic::write(path, text.as_bytes())
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }
}

/// Every pointer file in the repository (ignored folders are skipped, as for specs).
pub fn discover(root: &Path) -> Vec<RepoPath> {
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .require_git(false)
        .add_custom_ignore_filename(".wfignore")
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    walker
        .flatten()
        .filter(|e| {
            e.file_type().is_some_and(|t| t.is_file())
                && e.file_name().to_string_lossy().ends_with(SUFFIX)
        })
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            RepoPath::root().join(&rel)
        })
        .collect()
}

/// The data path a pointer file tracks (`data/raw.csv.wf` → `data/raw.csv`).
pub fn data_path(pointer: &RepoPath) -> Option<RepoPath> {
    let s = pointer.as_str().strip_suffix(SUFFIX)?;
    RepoPath::root().join(s)
}

/// A pointer file (`PATH.wf`) that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PointerError {
    /// What is wrong with it, naming the file.
    pub message: String,
}
