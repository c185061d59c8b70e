//! Scratch copies: each experiment of a sweep runs in its own copy of the repository, under
//! `.wf/tmp/exps/NAME`, so the workspace is never touched. A copy holds what git would (what
//! `.gitignore` does not exclude), the config, and the stages' inputs that no stage makes; locked
//! outs and added data come from the shared cache as links, so a copy costs little.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::ExpError;
use crate::cache::Cache;
use crate::config::Config;
use crate::error::Error;
use crate::repo::Repo;
use crate::spec::Pipeline;
use crate::workspace;

/// The folder holding the scratch copies of a repository.
pub(super) fn dir(root: &Path) -> PathBuf {
    root.join(workspace::DIR).join("tmp").join("exps")
}

/// Removes copies left by a sweep that was killed (the caller holds the repository lock, so
/// no sweep is running).
pub(super) fn clear(root: &Path) {
    let _ = std::fs::remove_dir_all(dir(root));
}

/// A scratch copy, removed when dropped.
#[derive(Debug)]
pub(super) struct Copy {
    /// The copy, as a repository (same working folder as the original).
    pub(super) repo: Repo,
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.repo.root);
    }
}

/// Makes the copy of `repo` named `name`, its outs and added data checked out of `cache`.
pub(super) fn make(repo: &Repo, name: &str, cache: &Cache) -> Result<Copy, Error> {
    let to = dir(&repo.root).join(name);
    let write = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExpError::Write { path, source }
    };
    if to.exists() {
        std::fs::remove_dir_all(&to).map_err(write(&to))?;
    }
    std::fs::create_dir_all(to.join(workspace::DIR)).map_err(write(&to))?;
    let copy = Copy {
        repo: Repo {
            root: to.clone(),
            cwd: repo.cwd.clone(),
        },
    };
    let mut copied = BTreeSet::new();
    let walker = ignore::WalkBuilder::new(&repo.root)
        .hidden(false)
        .require_git(false)
        .parents(false)
        .filter_entry(|e| {
            !(e.depth() == 1
                && e.file_type().is_some_and(|t| t.is_dir())
                && (e.file_name() == ".git" || e.file_name() == workspace::DIR))
        })
        .build();
    for entry in walker.flatten() {
        let Ok(rel) = entry.path().strip_prefix(&repo.root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = to.join(rel);
        let kind = entry.file_type();
        if kind.is_some_and(|t| t.is_dir()) {
            std::fs::create_dir_all(&target).map_err(write(&target))?;
        } else if kind.is_some_and(|t| t.is_file()) {
            file(entry.path(), &target)?;
            copied.insert(rel.to_path_buf());
        }
    }
    for (from, target) in [
        (Config::path(&repo.root), Config::path(&to)),
        (Config::local_path(&repo.root), Config::local_path(&to)),
    ] {
        if from.is_file() {
            file(&from, &target)?;
        }
    }
    inputs(repo, &to, &copied)?;
    // Locked outs and `wf add`ed data, from the cache (what git does not hold).
    let tracked = crate::checkout::tracked(&copy.repo, &[])?;
    crate::checkout::restore(&to, cache, &tracked, false, false, None)?;
    Ok(copy)
}

/// Copies the stages' inputs that no stage makes and that `.gitignore` kept out (raw data
/// nobody committed), so every stage finds what it reads.
fn inputs(repo: &Repo, to: &Path, copied: &BTreeSet<PathBuf>) -> Result<(), ExpError> {
    let Ok(pipeline) = Pipeline::load(&repo.root, &repo.cwd, &[]) else {
        return Ok(());
    };
    let made: BTreeSet<&str> = pipeline
        .stages
        .iter()
        .flat_map(|s| s.outs.iter().map(|o| o.entry.path.as_str()))
        .collect();
    // An external dep is not copied: wf writes nothing outside the repository.
    let deps = pipeline.stages.iter().flat_map(|s| &s.deps);
    for path in deps.filter_map(|d| d.path.repo()) {
        let rel = path.as_str();
        if made
            .iter()
            .any(|m| rel == *m || rel.starts_with(&format!("{m}/")))
        {
            continue;
        }
        let from = path.to_path(&repo.root);
        let target = path.to_path(to);
        if copied.contains(Path::new(rel)) || target.exists() {
            continue;
        }
        if from.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|source| ExpError::Write {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            file(&from, &target)?;
        } else if from.is_dir() {
            for entry in walkdir::WalkDir::new(&from).into_iter().flatten() {
                let Ok(sub) = entry.path().strip_prefix(&from) else {
                    continue;
                };
                let t = target.join(sub);
                if entry.file_type().is_dir() {
                    std::fs::create_dir_all(&t).map_err(|source| ExpError::Write {
                        path: t.clone(),
                        source,
                    })?;
                } else if entry.file_type().is_file() {
                    file(entry.path(), &t)?;
                }
            }
        }
    }
    Ok(())
}

/// Copies one file (a reflink where the file system has them: free until written).
fn file(from: &Path, to: &Path) -> Result<(), ExpError> {
    reflink_copy::reflink_or_copy(from, to)
        .map(drop)
        .map_err(|source| ExpError::Write {
            path: to.to_path_buf(),
            source,
        })
}
