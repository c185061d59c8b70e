//! The state table: each file's last known (inode, mtime, size) and hash, so that a file whose
//! metadata has not moved is not read again.
//!
//! On disk: `{"version": 1, "files": {"data/x.csv": [ino, mtime_ns, size, "hash"], ...}}`, keys
//! sorted. It is only a cache: anything unreadable is an empty table.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io;
use std::ops::Bound;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Bumped whenever the meaning of an entry changes, so that an old table is dropped, not misread.
const VERSION: u32 = 1;

/// A file whose mtime is this close to the moment its bytes are read may be written again
/// within the same mtime tick, which no stamp could tell apart: the "racy clean" problem. Such
/// files are hashed but not remembered. Linux stamps files with the kernel's clock, which moves
/// at least every 10 ms (a jiffy at HZ=100; finer with multigrain timestamps): 20 ms is past
/// any tick. A filesystem that keeps whole seconds (FAT, some network ones) shows mtimes with
/// no nanoseconds and ticks of up to 2 s.
const RACY_NS: i64 = 20_000_000;
/// The racy window for an mtime in whole seconds.
const RACY_COARSE_NS: i64 = 2_000_000_000;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    ino: u64,
    mtime_ns: i64,
    size: u64,
}

impl Stamp {
    /// The stamp of a file's (link-followed) metadata.
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            // i64 nanoseconds reach the year 2262; saturating keeps odd times from panicking.
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            size: meta.size(),
        }
    }

    /// The file's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file was last modified long enough before `now` (when its bytes began to be
    /// read) that any later write moves its mtime; a future mtime never is.
    pub(crate) fn settled(&self, now: SystemTime) -> bool {
        let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let now_ns = i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX);
        let window = if self.mtime_ns % 1_000_000_000 == 0 {
            RACY_COARSE_NS
        } else {
            RACY_NS
        };
        self.mtime_ns <= now_ns.saturating_sub(window)
    }
}

/// One file on disk: `[ino, mtime_ns, size, hash]`, a tuple to keep a big table small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry(u64, i64, u64, String);

#[derive(Serialize, Deserialize)]
struct Disk {
    version: u32,
    files: BTreeMap<String, Entry>,
}

/// The table in memory, and whether it differs from what was last saved.
#[derive(Debug, Default)]
pub(crate) struct StateTable {
    // Sorted, so that everything under a folder is one range and the file is deterministic.
    files: BTreeMap<String, Entry>,
    /// Counts changes; `saved` is the count the file on disk reflects.
    changes: u64,
    saved: u64,
}

impl StateTable {
    /// The table stored at `path`, or an empty one when there is none usable.
    pub(crate) fn load(path: &Path) -> StateTable {
        let files = fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Disk>(&bytes).ok())
            .filter(|disk| disk.version == VERSION)
            .map(|disk| disk.files)
            .unwrap_or_default();
        StateTable {
            files,
            changes: 0,
            saved: 0,
        }
    }

    /// The hash remembered for `key` if its stamp is still `stamp`.
    pub(crate) fn lookup(&self, key: &str, stamp: &Stamp) -> Option<String> {
        let matches = |e: &&Entry| e.0 == stamp.ino && e.1 == stamp.mtime_ns && e.2 == stamp.size;
        self.files.get(key).filter(matches).map(|e| e.3.clone())
    }

    /// Remembers `hash` for `key` at `stamp`.
    pub(crate) fn insert(&mut self, key: &str, stamp: Stamp, hash: &str) {
        let entry = Entry(stamp.ino, stamp.mtime_ns, stamp.size, hash.to_string());
        if self.files.get(key) != Some(&entry) {
            self.files.insert(key.to_string(), entry);
            self.changes += 1;
        }
    }

    /// Forgets `key` and everything under it, as for a path that is gone.
    pub(crate) fn remove(&mut self, key: &str) {
        self.retain_under(key, |_| false);
        self.forget(key);
    }

    /// Forgets the entry of `key` alone, as for a file that became a folder.
    pub(crate) fn forget(&mut self, key: &str) {
        if self.files.remove(key).is_some() {
            self.changes += 1;
        }
    }

    /// Forgets the entries under the folder `dir` whose path relative to it `keep` refuses. The
    /// root (`""`) holds no external dep: their keys are absolute paths, starting with `/`.
    pub(crate) fn retain_under(&mut self, dir: &str, keep: impl Fn(&str) -> bool) {
        let keep = |rel: &str| (dir.is_empty() && rel.starts_with('/')) || keep(rel);
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let gone: Vec<String> = self
            .files
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&prefix))
            .filter(|k| !keep(&k[prefix.len()..]))
            .cloned()
            .collect();
        for k in &gone {
            self.files.remove(k);
        }
        if !gone.is_empty() {
            self.changes += 1;
        }
    }

    /// The table's bytes and change count, or `None` when the file on disk is already current.
    pub(crate) fn snapshot(&self) -> io::Result<Option<(Vec<u8>, u64)>> {
        if self.changes == self.saved {
            return Ok(None);
        }
        let disk = DiskRef {
            version: VERSION,
            files: &self.files,
        };
        Ok(Some((serde_json::to_vec(&disk)?, self.changes)))
    }

    /// Records that the snapshot taken at change count `changes` is on disk.
    pub(crate) fn mark_saved(&mut self, changes: u64) {
        self.saved = self.saved.max(changes);
    }
}

/// [`Disk`] borrowing the table, so that saving does not copy it.
#[derive(Serialize)]
struct DiskRef<'a> {
    version: u32,
    files: &'a BTreeMap<String, Entry>,
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::Duration;

    use super::*;
    use crate::hash::{Hasher, hash_bytes};
    use crate::repo_path::RepoPath;

    fn rp(s: &str) -> RepoPath {
        RepoPath::root().join(s).unwrap()
    }

    fn set_mtime(path: &Path, t: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// Writes `content` with an mtime a minute ago, as a file that has been there a while.
    fn write_old(path: &Path, content: &[u8]) -> SystemTime {
        fs::write(path, content).unwrap();
        let t = SystemTime::now() - Duration::from_secs(60);
        set_mtime(path, t);
        t
    }

    /// Replaces the bytes in place (same inode, same size) and puts the mtime back.
    fn forge(path: &Path, content: &[u8], mtime: SystemTime) {
        use std::io::{Seek, Write};
        let mut f = File::options().write(true).open(path).unwrap();
        f.seek(io::SeekFrom::Start(0)).unwrap();
        f.write_all(content).unwrap();
        f.set_modified(mtime).unwrap();
    }

    #[test]
    fn unchanged_metadata_is_trusted_without_reading() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        let t = write_old(&p, b"aaaa");
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap().hash, hash_bytes(b"aaaa"));

        // Same inode, size and mtime: the stale hash comes back, so the bytes were not read.
        forge(&p, b"bbbb", t);
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap().hash, hash_bytes(b"aaaa"));

        // A new size is noticed.
        write_old(&p, b"bbbbb");
        assert_eq!(
            h.hash(&rp("f")).unwrap().unwrap().hash,
            hash_bytes(b"bbbbb")
        );
    }

    #[test]
    fn an_external_dep_is_remembered_by_its_absolute_path() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        fs::create_dir(&repo).unwrap();
        fs::write(repo.join("in.txt"), b"in").unwrap();
        let p = tmp.path().join("raw.csv");
        let t = write_old(&p, b"aaaa");
        let ext = crate::dep_path::DepPath::resolve(&repo, &RepoPath::root(), "../raw.csv");
        let hash = |h: &Hasher| h.hash_many(std::slice::from_ref(&ext)).remove(0);
        let h = Hasher::open(&repo, &repo.join("state"));
        assert_eq!(hash(&h).unwrap().unwrap().hash, hash_bytes(b"aaaa"));
        // Walking the whole repository does not drop what is known outside it.
        h.hash(&RepoPath::root()).unwrap();
        h.save().unwrap();

        // Same stamp: another process trusts the table and does not read the bytes.
        forge(&p, b"bbbb", t);
        let h = Hasher::open(&repo, &repo.join("state"));
        assert_eq!(hash(&h).unwrap().unwrap().hash, hash_bytes(b"aaaa"));
        write_old(&p, b"bbbbb");
        assert_eq!(hash(&h).unwrap().unwrap().hash, hash_bytes(b"bbbbb"));
        fs::remove_file(&p).unwrap();
        assert!(hash(&h).unwrap().is_none());
    }

    #[test]
    fn touch_rehashes_once_and_the_hash_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        let t = write_old(&p, b"same");
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        let before = h.hash(&rp("f")).unwrap().unwrap();
        set_mtime(&p, t + Duration::from_secs(1));
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap(), before);
        // The new mtime was remembered: a forged content behind it is not seen.
        forge(&p, b"diff", t + Duration::from_secs(1));
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap(), before);
    }

    #[test]
    fn survives_save_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join(".wf/state");
        let p = tmp.path().join("f");
        let t = write_old(&p, b"one");
        let h = Hasher::open(tmp.path(), &state);
        h.hash(&rp("f")).unwrap();
        h.save().unwrap();
        drop(h);

        let json: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["files"]["f"][3], hash_bytes(b"one"));

        forge(&p, b"two", t);
        let h = Hasher::open(tmp.path(), &state);
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap().hash, hash_bytes(b"one"));
    }

    #[test]
    fn save_writes_only_when_something_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        write_old(&tmp.path().join("f"), b"x");
        let h = Hasher::open(tmp.path(), &state);
        h.save().unwrap();
        assert!(!state.exists(), "nothing to save yet");
        h.hash(&rp("f")).unwrap();
        h.save().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        set_mtime(&state, old);
        // Reopened, a lookup that hits changes nothing, so the file is left alone.
        let h = Hasher::open(tmp.path(), &state);
        h.hash(&rp("f")).unwrap();
        h.save().unwrap();
        assert_eq!(fs::metadata(&state).unwrap().modified().unwrap(), old);
    }

    #[test]
    fn corrupt_or_other_version_state_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let p = tmp.path().join("f");
        write_old(&p, b"real");
        let stamp = Stamp::of(&fs::metadata(&p).unwrap());
        let lie = format!(
            r#"{{"version": 2, "files": {{"f": [{}, {}, {}, "{}"]}}}}"#,
            stamp.ino,
            stamp.mtime_ns,
            stamp.size,
            hash_bytes(b"lie")
        );
        for junk in [
            &b"{not json"[..],
            b"",
            b"[]",
            b"\xff\xfe",
            br#"{"version": 1, "files": {"f": [1, 2]}}"#,
            lie.as_bytes(),
        ] {
            fs::write(&state, junk).unwrap();
            let h = Hasher::open(tmp.path(), &state);
            assert_eq!(h.hash(&rp("f")).unwrap().unwrap().hash, hash_bytes(b"real"));
            h.save().unwrap();
        }
        // The same entry under the right version is believed, which shows the tests above
        // failed for the right reason.
        fs::write(&state, lie.replace("\"version\": 2", "\"version\": 1")).unwrap();
        let h = Hasher::open(tmp.path(), &state);
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap().hash, hash_bytes(b"lie"));
        // An unreadable state path (a folder) is an empty table too.
        let h = Hasher::open(tmp.path(), tmp.path());
        assert_eq!(h.hash(&rp("f")).unwrap().unwrap().hash, hash_bytes(b"real"));
    }

    #[test]
    fn recent_files_are_not_remembered() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("fresh");
        fs::write(&p, b"aaaa").unwrap();
        // Modified "now" as the clock of a busy machine may see it: still within the window
        // when its bytes are read.
        let t = SystemTime::now() + Duration::from_millis(200);
        set_mtime(&p, t);
        let h = Hasher::open(tmp.path(), &tmp.path().join("state"));
        h.hash(&rp("fresh")).unwrap();
        // The forged bytes are read, not a remembered hash.
        forge(&p, b"bbbb", t);
        assert_eq!(
            h.hash(&rp("fresh")).unwrap().unwrap().hash,
            hash_bytes(b"bbbb")
        );
        // Nor is a file from the future.
        set_mtime(&p, SystemTime::now() + Duration::from_secs(3600));
        h.hash(&rp("fresh")).unwrap();
        h.save().unwrap();
        assert!(!tmp.path().join("state").exists());
    }

    #[test]
    fn a_file_written_a_moment_ago_is_remembered_by_the_next_command() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        // 50 ms before it is read: past the racy window of a filesystem with fine mtimes.
        let small = tmp.path().join("small");
        fs::write(&small, b"aaaa").unwrap();
        let t = SystemTime::now() - Duration::from_millis(50) + Duration::from_nanos(1);
        set_mtime(&small, t);
        // A big file just written, within the window: remembered all the same.
        let big = tmp.path().join("big");
        fs::write(&big, vec![b'a'; 1 << 20]).unwrap();
        let big_t = fs::metadata(&big).unwrap().modified().unwrap();
        let h = Hasher::open(tmp.path(), &state);
        h.hash(&rp("small")).unwrap();
        h.hash(&rp("big")).unwrap();
        h.save().unwrap();

        forge(&small, b"bbbb", t);
        forge(&big, &[b'b'; 1 << 20], big_t);
        let h = Hasher::open(tmp.path(), &state);
        assert_eq!(
            h.hash(&rp("small")).unwrap().unwrap().hash,
            hash_bytes(b"aaaa"),
            "trusted: the bytes were not read again"
        );
        assert_eq!(
            h.hash(&rp("big")).unwrap().unwrap().hash,
            hash_bytes(&[b'a'; 1 << 20])
        );
    }

    #[test]
    fn settled_boundary() {
        let base = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let stamp = |ns: i64| Stamp {
            ino: 1,
            mtime_ns: ns,
            size: 0,
        };
        let now_ns = 1_000_000 * 1_000_000_000;
        assert!(stamp(now_ns - RACY_NS - 1).settled(base));
        assert!(!stamp(now_ns - RACY_NS + 1).settled(base));
        assert!(!stamp(now_ns + 5).settled(base));
        assert!(!stamp(0).settled(UNIX_EPOCH - Duration::from_secs(1)));
        // A whole-second mtime may come from a filesystem that keeps nothing finer.
        assert!(!stamp(now_ns - 1_000_000_000).settled(base));
        assert!(stamp(now_ns - RACY_COARSE_NS).settled(base));
    }

    #[test]
    fn a_vanished_file_is_dropped_from_the_table() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        write_old(&tmp.path().join("f"), b"x");
        let h = Hasher::open(tmp.path(), &state);
        h.hash(&rp("f")).unwrap();
        h.save().unwrap();
        fs::remove_file(tmp.path().join("f")).unwrap();
        assert_eq!(h.hash(&rp("f")).unwrap(), None);
        h.save().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
        assert_eq!(json["files"], serde_json::json!({}));
    }

    #[test]
    fn retain_under_touches_only_that_folder() {
        let mut t = StateTable::default();
        let s = Stamp {
            ino: 1,
            mtime_ns: 1,
            size: 1,
        };
        for k in ["d", "d/a", "d/b/c", "d.txt", "d0/x", "dd/a", "e"] {
            t.insert(k, s, "h");
        }
        t.retain_under("d", |rel| rel == "b/c");
        let keys: Vec<&str> = t.files.keys().map(String::as_str).collect();
        assert_eq!(keys, ["d", "d.txt", "d/b/c", "d0/x", "dd/a", "e"]);
        t.remove("d");
        let keys: Vec<&str> = t.files.keys().map(String::as_str).collect();
        assert_eq!(keys, ["d.txt", "d0/x", "dd/a", "e"]);
    }
}
