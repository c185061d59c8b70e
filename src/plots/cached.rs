//! A plot file of a git revision that git does not hold: a cached out (git-ignored), read from
//! the cache through the lock of that revision, as DVC reads it through `dvc.lock`.

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::lock::{LOCK_NAME, Lock};
use crate::repo_path::RepoPath;
use crate::spec::{OutKind, Pipeline, Source};

/// A file's bytes, `None` when it is not there.
pub(crate) type Found = Result<Option<Vec<u8>>, Error>;

/// The bytes of `path` at revision `rev`, from the cache, through the lock of its stage as
/// `lock_text` gives it (from git at a commit, or as a recorded run kept it); `None` when the
/// lock does not record it or the cache lacks its object.
pub(crate) fn read_through(
    root: &Path,
    rev: &str,
    pipeline: &Pipeline,
    path: &RepoPath,
    lock_text: &dyn Fn(&RepoPath) -> Found,
) -> Found {
    let producer = pipeline.stages.iter().find(|s| {
        s.outs
            .iter()
            .any(|o| o.kind == OutKind::Plot && o.cache && &o.entry.path == path)
    });
    let Some(stage) = producer else {
        return Ok(None);
    };
    let Some(lock_path) = stage.spec.dir.join(LOCK_NAME) else {
        return Ok(None);
    };
    let Some(text) = lock_text(&lock_path)? else {
        return Ok(None);
    };
    let lock = Lock::parse(&Arc::new(Source {
        name: format!("{rev}:{lock_path}"),
        path: lock_path.to_path(root),
        text: String::from_utf8_lossy(&text).into_owned(),
    }))?;
    let locked = lock.stages.get(&stage.name).and_then(|entry| {
        entry
            .outs
            .iter()
            .find(|o| stage.wdir.join(&o.path).as_ref() == Some(path))
    });
    let Some(locked) = locked.filter(|o| o.nfiles.is_none()) else {
        return Ok(None);
    };
    let cache = crate::cache::Cache::new(
        crate::workspace::cache_dir(root),
        crate::cache::LinkType::Copy,
    );
    match std::fs::read(cache.object_path(&locked.blake3)) {
        Ok(bytes) => Ok(Some(bytes)),
        // Not fetched: as a file missing at that revision.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(super::error::PlotsError::Io {
            action: "read",
            path: format!("{rev}:{path} (cached)"),
            reason: e.to_string(),
        }
        .into()),
    }
}
