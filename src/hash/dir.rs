//! Hashing a folder: walking it into a manifest of its regular files, hashed in parallel, and
//! the folder's hash from that manifest.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use walkdir::WalkDir;

use super::progress::Progress;
use super::state::{Stamp, StateTable};
use super::{HashError, HashInfo, ManifestEntry, file, hash_bytes, lock};

/// A file of the folder, before its bytes are read if they need to be.
enum Slot {
    /// The state table knew it.
    Known(ManifestEntry),
    /// Its bytes have to be read.
    Unknown(Unread),
}

/// A file of the folder whose bytes have to be read.
struct Unread {
    rel: String,
    key: String,
    path: PathBuf,
    stamp: Stamp,
}

/// The manifest of the folder filed as `dir` in the state table (at `abs`): every regular file under it, links followed,
/// sorted by relative path. Empty folders, sockets, pipes and devices hold no content and are
/// left out.
///
/// When there is a bar, the files the state table does not know are read last, all together as
/// one item of `progress`, so that it counts the bytes there are to read, not those known.
pub(crate) fn manifest(
    state: &Mutex<StateTable>,
    progress: &Progress,
    dir: &str,
    abs: &Path,
) -> Result<Vec<ManifestEntry>, HashError> {
    manifest_of(state, progress, dir, abs).map_err(|e| match e {
        HashError::Read { path, source } | HashError::List { path, source }
            if source.kind() == std::io::ErrorKind::NotFound && gone(dir, abs, &path) =>
        {
            HashError::Vanished {
                path,
                folder: super::shown(dir).to_string(),
            }
        }
        other => other,
    })
}

/// Whether the file filed as `key` under the folder `dir` (at `abs`) is not there at all,
/// rather than there as a link to nothing (which the walk reports missing too).
fn gone(dir: &str, abs: &Path, key: &str) -> bool {
    let rel = if dir.is_empty() {
        key
    } else {
        key.strip_prefix(dir)
            .map_or(key, |r| r.trim_start_matches('/'))
    };
    let path = rel
        .split('/')
        .filter(|p| !p.is_empty())
        .fold(abs.to_path_buf(), |p, part| p.join(part));
    fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn manifest_of(
    state: &Mutex<StateTable>,
    progress: &Progress,
    dir: &str,
    abs: &Path,
) -> Result<Vec<ManifestEntry>, HashError> {
    let files = walk(dir, abs)?;
    let slots = files
        .into_par_iter()
        .map(|(rel, path)| {
            let key = key_of(dir, &rel);
            let meta = fs::metadata(&path).map_err(|source| HashError::Read {
                path: key.clone(),
                source,
            })?;
            let stamp = Stamp::of(&meta);
            Ok(match file::remembered(state, &key, &stamp) {
                Some(info) => Slot::Known(entry(rel, info)),
                // With no bar to count for, a file is read as soon as it is found.
                None if !progress.is_on() => {
                    Slot::Known(entry(rel, file::read(state, progress, &key, &path, stamp)?))
                }
                None => Slot::Unknown(Unread {
                    rel,
                    key,
                    path,
                    stamp,
                }),
            })
        })
        .collect::<Result<Vec<_>, HashError>>()?;
    let (mut entries, mut unknown) = (Vec::with_capacity(slots.len()), Vec::new());
    for slot in slots {
        match slot {
            Slot::Known(e) => entries.push(e),
            Slot::Unknown(u) => unknown.push(u),
        }
    }
    if !unknown.is_empty() {
        let bytes = unknown.iter().map(|u| u.stamp.size()).sum();
        let _item = progress.item(dir, bytes);
        let read = unknown
            .into_par_iter()
            .map(|u| {
                let info = file::read(state, progress, &u.key, &u.path, u.stamp)?;
                Ok(entry(u.rel, info))
            })
            .collect::<Result<Vec<_>, HashError>>()?;
        entries.extend(read);
    }
    // The walk's order is per folder by name, which puts `a/b` before `a.txt`; the manifest's is
    // by whole path, so that it does not depend on how the files were found.
    entries.sort_unstable_by(|a, b| a.relpath.cmp(&b.relpath));

    // The walk has just seen every file under `dir`: entries for anything else are stale.
    let mut table = lock(state);
    table.forget(dir);
    table.retain_under(dir, |rel| {
        entries
            .binary_search_by(|e| e.relpath.as_str().cmp(rel))
            .is_ok()
    });
    Ok(entries)
}

fn entry(relpath: String, info: HashInfo) -> ManifestEntry {
    ManifestEntry {
        relpath,
        hash: info.hash,
        size: info.size,
    }
}

/// The folder's hash, size and file count from its manifest.
pub(crate) fn info(dir: &str, entries: &[ManifestEntry]) -> Result<HashInfo, HashError> {
    let canonical = serde_json::to_vec(entries).map_err(|source| HashError::Encode {
        path: super::shown(dir).to_string(),
        source,
    })?;
    Ok(HashInfo {
        hash: format!("{}.dir", hash_bytes(&canonical)),
        size: entries.iter().map(|e| e.size).sum(),
        nfiles: Some(entries.len() as u64),
    })
}

/// The regular files under `abs`, each with its `/`-separated path relative to it.
fn walk(dir: &str, abs: &Path) -> Result<Vec<(String, PathBuf)>, HashError> {
    let mut files = Vec::new();
    for entry in WalkDir::new(abs).follow_links(true).sort_by_file_name() {
        let entry = entry.map_err(|e| HashError::List {
            path: e.path().map_or_else(
                || super::shown(dir).to_string(),
                |p| key_of(dir, &lossy_rel(abs, p)),
            ),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = rel_path(abs, entry.path()).ok_or_else(|| HashError::NonUtf8 {
            path: key_of(dir, &lossy_rel(abs, entry.path())),
        })?;
        files.push((rel, entry.into_path()));
    }
    Ok(files)
}

/// `path` relative to `base`, `/`-separated whatever the platform; `None` when a part is not
/// UTF-8.
fn rel_path(base: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).unwrap_or(path);
    let parts = rel
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<Vec<&str>>>()?;
    Some(parts.join("/"))
}

/// [`rel_path`] for messages, with bad bytes replaced.
fn lossy_rel(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The key of `rel` inside the folder keyed `dir`: the state table's key and what errors show.
fn key_of(dir: &str, rel: &str) -> String {
    match (dir, rel) {
        ("", rel) => rel.to_string(),
        (dir, "") => dir.to_string(),
        (dir, rel) => format!("{dir}/{rel}"),
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::hash::Hasher;
    use crate::repo_path::RepoPath;

    fn rp(s: &str) -> RepoPath {
        RepoPath::root().join(s).unwrap()
    }

    fn put(root: &Path, rel: &str, content: &[u8]) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    fn dir_hash(h: &Hasher, dir: &str) -> HashInfo {
        h.hash(&rp(dir)).unwrap().unwrap()
    }

    fn sample(root: &Path) {
        put(root, "d/x.txt", b"x");
        put(root, "d/sub/y.txt", b"yy");
        put(root, "d/sub/deeper/z.bin", b"zzz");
    }

    #[test]
    fn folder_hash_is_stable_and_sized() {
        let tmp = tempfile::tempdir().unwrap();
        sample(tmp.path());
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let a = dir_hash(&h, "d");
        assert!(a.hash.ends_with(".dir"));
        assert_eq!(a.hash.len(), 64 + 4);
        assert_eq!(a.size, 6);
        assert_eq!(a.nfiles, Some(3));
        assert_eq!(dir_hash(&h, "d"), a);
        // A fresh hasher, and the same files in a folder of another name, agree.
        let other = Hasher::open(tmp.path(), &tmp.path().join("other-state"));
        assert_eq!(dir_hash(&other, "d"), a);
        fs::rename(tmp.path().join("d"), tmp.path().join("e")).unwrap();
        assert_eq!(dir_hash(&h, "e"), a);
    }

    #[test]
    fn folder_hash_is_pinned() {
        // Pins the format: a change here changes every lock file ever written.
        let tmp = tempfile::tempdir().unwrap();
        sample(tmp.path());
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let m = h.manifest(&rp("d")).unwrap().unwrap();
        let json = String::from_utf8(serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(
            json,
            format!(
                r#"[{{"relpath":"sub/deeper/z.bin","hash":"{}","size":3}},{{"relpath":"sub/y.txt","hash":"{}","size":2}},{{"relpath":"x.txt","hash":"{}","size":1}}]"#,
                hash_bytes(b"zzz"),
                hash_bytes(b"yy"),
                hash_bytes(b"x")
            )
        );
        assert_eq!(
            dir_hash(&h, "d").hash,
            format!("{}.dir", hash_bytes(json.as_bytes()))
        );
        assert_eq!(
            dir_hash(&h, "d").hash,
            "5261771d1207b75c0044e1254d08d3b46c6724023219895c96e59954d2c5dd8e.dir"
        );
    }

    #[test]
    fn folder_hash_follows_content_and_names_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        sample(root);
        let h = Hasher::open(root, &root.join("state"));
        let base = dir_hash(&h, "d").hash;
        let mut seen = vec![base.clone()];
        let mut changed = |what: &str| {
            let now = dir_hash(&h, "d").hash;
            assert!(!seen.contains(&now), "{what} did not change the hash");
            seen.push(now);
        };

        put(root, "d/new.txt", b"n");
        changed("adding a file");
        fs::remove_file(root.join("d/new.txt")).unwrap();
        assert_eq!(dir_hash(&h, "d").hash, base, "removing it again");
        fs::remove_file(root.join("d/x.txt")).unwrap();
        changed("removing a file");
        put(root, "d/x.txt", b"x");
        assert_eq!(dir_hash(&h, "d").hash, base);
        fs::rename(root.join("d/x.txt"), root.join("d/w.txt")).unwrap();
        changed("renaming a file");
        fs::rename(root.join("d/w.txt"), root.join("d/sub/x.txt")).unwrap();
        changed("moving a file into a subfolder");
        fs::rename(root.join("d/sub/x.txt"), root.join("d/x.txt")).unwrap();
        assert_eq!(dir_hash(&h, "d").hash, base);
        put(root, "d/sub/y.txt", b"yY");
        changed("editing a file, same size");
        put(root, "d/sub/y.txt", b"yy");
        assert_eq!(dir_hash(&h, "d").hash, base);

        // Touching (a new mtime, the same bytes) and empty folders change nothing.
        let later = SystemTime::now() + Duration::from_secs(5);
        File::options()
            .write(true)
            .open(root.join("d/sub/y.txt"))
            .unwrap()
            .set_modified(later)
            .unwrap();
        fs::create_dir(root.join("d/empty")).unwrap();
        assert_eq!(dir_hash(&h, "d").hash, base);
    }

    #[test]
    fn manifest_is_sorted_by_whole_path() {
        let tmp = tempfile::tempdir().unwrap();
        for rel in [
            "b.txt",
            "a/b.txt",
            "a.txt",
            "a/c/d.txt",
            "A.txt",
            "a-b/x",
            "é",
        ] {
            put(tmp.path(), &format!("d/{rel}"), rel.as_bytes());
        }
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let m = h.manifest(&rp("d")).unwrap().unwrap();
        let rels: Vec<&str> = m.iter().map(|e| e.relpath.as_str()).collect();
        assert_eq!(
            rels,
            [
                "A.txt",
                "a-b/x",
                "a.txt",
                "a/b.txt",
                "a/c/d.txt",
                "b.txt",
                "é"
            ]
        );
        for e in &m {
            assert_eq!(e.hash, hash_bytes(e.relpath.as_bytes()));
            assert_eq!(e.size, e.relpath.len() as u64);
        }
    }

    #[test]
    fn empty_folder_is_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("d/only/empty")).unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let info = dir_hash(&h, "d");
        assert_eq!(info.nfiles, Some(0));
        assert_eq!(info.size, 0);
        assert_eq!(info.hash, format!("{}.dir", hash_bytes(b"[]")));
        assert_eq!(h.manifest(&rp("d")).unwrap(), Some(vec![]));
    }

    #[test]
    fn links_inside_a_folder_are_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        put(root, "real/f", b"f");
        put(root, "real/sub/g", b"g");
        fs::create_dir(root.join("d")).unwrap();
        std::os::unix::fs::symlink("../real/f", root.join("d/f")).unwrap();
        std::os::unix::fs::symlink("../real/sub", root.join("d/sub")).unwrap();
        std::os::unix::fs::symlink("real", root.join("linked")).unwrap();
        let h = Hasher::open(root, &root.join("state"));
        let rels: Vec<String> = h
            .manifest(&rp("d"))
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|e| e.relpath)
            .collect();
        assert_eq!(rels, ["f", "sub/g"]);
        assert_eq!(dir_hash(&h, "d"), dir_hash(&h, "real"));
        assert_eq!(dir_hash(&h, "linked"), dir_hash(&h, "real"));
    }

    #[test]
    fn broken_link_inside_a_folder_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        put(tmp.path(), "d/ok", b"ok");
        std::os::unix::fs::symlink("nowhere", tmp.path().join("d/broken")).unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let err = h.hash(&rp("d")).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot list `d/broken`: "),
            "{err}"
        );
    }

    #[test]
    fn non_utf8_name_is_an_error() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("d")).unwrap();
        let bad = tmp.path().join("d").join(OsStr::from_bytes(b"bad\xff"));
        if fs::write(&bad, b"x").is_err() {
            return; // a filesystem that insists on UTF-8 names
        }
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let err = h.hash(&rp("d")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`d/bad\u{fffd}` has a name that is not valid UTF-8"
        );
    }

    #[test]
    fn the_root_itself_can_be_hashed() {
        let tmp = tempfile::tempdir().unwrap();
        put(tmp.path(), "a", b"a");
        put(tmp.path(), "s/b", b"b");
        let h = Hasher::open(tmp.path(), &tmp.path().join("elsewhere/state"));
        let m = h.manifest(&RepoPath::root()).unwrap().unwrap();
        let rels: Vec<&str> = m.iter().map(|e| e.relpath.as_str()).collect();
        assert_eq!(rels, ["a", "s/b"]);
        assert_eq!(h.hash(&RepoPath::root()).unwrap().unwrap().nfiles, Some(2));
    }

    #[test]
    fn folder_files_share_the_state_table_and_stale_entries_go() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let state = root.join(".wf/state");
        put(root, "d/keep", b"k");
        put(root, "d/sub/drop", b"d");
        let old = SystemTime::now() - Duration::from_secs(60);
        for f in ["d/keep", "d/sub/drop"] {
            File::options()
                .write(true)
                .open(root.join(f))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let h = Hasher::open(root, &state);
        dir_hash(&h, "d");
        h.save().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
        let keys: Vec<&String> = json["files"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["d/keep", "d/sub/drop"]);

        fs::remove_dir_all(root.join("d/sub")).unwrap();
        dir_hash(&h, "d");
        h.save().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
        let keys: Vec<&String> = json["files"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["d/keep"]);
    }

    #[test]
    fn a_folder_counts_only_the_bytes_it_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        sample(root);
        let old = SystemTime::now() - Duration::from_secs(60);
        for f in ["d/x.txt", "d/sub/y.txt", "d/sub/deeper/z.bin"] {
            File::options()
                .write(true)
                .open(root.join(f))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let state = Mutex::new(StateTable::default());
        let progress = Progress::counting();
        let _run = progress.run();
        let count = || {
            manifest(&state, &progress, "d", &root.join("d")).unwrap();
            progress.counts()
        };
        assert_eq!(count(), (6, 6));
        assert_eq!(count(), (6, 6), "all known: nothing more to read");
        put(root, "d/sub/y.txt", b"0123456789");
        assert_eq!(count(), (16, 16), "only the changed file is read");
    }

    #[test]
    fn with_or_without_a_bar_the_manifest_is_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        sample(tmp.path());
        let abs = tmp.path().join("d");
        let read = |progress: &Progress| {
            let state = Mutex::new(StateTable::default());
            let _run = progress.run();
            manifest(&state, progress, "d", &abs).unwrap()
        };
        let with = read(&Progress::counting());
        assert_eq!(with.len(), 3);
        assert_eq!(read(&Progress::off()), with);
    }

    #[test]
    fn key_of_joins_without_stray_slashes() {
        assert_eq!(key_of("", "a/b"), "a/b");
        assert_eq!(key_of("d", "a/b"), "d/a/b");
        assert_eq!(key_of("d", ""), "d");
        assert_eq!(key_of("/ext/d", "a"), "/ext/d/a");
    }
}
