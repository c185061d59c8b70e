//! `Repo`: where a command works: the repository root and the folder inside it the user is in.
//! Found once, from the working folder, when the command line is read; everything below the
//! command line takes it.

use std::path::{Path, PathBuf};

use crate::repo_path::RepoPath;

/// A repository and the folder of it a command works from.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The repository root: the nearest folder up from the working folder holding `.wf` or
    /// `.dvc`, else the nearest holding `.git`, else the working folder itself.
    pub root: PathBuf,
    /// The working folder, relative to the root: its spec holds bare stage names.
    pub cwd: RepoPath,
}

impl Repo {
    /// The repository `dir` (an absolute, canonical folder) is in.
    pub fn find(dir: &Path) -> Repo {
        let root = dir
            .ancestors()
            .find(|d| d.join(".wf").is_dir() || d.join(".dvc").is_dir())
            .or_else(|| dir.ancestors().find(|d| d.join(".git").exists()))
            .unwrap_or(dir)
            .to_path_buf();
        let rel = dir
            .strip_prefix(&root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let cwd = RepoPath::root().join(&rel).unwrap_or_default();
        Repo { root, cwd }
    }
}
