//! The `.wf/` folder of a repository: the state table, the write lock, the cache, the config.

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

/// The object cache with the link type of the config (`[cache] type`).
pub fn cache(
    root: &Path,
    config: &crate::config::Config,
) -> Result<crate::cache::Cache, crate::config::ConfigError> {
    Ok(crate::cache::Cache::new(
        cache_dir(root),
        config.link_type()?,
    ))
}

/// Adds `/name` to the `.gitignore` of `dir` unless it is there (as DVC does for cached outs
/// and added data: the cache holds them, git holds their hashes).
pub fn ignore_in_git(dir: &Path, name: &str) -> std::io::Result<()> {
    let file = dir.join(".gitignore");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let line = format!("/{name}");
    if text.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&line);
    new.push('\n');
    // Not synced: a run touches it once per cached out, and losing a line costs nothing.
    crate::atomic::replace(&file, new.as_bytes())
}

/// Whether the repository is a git checkout.
pub fn in_git(root: &Path) -> bool {
    root.ancestors().any(|d| d.join(".git").exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_config_lives_in_the_workspace_folder() {
        let root = Path::new("/repo");
        assert_eq!(Config::path(root), root.join(DIR).join("config"));
        assert_eq!(
            Config::local_path(root),
            root.join(DIR).join("config.local")
        );
    }
}
