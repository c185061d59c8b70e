//! The `.wf/` folder of a repository: the state table, the write lock, and (later) the cache.

use std::path::{Path, PathBuf};

/// The folder's name.
pub const DIR: &str = ".wf";

/// Creates `.wf/` with a `.gitignore` that keeps everything but the committed config out of git.
pub fn ensure_dir(root: &Path) -> Result<PathBuf, (PathBuf, std::io::Error)> {
    let dir = root.join(DIR);
    std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "/*\n!/.gitignore\n!/config\n").map_err(|e| (ignore.clone(), e))?;
    }
    Ok(dir)
}

/// The state table's file.
pub fn state_path(root: &Path) -> PathBuf {
    root.join(DIR).join("state")
}

/// The object cache's folder.
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join(DIR).join("cache")
}
