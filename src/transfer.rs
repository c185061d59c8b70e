//! Moving cache objects between the cache and a remote: only what the other side lacks, many at
//! a time, each download checked against its hash before it enters the cache, reporting its
//! progress to whoever draws it.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use futures::StreamExt;
use serde::Serialize;

use crate::cache::{Cache, refs};
use crate::hash::HashInfo;
use crate::progress::{Progress, Sink};
use crate::remote::{Remote, RemoteError};

/// What a transfer did.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Objects moved.
    pub transferred: usize,
    /// Objects the other side had already.
    pub present: usize,
    /// Objects that could not be moved, with why.
    pub failed: Vec<String>,
    /// Objects not tried because the remote had failed as a whole (see
    /// [`RemoteError::is_remote_down`]): the next run moves them.
    pub not_attempted: usize,
    /// Whether the remote failed as a whole.
    #[serde(skip)]
    pub remote_down: bool,
}

/// The blake3 a key's content must have: the key without its `/` and `.dir`.
fn expected_hash(key: &str) -> Option<String> {
    let last = key
        .strip_prefix("runs/")
        .map_or(key, |rest| rest.rsplit('/').next().unwrap_or(rest));
    if key.starts_with("runs/") {
        return Some(last.to_string());
    }
    Some(
        key.replacen('/', "", 1)
            .trim_end_matches(".dir")
            .to_string(),
    )
}

/// Uploads the keys the remote lacks (keys missing from the cache are reported as failed).
pub async fn push(
    remote: &Remote,
    cache_dir: &Path,
    keys: &BTreeSet<String>,
    jobs: usize,
    progress: Option<Sink>,
) -> Result<Summary, RemoteError> {
    let there: HashSet<String> = remote.list().await?;
    Ok(upload_missing(remote, cache_dir, keys, &there, jobs, progress).await)
}

/// [`push`] for a handful of keys (a stage's inputs or outputs): each is checked on the remote
/// by itself instead of listing the whole remote.
pub async fn push_few(
    remote: &Remote,
    cache_dir: &Path,
    keys: &BTreeSet<String>,
    jobs: usize,
) -> Result<Summary, RemoteError> {
    // Past this many keys one listing costs less than a request per key.
    const FEW: usize = 256;
    if keys.len() > FEW {
        return push(remote, cache_dir, keys, jobs, None).await;
    }
    let checked: Vec<Result<bool, RemoteError>> = futures::stream::iter(keys.iter().cloned())
        .map(|k| async move { remote.has(&k).await })
        .buffered(jobs.max(1))
        .collect()
        .await;
    let mut there = HashSet::new();
    for (k, has) in keys.iter().zip(checked) {
        if has? {
            there.insert(k.clone());
        }
    }
    Ok(upload_missing(remote, cache_dir, keys, &there, jobs, None).await)
}

/// Uploads the keys not `there`, `jobs` at a time.
async fn upload_missing(
    remote: &Remote,
    cache_dir: &Path,
    keys: &BTreeSet<String>,
    there: &HashSet<String>,
    jobs: usize,
    progress: Option<Sink>,
) -> Summary {
    let mut summary = Summary::default();
    let mut todo = Vec::new();
    for k in keys {
        if there.contains(k) {
            summary.present += 1;
        } else if !cache_dir.join(k).is_file() {
            summary
                .failed
                .push(format!("`{k}` is not in the local cache"));
        } else {
            todo.push(k.clone());
        }
    }
    let moved = many(todo, "pushing", jobs, progress, |k| async move {
        remote.upload(&k, &cache_dir.join(&k)).await
    })
    .await;
    summary.add(moved);
    summary
}

/// Downloads the keys the cache lacks.
pub async fn fetch(
    remote: &Remote,
    cache: &Cache,
    keys: &BTreeSet<String>,
    jobs: usize,
    progress: Option<Sink>,
) -> Result<Summary, RemoteError> {
    let mut summary = Summary::default();
    let todo: Vec<String> = keys
        .iter()
        .filter(|k| {
            let have = cache.dir().join(k).is_file();
            if have {
                summary.present += 1;
            }
            !have
        })
        .cloned()
        .collect();
    let moved = many(todo, "fetching", jobs, progress, |k| async move {
        fetch_one(remote, cache, &k).await
    })
    .await;
    summary.add(moved);
    Ok(summary)
}

/// Downloads what `infos` need that the cache lacks, and the `extra` keys: folders' manifests
/// first, as they name the files to fetch next.
pub async fn fetch_infos(
    remote: &Remote,
    cache: &Cache,
    infos: &[HashInfo],
    extra: BTreeSet<String>,
    jobs: usize,
    progress: Option<Sink>,
) -> Result<Summary, RemoteError> {
    let manifests: BTreeSet<String> = infos
        .iter()
        .filter(|i| i.hash.ends_with(".dir"))
        .map(|i| refs::key(&i.hash))
        .collect();
    let first = fetch(remote, cache, &manifests, jobs, progress.clone()).await?;
    let mut keys = refs::object_keys(cache, infos);
    keys.extend(extra);
    if first.remote_down {
        // The files the missing manifests name are unknown: count what is known to be needed.
        let mut s = first;
        s.not_attempted += keys
            .iter()
            .filter(|k| !manifests.contains(*k) && !cache.dir().join(k).is_file())
            .count();
        return Ok(s);
    }
    let mut s = fetch(remote, cache, &keys, jobs, progress).await?;
    // The manifests fetched first count once, as transferred.
    s.transferred += first.transferred;
    s.present -= first.transferred.min(s.present);
    s.failed.extend(first.failed);
    s.not_attempted += first.not_attempted;
    s.remote_down |= first.remote_down;
    Ok(s)
}

/// What became of one key.
enum Outcome {
    Done(Result<(), RemoteError>),
    /// Not tried: the remote had already failed as a whole.
    NotAttempted,
}

/// Runs `each` on every key, `jobs` at a time, reporting how many are done. Once one fails
/// because the remote itself failed (after the store's own retries), the keys not yet started
/// are not tried: they would each wait through the same retries for the same answer.
async fn many<F, Fut>(
    todo: Vec<String>,
    what: &'static str,
    jobs: usize,
    progress: Option<Sink>,
    each: F,
) -> Vec<Outcome>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), RemoteError>>,
{
    let total = todo.len() as u64;
    let report = |done: u64, finished: bool| {
        if let Some(sink) = &progress
            && total > 0
        {
            sink(Progress {
                kind: what,
                message: what.to_string(),
                done,
                total,
                bytes: false,
                finished,
            });
        }
    };
    let done = std::sync::atomic::AtomicU64::new(0);
    let down = std::sync::atomic::AtomicBool::new(false);
    let results = futures::stream::iter(todo)
        .map(|k| {
            let (done, down, report, each) = (&done, &down, &report, &each);
            async move {
                if down.load(std::sync::atomic::Ordering::Relaxed) {
                    return Outcome::NotAttempted;
                }
                let r = each(k).await;
                if r.as_ref().is_err_and(RemoteError::is_remote_down) {
                    down.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                report(n, false);
                Outcome::Done(r)
            }
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    report(total, true);
    results
}

impl Summary {
    fn add(&mut self, results: Vec<Outcome>) {
        for r in results {
            match r {
                Outcome::Done(Ok(())) => self.transferred += 1,
                Outcome::Done(Err(e)) => {
                    self.remote_down |= e.is_remote_down();
                    self.failed.push(e.to_string());
                }
                Outcome::NotAttempted => self.not_attempted += 1,
            }
        }
    }
}

async fn fetch_one(remote: &Remote, cache: &Cache, key: &str) -> Result<(), RemoteError> {
    let dst = cache.dir().join(key);
    let parent = dst.parent().unwrap_or(cache.dir()).to_path_buf();
    let io = |source| RemoteError::Io {
        action: "write",
        path: parent.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&parent).map_err(io)?;
    // Downloaded beside its final name and renamed only once its hash is checked: a partial or
    // corrupted download never enters the cache.
    let tmp = tempfile::NamedTempFile::new_in(&parent).map_err(io)?;
    remote
        .download(key, tmp.path(), expected_hash(key).as_deref())
        .await?;
    let mut perms = std::fs::metadata(tmp.path()).map_err(io)?.permissions();
    perms.set_readonly(true);
    let _ = std::fs::set_permissions(tmp.path(), perms);
    tmp.persist(&dst).map_err(|e| io(e.error))?;
    Ok(())
}

/// Every run-cache entry on the remote, as keys.
pub async fn remote_runs(remote: &Remote) -> Result<BTreeSet<String>, RemoteError> {
    Ok(remote
        .list()
        .await?
        .into_iter()
        .filter(|k| k.starts_with("runs/"))
        .collect())
}

/// Every run-cache entry in the local cache, as keys.
pub fn local_runs(cache_dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(cache_dir.join("runs"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            Some(
                e.path()
                    .strip_prefix(cache_dir)
                    .ok()?
                    .to_string_lossy()
                    .replace('\\', "/"),
            )
        })
        .collect()
}

/// What `wf push`, `wf fetch`, `wf pull` and `repro --pull` move: the objects the targets
/// track, with the cache and the remote they move between.
pub struct Objects {
    /// The local cache.
    pub cache: Cache,
    /// The remote.
    pub remote: Remote,
    /// Everything the targets track.
    pub tracked: Vec<refs::Tracked>,
    /// The cached ones' contents.
    pub infos: Vec<HashInfo>,
}

impl Objects {
    /// What `targets` (default: everything) track, with the remote `remote` (default: the
    /// default one).
    pub fn open(
        repo: &crate::repo::Repo,
        targets: &[String],
        remote: Option<&str>,
    ) -> Result<Objects, crate::error::Error> {
        let config = crate::config::Config::load(&repo.root)?;
        let cache = crate::workspace::cache(&repo.root, &config)?;
        let remote = Remote::open(&repo.root, &config, remote)?;
        let tracked = crate::checkout::tracked(repo, targets)?;
        let infos = tracked
            .iter()
            .filter(|t| t.cached)
            .map(|t| t.info.clone())
            .collect();
        Ok(Objects {
            cache,
            remote,
            tracked,
            infos,
        })
    }

    /// Downloads what the cache lacks (and, with `run_cache`, the remote's recorded runs).
    pub async fn fetch(
        &self,
        jobs: usize,
        run_cache: bool,
        progress: Option<Sink>,
    ) -> Result<Summary, RemoteError> {
        let runs = if run_cache {
            remote_runs(&self.remote).await?
        } else {
            BTreeSet::new()
        };
        fetch_infos(&self.remote, &self.cache, &self.infos, runs, jobs, progress).await
    }

    /// Uploads what the remote lacks (and, with `run_cache`, the recorded runs).
    pub async fn push(
        &self,
        jobs: usize,
        run_cache: bool,
        progress: Option<Sink>,
    ) -> Result<Summary, RemoteError> {
        let mut keys = refs::object_keys(&self.cache, &self.infos);
        if run_cache {
            keys.extend(local_runs(self.cache.dir()));
        }
        push(&self.remote, self.cache.dir(), &keys, jobs, progress).await
    }
}

/// `fetched 3 objects (2 already there) with remote `origin` (URL)`.
pub fn describe(verb: &str, remote: &Remote, s: &Summary) -> String {
    format!(
        "{verb} {} objects ({} already there) with remote `{}` ({})",
        s.transferred, s.present, remote.name, remote.url
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_hash() {
        assert_eq!(expected_hash("ab/cdef").as_deref(), Some("abcdef"));
        assert_eq!(expected_hash("ab/cdef.dir").as_deref(), Some("abcdef"));
        assert_eq!(expected_hash("runs/ab/abkey/0123").as_deref(), Some("0123"));
    }
}
