//! Hashing one file: the state table first, then the bytes (memory-mapped on all cores when big).

use std::fs::{self, File, Metadata};
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use super::state::{Stamp, StateTable};
use super::{HashError, HashInfo, lock};

/// From this size on, a file is memory-mapped and hashed on all cores; below it the thread
/// start-up costs more than it saves.
const MMAP_MIN: u64 = 1 << 20;

/// The hash of the regular file at `abs`, whose metadata is `meta`. `key` is its repository path:
/// its name in the state table and in errors.
pub(crate) fn hash(
    state: &Mutex<StateTable>,
    key: &str,
    abs: &Path,
    meta: &Metadata,
) -> Result<HashInfo, HashError> {
    let stamp = Stamp::of(meta);
    let cached = lock(state).lookup(key, &stamp);
    if let Some(hash) = cached {
        return Ok(file_info(hash, stamp.size()));
    }
    let read_err = |source| HashError::Read {
        path: key.to_string(),
        source,
    };
    let (hash, size) = digest(abs, stamp.size()).map_err(read_err)?;
    // Stored only when the file provably held still while it was read (same stamp before and
    // after, every byte seen) and its mtime is old enough that a later write would move it.
    let after = fs::metadata(abs).map_err(read_err)?;
    if size == stamp.size() && Stamp::of(&after) == stamp && stamp.settled(SystemTime::now()) {
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
fn digest(path: &Path, size: u64) -> io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    if size >= MMAP_MIN {
        hasher.update_mmap_rayon(path)?;
    } else {
        // Streams through a 64 KiB buffer.
        hasher.update_reader(File::open(path)?)?;
    }
    Ok((hasher.finalize().to_hex().to_string(), hasher.count()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{Hasher, hash_bytes};
    use crate::repo_path::RepoPath;

    /// Deterministic, incompressible-looking bytes.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

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
    fn big_file_is_mapped_and_gives_the_same_digest() {
        check_file(&noise(3 << 20, 7));
    }

    #[test]
    fn both_methods_agree_around_the_threshold() {
        let tmp = tempfile::tempdir().unwrap();
        let content = noise((MMAP_MIN + 12_345) as usize, 3);
        for len in [
            0,
            1,
            16_383,
            65_537,
            MMAP_MIN as usize - 1,
            MMAP_MIN as usize,
            content.len(),
        ] {
            let p = tmp.path().join(format!("f{len}"));
            fs::write(&p, &content[..len]).unwrap();
            let want = hash_bytes(&content[..len]);
            assert_eq!(
                digest(&p, 0).unwrap(),
                (want.clone(), len as u64),
                "read {len}"
            );
            assert_eq!(
                digest(&p, u64::MAX).unwrap(),
                (want, len as u64),
                "mmap {len}"
            );
        }
    }

    #[test]
    fn unreadable_file_names_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("secret");
        fs::write(&p, b"x").unwrap();
        let meta = fs::metadata(&p).unwrap();
        let state = Mutex::new(StateTable::default());
        // Root reads anything; the path test does not need permissions, so remove the file.
        fs::remove_file(&p).unwrap();
        let err = hash(&state, "d/secret", &p, &meta).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read `d/secret`: "),
            "{err}"
        );
    }
}
