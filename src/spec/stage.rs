//! `Stage`: one resolved stage, after interpolation and foreach/matrix expansion. Everything
//! downstream of the spec (DAG, status, lock, executor) works on these.

use std::sync::Arc;

use indexmap::IndexMap;

use super::source::{Loc, Source};
use super::value::Value;
use crate::dep_path::DepPath;
use crate::repo_path::RepoPath;

/// A spec file: `pipeline.yaml` or `dvc.yaml`, with the folder it sits in.
#[derive(Debug)]
pub struct SpecFile {
    /// Its text and name.
    pub src: Arc<Source>,
    /// Its folder, relative to the repository root.
    pub dir: RepoPath,
    /// Whether it is the spec of the working folder: its stages go by bare name.
    pub local: bool,
}

/// A resolved stage.
#[derive(Debug)]
pub struct Stage {
    /// The stage's name within its spec: `train`, `train@svm`, `mx@cnn-0.1-a`.
    pub name: String,
    /// The foreach/matrix group it was generated from.
    pub group: Option<String>,
    /// The spec that defines it.
    pub spec: Arc<SpecFile>,
    /// Its name in the spec, for errors about the whole stage.
    pub loc: Loc,
    /// What it runs.
    pub action: Action,
    /// The folder commands run in and paths are relative to.
    pub wdir: RepoPath,
    /// Files and folders read, in the repository or outside it.
    pub deps: Vec<PathEntry<DepPath>>,
    /// Params read.
    pub params: Vec<ParamDep>,
    /// Files and folders written: outs, metrics and plots.
    pub outs: Vec<Out>,
    /// Never run; its outs are taken as they are.
    pub frozen: bool,
    /// Always run.
    pub always_changed: bool,
    /// A description, shown by `wf stage list`.
    pub desc: Option<String>,
    /// Extra environment variables.
    pub env: IndexMap<String, String>,
    /// What it needs from the scheduler.
    pub resources: Resources,
    /// Where it runs (`executor:`), when the spec says; else `wf repro --executor` or the
    /// config decide.
    pub executor: Option<ExecutorName>,
}

/// The executors a stage can name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorName {
    /// This machine.
    Local,
    /// A Slurm cluster.
    Slurm,
}

impl ExecutorName {
    /// Parses `local` or `slurm`.
    pub fn parse(name: &str) -> Option<ExecutorName> {
        match name {
            "local" => Some(ExecutorName::Local),
            "slurm" => Some(ExecutorName::Slurm),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorName::Local => "local",
            ExecutorName::Slurm => "slurm",
        }
    }
}

impl Stage {
    /// The name other commands show: bare for the working folder's spec, `sub/dvc.yaml:name`
    /// otherwise (as DVC's addressing).
    pub fn address(&self) -> String {
        if self.spec.local {
            self.name.clone()
        } else {
            format!("{}:{}", self.spec.src.name, self.name)
        }
    }

    /// The group address, for `--collapse`: the group name in place of the member's.
    pub fn group_address(&self) -> String {
        let group = self.group.as_deref().unwrap_or(&self.name);
        if self.spec.local {
            group.to_string()
        } else {
            format!("{}:{group}", self.spec.src.name)
        }
    }
}

/// What a stage runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A shell command: a string (each line its own shell) or a list.
    Cmd(Cmd),
    /// A built-in stage with its resolved `with:`.
    Builtin {
        /// Its name (`train`).
        name: String,
        /// Its version.
        version: u32,
        /// The resolved `with:`.
        with: Value,
    },
}

/// A shell command as written, kept in its form because DVC compares the form too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// `cmd: "..."`.
    Line(String),
    /// `cmd: [..., ...]`.
    List(Vec<String>),
}

impl Cmd {
    /// The commands to run one after another, as DVC: the lines of a string, the items of a list.
    pub fn commands(&self) -> Vec<&str> {
        match self {
            Cmd::Line(s) => s.lines().collect(),
            Cmd::List(items) => items.iter().map(String::as_str).collect(),
        }
    }
}

/// A dependency or output path: `P` is a [`RepoPath`] for an out, a [`DepPath`] for a dep.
#[derive(Debug, Clone)]
pub struct PathEntry<P = RepoPath> {
    /// Normalised, from the repository root (or absolute, for an external dep).
    pub path: P,
    /// As written in the spec (after interpolation), relative to `wdir`.
    pub written: String,
    /// Where it is written.
    pub loc: Loc,
}

/// Params read from one file.
#[derive(Debug, Clone)]
pub struct ParamDep {
    /// The params file.
    pub file: RepoPath,
    /// Its name relative to `wdir`, as DVC writes it in the lock.
    pub written: String,
    /// The keys tracked (dotted), or `None` for the whole file.
    pub keys: Option<Vec<String>>,
    /// Where it is written.
    pub loc: Loc,
}

/// What kind of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    /// `outs:`.
    Out,
    /// `metrics:`.
    Metric,
    /// `plots:`.
    Plot,
}

/// An output with its flags.
#[derive(Debug, Clone)]
pub struct Out {
    /// The path.
    pub entry: PathEntry,
    /// Out, metric or plot.
    pub kind: OutKind,
    /// Stored in the cache (default true).
    pub cache: bool,
    /// Kept across re-runs instead of deleted first.
    pub persist: bool,
    /// DVC's plot properties of a plot (`template`, `x`, `y`, `title`, `x_label`, `y_label`,
    /// `header`), as written; empty for other outs.
    pub props: IndexMap<String, Value>,
}

/// The plot properties among an out's flags.
pub(crate) fn plot_props(flags: &super::yaml::Node) -> IndexMap<String, Value> {
    const PROPS: [&str; 7] = [
        "template", "x", "y", "title", "x_label", "y_label", "header",
    ];
    flags
        .as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| PROPS.contains(&k.name.as_str()))
        .map(|(k, v)| (k.name.clone(), Value::from_node(v)))
        .collect()
}

/// Scheduler resources of a stage (`resources:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// Job slots taken (default 1).
    pub cpus: u32,
    /// Memory, as Slurm writes it (`4G`).
    pub mem: Option<String>,
    /// GPUs.
    pub gpus: Option<u32>,
    /// Time limit, as Slurm writes it (`1:00:00`).
    pub time: Option<String>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus: 1,
            mem: None,
            gpus: None,
            time: None,
        }
    }
}
