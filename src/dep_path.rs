//! `DepPath`: where a stage's dependency is, inside the repository or outside it (DVC's external
//! dependency). Part of the spec → Stages arrow: an external dep is hashed and recorded like any
//! dep, but it has no `RepoPath`, so the cache, checkout, push and gc code cannot be handed one.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::repo_path::RepoPath;

/// A dependency's path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepPath {
    /// Inside the repository: it may be another stage's out.
    Repo(RepoPath),
    /// Outside the repository: read where it is, never cached, checked out, pushed or written.
    External(ExternalPath),
}

/// An absolute, normalised path outside the repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalPath(PathBuf);

impl DepPath {
    /// The dep `written` in a spec whose stage runs in `wdir`, in the repository at `root` (an
    /// absolute path). As DVC, an absolute path or one climbing out of the repository is an
    /// external dependency; an absolute path inside the repository is an ordinary one.
    pub fn resolve(root: &Path, wdir: &RepoPath, written: &str) -> DepPath {
        if let Some(path) = wdir.join(written) {
            return DepPath::Repo(path);
        }
        let mut abs = PathBuf::new();
        for part in wdir.to_path(root).join(written).components() {
            match part {
                Component::CurDir => {}
                // `..` at the file system's root stays there, as the system reads it.
                Component::ParentDir => {
                    abs.pop();
                }
                other => abs.push(other),
            }
        }
        let inside = abs
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .and_then(|rel| RepoPath::root().join(rel));
        match inside {
            Some(path) => DepPath::Repo(path),
            None => DepPath::External(ExternalPath(abs)),
        }
    }

    /// The path inside the repository; `None` for an external dep.
    pub fn repo(&self) -> Option<&RepoPath> {
        match self {
            DepPath::Repo(p) => Some(p),
            DepPath::External(_) => None,
        }
    }

    /// The path on this machine, for a repository at `root`.
    pub fn to_path(&self, root: &Path) -> PathBuf {
        match self {
            DepPath::Repo(p) => p.to_path(root),
            DepPath::External(p) => p.0.clone(),
        }
    }

    /// What the state table files it under and errors show: the repository path, or the
    /// absolute path (which starts with `/`, so it never meets a repository path).
    pub fn key(&self) -> String {
        match self {
            DepPath::Repo(p) => p.as_str().to_string(),
            DepPath::External(p) => p.0.to_string_lossy().into_owned(),
        }
    }
}

impl From<RepoPath> for DepPath {
    fn from(p: RepoPath) -> DepPath {
        DepPath::Repo(p)
    }
}

impl fmt::Display for DepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DepPath::Repo(p) => p.fmt(f),
            DepPath::External(p) => p.0.display().fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(wdir: &str, written: &str, expected: &str) {
        let wdir = RepoPath::root().join(wdir).unwrap();
        let got = DepPath::resolve(Path::new("/r/repo"), &wdir, written);
        let shown = match &got {
            DepPath::Repo(p) => format!("repo:{}", p.as_str()),
            DepPath::External(p) => format!("ext:{}", p.0.display()),
        };
        assert_eq!(shown, expected);
    }

    #[test]
    fn inside_stays_a_repository_path() {
        case("", "data/x.csv", "repo:data/x.csv");
        case("sub", "../data/x", "repo:data/x");
        case("", "/r/repo/data/x.csv", "repo:data/x.csv");
        case("", "/r/repo/../repo/x", "repo:x");
    }

    #[test]
    fn outside_is_external_and_normalised() {
        case("", "/data/shared/raw.csv", "ext:/data/shared/raw.csv");
        case("", "../x.csv", "ext:/r/x.csv");
        case("sub", "../../other/./x", "ext:/r/other/x");
        case("", "/r/repo2/x", "ext:/r/repo2/x");
        case("", "/../../x", "ext:/x");
    }
}
