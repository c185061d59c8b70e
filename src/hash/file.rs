//! Hashing one file: the state table first, then the bytes (read and hashed on all cores when
//! big), counted as they are hashed.

use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use super::progress::Progress;
use super::state::{Stamp, StateTable};
use super::{HashError, HashInfo, lock, tree};

/// From this size on, a file is hashed on all cores; below it the thread start-up costs more
/// than it saves.
const PARALLEL_MIN: u64 = 1 << 20;

/// The hash of the regular file at `abs`, whose stamp is `stamp`: the state table's if the file
/// has not moved, else read and counted as an item of `progress`. `key` is its repository path:
/// its name in the state table, in errors and on the bar.
pub(crate) fn hash(
    state: &Mutex<StateTable>,
    progress: &Progress,
    key: &str,
    abs: &Path,
    stamp: Stamp,
) -> Result<HashInfo, HashError> {
    if let Some(info) = remembered(state, key, &stamp) {
        return Ok(info);
    }
    let _item = progress.item(key, stamp.size());
    read(state, progress, key, abs, stamp)
}

/// The hash the state table holds for `key` if the file's stamp is still `stamp`.
pub(crate) fn remembered(state: &Mutex<StateTable>, key: &str, stamp: &Stamp) -> Option<HashInfo> {
    let hash = lock(state).lookup(key, stamp)?;
    Some(file_info(hash, stamp.size()))
}

/// The hash of the file's bytes, read now whatever the state table says, and remembered there.
/// Its bytes are counted in `progress` as they are hashed.
pub(crate) fn read(
    state: &Mutex<StateTable>,
    progress: &Progress,
    key: &str,
    abs: &Path,
    stamp: Stamp,
) -> Result<HashInfo, HashError> {
    let read_err = |source| HashError::Read {
        path: key.to_string(),
        source,
    };
    let started = SystemTime::now();
    let (hash, size) = digest(abs, stamp.size(), progress).map_err(read_err)?;
    // Stored only when the file provably held still while it was read (same stamp before and
    // after, every byte seen) and its mtime was old enough when the reading began that a later
    // write moves it; or, still within that window, for a big file, which is not rewritten in
    // place to the same size within one tick of the clock (so that the second look at a big
    // file just written, by this run or the next command, is free). A stage's outs are
    // forgotten before it runs.
    let after = fs::metadata(abs).map_err(read_err)?;
    if size == stamp.size()
        && Stamp::of(&after) == stamp
        && (stamp.settled(started) || size >= PARALLEL_MIN)
    {
        lock(state).insert(key, stamp, &hash);
    }
    Ok(file_info(hash, size))
}

fn file_info(hash: String, size: u64) -> HashInfo {
    HashInfo {
        hash,
        size,
        nfiles: None,
    }
}

/// blake3 of the file's bytes as hex, and how many bytes were hashed. `size` (from a stat) only
/// picks the method: both give the same digest.
fn digest(path: &Path, size: u64, progress: &Progress) -> io::Result<(String, u64)> {
    let file = File::open(path)?;
    if size >= PARALLEL_MIN {
        // The length the file has now, which the tree's shape is planned on.
        let len = file.metadata()?.len();
        match tree::digest(&file, len, tree::LEAF, progress) {
            Ok(hash) => return Ok((hash.to_hex().to_string(), len)),
            // It shrank while it was read: hash what it holds now.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => progress.more(len),
            Err(e) => return Err(e),
        }
    }
    let mut hasher = blake3::Hasher::new();
    // Streams through a 64 KiB buffer, from the start: the tree's reads never move the cursor.
    hasher.update_reader(&file)?;
    progress.advance(hasher.count());
    Ok((hasher.finalize().to_hex().to_string(), hasher.count()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::tree::tests::noise;
    use crate::hash::{Hasher, hash_bytes};
    use crate::repo_path::RepoPath;

    fn check_file(content: &[u8]) {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("f.bin"), content).unwrap();
        let h = Hasher::open(tmp.path(), &tmp.path().join(".wf/state"));
        let info = h
            .hash(&RepoPath::root().join("f.bin").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(info.hash, blake3::hash(content).to_hex().as_str());
        assert_eq!(info.hash.len(), 64);
        assert!(
            info.hash
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_eq!(info.size, content.len() as u64);
        assert_eq!(info.nfiles, None);
    }

    #[test]
    fn small_file_is_blake3_of_its_bytes() {
        check_file(b"hello, world\n");
    }

    #[test]
    fn empty_file() {
        check_file(b"");
    }

    #[test]
    fn big_file_is_hashed_in_parallel_and_gives_the_same_digest() {
        check_file(&noise(3 << 20, 7));
    }

    #[test]
    fn both_methods_agree_around_the_threshold() {
        let tmp = tempfile::tempdir().unwrap();
        let content = noise((PARALLEL_MIN + 12_345) as usize, 3);
        for len in [
            0,
            1,
            16_383,
            65_537,
            PARALLEL_MIN as usize - 1,
            PARALLEL_MIN as usize,
            content.len(),
        ] {
            let p = tmp.path().join(format!("f{len}"));
            fs::write(&p, &content[..len]).unwrap();
            let want = hash_bytes(&content[..len]);
            assert_eq!(
                digest(&p, 0, &Progress::off()).unwrap(),
                (want.clone(), len as u64),
                "streamed {len}"
            );
            assert_eq!(
                digest(&p, u64::MAX, &Progress::off()).unwrap(),
                (want, len as u64),
                "parallel {len}"
            );
        }
    }

    #[test]
    fn unreadable_file_names_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("secret");
        fs::write(&p, b"x").unwrap();
        let stamp = Stamp::of(&fs::metadata(&p).unwrap());
        let state = Mutex::new(StateTable::default());
        // Root reads anything; the path test does not need permissions, so remove the file.
        fs::remove_file(&p).unwrap();
        let err = hash(&state, &Progress::off(), "d/secret", &p, stamp).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read `d/secret`: "),
            "{err}"
        );
    }

    #[test]
    fn read_bytes_are_counted_and_remembered_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let state = Mutex::new(StateTable::default());
        let progress = Progress::counting();
        let _run = progress.run();
        for (name, len) in [("small", 1000), ("big", PARALLEL_MIN as usize + 4321)] {
            let p = tmp.path().join(name);
            fs::write(&p, noise(len, 9)).unwrap();
            let old = SystemTime::now() - std::time::Duration::from_secs(60);
            File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(old)
                .unwrap();
            let stamp = Stamp::of(&fs::metadata(&p).unwrap());
            let before = progress.counts();
            hash(&state, &progress, name, &p, stamp).unwrap();
            let read = progress.counts();
            assert_eq!(
                read,
                (before.0 + len as u64, before.1 + len as u64),
                "{name}"
            );
            // The second time, the state table answers: nothing is read or counted.
            hash(&state, &progress, name, &p, stamp).unwrap();
            assert_eq!(progress.counts(), read, "{name} again");
        }
    }
}
