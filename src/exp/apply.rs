//! `wf exp apply`: an experiment's params files and locks written into the workspace, and its
//! outs checked out of the cache, so that `wf status` finds the workspace as the experiment left
//! it. Files edited by hand (neither as committed nor as any experiment wrote them) are kept
//! unless forced.

use super::error::ExpError;
use crate::error::Error;
use crate::repo::Repo;
use crate::repo_path::RepoPath;
use crate::store::Store;

/// What an apply did.
#[derive(Debug, Default)]
pub struct Applied {
    /// The experiment's name.
    pub name: String,
    /// The files written.
    pub files: Vec<String>,
    /// The outs restored from the cache.
    pub restored: Vec<String>,
}

/// Applies experiment `name` (or id) to the workspace of `repo`.
pub fn apply(repo: &Repo, name: &str, force: bool) -> Result<Applied, Error> {
    let store = Store::open(&repo.root)?;
    let exp = store.find(name)?;
    let files: Vec<(String, String, Vec<u8>)> = store
        .files(&exp.run.id)?
        .into_iter()
        .filter(|(_, role, _)| role != "base")
        .collect();
    if files.is_empty() {
        return Err(ExpError::NothingToApply {
            name: exp.run.name,
            status: exp.run.status,
        }
        .into());
    }
    let mut paths = Vec::new();
    for (path, _, _) in &files {
        let p = RepoPath::root()
            .join(path)
            .ok_or_else(|| ExpError::Outside {
                file: path.clone(),
                text: exp.run.name.clone(),
            })?;
        paths.push(p);
    }
    if !force {
        let dirty = edited(repo, &store, &paths, &files)?;
        if !dirty.is_empty() {
            return Err(ExpError::Dirty { files: dirty }.into());
        }
    }
    let _lock = crate::repo_lock::RepoLock::acquire(&repo.root)?;
    for (path, (_, _, text)) in paths.iter().zip(&files) {
        let abs = path.to_path(&repo.root);
        crate::atomic::replace(&abs, text)
            .map_err(|source| ExpError::Write { path: abs, source })?;
    }
    let config = crate::config::Config::load(&repo.root)?;
    let cache = crate::workspace::cache(&repo.root, &config)?;
    let tracked = crate::checkout::tracked(repo, &[])?;
    let done = crate::checkout::restore(&repo.root, &cache, &tracked, true, false, None)?;
    Ok(Applied {
        name: exp.run.name,
        files: paths.iter().map(ToString::to_string).collect(),
        restored: done.restored,
    })
}

/// The files apply would overwrite that hold edits of their own: their content is neither the
/// committed one nor one that an experiment wrote or started from.
fn edited(
    repo: &Repo,
    store: &Store,
    paths: &[RepoPath],
    files: &[(String, String, Vec<u8>)],
) -> Result<Vec<String>, Error> {
    let git = crate::git::Git::find(&repo.root).ok().flatten();
    let mut dirty = Vec::new();
    for (path, (_, role, text)) in paths.iter().zip(files) {
        // A lock is the pipeline's record, not the user's: it follows the params.
        if role == "lock" {
            continue;
        }
        let Ok(now) = std::fs::read(path.to_path(&repo.root)) else {
            continue;
        };
        if &now == text {
            continue;
        }
        let committed = git
            .as_ref()
            .and_then(|g| g.show("HEAD", path).ok().flatten());
        if committed.as_ref() == Some(&now) || store.known(path.as_str(), &now)? {
            continue;
        }
        dirty.push(path.to_string());
    }
    Ok(dirty)
}
