//! Hashing one big file on all cores, in leaves read in parallel, so that progress can be
//! counted as it goes.
//!
//! blake3 is a tree hash: the file is split the way blake3 splits any input (a left subtree of the
//! largest power-of-two number of chunks below the length, the rest on the right), down to leaves
//! of at most [`LEAF`] bytes. Each leaf is read with `pread` into a per-thread buffer that stays in
//! the core's cache and hashed there; the chaining values are merged back up to the root. The
//! digest is the same as `blake3::hash` of the whole file (the tests compare them). It replaces
//! `update_mmap_rayon`, which cannot report progress, at no cost in speed (`benches/`, `hash-1g`),
//! and a file that shrinks while it is read is an error instead of a `SIGBUS`.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};

use super::progress::Progress;

/// Bytes per leaf: a power of two of whole chunks, big enough for blake3's SIMD (16 chunks) and
/// small enough to stay in a core's cache between the read and the hashing. Of 32 KiB to
/// 512 KiB, 64 KiB took the least CPU time on the project machine, that of `update_mmap_rayon`;
/// larger leaves took up to an eighth more.
pub(crate) const LEAF: u64 = 64 << 10;

thread_local! {
    /// Each thread reuses one leaf buffer rather than allocating (and page-faulting) a new one.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The blake3 hash of the first `len` bytes of `file`, hashed in leaves of `leaf` bytes (a power
/// of two, at least `blake3::CHUNK_LEN`), each counted in `progress` once hashed. A file shorter
/// than `len` is an `UnexpectedEof` error.
pub(crate) fn digest(
    file: &File,
    len: u64,
    leaf: u64,
    progress: &Progress,
) -> io::Result<blake3::Hash> {
    if len <= leaf {
        let mut hasher = blake3::Hasher::new();
        with_leaf(file, 0, len, |bytes| {
            hasher.update(bytes);
        })?;
        progress.advance(len);
        return Ok(hasher.finalize());
    }
    let left = left_subtree_len(len);
    let (l, r) = rayon::join(
        || subtree(file, 0, left, leaf, progress),
        || subtree(file, left, len - left, leaf, progress),
    );
    Ok(merge_subtrees_root(&l?, &r?, Mode::Hash))
}

/// The chaining value of the subtree of `len` bytes at `offset`.
fn subtree(
    file: &File,
    offset: u64,
    len: u64,
    leaf: u64,
    progress: &Progress,
) -> io::Result<ChainingValue> {
    if len <= leaf {
        let mut hasher = blake3::Hasher::new();
        hasher.set_input_offset(offset);
        with_leaf(file, offset, len, |bytes| {
            hasher.update(bytes);
        })?;
        progress.advance(len);
        return Ok(hasher.finalize_non_root());
    }
    let left = left_subtree_len(len);
    let (l, r) = rayon::join(
        || subtree(file, offset, left, leaf, progress),
        || subtree(file, offset + left, len - left, leaf, progress),
    );
    Ok(merge_subtrees_non_root(&l?, &r?, Mode::Hash))
}

/// Reads `len` bytes at `offset` into this thread's buffer and hands them to `f`.
fn with_leaf(file: &File, offset: u64, len: u64, f: impl FnOnce(&[u8])) -> io::Result<()> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    BUFFER.with_borrow_mut(|buffer| {
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        let bytes = &mut buffer[..len];
        file.read_exact_at(bytes, offset)?;
        f(bytes);
        Ok(())
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fs;

    use super::*;

    /// Deterministic, incompressible-looking bytes.
    pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
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

    #[test]
    fn any_length_and_leaf_size_gives_blake3() {
        let tmp = tempfile::tempdir().unwrap();
        let content = noise(70_000, 11);
        let chunk = blake3::CHUNK_LEN;
        let mut lengths = vec![0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 70_000];
        for k in 1..7 {
            let n = chunk << k;
            lengths.extend([n - 1, n, n + 1, n + chunk, n + 517]);
        }
        let p = tmp.path().join("f");
        for len in lengths {
            fs::write(&p, &content[..len]).unwrap();
            let file = File::open(&p).unwrap();
            for leaf in [1024, 2048, 4096, 16_384, LEAF] {
                assert_eq!(
                    digest(&file, len as u64, leaf, &Progress::off()).unwrap(),
                    blake3::hash(&content[..len]),
                    "length {len}, leaf {leaf}"
                );
            }
        }
    }

    #[test]
    fn every_byte_is_counted_once() {
        let tmp = tempfile::tempdir().unwrap();
        let len = 40_000;
        let p = tmp.path().join("f");
        fs::write(&p, noise(len, 5)).unwrap();
        let file = File::open(&p).unwrap();
        let progress = Progress::counting();
        let _run = progress.run();
        digest(&file, len as u64, 1024, &progress).unwrap();
        assert_eq!(progress.counts().0, len as u64);
    }

    #[test]
    fn a_file_shorter_than_planned_is_an_error_not_a_wrong_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, noise(10_000, 3)).unwrap();
        let file = File::open(&p).unwrap();
        let err = digest(&file, 20_000, 1024, &Progress::off()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
