//! The folder manifest reader: a `.dir` object's JSON into entries, each checked to be a plain
//! relative path inside its folder (no `..`, `.`, empty part or absolute path, none twice, none
//! inside another's file, a blake3 hash), and the rendering of any error.
//!
//! Input: the bytes of a `.dir` object (its hash is not checked here: a manifest that matches
//! its name may still come from a remote wf did not write). Errors are expected; a panic, a
//! hang or unbounded memory is a bug.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wf::cache::parse_manifest;

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.dir";

fuzz_target!(|data: &[u8]| {
    let path = Path::new(
        ".wf/cache/01/23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.dir",
    );
    if let Err(e) = parse_manifest(path, HASH, data) {
        let _ = wf::error::Error::from(e).render(false);
    }
});
