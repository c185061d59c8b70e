//! Where a pipeline's model registry is: the `registry` of its `deploy` stage(s), the arrow
//! "registry (deploy stage) ──▶ wf model | wf serve | wf ui" of DESIGN.md. The registry itself
//! is `wf_stages::Registry`.

use std::path::PathBuf;

use wf_stages::{Builtin, Deploy, DeployWith};

use crate::spec::{Action, Pipeline, Stage};

/// A `deploy` stage and the registry it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployStage {
    /// The stage's address (`deploy`, `specs/pipeline.yaml:deploy`).
    pub stage: String,
    /// Whether it is a stage of the working folder's spec.
    pub local: bool,
    /// The registry folder.
    pub dir: PathBuf,
}

/// Which registry a command uses when none is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The one `deploy` stage (of the working folder's spec if it has one, else of the
    /// repository).
    One(DeployStage),
    /// No `deploy` stage anywhere.
    None,
    /// Several, none preferred: the working folder's spec has several, or it has none and
    /// the repository several.
    Several(Vec<DeployStage>),
}

/// The registry of a stage that runs the built-in `deploy`: its `with: registry`, relative to
/// the stage's working folder; `None` for any other stage.
pub fn of_stage(pipeline: &Pipeline, stage: &Stage) -> Option<DeployStage> {
    let Action::Builtin { name, with, .. } = &stage.action else {
        return None;
    };
    if name != Deploy.name() {
        return None;
    }
    // The spec's check has parsed `with:` already; a stage it refused has no registry.
    let with: DeployWith = serde_json::from_value(with.to_json()).ok()?;
    Some(DeployStage {
        stage: stage.address(),
        local: stage.spec.local,
        dir: stage.wdir.join(&with.registry)?.to_path(&pipeline.root),
    })
}

/// Every `deploy` stage of the pipeline, in pipeline order.
pub fn deploys(pipeline: &Pipeline) -> Vec<DeployStage> {
    pipeline
        .stages
        .iter()
        .filter_map(|s| of_stage(pipeline, s))
        .collect()
}

/// The registry to use: the working folder's spec's `deploy` stage, else the repository's only
/// one.
pub fn find(pipeline: &Pipeline) -> Found {
    let all = deploys(pipeline);
    let local: Vec<DeployStage> = all.iter().filter(|d| d.local).cloned().collect();
    let mut candidates = if local.is_empty() { all } else { local };
    match candidates.len() {
        0 => Found::None,
        1 => Found::One(candidates.remove(0)),
        _ => Found::Several(candidates),
    }
}

/// No one registry to use when none is named.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No `deploy` stage anywhere.
    #[error("no `deploy` stage in this pipeline, so no registry to use")]
    NoDeploy,
    /// Several, none preferred.
    #[error("several `deploy` stages, so no one registry to use: {}", list(.stages))]
    Several {
        /// Their addresses.
        stages: Vec<String>,
    },
}

fn list(stages: &[String]) -> String {
    stages
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RegistryError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            RegistryError::NoDeploy => {
                "pass `--registry DIR`, or run from the folder of a pipeline with a `deploy` stage"
            }
            RegistryError::Several { .. } => {
                "pass `--registry DIR`, or run from the folder of the spec whose registry you mean"
            }
        }
    }
}

/// [`find`]'s one registry, or why there is none.
pub fn find_one(pipeline: &Pipeline) -> Result<DeployStage, RegistryError> {
    match find(pipeline) {
        Found::One(d) => Ok(d),
        Found::None => Err(RegistryError::NoDeploy),
        Found::Several(ds) => Err(RegistryError::Several {
            stages: ds.into_iter().map(|d| d.stage).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_path::RepoPath;

    const DEPLOY: &str = "stages:\n  deploy:\n    uses: deploy\n    with:\n      candidates: [{model: m, metrics: m.json}]\n      metric: acc\n      registry: ../reg\n";

    fn pipeline(files: &[(&str, &str)], cwd: &str) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let cwd = RepoPath::root().join(cwd).unwrap();
        Pipeline::load(dir.path(), &cwd, &[]).unwrap()
    }

    fn stages(found: &Found) -> Vec<&str> {
        match found {
            Found::One(d) => vec![d.stage.as_str()],
            Found::None => vec![],
            Found::Several(ds) => ds.iter().map(|d| d.stage.as_str()).collect(),
        }
    }

    #[test]
    fn a_sub_folder_deploy_is_found_from_the_root() {
        let p = pipeline(&[("specs/pipeline.yaml", DEPLOY)], "");
        let Found::One(d) = find(&p) else {
            panic!("{:?}", find(&p))
        };
        assert_eq!(d.stage, "specs/pipeline.yaml:deploy");
        assert_eq!(d.dir, p.root.join("reg"));
    }

    #[test]
    fn the_working_folders_deploy_is_preferred_and_several_are_listed() {
        let files = [("a/pipeline.yaml", DEPLOY), ("b/pipeline.yaml", DEPLOY)];
        assert_eq!(stages(&find(&pipeline(&files, "b"))), ["deploy"]);
        assert!(matches!(find(&pipeline(&files, "")), Found::Several(_)));
        assert_eq!(
            stages(&find(&pipeline(&files, ""))),
            ["a/pipeline.yaml:deploy", "b/pipeline.yaml:deploy"]
        );
        let none = [("pipeline.yaml", "stages:\n  a:\n    cmd: echo\n")];
        assert_eq!(find(&pipeline(&none, "")), Found::None);
    }
}
