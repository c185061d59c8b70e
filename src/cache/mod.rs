//! The content-addressed cache, `.wf/cache/`: every cached out stored by its blake3 hash
//! (`<2 hex>/<rest>`; a folder as its manifest object `<hash>.dir` plus one object per file),
//! written atomically, checked against its hash whenever it is read, and linked back into the
//! workspace. The fifth arrow of DESIGN.md's flow.

mod link;
mod manifest;
pub mod refs;
pub mod run_cache;

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::hash::{HashInfo, ManifestEntry};

pub use link::LinkType;

/// Errors of the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done (`read`, `write`, `link`).
        action: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// A file could not be copied into the cache (the disk full, for instance): nothing of it
    /// was stored.
    #[error("cannot copy `{path}` into the cache: {source}")]
    Store {
        /// The file being stored.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// An object's content does not match its name.
    #[error("cache object `{path}` is corrupted: its content hashes to {actual}, not {expected}")]
    Corrupted {
        /// The object file.
        path: String,
        /// The hash it is stored under.
        expected: String,
        /// The hash of what it holds.
        actual: String,
    },
    /// An object the lock needs is not in the cache.
    #[error("`{path}` is not in the cache (object {hash})")]
    Missing {
        /// The workspace path.
        path: String,
        /// The missing object.
        hash: String,
    },
    /// A folder manifest object is not valid JSON.
    #[error("cache object `{path}` is not a folder manifest: {message}")]
    BadManifest {
        /// The object file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A folder manifest names a file that checking it out would write outside the folder, or
    /// twice, or over another.
    #[error("folder manifest {hash} (`{path}`) cannot be checked out: {problem}")]
    UnsafeManifest {
        /// The manifest's hash.
        hash: String,
        /// The object file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl CacheError {
    /// What to do about it, when there is something.
    pub fn help(&self) -> Option<String> {
        match self {
            CacheError::UnsafeManifest { .. } => Some(
                "wf never writes such a manifest: remove the object from the cache (and the \
                 remote it came from), then run `wf repro` to make the folder again"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Parses a folder manifest object's bytes and checks that every entry is a plain relative path
/// inside the folder, as `Cache::read_manifest` does once their hash is checked (`path` and
/// `hash` name the object in errors).
pub fn parse_manifest(
    path: &Path,
    hash: &str,
    bytes: &[u8],
) -> Result<Vec<ManifestEntry>, CacheError> {
    let entries: Vec<ManifestEntry> =
        serde_json::from_slice(bytes).map_err(|e| CacheError::BadManifest {
            path: path.display().to_string(),
            message: manifest::json(&e),
        })?;
    manifest::check(&entries).map_err(|problem| CacheError::UnsafeManifest {
        hash: hash.into(),
        path: path.display().to_string(),
        problem,
    })?;
    Ok(entries)
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CacheError + use<> {
    let path = path.display().to_string();
    move |source| CacheError::Io {
        action,
        path,
        source,
    }
}

/// The object cache of one repository.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    link: LinkType,
}

impl Cache {
    /// The cache at `dir` (`ROOT/.wf/cache`), linking checkouts with `link`.
    pub fn new(dir: PathBuf, link: LinkType) -> Cache {
        Cache { dir, link }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the object with this hash lives.
    pub fn object_path(&self, hash: &str) -> PathBuf {
        let (head, tail) = hash.split_at(hash.len().min(2));
        self.dir.join(head).join(tail)
    }

    /// Whether a file object is present.
    pub fn has_object(&self, hash: &str) -> bool {
        self.object_path(hash).is_file()
    }

    /// Whether everything `info` needs is present (for a folder: its manifest and every file).
    pub fn contains(&self, info: &HashInfo) -> bool {
        if !info.hash.ends_with(".dir") {
            return self.has_object(&info.hash);
        }
        match self.read_manifest(&info.hash) {
            Ok(entries) => entries.iter().all(|e| self.has_object(&e.hash)),
            Err(_) => false,
        }
    }

    /// Stores the file or folder at `abs`, whose hash is `info`; a folder needs its manifest.
    /// Objects already present are kept. Each object is checked against its hash as it is copied.
    pub fn save(
        &self,
        abs: &Path,
        info: &HashInfo,
        manifest: Option<&[ManifestEntry]>,
    ) -> Result<(), CacheError> {
        match manifest {
            None => self.save_file(abs, &info.hash),
            Some(entries) => {
                for e in entries {
                    self.save_file(&entries_path(abs, &e.relpath), &e.hash)?;
                }
                let bytes = serde_json::to_vec(entries).map_err(|e| CacheError::BadManifest {
                    path: abs.display().to_string(),
                    message: e.to_string(),
                })?;
                self.save_bytes(&info.hash, &bytes)
            }
        }
    }

    fn save_file(&self, src: &Path, hash: &str) -> Result<(), CacheError> {
        let dst = self.object_path(hash);
        if dst.is_file() {
            return Ok(());
        }
        let parent = dst.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io_err("write", parent))?;
        // A clone where the file system has them (no data copied: the object shares the out's
        // blocks until one is written), checked by reading it once; else a copy, checked as it
        // is made.
        let actual = if clone(src, tmp.as_file()) {
            hash_file(tmp.path())?
        } else {
            copy_hashing(src, tmp.as_file_mut(), |source| CacheError::Store {
                path: src.display().to_string(),
                source,
            })?
        };
        if actual != hash {
            // The file changed since it was hashed: storing it under the old name would corrupt
            // the cache.
            return Err(CacheError::Corrupted {
                path: src.display().to_string(),
                expected: hash.into(),
                actual,
            });
        }
        read_only(tmp.path());
        tmp.persist(&dst).map_err(|e| CacheError::Io {
            action: "write",
            path: dst.display().to_string(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Stores bytes under their hash (a manifest, a run-cache entry).
    fn save_bytes(&self, hash: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let dst = self.object_path(hash);
        if dst.is_file() {
            return Ok(());
        }
        // Not synced: every read of an object checks its hash, so a torn one is caught.
        crate::atomic::replace(&dst, bytes).map_err(io_err("write", &dst))?;
        read_only(&dst);
        Ok(())
    }

    /// Reads and checks a folder's manifest object: its hash, and that every entry is a plain
    /// relative path inside the folder (the one place manifests are parsed).
    pub fn read_manifest(&self, hash: &str) -> Result<Vec<ManifestEntry>, CacheError> {
        let path = self.object_path(hash);
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        let actual = format!("{}.dir", crate::hash::hash_bytes(&bytes));
        if actual != hash {
            return Err(CacheError::Corrupted {
                path: path.display().to_string(),
                expected: hash.into(),
                actual,
            });
        }
        parse_manifest(&path, hash, &bytes)
    }

    /// Puts `info`'s content at `abs`, replacing what is there; `shown` names it in errors.
    /// Nothing is written until the whole manifest of a folder is read and checked.
    pub fn checkout(&self, abs: &Path, shown: &str, info: &HashInfo) -> Result<(), CacheError> {
        let missing = || CacheError::Missing {
            path: shown.into(),
            hash: info.hash.clone(),
        };
        if !info.hash.ends_with(".dir") {
            if !self.has_object(&info.hash) {
                return Err(missing());
            }
            remove(abs)?;
            return self.checkout_file(abs, &info.hash);
        }
        let entries = match self.read_manifest(&info.hash) {
            Err(CacheError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(missing());
            }
            read => read?,
        };
        if !entries.iter().all(|e| self.has_object(&e.hash)) {
            return Err(missing());
        }
        remove(abs)?;
        // The folder is made afresh and the entries were checked (no `..`, no file that is
        // another's folder), so no entry can lead through a link out of it.
        fs::create_dir_all(abs).map_err(io_err("create", abs))?;
        for e in &entries {
            self.checkout_file(&entries_path(abs, &e.relpath), &e.hash)?;
        }
        Ok(())
    }

    /// After a run: with hard or symbolic links, replace the workspace copy of a cached out by
    /// a link to the cache (copies and reflinks stay as the stage wrote them).
    pub fn relink(&self, abs: &Path, shown: &str, info: &HashInfo) -> Result<(), CacheError> {
        match self.link {
            LinkType::Reflink | LinkType::Copy => Ok(()),
            LinkType::Hardlink | LinkType::Symlink => self.checkout(abs, shown, info),
        }
    }

    fn checkout_file(&self, dst: &Path, hash: &str) -> Result<(), CacheError> {
        let obj = self.object_path(hash);
        let parent = dst.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        let corrupted = |actual: String| CacheError::Corrupted {
            path: obj.display().to_string(),
            expected: hash.into(),
            actual,
        };
        // Every read of an object is checked: a corrupted object is reported, never used.
        if matches!(self.link, LinkType::Reflink | LinkType::Copy) {
            let mut tmp =
                tempfile::NamedTempFile::new_in(parent).map_err(io_err("write", parent))?;
            let cloned = self.link == LinkType::Reflink && clone(&obj, tmp.as_file());
            // A clone costs no copy but still one read to check it; a copy is checked as it is made.
            let actual = if cloned {
                hash_file(&obj)?
            } else {
                copy_hashing(&obj, tmp.as_file_mut(), io_err("write", dst))?
            };
            if actual != hash {
                return Err(corrupted(actual));
            }
            link::writable(tmp.path()).map_err(io_err("write", dst))?;
            tmp.persist(dst).map_err(|e| CacheError::Io {
                action: "write",
                path: dst.display().to_string(),
                source: e.error,
            })?;
            return Ok(());
        }
        let actual = hash_file(&obj)?;
        if actual != hash {
            return Err(corrupted(actual));
        }
        self.link.place(&obj, dst).map_err(io_err("link", dst))
    }
}

/// A file of a folder, from its manifest's `/`-separated relative path.
fn entries_path(dir: &Path, relpath: &str) -> PathBuf {
    relpath
        .split('/')
        .fold(dir.to_path_buf(), |p, part| p.join(part))
}

/// Makes `dst` (an empty file) a copy-on-write clone of `src`; `false` where the file system
/// cannot (ext4, tmpfs, across file systems), and nothing was written.
fn clone(src: &Path, dst: &fs::File) -> bool {
    fs::File::open(src).is_ok_and(|from| reflink_copy::reflink_file(&from, dst).is_ok())
}

/// Copies `src` into `dst` and returns the blake3 of what was copied; `written` names a failed
/// write.
fn copy_hashing(
    src: &Path,
    dst: &mut fs::File,
    written: impl FnOnce(io::Error) -> CacheError,
) -> Result<String, CacheError> {
    let mut input = fs::File::open(src).map_err(io_err("read", src))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).map_err(io_err("read", src))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Err(e) = dst.write_all(&buf[..n]) {
            return Err(written(e));
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn hash_file(path: &Path) -> Result<String, CacheError> {
    let mut hasher = blake3::Hasher::new();
    let file = fs::File::open(path).map_err(io_err("read", path))?;
    hasher.update_reader(file).map_err(io_err("read", path))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Cache objects are never edited in place.
fn read_only(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mut perms = meta.permissions();
        perms.set_readonly(true);
        let _ = fs::set_permissions(path, perms);
    }
}

/// Removes a file, link or folder if it is there.
pub fn remove(path: &Path) -> Result<(), CacheError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io_err("remove", path)),
        Ok(_) => fs::remove_file(path).map_err(io_err("remove", path)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_of(bytes: &[u8]) -> HashInfo {
        HashInfo {
            hash: crate::hash::hash_bytes(bytes),
            size: bytes.len() as u64,
            nfiles: None,
        }
    }

    #[test]
    fn save_then_checkout_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"), LinkType::Copy);
        let f = dir.path().join("a.txt");
        fs::write(&f, b"hello\n").unwrap();
        let info = info_of(b"hello\n");
        cache.save(&f, &info, None).unwrap();
        assert!(cache.contains(&info));
        fs::remove_file(&f).unwrap();
        cache.checkout(&f, "a.txt", &info).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"hello\n");
        // The workspace copy stays writable.
        fs::write(&f, b"edited").unwrap();
    }

    #[test]
    fn corrupted_object_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"), LinkType::Copy);
        let f = dir.path().join("a.txt");
        fs::write(&f, b"hello\n").unwrap();
        let info = info_of(b"hello\n");
        cache.save(&f, &info, None).unwrap();
        let obj = cache.object_path(&info.hash);
        let mut perms = fs::metadata(&obj).unwrap().permissions();
        #[expect(
            clippy::permissions_set_readonly_false,
            reason = "the test corrupts the object on purpose"
        )]
        perms.set_readonly(false);
        fs::set_permissions(&obj, perms).unwrap();
        fs::write(&obj, b"evil\n").unwrap();
        let err = cache.checkout(&f, "a.txt", &info).unwrap_err();
        assert!(matches!(err, CacheError::Corrupted { .. }), "{err}");
    }

    #[test]
    fn saving_a_file_that_changed_since_hashing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"), LinkType::Copy);
        let f = dir.path().join("a.txt");
        fs::write(&f, b"new content").unwrap();
        assert!(cache.save(&f, &info_of(b"old"), None).is_err());
        assert!(!cache.contains(&info_of(b"old")));
    }
}
