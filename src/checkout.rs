//! Checkout: what the workspace should hold (every locked out and every `wf add`ed path) and
//! putting it back from the cache. Used by `wf checkout`, `wf pull` and `wf repro --pull`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::cache::Cache;
use crate::cache::refs::{self, Tracked};
use crate::dag::Dag;
use crate::error::Error;
use crate::hash::Hasher;
use crate::lock::LockSet;
use crate::pointer::PointerError;
use crate::repo::Repo;
use crate::select::{self, Reach};
use crate::spec::Pipeline;
use crate::target;
use crate::workspace;

/// What the targets' stages (default: all) and, without targets, the `wf add`ed paths track.
pub fn tracked(repo: &Repo, targets: &[String]) -> Result<Vec<Tracked>, Error> {
    let extra = target::named_specs(&repo.root, &repo.cwd, targets);
    let pipeline = Pipeline::load(&repo.root, &repo.cwd, &extra).or_else(|e| match e {
        // A repository with only `wf add`ed data has no spec.
        crate::spec::SpecError::NoSpec { .. } => Ok(Pipeline {
            root: repo.root.clone(),
            specs: vec![],
            stages: vec![],
        }),
        e => Err(e),
    })?;
    let stages: BTreeSet<usize> = if targets.is_empty() {
        (0..pipeline.stages.len()).collect()
    } else {
        let dag = Dag::build(&pipeline)?;
        let t = select::targets(&repo.cwd, &pipeline, targets, false)?;
        select::stages(&pipeline, &dag, &t, Reach::Single)
    };
    let locks = LockSet::read(&repo.root, &pipeline, &stages)?;
    Ok(
        refs::tracked(&repo.root, &pipeline, &locks, &stages, targets.is_empty())
            .map_err(|message| PointerError { message })?,
    )
}

/// What a checkout did.
#[derive(Debug, Default)]
pub struct Restored {
    /// The paths put back.
    pub restored: Vec<String>,
    /// Paths that differ from the cache and were kept (no `force`).
    pub refused: Vec<String>,
}

/// Puts each cached tracked path that differs (or is missing) back from the cache; with `force`
/// also over a changed one, with `relink` also over an equal one.
pub fn restore(
    root: &Path,
    cache: &Cache,
    tracked: &[Tracked],
    force: bool,
    relink: bool,
    progress: Option<crate::progress::Sink>,
) -> Result<Restored, Error> {
    let hasher = Hasher::open(root, &workspace::state_path(root)).with_progress(progress);
    let mut done = Restored::default();
    for t in tracked.iter().filter(|t| t.cached) {
        let now = hasher.hash(&t.path)?;
        let same = now.as_ref().is_some_and(|h| h.hash == t.info.hash);
        if same && !relink {
            continue;
        }
        if now.is_some() && !same && !force {
            done.refused.push(t.path.to_string());
            continue;
        }
        cache.checkout(&t.path.to_path(root), t.path.as_str(), &t.info)?;
        done.restored.push(t.path.to_string());
    }
    let _ = hasher.save();
    Ok(done)
}
