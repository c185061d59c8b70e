//! `wf params diff`, `wf metrics show` and `wf metrics diff`: params and metrics files read
//! from the workspace or from git revisions, flattened to dotted keys and compared, with DVC's
//! tables, rounding and JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::repo_path::RepoPath;
use crate::spec::value::python_float;
use crate::spec::yaml::Kind as Yaml;
use crate::spec::{OutKind, Pipeline, Source, Value, yaml};

/// The revision name that means the files on disk, as in DVC.
const WORKSPACE: &str = "workspace";

/// Compare params between git revisions.
#[derive(Debug, clap::Args)]
pub struct ParamsArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: ParamsCommand,
}

/// `wf params` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ParamsCommand {
    /// Show the params that differ between two git revisions, or a revision and the workspace.
    ///
    /// Compares every params file a stage tracks (only the tracked keys) and the `params.yaml`
    /// of each spec's folder, as `dvc params diff`: the workspace against `HEAD` by default,
    /// the workspace against A, or A against B. Nested keys are joined with dots.
    Diff(DiffArgs),
}

/// Show and compare metrics.
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: MetricsCommand,
}

/// `wf metrics` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MetricsCommand {
    /// Print the metrics of the workspace.
    ///
    /// One row per metrics file (the `metrics:` of every stage), one column per key, nested
    /// keys joined with dots and floats rounded to 5 digits, as `dvc metrics show`.
    Show(ShowArgs),
    /// Show the metrics that differ between two git revisions, or a revision and the workspace.
    ///
    /// The workspace against `HEAD` by default, the workspace against A, or A against B, with
    /// the change of each number (new − old), as `dvc metrics diff`.
    Diff(DiffArgs),
}

/// Options of `params diff` and `metrics diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old git revision (default: `HEAD`).
    #[arg(value_name = "A")]
    pub a_rev: Option<String>,
    /// The new git revision (default: the workspace).
    #[arg(value_name = "B")]
    pub b_rev: Option<String>,
    /// Show unchanged keys too.
    #[arg(long)]
    pub all: bool,
    /// Print JSON, as DVC: `{"path": {"key": {"old": …, "new": …, "diff": …}}}`.
    #[arg(long, conflicts_with = "md")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub md: bool,
}

/// Options of `metrics show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Print JSON, as `dvc metrics show --json`.
    #[arg(long, conflicts_with = "md")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub md: bool,
}

/// Runs `wf params`.
pub fn params(ctx: &Context, args: &ParamsArgs) -> Result<Report, Error> {
    match &args.command {
        ParamsCommand::Diff(d) => diff(ctx, d, Kind::Params),
    }
}

/// Runs `wf metrics`.
pub fn metrics(ctx: &Context, args: &MetricsArgs) -> Result<Report, Error> {
    match &args.command {
        MetricsCommand::Show(s) => show(ctx, s),
        MetricsCommand::Diff(d) => diff(ctx, d, Kind::Metrics),
    }
}

/// What is compared: the two differ in their files, title and formatting, as DVC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Params,
    Metrics,
}

/// Files to read, by path, each with the keys kept (`None`: every key).
type Files = BTreeMap<RepoPath, Option<BTreeSet<String>>>;

/// One key's values on both sides.
#[derive(Debug, Clone, PartialEq)]
struct Change {
    old: Option<Value>,
    new: Option<Value>,
    /// new − old, when both are numbers.
    diff: Option<Value>,
}

fn diff(ctx: &Context, args: &DiffArgs, kind: Kind) -> Result<Report, Error> {
    let a = args.a_rev.as_deref().unwrap_or("HEAD");
    let b = args.b_rev.as_deref().unwrap_or(WORKSPACE);
    let git = match [a, b].into_iter().find(|r| *r != WORKSPACE) {
        Some(rev) => Some(Git::open(&ctx.root, rev)?),
        None => None,
    };
    let old = Side::new(git.as_ref(), a)?;
    let new = Side::new(git.as_ref(), b)?;
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &[])?;
    let files = match kind {
        Kind::Params => params_files(&pipeline)?,
        Kind::Metrics => metrics_files(&pipeline)?,
    };
    let mut result: BTreeMap<String, BTreeMap<String, Change>> = BTreeMap::new();
    for (path, keys) in &files {
        let before = flatten(old.read(&ctx.root, path)?.as_ref(), keys.as_ref());
        let after = flatten(new.read(&ctx.root, path)?.as_ref(), keys.as_ref());
        let all_keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        let changes: BTreeMap<String, Change> = all_keys
            .into_iter()
            .filter_map(|k| Some((k.clone(), change(before.get(k), after.get(k), args.all)?)))
            .collect();
        if !changes.is_empty() {
            result.insert(path.to_string(), changes);
        }
    }
    if ctx.quiet {
        return Ok(Report::ok(String::new()));
    }
    if args.json {
        let out: Map<String, Json> = result
            .iter()
            .map(|(path, changes)| {
                let keys: Map<String, Json> = changes
                    .iter()
                    .map(|(k, c)| (k.clone(), change_json(c)))
                    .collect();
                (path.clone(), Json::Object(keys))
            })
            .collect();
        return Ok(Report::ok(format!("{}\n", Json::Object(out))));
    }
    // As DVC: nothing differs, nothing printed.
    if result.is_empty() {
        return Ok(Report::ok(String::new()));
    }
    let round = kind == Kind::Metrics;
    let cell = |v: &Option<Value>| {
        v.as_ref()
            .map_or_else(|| "-".to_string(), |v| py_str(v, round))
    };
    let title = match kind {
        Kind::Params => "Param",
        Kind::Metrics => "Metric",
    };
    let mut headers: Vec<String> = vec!["Path".into(), title.into(), a.into(), b.into()];
    if kind == Kind::Metrics {
        headers.push("Change".into());
    }
    let mut rows = Vec::new();
    for (path, changes) in &result {
        for (key, c) in changes {
            let mut row = vec![path.clone(), key.clone(), cell(&c.old), cell(&c.new)];
            if kind == Kind::Metrics {
                row.push(cell(&c.diff));
            }
            rows.push(row);
        }
    }
    Ok(Report::ok(table(&headers, &rows, args.md)))
}

fn show(ctx: &Context, args: &ShowArgs) -> Result<Report, Error> {
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &[])?;
    let mut found: Vec<(RepoPath, Value)> = Vec::new();
    let mut stderr = String::new();
    for path in metrics_files(&pipeline)?.into_keys() {
        match Side::Workspace.read(&ctx.root, &path)? {
            Some(v) => found.push((path, v)),
            None => stderr.push_str(&format!("warning: metrics file `{path}` does not exist\n")),
        }
    }
    if ctx.quiet {
        return Ok(Report::ok(String::new()));
    }
    let stdout = if args.json {
        let data: Map<String, Json> = found
            .iter()
            .map(|(p, v)| (p.to_string(), json!({ "data": v.to_json() })))
            .collect();
        format!("{}\n", json!({ WORKSPACE: { "data": data } }))
    } else if found.is_empty() {
        String::new()
    } else {
        let flat: Vec<BTreeMap<String, Value>> =
            found.iter().map(|(_, v)| flatten(Some(v), None)).collect();
        let keys: BTreeSet<&String> = flat.iter().flat_map(BTreeMap::keys).collect();
        let mut headers = vec!["Path".to_string()];
        headers.extend(keys.iter().map(|k| (*k).clone()));
        let rows: Vec<Vec<String>> = found
            .iter()
            .zip(&flat)
            .map(|((path, _), values)| {
                let mut row = vec![path.to_string()];
                // As DVC's `format_dict`: lists print as they are, other floats rounded.
                row.extend(keys.iter().map(|k| match values.get(*k) {
                    None | Some(Value::Null) => "-".to_string(),
                    Some(v @ Value::List(_)) => py_str(v, false),
                    Some(v) => py_str(v, true),
                }));
                row
            })
            .collect();
        table(&headers, &rows, args.md)
    };
    Ok(Report {
        stdout,
        stderr,
        code: crate::exit_code::OK,
    })
}

/// Every params file a stage tracks, with the tracked keys, and each spec folder's
/// `params.yaml` and top-level `params:` files whole; as DVC, a file tracked whole anywhere is
/// compared whole.
fn params_files(pipeline: &Pipeline) -> Result<Files, Error> {
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
fn metrics_files(pipeline: &Pipeline) -> Result<Files, Error> {
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
fn top_level(pipeline: &Pipeline, field: &str) -> Result<Vec<RepoPath>, Error> {
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

/// A file's values by dotted key, as DVC flattens them: mappings are walked (empty ones
/// dropped), lists are single values, a file that is not a mapping is the key `""`. With
/// `keep`, only those keys and the keys under them.
fn flatten(file: Option<&Value>, keep: Option<&BTreeSet<String>>) -> BTreeMap<String, Value> {
    fn walk(map: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
        let Value::Map(m) = map else { return };
        for (k, v) in m {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Map(_) => walk(v, &key, out),
                _ => {
                    out.insert(key, v.clone());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    match file {
        None | Some(Value::Null) => {}
        Some(v @ Value::Map(_)) => walk(v, "", &mut out),
        Some(v) => {
            out.insert(String::new(), v.clone());
        }
    }
    if let Some(keep) = keep {
        out.retain(|k, _| {
            keep.iter().any(|t| {
                k == t || (k.starts_with(t.as_str()) && k.as_bytes().get(t.len()) == Some(&b'.'))
            })
        });
    }
    out
}

/// How one key changed, or `None` when it did not and `all` is off. As DVC's `_diff_vals`:
/// one-item lists compare their items, null is absent, numbers get a difference.
fn change(old: Option<&Value>, new: Option<&Value>, all: bool) -> Option<Change> {
    if let (Some(Value::List(a)), Some(Value::List(b))) = (old, new)
        && a.len() == 1
        && b.len() == 1
    {
        return change(a.first(), b.first(), all);
    }
    let old = old.filter(|v| !matches!(v, Value::Null));
    let new = new.filter(|v| !matches!(v, Value::Null));
    if !all && old == new {
        return None;
    }
    let diff = match (old, new) {
        (Some(Value::Int(a)), Some(Value::Int(b))) => Some(
            b.checked_sub(*a)
                .map_or_else(|| Value::Float(*b as f64 - *a as f64), Value::Int),
        ),
        (Some(a), Some(b)) => number(a).zip(number(b)).map(|(a, b)| Value::Float(b - a)),
        _ => None,
    };
    Some(Change {
        old: old.cloned(),
        new: new.cloned(),
        diff,
    })
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn change_json(c: &Change) -> Json {
    let value = |v: &Option<Value>| v.as_ref().map_or(Json::Null, Value::to_json);
    let mut m = Map::new();
    m.insert("old".into(), value(&c.old));
    m.insert("new".into(), value(&c.new));
    if let Some(d) = &c.diff {
        m.insert("diff".into(), d.to_json());
    }
    Json::Object(m)
}

/// Python's `str()`, as DVC fills a cell; with `round`, floats (also inside lists) are
/// `round(x, 5)`, DVC's default precision for metrics.
fn py_str(v: &Value, round: bool) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => py_repr(other, round),
    }
}

/// Python's `repr()`.
fn py_repr(v: &Value, round: bool) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if round => python_float(round5(*f)),
        Value::Float(f) => python_float(*f),
        Value::Str(s) => format!("'{s}'"),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| py_repr(i, round))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v, round)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `round(f, 5)`: Rust's formatting rounds the exact binary value to decimal, as
/// Python does.
fn round5(f: f64) -> f64 {
    format!("{f:.5}").parse().unwrap_or(f)
}

/// A table as DVC prints it (tabulate's `plain`, or `github` for `--md`): every column at
/// least two wider than its header, two spaces apart, lines without trailing blanks; the
/// Markdown table ends with a blank line, as DVC's.
fn table(headers: &[String], rows: &[Vec<String>], md: bool) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(c, h)| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .fold(h.chars().count() + 2, usize::max)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        if md {
            format!("| {} |\n", padded.join(" | "))
        } else {
            format!("{}\n", padded.join("  ").trim_end())
        }
    };
    let mut s = line(headers);
    if md {
        let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        s.push_str(&format!("|{}|\n", dashes.join("|")));
    }
    for row in rows {
        s.push_str(&line(row));
    }
    if md {
        s.push('\n');
    }
    s
}

/// Where files are read from: the workspace or a git commit.
enum Side {
    Workspace,
    Commit {
        git: Git,
        /// As the user wrote it, for messages.
        rev: String,
        /// The commit's hash.
        sha: String,
    },
}

impl Side {
    fn new(git: Option<&Git>, rev: &str) -> Result<Side, Error> {
        match git {
            Some(git) if rev != WORKSPACE => Ok(Side::Commit {
                git: git.clone(),
                rev: rev.to_string(),
                sha: git.commit(rev)?,
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
                    return Err(Error::Usage {
                        message: format!("cannot read `{path}`: {e}"),
                        help: None,
                    });
                }
            },
            Side::Commit { git, rev, sha } => match git.read(sha, path)? {
                Some(text) => (format!("{rev}:{path}"), text),
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

/// The git repository holding the wf repository, to read files as they were at a commit.
#[derive(Debug, Clone)]
struct Git {
    /// The wf repository root, where git runs.
    dir: PathBuf,
    /// The root relative to git's top level, `/`-terminated (empty at the top level).
    prefix: String,
}

impl Git {
    /// The repository around `root`; `rev` is what the user asked for, for the error.
    fn open(root: &Path, rev: &str) -> Result<Git, Error> {
        let out = git(root, &["rev-parse", "--show-toplevel"])?;
        if !out.status.success() {
            return Err(Error::Usage {
                message: format!(
                    "`{}` is not in a git repository, so there is no revision `{rev}` to compare with",
                    root.display()
                ),
                help: Some(
                    "run `git init` and commit, or use `wf metrics show` for the workspace's values"
                        .into(),
                ),
            });
        }
        let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let top = top.canonicalize().unwrap_or(top);
        let prefix = match root.strip_prefix(&top) {
            Ok(rel) => rel
                .components()
                .map(|c| format!("{}/", c.as_os_str().to_string_lossy()))
                .collect(),
            // A root git sees under another name (a symlink): ask git where it is.
            Err(_) => String::from_utf8_lossy(&git(root, &["rev-parse", "--show-prefix"])?.stdout)
                .trim()
                .to_string(),
        };
        Ok(Git {
            dir: root.to_path_buf(),
            prefix,
        })
    }

    /// The commit a revision names.
    fn commit(&self, rev: &str) -> Result<String, Error> {
        let unknown = || {
            Error::Usage {
            message: format!("unknown revision `{rev}`"),
            help: Some(
                "name a commit, branch or tag of the git repository (`git log --oneline` lists commits)"
                    .into(),
            ),
        }
        };
        // A leading dash would be read as an option.
        if rev.starts_with('-') {
            return Err(unknown());
        }
        let out = git(
            &self.dir,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )?;
        if !out.status.success() {
            return Err(unknown());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A file's text at a commit, or `None` when the commit has no such file.
    fn read(&self, sha: &str, path: &RepoPath) -> Result<Option<String>, Error> {
        let spec = format!("{sha}:{}{}", self.prefix, path.as_str());
        let out = git(&self.dir, &["cat-file", "blob", &spec])?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Output, Error> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Error::Usage {
            message: format!("cannot run git: {e}"),
            help: Some("install git and make sure it is on `PATH`".into()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::from_json;

    #[test]
    fn nested_keys_are_joined_with_dots_and_lists_stay_whole() {
        let v = from_json(&json!({
            "acc": 0.9,
            "per_class": {"setosa": {"f1": 1.0}, "empty": {}},
            "matrix": [[1, 0], [0, 1]],
        }));
        let flat = flatten(Some(&v), None);
        let keys: Vec<&str> = flat.keys().map(String::as_str).collect();
        assert_eq!(keys, ["acc", "matrix", "per_class.setosa.f1"]);
        let keep: BTreeSet<String> = ["per_class".to_string()].into();
        let kept = flatten(Some(&v), Some(&keep));
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["per_class.setosa.f1"]);
        assert_eq!(flatten(Some(&Value::Int(3)), None)[""], Value::Int(3));
    }

    #[test]
    fn changes_as_dvc_computes_them() {
        let c = change(Some(&Value::Int(3)), Some(&Value::Int(5)), false);
        assert_eq!(c.and_then(|c| c.diff), Some(Value::Int(2)));
        let c = change(Some(&Value::Float(0.9)), Some(&Value::Int(1)), false);
        assert!(matches!(c.and_then(|c| c.diff), Some(Value::Float(d)) if (d - 0.1).abs() < 1e-12));
        assert_eq!(
            change(Some(&Value::Int(1)), Some(&Value::Float(1.0)), false),
            None
        );
        let same = change(Some(&Value::Int(1)), Some(&Value::Int(1)), true);
        assert_eq!(same.and_then(|c| c.diff), Some(Value::Int(0)));
        let one = |v| Value::List(vec![v]);
        let c = change(Some(&one(Value::Int(1))), Some(&one(Value::Int(4))), false);
        assert_eq!(c.and_then(|c| c.diff), Some(Value::Int(3)));
        let added = change(None, Some(&Value::Str("x".into())), false);
        assert_eq!(added.map(|c| (c.old, c.diff)), Some((None, None)));
    }

    #[track_caller]
    fn case(v: Value, round: bool, expected: &str) {
        assert_eq!(py_str(&v, round), expected);
    }

    #[test]
    fn cells_print_as_python_does() {
        case(Value::Float(0.933333333), true, "0.93333");
        case(Value::Float(0.933333333), false, "0.933333333");
        case(Value::Float(0.04999999999999993), true, "0.05");
        case(Value::Float(1e-7), true, "0.0");
        case(Value::Float(1e-5), false, "1e-05");
        case(Value::Bool(true), false, "True");
        case(Value::Str("adam".into()), false, "adam");
        case(
            from_json(&json!([0.123456, "a", true, [1, 2]])),
            true,
            "[0.12346, 'a', True, [1, 2]]",
        );
    }

    #[test]
    fn tables_are_laid_out_as_tabulate_does() {
        let h: Vec<String> = ["Path", "Param", "HEAD", "workspace"]
            .map(String::from)
            .into();
        let rows = vec![
            ["params.yaml", "lr", "0.1", "0.2"]
                .map(String::from)
                .to_vec(),
        ];
        assert_eq!(
            table(&h, &rows, false),
            "Path         Param    HEAD    workspace\nparams.yaml  lr       0.1     0.2\n"
        );
        assert_eq!(
            table(&h, &rows, true),
            "| Path        | Param   | HEAD   | workspace   |\n\
             |-------------|---------|--------|-------------|\n\
             | params.yaml | lr      | 0.1    | 0.2         |\n\n"
        );
    }
}
