//! What the cache must hold for a workspace: every locked out of the selected stages and every
//! path tracked by `wf add`, as (path, hash) pairs; and the object keys they expand to.

use std::collections::BTreeSet;
use std::path::Path;

use super::Cache;
use crate::hash::HashInfo;
use crate::lock::LockSet;
use crate::pointer::{self, Pointer};
use crate::repo_path::RepoPath;
use crate::spec::Pipeline;

/// A path the workspace should hold, with its locked content.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The path from the root.
    pub path: RepoPath,
    /// Its content.
    pub info: HashInfo,
    /// Whether it lives in the cache (`cache: false` outs do not).
    pub cached: bool,
}

/// The locked outs of `stages` (their `locks`) and, with `pointers`, every `wf add`ed path.
pub fn tracked(
    root: &Path,
    p: &Pipeline,
    locks: &LockSet,
    stages: &BTreeSet<usize>,
    pointers: bool,
) -> Result<Vec<Tracked>, String> {
    let mut out = Vec::new();
    for &i in stages {
        let stage = &p.stages[i];
        let Some(entry) = locks.entry(stage) else {
            continue;
        };
        for o in &stage.outs {
            if let Some(l) = entry.outs.iter().find(|l| l.path == o.entry.written) {
                out.push(Tracked {
                    path: o.entry.path.clone(),
                    info: l.info(),
                    cached: o.cache,
                });
            }
        }
    }
    if pointers {
        for file in pointer::discover(root) {
            let ptr = Pointer::read(&file.to_path(root))?;
            let dir = file.parent();
            for o in ptr.outs {
                if let Some(path) = dir.join(&o.path) {
                    out.push(Tracked {
                        path,
                        info: o.info(),
                        cached: true,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The object keys (cache-relative paths) of these contents; a folder's files are known only
/// once its manifest is in the local cache (fetch reads it first).
pub fn object_keys(cache: &Cache, infos: &[HashInfo]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for info in infos {
        keys.insert(key(&info.hash));
        if info.hash.ends_with(".dir")
            && let Ok(entries) = cache.read_manifest(&info.hash)
        {
            keys.extend(entries.iter().map(|e| key(&e.hash)));
        }
    }
    keys
}

/// The cache-relative key of a hash: `ab/cdef…`.
pub fn key(hash: &str) -> String {
    let (head, tail) = hash.split_at(hash.len().min(2));
    format!("{head}/{tail}")
}
