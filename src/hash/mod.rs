//! Content hashing: the blake3 hash of every file and folder a stage depends on or makes, with a
//! state table so that unchanged files are recognised from their metadata alone.
//!
//! A file's hash is the blake3 of its bytes. A folder's hash is the blake3 of its manifest (every
//! regular file under it, by `/`-separated relative path, sorted) as canonical JSON, with `.dir`
//! appended so that a folder never compares equal to a file. Both depend on content and names
//! only, never on the platform, the walk order or timestamps.
//!
//! Hashing that takes more than a moment reports its progress to a sink (`progress.rs`).

mod dir;
mod file;
mod progress;
mod state;
mod tree;

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dep_path::DepPath;
use crate::repo_path::RepoPath;

use self::progress::Progress;
use self::state::{Stamp, StateTable};

/// What wf records of a file's or folder's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashInfo {
    /// 64 lowercase hex chars of blake3; for a folder, that of its manifest followed by `.dir`.
    /// Nothing else is read: the hash names a path in the cache and on remotes.
    #[serde(deserialize_with = "content_hash")]
    pub hash: String,
    /// Bytes in the file, or in all the files of the folder.
    pub size: u64,
    /// How many files the folder holds; `None` for a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfiles: Option<u64>,
}

/// Whether `hash` is a file's blake3: 64 lowercase hex digits.
pub(crate) fn is_blake3(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A file's or a folder's hash, as a lock, a pointer file or the run-cache holds it; anything
/// else (a path such as `../../x` among them) is refused where it is read.
pub(crate) fn content_hash<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let hash = String::deserialize(d)?;
    if is_blake3(hash.strip_suffix(".dir").unwrap_or(&hash)) {
        Ok(hash)
    } else {
        let shown: String = hash.chars().take(80).collect();
        Err(serde::de::Error::custom(format!(
            "`{shown}` is no hash of wf's: 64 lowercase hex digits (blake3), followed by `.dir` \
             for a folder"
        )))
    }
}

/// One file of a folder's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The file's path relative to the folder, `/`-separated.
    pub relpath: String,
    /// blake3 of the file's bytes, 64 lowercase hex chars.
    pub hash: String,
    /// Bytes in the file.
    pub size: u64,
}

/// Why a hash could not be computed or the state table not saved.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// A file or folder could not be read or inspected.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path, relative to the repository root.
        path: String,
        /// What the system said.
        source: io::Error,
    },
    /// A folder could not be walked (unreadable subfolder, broken link, link loop).
    #[error("cannot list `{path}`: {source}")]
    List {
        /// The path where the walk failed, relative to the repository root.
        path: String,
        /// What the system said.
        source: io::Error,
    },
    /// A file of a folder was listed, then gone before it could be read.
    #[error(
        "`{path}` vanished while `{folder}` was being hashed; is something else writing to \
         `{folder}`? Run the command again once it is done"
    )]
    Vanished {
        /// The file, relative to the repository root.
        path: String,
        /// The folder being hashed.
        folder: String,
    },
    /// A file name inside a folder is not UTF-8, so it has no portable manifest entry.
    #[error("`{path}` has a name that is not valid UTF-8")]
    NonUtf8 {
        /// The path, relative to the repository root, with the bad bytes replaced.
        path: String,
    },
    /// The path is a socket, pipe or device: it has no content to hash.
    #[error("`{path}` is neither a file nor a folder")]
    NotRegular {
        /// The path, relative to the repository root.
        path: String,
    },
    /// A folder's manifest could not be encoded as JSON.
    #[error("cannot encode the manifest of `{path}`: {source}")]
    Encode {
        /// The folder, relative to the repository root.
        path: String,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// The state table could not be written.
    #[error("cannot write the state table `{path}`: {source}")]
    SaveState {
        /// The state file as given to [`Hasher::open`].
        path: String,
        /// What the system said.
        source: io::Error,
    },
}

/// Hashes files and folders of one repository, remembering file hashes in a state table.
///
/// It is `Sync`: one `Hasher` can serve many threads at once. Hashing that is still going after
/// half a second shows a progress bar on stderr when stderr is a terminal; see
/// [`Hasher::with_progress`] and [`Hasher::set_progress_sink`].
#[derive(Debug)]
pub struct Hasher {
    root: PathBuf,
    state_path: PathBuf,
    state: Mutex<StateTable>,
    // Two concurrent saves could otherwise rename an older snapshot over a newer one.
    save_lock: Mutex<()>,
    progress: Progress,
}

impl Hasher {
    /// Opens the hasher for a repository; `state` is the state-table file (e.g. ROOT/.wf/state). A
    /// missing, unreadable, corrupt or other-version state file is treated as empty (it is only a
    /// cache).
    pub fn open(root: &Path, state: &Path) -> Hasher {
        Hasher {
            root: root.to_path_buf(),
            state_path: state.to_path_buf(),
            state: Mutex::new(StateTable::load(state)),
            save_lock: Mutex::new(()),
            progress: Progress::new(false),
        }
    }

    /// Where hashing that is still going after half a second reports its progress (bytes hashed
    /// over bytes to hash), until it is done: a sink that draws it (`report::progress_sink`) or
    /// a run's events. `None`, the default, counts nothing.
    pub fn with_progress(self, sink: Option<crate::progress::Sink>) -> Hasher {
        Hasher {
            progress: self.progress.switched(sink),
            ..self
        }
    }

    /// From now on, reports progress to `sink` instead (`None`: nowhere); whether progress is
    /// counted at all is [`Hasher::with_progress`]'s choice.
    pub fn set_progress_sink(&self, sink: Option<crate::progress::Sink>) {
        self.progress.report_to(sink);
    }

    /// Hash of a file or folder under the root; Ok(None) when the path does not exist. A symlink
    /// is followed.
    pub fn hash(&self, path: &RepoPath) -> Result<Option<HashInfo>, HashError> {
        let _run = self.progress.run();
        self.hash_one(path.as_str(), &path.to_path(&self.root))
    }

    /// Hashes many paths at once, in parallel across paths (rayon); same order as input. A dep
    /// outside the repository is hashed like any other, its absolute path its state-table key.
    pub fn hash_many(&self, paths: &[DepPath]) -> Vec<Result<Option<HashInfo>, HashError>> {
        let _run = self.progress.run();
        paths
            .par_iter()
            .map(|p| self.hash_one(&p.key(), &p.to_path(&self.root)))
            .collect()
    }

    /// The sorted manifest of a folder (None if missing or not a folder).
    pub fn manifest(&self, path: &RepoPath) -> Result<Option<Vec<ManifestEntry>>, HashError> {
        let _run = self.progress.run();
        let abs = path.to_path(&self.root);
        match self.stat(path.as_str(), &abs)? {
            Some(meta) if meta.is_dir() => {
                dir::manifest(&self.state, &self.progress, path.as_str(), &abs).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Forgets what is known of `path` and everything under it: it is about to be rewritten.
    pub fn forget(&self, path: &RepoPath) {
        lock(&self.state).remove(path.as_str());
    }

    /// Writes the state table atomically if anything was added or changed since open; drops
    /// entries whose files no longer exist only if cheap (optional).
    ///
    /// Entries are dropped as hashing finds their files gone: a missing path takes everything
    /// under it along, and a folder's walk drops what is no longer in it.
    pub fn save(&self) -> Result<(), HashError> {
        let _saving = self
            .save_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Encode under the lock but write outside it, so hashing goes on meanwhile.
        let err = |source| HashError::SaveState {
            path: self.state_path.display().to_string(),
            source,
        };
        let snapshot = lock(&self.state).snapshot().map_err(err)?;
        let Some((bytes, generation)) = snapshot else {
            return Ok(());
        };
        crate::atomic::write(&self.state_path, &bytes).map_err(err)?;
        lock(&self.state).mark_saved(generation);
        Ok(())
    }

    /// [`Hasher::hash`] of the path at `abs`, filed under `key` in the state table, within a run
    /// of the progress bar.
    fn hash_one(&self, key: &str, abs: &Path) -> Result<Option<HashInfo>, HashError> {
        let Some(meta) = self.stat(key, abs)? else {
            return Ok(None);
        };
        if meta.is_file() {
            file::hash(&self.state, &self.progress, key, abs, Stamp::of(&meta)).map(Some)
        } else if meta.is_dir() {
            let entries = dir::manifest(&self.state, &self.progress, key, abs)?;
            dir::info(key, &entries).map(Some)
        } else {
            Err(HashError::NotRegular {
                path: shown(key).to_string(),
            })
        }
    }

    /// The metadata of `abs` (links followed), `None` when there is nothing there. A path found
    /// missing takes its state entries (under `key`) along.
    fn stat(&self, key: &str, abs: &Path) -> Result<Option<Metadata>, HashError> {
        match fs::metadata(abs) {
            Ok(meta) => Ok(Some(meta)),
            // `NotADirectory`: a path through a file (`f.txt/x`) does not exist either.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                lock(&self.state).remove(key);
                Ok(None)
            }
            Err(source) => Err(HashError::Read {
                path: shown(key).to_string(),
                source,
            }),
        }
    }
}

/// A state-table key as messages show it: the root is `.`.
fn shown(key: &str) -> &str {
    if key.is_empty() { "." } else { key }
}

/// blake3 of a byte slice, as 64 hex chars.
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The state table, even after a panic elsewhere: it is a cache, and each change to it is a
/// single map operation, so a poisoned table is still a consistent one.
fn lock(state: &Mutex<StateTable>) -> MutexGuard<'_, StateTable> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(s: &str) -> RepoPath {
        RepoPath::root().join(s).unwrap()
    }

    #[test]
    fn hasher_is_sync_and_send() {
        fn check<T: Send + Sync>() {}
        check::<Hasher>();
    }

    #[test]
    fn progress_can_be_turned_off() {
        let tmp = tempfile::tempdir().unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        assert!(!h.with_progress(None).progress.is_on());
    }

    /// Rewrites `path` in place with `bytes` (same length) and puts its mtime back: a stamp
    /// cannot tell the difference.
    fn forge(path: &Path, bytes: &[u8]) {
        let mtime = fs::metadata(path).unwrap().modified().unwrap();
        let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        f.set_modified(mtime).unwrap();
    }

    #[test]
    fn a_fresh_big_file_is_read_once_per_process_until_forgotten() {
        let tmp = tempfile::tempdir().unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join("state")).with_progress(None);
        let big = RepoPath::root().join("big").unwrap();
        fs::write(tmp.path().join("big"), vec![1u8; 2 << 20]).unwrap();
        let first = h.hash(&big).unwrap().unwrap();
        forge(&tmp.path().join("big"), &vec![2u8; 2 << 20]);
        assert_eq!(
            h.hash(&big).unwrap().unwrap(),
            first,
            "remembered, not read again"
        );
        h.forget(&big);
        let second = h.hash(&big).unwrap().unwrap();
        assert_ne!(second, first, "read again once forgotten");
        // Never saved: another process reads it.
        h.save().unwrap();
        let other = Hasher::open(tmp.path(), &tmp.path().join("state")).with_progress(None);
        assert_eq!(other.hash(&big).unwrap().unwrap(), second);
        // A small fresh file is always read again.
        let small = RepoPath::root().join("small").unwrap();
        fs::write(tmp.path().join("small"), b"aaaa").unwrap();
        let before = h.hash(&small).unwrap().unwrap();
        forge(&tmp.path().join("small"), b"bbbb");
        assert_ne!(h.hash(&small).unwrap().unwrap(), before);
    }

    #[test]
    fn hash_bytes_is_blake3_hex() {
        assert_eq!(hash_bytes(b"abc"), blake3::hash(b"abc").to_hex().as_str());
        assert_eq!(
            hash_bytes(b""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn missing_path_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join(".wf/state"));
        assert_eq!(h.hash(&rp("nope")).unwrap(), None);
        assert_eq!(h.hash(&rp("nope/deeper")).unwrap(), None);
        assert_eq!(h.manifest(&rp("nope")).unwrap(), None);
        fs::write(tmp.path().join("f"), b"x").unwrap();
        assert_eq!(h.hash(&rp("f/under-a-file")).unwrap(), None);
        assert_eq!(
            h.manifest(&rp("f")).unwrap(),
            None,
            "a file has no manifest"
        );
    }

    #[test]
    fn symlinks_are_followed_and_dangling_ones_are_missing() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("real"), b"content").unwrap();
        std::os::unix::fs::symlink("real", tmp.path().join("link")).unwrap();
        std::os::unix::fs::symlink("gone", tmp.path().join("dangling")).unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let info = h.hash(&rp("link")).unwrap().unwrap();
        assert_eq!(info.hash, hash_bytes(b"content"));
        assert_eq!(h.hash(&rp("dangling")).unwrap(), None);
    }

    #[test]
    fn a_pipe_is_refused_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(tmp.path().join("pipe"))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return; // no mkfifo here; nothing to test
        }
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let err = h.hash(&rp("pipe")).unwrap_err();
        assert_eq!(err.to_string(), "`pipe` is neither a file nor a folder");
    }

    #[test]
    fn hash_many_keeps_input_order() {
        let tmp = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
        for n in &names {
            fs::write(tmp.path().join(n), n.as_bytes()).unwrap();
        }
        let mut paths: Vec<DepPath> = names.iter().map(|n| rp(n).into()).collect();
        paths.push(rp("missing").into());
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let got = h.hash_many(&paths);
        assert_eq!(got.len(), 51);
        for (n, r) in names.iter().zip(&got) {
            assert_eq!(
                r.as_ref().unwrap().as_ref().unwrap().hash,
                hash_bytes(n.as_bytes())
            );
        }
        assert!(matches!(got[50], Ok(None)));
    }

    #[test]
    fn save_error_names_the_state_file() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("f"), b"x").unwrap();
        // A file where the state's folder should be.
        let state = tmp.path().join("f/state");
        let h = Hasher::open(tmp.path(), &state);
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(tmp.path().join("f"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        h.hash(&rp("f")).unwrap();
        let msg = h.save().unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!(
                "cannot write the state table `{}`: ",
                state.display()
            )),
            "{msg}"
        );
    }

    #[test]
    fn hash_info_json_leaves_out_nfiles_of_a_file() {
        let h = "0".repeat(64);
        let file = HashInfo {
            hash: h.clone(),
            size: 1,
            nfiles: None,
        };
        let json = format!(r#"{{"hash":"{h}","size":1}}"#);
        assert_eq!(serde_json::to_string(&file).unwrap(), json);
        let back: HashInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back, file);
        let bad = serde_json::from_str::<HashInfo>(r#"{"hash":"../x","size":1}"#).unwrap_err();
        assert!(bad.to_string().contains("is no hash of wf's"), "{bad}");
    }
}
