//! The params and metrics files of a pipeline, found as DVC finds them, read from the workspace
//! or a git revision, and compared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use super::flat::{Change, changes, flatten};
use super::text::py_str;
use crate::error::Error;
use crate::git::{Git, Purpose};
use crate::repo_path::RepoPath;
use crate::spec::yaml::Kind as Yaml;
use crate::spec::{OutKind, Pipeline, Source, SpecError, Value, yaml};
use crate::table::Table;

/// The revision name that means the files on disk, as in DVC.
pub const WORKSPACE: &str = "workspace";

/// What is compared: the two differ in their files, title and formatting, as DVC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `params diff`.
    Params,
    /// `metrics diff`.
    Metrics,
}

/// Files to read, by path, each with the keys kept (`None`: every key).
type Files = BTreeMap<RepoPath, Option<BTreeSet<String>>>;

/// What differs between two revisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// Params or metrics.
    pub kind: Kind,
    /// The old revision, as named.
    pub old: String,
    /// The new revision, as named.
    pub new: String,
    /// The changed keys of each file that has any, by path.
    pub files: BTreeMap<String, BTreeMap<String, Change>>,
}

impl Diff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// DVC's JSON: `{"path": {"key": {"old": …, "new": …, "diff": …}}}`.
    pub fn to_json(&self) -> Json {
        let value = |v: &Option<Value>| v.as_ref().map_or(Json::Null, Value::to_json);
        let files = self.files.iter().map(|(path, changes)| {
            let keys = changes.iter().map(|(k, c)| {
                let mut m = Map::new();
                m.insert("old".into(), value(&c.old));
                m.insert("new".into(), value(&c.new));
                if let Some(d) = &c.diff {
                    m.insert("diff".into(), d.to_json());
                }
                (k.clone(), Json::Object(m))
            });
            (path.clone(), Json::Object(keys.collect()))
        });
        Json::Object(files.collect())
    }

    /// DVC's table: path, key, old and new (and the change, for metrics), floats of metrics
    /// rounded to 5 digits, a dash for a missing value.
    pub fn table(&self) -> Table {
        let metrics = self.kind == Kind::Metrics;
        let cell = |v: &Option<Value>| {
            v.as_ref()
                .map_or_else(|| "-".into(), |v| py_str(v, metrics))
        };
        let title = if metrics { "Metric" } else { "Param" };
        let mut header = vec!["Path", title, self.old.as_str(), self.new.as_str()];
        if metrics {
            header.push("Change");
        }
        let mut table = Table::dvc(header);
        for (path, changes) in &self.files {
            for (key, c) in changes {
                let mut row = vec![path.clone(), key.clone(), cell(&c.old), cell(&c.new)];
                if metrics {
                    row.push(cell(&c.diff));
                }
                table.push(row);
            }
        }
        table
    }
}

/// Compares the params or metrics of revision `old` (default `HEAD`) with those of `new`
/// (default the workspace), as `dvc params diff` and `dvc metrics diff`.
pub fn compare(
    root: &Path,
    cwd: &RepoPath,
    kind: Kind,
    old: Option<&str>,
    new: Option<&str>,
    all: bool,
) -> Result<Diff, Error> {
    let a = old.unwrap_or("HEAD");
    let b = new.unwrap_or(WORKSPACE);
    let git = match [a, b].into_iter().find(|r| *r != WORKSPACE) {
        Some(rev) => Some(Git::open(root, rev, Purpose::Compare)?),
        None => None,
    };
    let before = Side::new(git.as_ref(), a)?;
    let after = Side::new(git.as_ref(), b)?;
    let pipeline = Pipeline::load(root, cwd, &[])?;
    let files = match kind {
        Kind::Params => params_files(&pipeline)?,
        Kind::Metrics => metrics_files(&pipeline)?,
    };
    let mut diff = Diff {
        kind,
        old: a.into(),
        new: b.into(),
        files: BTreeMap::new(),
    };
    for (path, keys) in &files {
        let old = flatten(before.read(root, path)?.as_ref(), keys.as_ref());
        let new = flatten(after.read(root, path)?.as_ref(), keys.as_ref());
        let changed = changes(&old, &new, all);
        if !changed.is_empty() {
            diff.files.insert(path.to_string(), changed);
        }
    }
    Ok(diff)
}

/// The workspace's metrics files: those found, and those missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// Each file that exists, parsed.
    pub found: Vec<(RepoPath, Value)>,
    /// Each file that does not exist.
    pub missing: Vec<RepoPath>,
}

impl Shown {
    /// `dvc metrics show --json`.
    pub fn to_json(&self) -> Json {
        let data: Map<String, Json> = self
            .found
            .iter()
            .map(|(p, v)| (p.to_string(), json!({ "data": v.to_json() })))
            .collect();
        json!({ WORKSPACE: { "data": data } })
    }

    /// One row per file, one column per dotted key, as `dvc metrics show`.
    pub fn table(&self) -> Table {
        let flat: Vec<BTreeMap<String, Value>> = self
            .found
            .iter()
            .map(|(_, v)| flatten(Some(v), None))
            .collect();
        let keys: BTreeSet<&String> = flat.iter().flat_map(BTreeMap::keys).collect();
        let mut table = Table::dvc(std::iter::once("Path").chain(keys.iter().map(|k| k.as_str())));
        for ((path, _), values) in self.found.iter().zip(&flat) {
            // As DVC's `format_dict`: lists print as they are, other floats rounded.
            let cells = keys.iter().map(|k| match values.get(*k) {
                None | Some(Value::Null) => "-".to_string(),
                Some(v @ Value::List(_)) => py_str(v, false),
                Some(v) => py_str(v, true),
            });
            table.push(std::iter::once(path.to_string()).chain(cells));
        }
        table
    }
}

/// The workspace's metrics, as `dvc metrics show`.
pub fn show(root: &Path, cwd: &RepoPath) -> Result<Shown, Error> {
    let pipeline = Pipeline::load(root, cwd, &[])?;
    let mut shown = Shown {
        found: vec![],
        missing: vec![],
    };
    for path in metrics_files(&pipeline)?.into_keys() {
        match Side::Workspace.read(root, &path)? {
            Some(v) => shown.found.push((path, v)),
            None => shown.missing.push(path),
        }
    }
    Ok(shown)
}

/// Every params file a stage tracks, with the tracked keys, and each spec folder's
/// `params.yaml` and top-level `params:` files whole; as DVC, a file tracked whole anywhere is
/// compared whole.
fn params_files(pipeline: &Pipeline) -> Result<Files, SpecError> {
    let mut files = Files::new();
    for spec in &pipeline.specs {
        if let Some(path) = spec.dir.join("params.yaml") {
            files.insert(path, None);
        }
    }
    for path in top_level(pipeline, "params")? {
        files.insert(path, None);
    }
    for dep in pipeline.stages.iter().flat_map(|s| &s.params) {
        let entry = files
            .entry(dep.file.clone())
            .or_insert_with(|| Some(BTreeSet::new()));
        match (entry, &dep.keys) {
            (Some(kept), Some(keys)) => kept.extend(keys.iter().cloned()),
            (entry, _) => *entry = None,
        }
    }
    Ok(files)
}

/// Every stage's `metrics:` file, and the specs' top-level `metrics:` files, as DVC's.
fn metrics_files(pipeline: &Pipeline) -> Result<Files, SpecError> {
    let mut files: Files = pipeline
        .stages
        .iter()
        .flat_map(|s| &s.outs)
        .filter(|o| o.kind == OutKind::Metric)
        .map(|o| (o.entry.path.clone(), None))
        .collect();
    files.extend(
        top_level(pipeline, "metrics")?
            .into_iter()
            .map(|p| (p, None)),
    );
    Ok(files)
}

/// The files a spec lists at its top level under `field` (`params:` or `metrics:`), relative
/// to its folder. The schema has checked they are strings.
fn top_level(pipeline: &Pipeline, field: &str) -> Result<Vec<RepoPath>, SpecError> {
    let mut paths = Vec::new();
    for spec in &pipeline.specs {
        let node = yaml::parse(&spec.src)?;
        if let Some(Yaml::Seq(items)) = node.get(field).map(|n| &n.kind) {
            paths.extend(
                items
                    .iter()
                    .filter_map(|i| i.as_str())
                    .filter_map(|p| spec.dir.join(p)),
            );
        }
    }
    Ok(paths)
}

/// Where files are read from: the workspace or a git commit.
enum Side<'g> {
    Workspace,
    Commit {
        git: &'g Git,
        /// As the user wrote it, for messages.
        rev: String,
        /// The commit's hash.
        sha: String,
    },
}

impl<'g> Side<'g> {
    fn new(git: Option<&'g Git>, rev: &str) -> Result<Side<'g>, Error> {
        match git {
            Some(git) if rev != WORKSPACE => Ok(Side::Commit {
                git,
                rev: rev.to_string(),
                sha: git.rev_parse(rev)?,
            }),
            _ => Ok(Side::Workspace),
        }
    }

    /// The parsed file, or `None` when it does not exist on this side.
    fn read(&self, root: &Path, path: &RepoPath) -> Result<Option<Value>, Error> {
        let (name, text) = match self {
            Side::Workspace => match std::fs::read_to_string(path.to_path(root)) {
                Ok(text) => (path.to_string(), text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(SpecError::Read {
                        path: path.to_string(),
                        reason: e.to_string(),
                    }
                    .into());
                }
            },
            Side::Commit { git, rev, sha } => match git.show(sha, path)? {
                Some(bytes) => (
                    format!("{rev}:{path}"),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ),
                None => return Ok(None),
            },
        };
        let src = Arc::new(Source {
            name,
            path: path.to_path(root),
            text,
        });
        Ok(Some(Value::from_node(&yaml::parse(&src)?)))
    }
}
