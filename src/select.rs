//! Which stages a command works on: the targets (default: the working folder's spec) and, as
//! DVC, their upstream, or only themselves (`-s`), or their downstream (`--downstream`).

use std::collections::BTreeSet;

use crate::dag::Dag;
use crate::repo_path::RepoPath;
use crate::spec::{Pipeline, SpecError};
use crate::target;

/// How far from the targets to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reach {
    /// The targets and everything upstream (frozen stages cut their upstream off, as DVC).
    #[default]
    Upstream,
    /// The targets only.
    Single,
    /// The targets and everything downstream.
    Downstream,
}

/// The target stages themselves.
pub fn targets(
    cwd: &RepoPath,
    p: &Pipeline,
    targets: &[String],
    glob: bool,
) -> Result<Vec<usize>, SpecError> {
    if targets.is_empty() {
        // As DVC: the working folder's spec; with none there, every stage.
        let local: Vec<usize> = (0..p.stages.len())
            .filter(|&i| p.stages[i].spec.local)
            .collect();
        return Ok(if local.is_empty() {
            (0..p.stages.len()).collect()
        } else {
            local
        });
    }
    target::resolve(p, cwd, targets, glob)
}

/// The stages to consider for these targets.
pub fn stages(p: &Pipeline, dag: &Dag, targets: &[usize], reach: Reach) -> BTreeSet<usize> {
    match reach {
        Reach::Single => targets.iter().copied().collect(),
        Reach::Downstream => dag.descendants(targets),
        Reach::Upstream => {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<usize> = targets.to_vec();
            while let Some(i) = stack.pop() {
                if seen.insert(i) && !p.stages[i].frozen {
                    stack.extend(dag.parents(i));
                }
            }
            seen
        }
    }
}
