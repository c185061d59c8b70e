//! `Lock`: `pipeline.lock` next to each spec, the record of what each stage last ran with: its
//! resolved command (or built-in identity), the hashes of its deps and outs, and its params.
//! Written atomically after every finished stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hash::HashInfo;
use crate::repo_path::RepoPath;
use crate::spec::{Loc, Source, Span};

/// The lock file's name, beside its spec.
pub const LOCK_NAME: &str = "pipeline.lock";
/// The format version written in every lock.
pub const VERSION: u32 = 1;

/// Errors reading or writing a lock file.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file exists but cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The lock file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a lock this version understands.
    #[error("`{path}` is not a valid lock file: {message}")]
    Parse {
        /// The lock file.
        path: String,
        /// What is wrong.
        message: String,
        /// Where, when the parser said.
        loc: Option<Loc>,
    },
    /// The file still holds a merge's conflict markers.
    #[error("`{path}` has an unresolved merge conflict (`{marker}`)")]
    Conflict {
        /// The lock file.
        path: String,
        /// The first marker (`<<<<<<<`, `|||||||`, `=======` or `>>>>>>>`).
        marker: &'static str,
        /// Its line.
        loc: Loc,
    },
    /// The file cannot be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The lock file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl LockError {
    /// The place in the lock the error points at.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            LockError::Parse { loc, .. } => loc.as_ref(),
            LockError::Conflict { loc, .. } => Some(loc),
            LockError::Read { .. } | LockError::Write { .. } => None,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            LockError::Conflict { .. } => Some(
                "resolve the merge (keep the entries of one side, or both, without the markers), \
                 then run again; wf does not read or rewrite a lock with conflict markers"
                    .into(),
            ),
            LockError::Parse { path, .. } => Some(format!(
                "fix `{path}` or restore it (`git checkout -- {path}`); wf does not rewrite a lock \
                 it cannot read"
            )),
            LockError::Read { .. } | LockError::Write { .. } => None,
        }
    }
}

/// Git's conflict markers, each at the start of a line and followed by a space or nothing.
const MARKERS: [&str; 4] = ["<<<<<<<", "|||||||", "=======", ">>>>>>>"];

/// The first line of `text` holding a conflict marker: its 1-based number and the marker.
fn conflict_marker(text: &str) -> Option<(usize, &'static str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let marker = MARKERS.into_iter().find(|m| line.starts_with(m))?;
        let rest = &line[marker.len()..];
        (rest.is_empty() || rest.starts_with([' ', '\t', '\r'])).then_some((i + 1, marker))
    })
}

/// One lock file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The format version.
    pub version: u32,
    /// Entries by stage name (sorted).
    #[serde(default)]
    pub stages: BTreeMap<String, Entry>,
}

/// What a stage last ran with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The resolved shell command, as a string or a list, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<LockCmd>,
    /// The built-in stage's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// The built-in stage's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The built-in stage's resolved `with:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<serde_json::Value>,
    /// Dependencies, sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<PathHash>,
    /// Params values by file, then by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Outputs, sorted by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outs: Vec<PathHash>,
}

/// A command as locked: the form matters, as in DVC (`x` and `[x]` differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LockCmd {
    /// `cmd: "..."`.
    Line(String),
    /// `cmd: [...]`.
    List(Vec<String>),
}

/// A path with its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathHash {
    /// As written in the spec, relative to the stage's `wdir`.
    pub path: String,
    /// The hash algorithm, `blake3`.
    pub hash: String,
    /// The hex digest (`.dir` appended for a folder); nothing else is read, as it names a path
    /// in the cache.
    #[serde(deserialize_with = "crate::hash::content_hash")]
    pub blake3: String,
    /// Bytes (a folder: all its files).
    pub size: u64,
    /// Files in a folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfiles: Option<u64>,
}

impl PathHash {
    /// A locked path from a hash.
    pub fn new(path: &str, info: &HashInfo) -> PathHash {
        PathHash {
            path: path.to_string(),
            hash: "blake3".into(),
            blake3: info.hash.clone(),
            size: info.size,
            nfiles: info.nfiles,
        }
    }

    /// Whether it records this content.
    pub fn matches(&self, info: &HashInfo) -> bool {
        self.blake3 == info.hash
    }

    /// The content it records.
    pub fn info(&self) -> HashInfo {
        HashInfo {
            hash: self.blake3.clone(),
            size: self.size,
            nfiles: self.nfiles,
        }
    }
}

impl Lock {
    /// The lock file of the spec in `spec_dir`.
    pub fn path_for(spec_dir: &Path) -> PathBuf {
        spec_dir.join(LOCK_NAME)
    }

    /// Reads the lock of the spec in `dir` (`root` is the repository's); a missing file is an
    /// empty lock. A file that does not parse, conflict markers included, is an error that
    /// points at its line: it is never taken for an empty lock.
    pub fn read(root: &Path, dir: &RepoPath) -> Result<Lock, LockError> {
        let path = Lock::path_for(&dir.to_path(root));
        let name = dir
            .join(LOCK_NAME)
            .map_or_else(|| LOCK_NAME.to_string(), |p| p.to_string());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lock {
                    version: VERSION,
                    stages: BTreeMap::new(),
                });
            }
            Err(source) => return Err(LockError::Read { path: name, source }),
        };
        Lock::parse(&Arc::new(Source { name, path, text }))
    }

    /// Parses a lock's text (`src` names it in errors): conflict markers, YAML, the version.
    pub fn parse(src: &Arc<Source>) -> Result<Lock, LockError> {
        let name = src.name.clone();
        let at = |line: usize, col: usize, len: usize| Loc {
            src: src.clone(),
            span: Span::at(&src.text, line.max(1), col.max(1), len),
        };
        if let Some((line, marker)) = conflict_marker(&src.text) {
            return Err(LockError::Conflict {
                path: name,
                marker,
                loc: at(line, 1, marker.len()),
            });
        }
        let lock: Lock = serde_saphyr::from_str(&src.text).map_err(|e| {
            let place = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize));
            // A `[` never closed is reported at its place, as in a spec.
            match place.and_then(|(l, c)| crate::spec::flow::unclosed(&src.text, l, c)) {
                Some(open) => LockError::Parse {
                    path: name.clone(),
                    message: format!("unclosed bracket `{}`", open.bracket),
                    loc: Some(at(open.line, open.col, 1)),
                },
                None => LockError::Parse {
                    path: name.clone(),
                    message: crate::spec::yaml::message(&e),
                    loc: place.map(|(l, c)| at(l, c, 1)),
                },
            }
        })?;
        if lock.version != VERSION {
            return Err(LockError::Parse {
                path: name,
                message: format!(
                    "version {} is not {VERSION}: it was written by another version of wf",
                    lock.version
                ),
                loc: None,
            });
        }
        Ok(lock)
    }

    /// The lock as YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_default()
    }

    /// Writes the lock atomically.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        crate::atomic::write(path, self.to_yaml().as_bytes()).map_err(|source| LockError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes the lock atomically, without waiting for the disk (`LockSet::sync` does at the end).
    fn replace(&self, path: &Path) -> Result<(), LockError> {
        crate::atomic::replace(path, self.to_yaml().as_bytes()).map_err(|source| LockError::Write {
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut lock = Lock {
            version: VERSION,
            stages: BTreeMap::new(),
        };
        let info = HashInfo {
            hash: "ab".repeat(32),
            size: 6,
            nfiles: None,
        };
        let dir = HashInfo {
            hash: format!("{}.dir", "cd".repeat(32)),
            size: 12,
            nfiles: Some(2),
        };
        let mut params = BTreeMap::new();
        params.insert(
            "params.yaml".to_string(),
            [
                ("lr".to_string(), serde_json::json!(0.1)),
                ("train".to_string(), serde_json::json!({"epochs": 3})),
            ]
            .into(),
        );
        lock.stages.insert(
            "train".into(),
            Entry {
                cmd: Some(LockCmd::List(vec!["echo a".into(), "echo b".into()])),
                deps: vec![PathHash::new("data/raw.csv", &info)],
                params,
                outs: vec![PathHash::new("model", &dir)],
                ..Entry::default()
            },
        );
        lock.stages.insert(
            "prepare".into(),
            Entry {
                cmd: Some(LockCmd::Line("yes".into())),
                ..Entry::default()
            },
        );
        let yaml = lock.to_yaml();
        let dir_ = tempfile::tempdir().unwrap();
        let path = dir_.path().join(LOCK_NAME);
        lock.write(&path).unwrap();
        assert_eq!(Lock::read(dir_.path(), &RepoPath::root()).unwrap(), lock);
        assert!(
            yaml.find("prepare:").unwrap() < yaml.find("train:").unwrap(),
            "{yaml}"
        );
    }

    #[test]
    fn missing_lock_is_empty_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let read = || Lock::read(dir.path(), &RepoPath::root());
        assert!(read().unwrap().stages.is_empty());
        std::fs::write(dir.path().join(LOCK_NAME), "version: 99\nstages: {}\n").unwrap();
        assert!(read().unwrap_err().to_string().contains("another version"));
    }

    #[test]
    fn conflict_markers_are_found_at_the_start_of_a_line() {
        let text = "version: 1\nstages:\n<<<<<<< HEAD\n  a: {}\n=======\n  b: {}\n>>>>>>> x\n";
        assert_eq!(conflict_marker(text), Some((3, "<<<<<<<")));
        assert_eq!(conflict_marker("a: 1\n=======\n"), Some((2, "=======")));
        assert_eq!(conflict_marker("a: '<<<<<<< x'\n  ========\n"), None);
        assert_eq!(conflict_marker("a: 1\n=========\n"), None);
    }

    #[test]
    fn a_broken_lock_is_an_error_at_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let read = || Lock::read(dir.path(), &RepoPath::root()).unwrap_err();
        std::fs::write(
            dir.path().join(LOCK_NAME),
            "version: 1\nstages:\n<<<<<<< HEAD\n  a: {}\n=======\n>>>>>>> b\n",
        )
        .unwrap();
        let e = read();
        assert!(matches!(e, LockError::Conflict { .. }), "{e}");
        assert_eq!(e.loc().unwrap().position(), "pipeline.lock:3:1");
        std::fs::write(dir.path().join(LOCK_NAME), "version: 1\nstages: [\n").unwrap();
        let e = read();
        assert!(matches!(e, LockError::Parse { .. }), "{e}");
        assert!(e.loc().is_some());
    }
}

/// The locks of every spec a command touches, by spec name.
#[derive(Debug, Default)]
pub struct LockSet {
    locks: BTreeMap<String, (PathBuf, Lock)>,
    dirty: std::collections::BTreeSet<String>,
}

impl LockSet {
    /// Reads the lock of each spec holding one of `stages`; a missing lock is empty, one that
    /// cannot be read or parsed is an error (never overwritten as if it were empty).
    pub fn read(
        root: &Path,
        p: &crate::spec::Pipeline,
        stages: &std::collections::BTreeSet<usize>,
    ) -> Result<LockSet, LockError> {
        let mut set = LockSet::default();
        for &i in stages {
            let spec = &p.stages[i].spec;
            if !set.locks.contains_key(&spec.src.name) {
                let path = Lock::path_for(&spec.dir.to_path(root));
                let lock = Lock::read(root, &spec.dir)?;
                set.locks.insert(spec.src.name.clone(), (path, lock));
            }
        }
        Ok(set)
    }

    /// The entry of a stage.
    pub fn entry(&self, stage: &crate::spec::Stage) -> Option<&Entry> {
        self.locks
            .get(&stage.spec.src.name)?
            .1
            .stages
            .get(&stage.name)
    }

    /// Records a stage's entry and writes its lock; returns the lock's path.
    pub fn update(&mut self, stage: &crate::spec::Stage, entry: Entry) -> Result<&Path, LockError> {
        let Some((path, lock)) = self.locks.get_mut(&stage.spec.src.name) else {
            return Err(LockError::Write {
                path: stage.spec.src.name.clone(),
                source: std::io::Error::other("no lock loaded for this spec"),
            });
        };
        lock.stages.insert(stage.name.clone(), entry);
        // Atomic after every stage, so an interrupted run keeps what finished; synced once at
        // the end, as syncing after each of many quick stages would dominate their run time.
        lock.replace(path)?;
        self.dirty.insert(stage.spec.src.name.clone());
        Ok(path)
    }

    /// Syncs every lock written since the last sync to disk.
    pub fn sync(&mut self) -> Result<(), LockError> {
        for name in std::mem::take(&mut self.dirty) {
            if let Some((path, lock)) = self.locks.get(&name) {
                lock.write(path)?;
            }
        }
        Ok(())
    }
}
