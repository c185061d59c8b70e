//! `RepoPath`: a path inside the repository, normalised, that cannot escape it.

use std::fmt;
use std::path::{Path, PathBuf};

/// A normalised relative path from the repository root, `/`-separated, without `.` or `..`
/// parts. The empty path is the root itself.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct RepoPath(String);

impl TryFrom<String> for RepoPath {
    type Error = String;

    fn try_from(s: String) -> Result<RepoPath, String> {
        RepoPath::root()
            .join(&s)
            .ok_or_else(|| format!("`{s}` is not a path inside the repository"))
    }
}

impl From<RepoPath> for String {
    fn from(p: RepoPath) -> String {
        p.0
    }
}

impl RepoPath {
    /// The repository root.
    pub fn root() -> RepoPath {
        RepoPath(String::new())
    }

    /// Joins `rel` (as written in a spec) onto this folder. `None` when `rel` is absolute or
    /// climbs above the root.
    pub fn join(&self, rel: &str) -> Option<RepoPath> {
        if rel.starts_with('/') || rel.starts_with('\\') || Path::new(rel).is_absolute() {
            return None;
        }
        let mut parts: Vec<&str> = self.parts().collect();
        for part in rel.split(['/', '\\']) {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                p => parts.push(p),
            }
        }
        Some(RepoPath(parts.join("/")))
    }

    /// The path's components.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|p| !p.is_empty())
    }

    /// The path as text (`data/raw.csv`; empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute path under `root`.
    pub fn to_path(&self, root: &Path) -> PathBuf {
        self.parts()
            .fold(root.to_path_buf(), |p, part| p.join(part))
    }

    /// Whether `self` is `other` or a path inside it.
    pub fn is_within(&self, other: &RepoPath) -> bool {
        other.0.is_empty()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// The folder holding this path.
    pub fn parent(&self) -> RepoPath {
        RepoPath(self.0.rsplit_once('/').map_or("", |(p, _)| p).to_string())
    }

    /// This path relative to the folder `base`, with `..` where needed (`../data/x`), as DVC
    /// writes paths relative to a stage's `wdir`.
    pub fn relative_to(&self, base: &RepoPath) -> String {
        let mine: Vec<&str> = self.parts().collect();
        let theirs: Vec<&str> = base.parts().collect();
        let common = mine.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
        let mut out: Vec<&str> = vec![".."; theirs.len() - common];
        out.extend(&mine[common..]);
        if out.is_empty() {
            ".".into()
        } else {
            out.join("/")
        }
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "." } else { &self.0 })
    }
}

/// `dir` joined with `file` for messages and map keys, normalised when it stays inside the
/// repository (`sub` + `../p.yaml` → `p.yaml`), kept as written otherwise.
pub fn join_display(dir: &str, file: &str) -> String {
    RepoPath(dir.to_string()).join(file).map_or_else(
        // Not `/{file}` for the root (an absolute path), nor `{dir}//abs` (a relative one).
        || {
            if dir.is_empty() || Path::new(file).is_absolute() {
                file.to_string()
            } else {
                format!("{dir}/{file}")
            }
        },
        |p| p.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(base: &str, rel: &str, expected: Option<&str>) {
        let got = RepoPath(base.into()).join(rel).map(|p| p.0);
        assert_eq!(got.as_deref(), expected);
    }

    #[test]
    fn joins_and_normalises() {
        case("", "data/x.csv", Some("data/x.csv"));
        case("", "./data//x.csv", Some("data/x.csv"));
        case("sub", "../data/x", Some("data/x"));
        case("sub", "..", Some(""));
        case("", "data/", Some("data"));
    }

    #[test]
    fn refuses_to_escape() {
        case("", "../x", None);
        case("sub", "../../x", None);
        case("", "/etc/passwd", None);
    }

    #[test]
    fn display_joins_keep_what_leaves_the_repository_as_written() {
        assert_eq!(join_display("sub", "../p.yaml"), "p.yaml");
        assert_eq!(join_display("sub", "../../p.yaml"), "sub/../../p.yaml");
        // Regression: the root's `../p.yaml` became `/../p.yaml`, an absolute path.
        assert_eq!(join_display("", "../p.yaml"), "../p.yaml");
        assert_eq!(join_display("", "/dev/zero"), "/dev/zero");
        assert_eq!(join_display("sub", "/dev/zero"), "/dev/zero");
    }

    #[test]
    fn within_and_relative() {
        let d = RepoPath("d".into());
        assert!(RepoPath("d/g".into()).is_within(&d));
        assert!(!RepoPath("dg".into()).is_within(&d));
        assert_eq!(
            RepoPath("data/x".into()).relative_to(&RepoPath("sub".into())),
            "../data/x"
        );
        assert_eq!(
            RepoPath("sub/o".into()).relative_to(&RepoPath("sub".into())),
            "o"
        );
    }
}
