//! Garbage collection: remove cache objects (and, asked, remote objects) that no lock or pointer
//! refers to: those of the workspace, and of the git revisions named. Run-cache entries whose
//! outs are gone go too, as they can never be restored.

use std::collections::BTreeSet;

use crate::cache::refs;
use crate::config::Config;
use crate::error::Error;
use crate::git::{Git, Purpose};
use crate::hash::HashInfo;
use crate::lock::{LOCK_NAME, Lock};
use crate::pointer::{self, Pointer, PointerError};
use crate::remote::Remote;
use crate::repo::Repo;
use crate::repo_lock::RepoLock;
use crate::repo_path::RepoPath;
use crate::spec::Pipeline;
use crate::workspace;

/// What to keep and where to clean.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Also keep what these git revisions refer to.
    pub revs: Vec<String>,
    /// Also keep what every commit refers to.
    pub all_commits: bool,
    /// Only say what would go.
    pub dry: bool,
    /// Also clean this remote (`Some(None)`: the default one).
    pub remote: Option<Option<String>>,
}

/// What a collection removed (or, `dry`, would remove).
#[derive(Debug, Default)]
pub struct Collected {
    /// The cache objects removed, as cache-relative keys.
    pub removed: Vec<String>,
    /// How many objects the cache held.
    pub present: usize,
    /// Run-cache entries removed.
    pub runs_removed: usize,
    /// The remote cleaned: its name, the objects removed from it, and how many it held.
    pub remote: Option<(String, Vec<String>, usize)>,
}

/// Collects the repository's garbage.
pub fn collect(repo: &Repo, opts: &GcOptions) -> Result<Collected, Error> {
    let _lock = RepoLock::acquire(&repo.root)?;
    let config = Config::load(&repo.root)?;
    let cache = workspace::cache(&repo.root, &config)?;
    let mut infos = workspace_refs(repo)?;
    if opts.all_commits || !opts.revs.is_empty() {
        let first = opts.revs.first().map_or("HEAD", String::as_str);
        let git = Git::open(&repo.root, first, Purpose::Keep)?;
        let mut revs = opts.revs.clone();
        if opts.all_commits {
            revs.extend(git.commits()?);
        }
        for rev in &revs {
            infos.extend(rev_refs(&git, rev)?);
        }
    }
    let keep = refs::object_keys(&cache, &infos);
    let mut present: BTreeSet<String> = BTreeSet::new();
    for e in walkdir::WalkDir::new(cache.dir())
        .min_depth(2)
        .into_iter()
        .flatten()
    {
        let Ok(rel) = e.path().strip_prefix(cache.dir()) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if e.file_type().is_file() && !rel.starts_with("runs/") {
            present.insert(rel);
        }
    }
    let mut done = Collected {
        present: present.len(),
        ..Collected::default()
    };
    for k in present.into_iter().filter(|k| !keep.contains(k)) {
        if !opts.dry {
            crate::cache::remove(&cache.dir().join(&k))?;
        }
        done.removed.push(k);
    }
    if !opts.dry {
        for key in crate::transfer::local_runs(cache.dir()) {
            let path = cache.dir().join(&key);
            let usable = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::lock::Entry>(&b).ok())
                .is_some_and(|e| e.outs.iter().all(|o| cache.contains(&o.info())));
            if !usable {
                crate::cache::remove(&path)?;
                done.runs_removed += 1;
            }
        }
    }
    if let Some(name) = &opts.remote {
        let remote = Remote::open(&repo.root, &config, name.as_deref())?;
        let rt = crate::exec::runtime()?;
        let listed = rt.block_on(remote.list())?;
        let gone: Vec<String> = listed
            .iter()
            .filter(|k| !k.starts_with("runs/") && !keep.contains(*k))
            .cloned()
            .collect();
        if !opts.dry {
            for k in &gone {
                rt.block_on(remote.delete(k))?;
            }
        }
        done.remote = Some((remote.name.clone(), gone, listed.len()));
    }
    Ok(done)
}

/// Every content the workspace's locks (all entries) and pointers record.
fn workspace_refs(repo: &Repo) -> Result<Vec<HashInfo>, Error> {
    let mut infos = Vec::new();
    if let Ok(p) = Pipeline::load(&repo.root, &repo.cwd, &[]) {
        for spec in &p.specs {
            let lock = Lock::read(&repo.root, &spec.dir)?;
            infos.extend(
                lock.stages
                    .values()
                    .flat_map(|e| e.outs.iter().map(|o| o.info())),
            );
        }
    }
    for file in pointer::discover(&repo.root) {
        let p =
            Pointer::read(&file.to_path(&repo.root)).map_err(|message| PointerError { message })?;
        infos.extend(p.outs.iter().map(|o| o.info()));
    }
    Ok(infos)
}

/// What a git revision's locks and pointers record.
fn rev_refs(git: &Git, rev: &str) -> Result<Vec<HashInfo>, Error> {
    let mut infos = Vec::new();
    for file in git.ls_tree(rev, &RepoPath::root())? {
        let name = file.as_str().rsplit('/').next().unwrap_or_default();
        if name != LOCK_NAME && !name.ends_with(pointer::SUFFIX) {
            continue;
        }
        let Some(bytes) = git.show(rev, &file)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if name == LOCK_NAME {
            if let Ok(lock) = serde_saphyr::from_str::<Lock>(&text) {
                infos.extend(
                    lock.stages
                        .values()
                        .flat_map(|e| e.outs.iter().map(|o| o.info())),
                );
            }
        } else if let Ok(p) = serde_saphyr::from_str::<Pointer>(&text) {
            infos.extend(p.outs.iter().map(|o| o.info()));
        }
    }
    Ok(infos)
}
