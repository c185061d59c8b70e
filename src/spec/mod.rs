//! The spec: `pipeline.yaml` (or DVC's `dvc.yaml`) and its params, parsed with positions,
//! checked against the schema, interpolated and expanded into `Stage`s. The first arrow of
//! DESIGN.md's flow.

mod budget;
pub mod error;
mod flags;
pub(crate) mod flow;
pub mod interp;
mod python;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod stage;
pub mod value;
pub mod yaml;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::SpecError;
pub use source::{Loc, Source, Span};
pub use stage::{
    Action, Cmd, ExecutorName, Out, OutKind, ParamDep, PathEntry, Resources, SpecFile, Stage,
};
pub use value::Value;

use crate::repo_path::RepoPath;

/// Spec file names, in order of preference within one folder.
pub const SPEC_NAMES: [&str; 2] = ["pipeline.yaml", "dvc.yaml"];

/// Every stage of a repository.
#[derive(Debug)]
pub struct Pipeline {
    /// The repository root.
    pub root: PathBuf,
    /// The spec files loaded, the root spec first.
    pub specs: Vec<Arc<SpecFile>>,
    /// The stages of all specs, in spec order then definition order.
    pub stages: Vec<Stage>,
}

impl Pipeline {
    /// Loads every spec in the repository: the root's, then those in sub-folders (skipping
    /// hidden and ignored folders, and nested repositories), plus any `extra` spec files named
    /// by targets.
    /// `cwd` is the working folder: its spec's stages go by bare name.
    pub fn load(root: &Path, cwd: &RepoPath, extra: &[RepoPath]) -> Result<Pipeline, SpecError> {
        Pipeline::load_with(root, cwd, extra, &Arc::default())
    }

    /// [`Pipeline::load`], with params set in memory: `${}` sees them as if their files said so.
    pub fn load_with(
        root: &Path,
        cwd: &RepoPath,
        extra: &[RepoPath],
        overrides: &Arc<crate::overrides::Overrides>,
    ) -> Result<Pipeline, SpecError> {
        let mut files = discover(root);
        for e in extra {
            if !files.contains(e) {
                files.push(e.clone());
            }
        }
        if files.is_empty() {
            return Err(SpecError::NoSpec {
                dir: root.display().to_string(),
            });
        }
        let mut pipeline = Pipeline {
            root: root.to_path_buf(),
            specs: vec![],
            stages: vec![],
        };
        let local = spec_in(root, cwd);
        for file in files {
            let is_local = local.as_ref() == Some(&file);
            pipeline.add_spec(&file, is_local, overrides)?;
        }
        Ok(pipeline)
    }

    /// The stages of one spec given as text, `file` naming it: what [`Pipeline::load`] does for
    /// each spec file it finds. Params files are still read from under `root`.
    pub fn from_text(root: &Path, file: &RepoPath, text: String) -> Result<Pipeline, SpecError> {
        let mut pipeline = Pipeline {
            root: root.to_path_buf(),
            specs: vec![],
            stages: vec![],
        };
        pipeline.add_text(file, text, true, &Arc::default())?;
        Ok(pipeline)
    }

    fn add_spec(
        &mut self,
        file: &RepoPath,
        local: bool,
        overrides: &Arc<crate::overrides::Overrides>,
    ) -> Result<(), SpecError> {
        let path = file.to_path(&self.root);
        let text = std::fs::read_to_string(&path).map_err(|e| SpecError::Read {
            path: file.to_string(),
            reason: e.to_string(),
        })?;
        self.add_text(file, text, local, overrides)
    }

    fn add_text(
        &mut self,
        file: &RepoPath,
        text: String,
        local: bool,
        overrides: &Arc<crate::overrides::Overrides>,
    ) -> Result<(), SpecError> {
        let path = file.to_path(&self.root);
        let src = Arc::new(Source {
            name: file.to_string(),
            path,
            text,
        });
        let node = yaml::parse(&src)?;
        let raw = schema::check(&node, &src)?;
        let spec = Arc::new(SpecFile {
            src,
            dir: file.parent(),
            local,
        });
        let stages = resolve::resolve(&self.root, &spec, &raw, overrides)?;
        // By name, not by comparing each stage with every other: a matrix makes thousands.
        let mut names = HashSet::new();
        for s in stages {
            if !names.insert(s.name.clone()) {
                return Err(SpecError::DuplicateStage {
                    name: s.name.clone(),
                    loc: s.loc.clone(),
                });
            }
            self.stages.push(s);
        }
        self.specs.push(spec);
        Ok(())
    }
}

/// The spec file of a folder: `pipeline.yaml`, else `dvc.yaml`.
pub fn spec_in(root: &Path, dir: &RepoPath) -> Option<RepoPath> {
    SPEC_NAMES
        .iter()
        .filter_map(|n| dir.join(n))
        .find(|p| p.to_path(root).is_file())
}

/// Finds the spec files of a repository, the root's first, then by path.
fn discover(root: &Path) -> Vec<RepoPath> {
    let mut found: Vec<RepoPath> = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .require_git(false)
        .add_custom_ignore_filename(".wfignore")
        .add_custom_ignore_filename(".dvcignore")
        .filter_entry(|e| {
            // A folder with its own `.wf` or `.dvc` is another repository.
            e.depth() == 0
                || !e.file_type().is_some_and(|t| t.is_dir())
                || !(e.path().join(".wf").is_dir() || e.path().join(".dvc").is_dir())
        })
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let Some(dir) = RepoPath::root().join(&rel) else {
            continue;
        };
        if let Some(spec) = spec_in(root, &dir) {
            found.push(spec);
        }
    }
    // The walk is depth-first in name order with the root first, as DVC collects specs.
    found
}
