//! A folder's manifest as read from the cache: parsed, then checked to be safe to write out
//! before anything is, since a manifest may come from a remote or a lock that wf did not write.

use std::collections::BTreeSet;

use crate::hash::{ManifestEntry, is_blake3};

/// Checks every entry of a manifest: a plain relative path inside its folder (no `..`, `.` or
/// empty part, not absolute), each once, none inside another's file, naming a blake3 object.
/// Returns what is wrong, in words.
pub(super) fn check(entries: &[ManifestEntry]) -> Result<(), String> {
    let mut files: BTreeSet<&str> = BTreeSet::new();
    for e in entries {
        let p = e.relpath.as_str();
        let bad = |what: &str| Err(format!("its entry `{p}` {what}"));
        if p.is_empty() {
            return Err("it has an entry with an empty path".into());
        }
        if p.starts_with('/') {
            return bad("is an absolute path: entries must be relative to their folder");
        }
        for part in p.split('/') {
            match part {
                "" => return bad("has an empty part (`//` or a trailing `/`)"),
                "." => return bad("has a `.` part: entries are written without one"),
                ".." => return bad("has a `..` part: entries must stay inside their folder"),
                _ => {}
            }
        }
        if !is_blake3(&e.hash) {
            return bad("names no blake3 object (its hash is not 64 lowercase hex digits)");
        }
        if !files.insert(p) {
            return bad("is listed twice");
        }
    }
    // A file cannot also be the folder of another entry: writing one would go through the other.
    for p in &files {
        for (i, _) in p.match_indices('/') {
            if files.contains(&p[..i]) {
                return Err(format!(
                    "its entry `{}` is a file and also the folder of its entry `{p}`",
                    &p[..i]
                ));
            }
        }
    }
    Ok(())
}

/// serde_json's error in wf's words, with its place.
pub(super) fn json(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Syntax => "not valid JSON".to_string(),
        serde_json::error::Category::Eof => "the JSON ends early".to_string(),
        // serde's own messages ("missing field `hash`") read well; drop serde_json's place.
        _ => {
            let text = e.to_string();
            text.rsplit_once(" at line ")
                .map_or(text.as_str(), |(m, _)| m)
                .to_string()
        }
    };
    format!("{what} at line {}, column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn manifest(paths: &[&str]) -> Vec<ManifestEntry> {
        paths
            .iter()
            .map(|p| ManifestEntry {
                relpath: (*p).to_string(),
                hash: H.into(),
                size: 1,
            })
            .collect()
    }

    #[track_caller]
    fn case(paths: &[&str], expected: Option<&str>) {
        match (check(&manifest(paths)), expected) {
            (Ok(_), None) => {}
            (Err(e), Some(part)) => assert!(e.contains(part), "{paths:?}: {e}"),
            (r, _) => panic!("{paths:?}: {r:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn entries_must_be_plain_relative_paths_inside_the_folder() {
        case(&["a.txt", "sub/b.txt", "sub/c/d", "..x", "a..b"], None);
        case(&["../../x"], Some("`../../x` has a `..` part"));
        case(&["a/../../x"], Some("`..` part"));
        case(&["/etc/passwd"], Some("`/etc/passwd` is an absolute path"));
        case(&[""], Some("an empty path"));
        case(&["a//b"], Some("an empty part"));
        case(&["a/"], Some("an empty part"));
        case(&["./a"], Some("a `.` part"));
        case(&["a", "a"], Some("`a` is listed twice"));
        case(
            &["a", "a/b"],
            Some("`a` is a file and also the folder of its entry `a/b`"),
        );
        case(
            &["a/b/c", "a/b"],
            Some("`a/b` is a file and also the folder"),
        );
    }

    #[test]
    fn hashes_must_be_blake3() {
        let mut m = manifest(&["a"]);
        m[0].hash = "ab/../../x".into();
        assert!(check(&m).unwrap_err().contains("names no blake3 object"));
        m[0].hash = H.to_uppercase();
        assert!(check(&m).is_err());
    }
}
