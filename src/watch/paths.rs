//! What a watch looks at: the paths whose change starts a cycle (deps, params files, specs and
//! their `vars:` files), those that never do (outs, locks, `.wf/`), and the folders handed to
//! the file watcher for them.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use notify::RecursiveMode;
use notify_debouncer_full::{Debouncer, RecommendedCache};

use crate::exec::Plan;
use crate::repo::Repo;
use crate::repo_path::RepoPath;
use crate::spec::resolve::DEFAULT_PARAMS;
use crate::spec::schema::DefKind;
use crate::spec::yaml::Kind;
use crate::spec::{Pipeline, SPEC_NAMES, SpecFile};

/// The paths whose change starts a cycle, and those whose change never does.
#[derive(Debug, Default)]
pub(super) struct Watched {
    /// Deps, params files, specs and the files their `vars:` name. A folder stands for
    /// everything in it.
    pub(super) triggers: BTreeSet<RepoPath>,
    /// Every stage's outs and the lock files: written by wf itself.
    pub(super) ignored: BTreeSet<RepoPath>,
}

impl Watched {
    /// The paths of this pipeline's run: the deps and params of the planned stages, every spec
    /// with its `params.yaml` and `vars:` files.
    pub(super) fn of(p: &Pipeline, plan: &Plan) -> Watched {
        let mut w = Watched::default();
        for &i in &plan.stages {
            let stage = &p.stages[i];
            // An external dep is checked at each cycle but not watched: wf watches the repository.
            w.triggers
                .extend(stage.deps.iter().filter_map(|d| d.path.repo().cloned()));
            w.triggers
                .extend(stage.params.iter().map(|d| d.file.clone()));
        }
        for spec in &p.specs {
            w.triggers.extend(RepoPath::root().join(&spec.src.name));
            w.triggers.extend(spec.dir.join(DEFAULT_PARAMS));
            w.triggers.extend(vars_files(spec));
            w.ignored.extend(spec.dir.join(crate::lock::LOCK_NAME));
        }
        for stage in &p.stages {
            w.ignored
                .extend(stage.outs.iter().map(|o| o.entry.path.clone()));
        }
        w
    }

    /// The spec files (and their `params.yaml`) of the working folder, the root and the targets,
    /// whether or not they exist or load.
    pub(super) fn add_specs(&mut self, repo: &Repo, targets: &[String]) {
        for dir in [repo.cwd.clone(), RepoPath::root()] {
            for name in SPEC_NAMES.iter().chain([&DEFAULT_PARAMS]) {
                self.triggers.extend(dir.join(name));
            }
        }
        for spec in crate::target::named_specs(&repo.root, &repo.cwd, targets) {
            self.triggers.extend(spec.parent().join(DEFAULT_PARAMS));
            self.triggers.insert(spec);
        }
    }

    /// Whether a change to `path` starts a cycle.
    pub(super) fn relevant(&self, path: &RepoPath) -> bool {
        let first = path.parts().next().unwrap_or_default();
        if first == crate::workspace::DIR || first == ".git" {
            return false;
        }
        if self.ignored.iter().any(|i| path.is_within(i)) {
            return false;
        }
        // A watched path itself or something inside a watched folder; or a folder on the way to
        // a watched path (created, removed or renamed).
        self.triggers
            .iter()
            .any(|t| path.is_within(t) || (!path.as_str().is_empty() && t.is_within(path)))
    }

    /// The folders to watch: each watched folder with everything in it, and the nearest
    /// existing folder holding each watched path (a save that renames a temp file over the
    /// path replaces its inode; a path that does not exist yet appears there).
    pub(super) fn folders(&self, root: &Path) -> BTreeMap<PathBuf, RecursiveMode> {
        let mut dirs: BTreeMap<PathBuf, RecursiveMode> = BTreeMap::new();
        for t in &self.triggers {
            let abs = t.to_path(root);
            if abs.is_dir() {
                dirs.insert(abs, RecursiveMode::Recursive);
            }
            let mut parent = t.parent();
            loop {
                let p = parent.to_path(root);
                if p.is_dir() || parent.as_str().is_empty() {
                    dirs.entry(p).or_insert(RecursiveMode::NonRecursive);
                    break;
                }
                parent = parent.parent();
            }
        }
        // A folder inside one watched with everything in it is watched already.
        let recursive: Vec<PathBuf> = dirs
            .iter()
            .filter(|(_, m)| **m == RecursiveMode::Recursive)
            .map(|(p, _)| p.clone())
            .collect();
        dirs.retain(|p, _| !recursive.iter().any(|r| p != r && p.starts_with(r)));
        dirs
    }
}

/// The files a spec's `vars:` load, at the top and in its stages (relative to its folder, as
/// `resolve` reads them).
fn vars_files(spec: &SpecFile) -> Vec<RepoPath> {
    let Ok(node) = crate::spec::yaml::parse(&spec.src) else {
        return vec![];
    };
    let Ok(raw) = crate::spec::schema::check(&node, &spec.src) else {
        return vec![];
    };
    let mut items: Vec<&crate::spec::yaml::Node> = raw.vars.iter().collect();
    for def in &raw.stages {
        let template = match &def.kind {
            DefKind::Plain(t) => t,
            DefKind::Foreach { template, .. } | DefKind::Matrix { template, .. } => template,
        };
        if let Some(Kind::Seq(vars)) = template.get("vars").map(|v| &v.kind) {
            items.extend(vars);
        }
    }
    items
        .into_iter()
        .filter_map(|item| item.as_str())
        .filter_map(|item| spec.dir.join(item.split_once(':').map_or(item, |(f, _)| f)))
        .collect()
}

/// The folders given to the watcher, with the inode each had then: a folder removed, renamed or
/// replaced since is watched again (its old watch died with it or follows the old folder).
/// Inodes alone are not enough: a folder removed and made again often gets the same number.
pub(super) struct Folders {
    pub(super) debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    pub(super) watched: BTreeMap<PathBuf, (RecursiveMode, Option<(u64, u64)>)>,
}

impl Folders {
    /// Watches what `want` names and stops watching the rest; returns what could not be
    /// watched, as warnings.
    pub(super) fn update(
        &mut self,
        root: &Path,
        want: &BTreeMap<PathBuf, RecursiveMode>,
        moved: &BTreeSet<PathBuf>,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        let inode = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(p, (mode, ino))| {
                want.get(*p) != Some(mode)
                    || inode(p) != *ino
                    || moved.iter().any(|m| p.starts_with(m))
            })
            .map(|(p, _)| p.clone())
            .collect();
        for p in stale {
            // An error means the watch is gone already (the folder was removed).
            let _ = self.debouncer.unwatch(&p);
            self.watched.remove(&p);
        }
        for (p, mode) in want {
            if self.watched.contains_key(p) {
                continue;
            }
            match self.debouncer.watch(p, *mode) {
                Ok(()) => {
                    self.watched.insert(p.clone(), (*mode, inode(p)));
                }
                Err(e) => {
                    let shown = p.strip_prefix(root).unwrap_or(p);
                    warnings.push(format!("cannot watch `{}`: {e}", shown.display()));
                }
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(s: &str) -> RepoPath {
        RepoPath::root().join(s).unwrap()
    }

    fn watched() -> Watched {
        Watched {
            triggers: [rp("params.yaml"), rp("data"), rp("sub/deep/in.txt")].into(),
            ignored: [rp("data/out"), rp("pipeline.lock")].into(),
        }
    }

    #[track_caller]
    fn case(path: &str, expected: bool) {
        assert_eq!(watched().relevant(&rp(path)), expected, "{path}");
    }

    #[test]
    fn relevance() {
        case("params.yaml", true);
        case("params.yaml.tmp", false);
        case("data", true);
        case("data/x/y.csv", true);
        case("data/out", false);
        case("data/out/model.bin", false);
        case("sub", true);
        case("sub/deep", true);
        case("sub/other.txt", false);
        case("", false);
        case("pipeline.lock", false);
        case(".wf/state", false);
        case(".git/index", false);
        case("ran.log", false);
    }
}
