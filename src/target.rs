//! Targets on the command line: a stage, a foreach/matrix group, a spec file, or `spec:stage`,
//! resolved to stage indices as DVC resolves them.

use std::collections::BTreeSet;
use std::path::Path;

use crate::repo_path::RepoPath;
use crate::spec::{Pipeline, SPEC_NAMES, SpecError};

/// Spec files that targets name explicitly (they are loaded even when discovery skips them).
pub fn named_specs(root: &Path, cwd: &RepoPath, targets: &[String]) -> Vec<RepoPath> {
    targets
        .iter()
        .filter_map(|t| {
            let file = t.rsplit_once(':').map_or(t.as_str(), |(f, _)| f);
            let path = cwd.join(file)?;
            (is_spec_name(file) && path.to_path(root).is_file()).then_some(path)
        })
        .collect()
}

fn is_spec_name(file: &str) -> bool {
    SPEC_NAMES
        .iter()
        .any(|n| file == *n || file.ends_with(&format!("/{n}")))
        || file.ends_with(".yaml")
        || file.ends_with(".yml")
}

/// Resolves targets to stage indices, in the order given. `cwd` is the folder whose spec holds
/// bare stage names. With `glob`, names may use shell wildcards (`'train@*'`).
pub fn resolve(
    p: &Pipeline,
    cwd: &RepoPath,
    targets: &[String],
    glob: bool,
) -> Result<Vec<usize>, SpecError> {
    let mut out: Vec<usize> = Vec::new();
    let mut seen = BTreeSet::new();
    for t in targets {
        let found = resolve_one(p, cwd, t, glob);
        if found.is_empty() {
            let mut names: Vec<String> = p.stages.iter().map(|s| s.address()).collect();
            names.extend(
                p.stages
                    .iter()
                    .filter(|s| s.group.is_some())
                    .map(|s| s.group_address()),
            );
            let suggestion = crate::spec::schema::suggest(t, names.iter().map(String::as_str))
                .map(str::to_string);
            return Err(SpecError::UnknownTarget {
                target: t.clone(),
                suggestion,
            });
        }
        for i in found {
            if seen.insert(i) {
                out.push(i);
            }
        }
    }
    Ok(out)
}

fn resolve_one(p: &Pipeline, cwd: &RepoPath, t: &str, glob: bool) -> Vec<usize> {
    // `spec:name`, or a spec file alone.
    let (spec, name) = match t.rsplit_once(':') {
        Some((file, name)) if is_spec_name(file) => (cwd.join(file), Some(name)),
        _ if is_spec_name(t) => (cwd.join(t), None),
        _ => (
            crate::spec::spec_in(&p.root, cwd).or_else(|| {
                p.specs.first().map(|s| {
                    crate::repo_path::RepoPath::root()
                        .join(&s.src.name)
                        .unwrap_or_default()
                })
            }),
            Some(t),
        ),
    };
    let Some(spec) = spec else { return vec![] };
    let in_spec = |i: &usize| p.stages[*i].spec.src.name == spec.as_str();
    let all = 0..p.stages.len();
    let Some(name) = name else {
        return all.filter(in_spec).collect();
    };
    let matcher = glob
        .then(|| globset::Glob::new(name).ok().map(|g| g.compile_matcher()))
        .flatten();
    let hits: Vec<usize> = all
        .clone()
        .filter(in_spec)
        .filter(|&i| {
            let s = &p.stages[i];
            match &matcher {
                Some(m) => m.is_match(&s.name) || s.group.as_deref().is_some_and(|g| m.is_match(g)),
                None => s.name == name || s.group.as_deref() == Some(name),
            }
        })
        .collect();
    if !hits.is_empty() {
        return hits;
    }
    // A full address (`sub/dvc.yaml:s1`) or a bare name from a spec other than the cwd's.
    all.filter(|&i| {
        let s = &p.stages[i];
        s.address() == t || s.group_address() == t
    })
    .collect()
}
