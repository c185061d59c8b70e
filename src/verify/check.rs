//! The verification itself: check the workspace is what the lock records, copy it, run the
//! stages again there through the run API, and compare what they wrote with the lock.

use std::collections::BTreeSet;
use std::path::Path;

use super::error::VerifyError;
use crate::dag::Dag;
use crate::error::Error;
use crate::exec::{Event, Events};
use crate::hash::Hasher;
use crate::lock::{Lock, LockSet};
use crate::params::Params;
use crate::repo::Repo;
use crate::repo_path::RepoPath;
use crate::run::{self, Reach, RunOptions, RunStatus};
use crate::spec::Pipeline;
use crate::{select, status, target, workspace};

/// What a verification found.
#[derive(Debug)]
pub enum Verdict {
    /// Every stage wrote the locked bytes again.
    Reproduces {
        /// How many stages.
        stages: usize,
    },
    /// Some stages wrote other bytes: each with the outs that differ.
    Differs(Vec<(String, Vec<String>)>),
    /// The stages failed in the scratch copy; what they printed.
    Failed(Vec<String>),
}

/// Verifies the targets (default: every stage) and their upstream.
pub fn verify(repo: &Repo, targets: &[String], jobs: Option<usize>) -> Result<Verdict, Error> {
    let extra = target::named_specs(&repo.root, &repo.cwd, targets);
    let pipeline = Pipeline::load(&repo.root, &repo.cwd, &extra)?;
    let dag = Dag::build(&pipeline)?;
    let chosen: Vec<usize> = if targets.is_empty() {
        (0..pipeline.stages.len()).collect()
    } else {
        target::resolve(&pipeline, &repo.cwd, targets, false)?
    };
    let stages: BTreeSet<usize> = select::stages(&pipeline, &dag, &chosen, Reach::Upstream)
        .into_iter()
        .filter(|&i| !pipeline.stages[i].frozen)
        .collect();
    let locks = LockSet::read(&repo.root, &pipeline, &stages)?;
    check_workspace(repo, &pipeline, &stages, &locks)?;
    let outs: BTreeSet<RepoPath> = stages
        .iter()
        .flat_map(|&i| pipeline.stages[i].outs.iter().map(|o| o.entry.path.clone()))
        .collect();
    let scratch = tempfile::Builder::new()
        .prefix("wf-verify-")
        .tempdir()
        .map_err(|source| VerifyError::Scratch { source })?;
    copy_tree(&repo.root, scratch.path(), &RepoPath::root(), &outs)
        .and_then(|()| std::fs::create_dir_all(scratch.path().join(workspace::DIR)))
        .map_err(|source| VerifyError::Scratch { source })?;
    // The copy is a repository of its own, with no cache: every stage really runs.
    let copy = Repo {
        root: scratch.path().to_path_buf(),
        cwd: repo.cwd.clone(),
    };
    let opts = RunOptions {
        targets: targets.to_vec(),
        force: true,
        jobs,
        ..RunOptions::default()
    };
    let mut events = Events::none();
    let mut output = events.subscribe();
    let record = run::run(&copy, &opts, events)?;
    if record.status != RunStatus::Finished {
        let mut lines = Vec::new();
        while let Ok(event) = output.try_recv() {
            match event {
                Event::Output { stage, line, .. } => lines.push(format!("{stage} | {line}")),
                Event::StageFinished {
                    stage,
                    outcome: crate::exec::Outcome::Failed(message),
                    ..
                } => lines.push(format!("error: failed to reproduce '{stage}': {message}")),
                _ => {}
            }
        }
        return Ok(Verdict::Failed(lines));
    }
    let mut differ = Vec::new();
    let mut same = 0;
    for &i in &stages {
        let stage = &pipeline.stages[i];
        let Some(locked) = locks.entry(stage) else {
            continue;
        };
        let again =
            Lock::read(scratch.path(), &stage.spec.dir).map_err(|e| VerifyError::Inputs {
                message: e.to_string(),
            })?;
        let Some(fresh) = again.stages.get(&stage.name) else {
            continue;
        };
        let changed: Vec<String> = locked
            .outs
            .iter()
            .filter(|o| {
                fresh
                    .outs
                    .iter()
                    .find(|f| f.path == o.path)
                    .is_none_or(|f| f.blake3 != o.blake3)
            })
            .map(|o| o.path.clone())
            .collect();
        if changed.is_empty() {
            same += 1;
        } else {
            differ.push((stage.address(), changed));
        }
    }
    Ok(if differ.is_empty() {
        Verdict::Reproduces { stages: same }
    } else {
        Verdict::Differs(differ)
    })
}

/// The recorded inputs must be the workspace's: otherwise the run would prove nothing.
fn check_workspace(
    repo: &Repo,
    pipeline: &Pipeline,
    stages: &BTreeSet<usize>,
    locks: &LockSet,
) -> Result<(), VerifyError> {
    let hasher = Hasher::open(&repo.root, &workspace::state_path(&repo.root));
    let mut params = Params::default();
    for &i in stages {
        let stage = &pipeline.stages[i];
        let Some(entry) = locks.entry(stage) else {
            return Err(VerifyError::NeverRan {
                stage: stage.address(),
            });
        };
        let cur = status::current(stage, &repo.root, &hasher, &mut params).map_err(|e| {
            VerifyError::Inputs {
                message: e.to_string(),
            }
        })?;
        if !status::changes(stage, &cur, Some(entry)).is_empty() {
            return Err(VerifyError::NotAsLocked {
                stage: stage.address(),
            });
        }
    }
    Ok(())
}

/// Copies the repository (without `.git`, `.wf` and the outs to re-make) into `to`.
fn copy_tree(
    root: &Path,
    to: &Path,
    dir: &RepoPath,
    skip: &BTreeSet<RepoPath>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir.to_path(root))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rel) = dir.join(&name) else { continue };
        if (dir.as_str().is_empty() && (name == ".git" || name == workspace::DIR))
            || skip.contains(&rel)
        {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(rel.to_path(to))?;
            copy_tree(root, to, &rel, skip)?;
        } else if kind.is_file() {
            // A reflink where the file system has one: a copy costs no space until written.
            reflink_copy::reflink_or_copy(entry.path(), rel.to_path(to))?;
        }
    }
    Ok(())
}
