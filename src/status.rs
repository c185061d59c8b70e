//! `Check`: whether a stage must run, decided from its inputs as hashed now against its lock
//! entry, exactly as DVC decides (DVC-SEMANTICS.md §5). `status`, `repro` and `watch` share it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::dag::Dag;
use crate::dep_path::DepPath;
use crate::hash::{HashError, HashInfo, Hasher};
use crate::lock::{Entry, LockCmd, LockSet, PathHash};
use crate::params::{self, Params};
use crate::spec::value::Value;
use crate::spec::{Action, Cmd, Pipeline, SpecError, Stage};

/// How one path or key differs from the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Different content or value.
    Modified,
    /// Not in the lock.
    New,
    /// Gone from the workspace (or the params file).
    Deleted,
}

impl Kind {
    /// DVC's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Modified => "modified",
            Kind::New => "new",
            Kind::Deleted => "deleted",
        }
    }
}

/// Why a stage is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A dependency changed (path as written).
    Dep(String, Kind),
    /// A whole params file is new to the lock.
    ParamsFile(String, Kind),
    /// A tracked param changed.
    Param {
        /// The params file as written.
        file: String,
        /// The key.
        key: String,
        /// How.
        kind: Kind,
    },
    /// An output changed (path as written).
    Out(String, Kind),
    /// The command (or built-in identity) differs.
    Command,
    /// `always_changed: true`.
    Always,
}

impl std::fmt::Display for Change {
    /// One change in words, for `repro --dry`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Dep(p, k) => write!(f, "dep '{p}' {}", k.word()),
            Change::ParamsFile(p, k) => write!(f, "params '{p}' {}", k.word()),
            Change::Param { file, key, kind } => {
                write!(f, "param '{key}' of '{file}' {}", kind.word())
            }
            Change::Out(p, k) => write!(f, "out '{p}' {}", k.word()),
            Change::Command => f.write_str("changed command"),
            Change::Always => f.write_str("always changed"),
        }
    }
}

/// The current state of a stage's inputs and outputs, hashed once.
#[derive(Debug, Clone)]
pub struct Current {
    /// Each dep as written, with its hash (`None`: missing).
    pub deps: Vec<(String, Option<HashInfo>)>,
    /// Each out as written, with its hash (`None`: missing).
    pub outs: Vec<(String, Option<HashInfo>)>,
    /// Tracked params by file as written: each key's value (`None`: missing).
    pub params: BTreeMap<String, BTreeMap<String, Option<Value>>>,
}

/// Errors while checking a stage.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A dep or out could not be hashed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// A params file could not be parsed.
    #[error(transparent)]
    Params(#[from] SpecError),
}

/// Hashes a stage's deps and outs and reads its params.
pub fn current(
    stage: &Stage,
    root: &Path,
    hasher: &Hasher,
    params: &mut Params,
) -> Result<Current, CheckError> {
    let mut all: Vec<DepPath> = stage.deps.iter().map(|d| d.path.clone()).collect();
    all.extend(
        stage
            .outs
            .iter()
            .map(|o| DepPath::from(o.entry.path.clone())),
    );
    let mut hashes = hasher.hash_many(&all).into_iter();
    let mut take = |written: &str| -> Result<(String, Option<HashInfo>), CheckError> {
        Ok((written.to_string(), hashes.next().transpose()?.flatten()))
    };
    let deps = stage
        .deps
        .iter()
        .map(|d| take(&d.written))
        .collect::<Result<Vec<_>, _>>()?;
    let outs = stage
        .outs
        .iter()
        .map(|o| take(&o.entry.written))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tracked = BTreeMap::new();
    for p in &stage.params {
        let file = params.file(root, &p.file)?;
        let values: BTreeMap<String, Option<Value>> = match (&p.keys, file) {
            (Some(keys), file) => keys
                .iter()
                .map(|k| (k.clone(), file.and_then(|f| params::lookup(f, k)).cloned()))
                .collect(),
            (None, Some(Value::Map(m))) => m
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            (None, _) => BTreeMap::new(),
        };
        tracked.insert(p.written.clone(), values);
    }
    Ok(Current {
        deps,
        outs,
        params: tracked,
    })
}

/// What `wf status` reports: the stages that will run, in topological order.
#[derive(Debug, Default)]
pub struct Stale {
    /// Stages whose own inputs, command or outputs changed, with what changed.
    pub changed: Vec<(usize, Vec<Change>)>,
    /// Stages fresh themselves that will run because stages upstream of them are stale (their
    /// addresses).
    pub upstream: Vec<(usize, Vec<String>)>,
}

/// Checks `stages` of `pipeline` in `order` (the DAG's topological order) against `locks`.
pub fn stale(
    pipeline: &Pipeline,
    dag: &Dag,
    order: &[usize],
    stages: &BTreeSet<usize>,
    root: &Path,
    hasher: &Hasher,
    locks: &LockSet,
) -> Result<Stale, CheckError> {
    let mut params = Params::default();
    let mut out = Stale::default();
    let mut stale_set = BTreeSet::new();
    for &i in order.iter().filter(|i| stages.contains(i)) {
        let stage = &pipeline.stages[i];
        let cur = current(stage, root, hasher, &mut params)?;
        let changes = changes(stage, &cur, locks.entry(stage));
        if !changes.is_empty() {
            stale_set.insert(i);
            out.changed.push((i, changes));
        } else if !stage.frozen {
            // Unlike DVC, which shows only stages stale right now.
            let from: Vec<String> = dag
                .parents(i)
                .filter(|j| stale_set.contains(j))
                .map(|j| pipeline.stages[j].address())
                .collect();
            if !from.is_empty() {
                stale_set.insert(i);
                out.upstream.push((i, from));
            }
        }
    }
    Ok(out)
}

/// The lock identity of what a stage runs.
pub fn identity(stage: &Stage) -> Entry {
    match &stage.action {
        Action::Cmd(Cmd::Line(s)) => Entry {
            cmd: Some(LockCmd::Line(s.clone())),
            ..Entry::default()
        },
        Action::Cmd(Cmd::List(items)) => Entry {
            cmd: Some(LockCmd::List(items.clone())),
            ..Entry::default()
        },
        Action::Builtin {
            name,
            version,
            with,
        } => Entry {
            uses: Some(name.clone()),
            version: Some(*version),
            with: Some(with.to_json()),
            ..Entry::default()
        },
    }
}

/// What differs between the workspace and the lock entry. Empty: the stage is fresh.
pub fn changes(stage: &Stage, cur: &Current, entry: Option<&Entry>) -> Vec<Change> {
    let mut out = Vec::new();
    if stage.frozen {
        // As DVC: a frozen stage is never stale; its deps are not even looked at.
        return out;
    }
    let empty = Entry::default();
    let locked = entry.unwrap_or(&empty);
    let find = |list: &[PathHash], p: &str| list.iter().find(|l| l.path == p).cloned();
    for (path, info) in &cur.deps {
        match (info, find(&locked.deps, path)) {
            (None, _) => out.push(Change::Dep(path.clone(), Kind::Deleted)),
            (Some(info), Some(l)) if l.matches(info) => {}
            (Some(_), _) => out.push(Change::Dep(path.clone(), Kind::Modified)),
        }
    }
    // Unlike DVC, a dep dropped from the spec makes the stage stale: what it ran with is no
    // longer what the spec says (DVC-SEMANTICS.md §14 calls DVC's behaviour a quirk).
    if entry.is_some() {
        for l in &locked.deps {
            if !cur.deps.iter().any(|(p, _)| *p == l.path) {
                out.push(Change::Dep(l.path.clone(), Kind::Deleted));
            }
        }
    }
    for (file, values) in &cur.params {
        let Some(locked_file) = locked.params.get(file) else {
            out.push(Change::ParamsFile(file.clone(), Kind::New));
            continue;
        };
        for (key, value) in values {
            let old = locked_file.get(key).map(params::from_json);
            let kind = match (value, old) {
                (None, _) => Some(Kind::Deleted),
                (Some(_), None) => Some(Kind::New),
                (Some(v), Some(o)) if *v != o => Some(Kind::Modified),
                _ => None,
            };
            if let Some(kind) = kind {
                out.push(Change::Param {
                    file: file.clone(),
                    key: key.clone(),
                    kind,
                });
            }
        }
        for key in locked_file.keys() {
            if !values.contains_key(key)
                && stage
                    .params
                    .iter()
                    .any(|p| p.written == *file && p.keys.is_none())
            {
                out.push(Change::Param {
                    file: file.clone(),
                    key: key.clone(),
                    kind: Kind::Deleted,
                });
            }
        }
    }
    for (path, info) in &cur.outs {
        match (info, find(&locked.outs, path)) {
            (None, _) => out.push(Change::Out(path.clone(), Kind::Deleted)),
            (Some(info), Some(l)) if l.matches(info) => {}
            (Some(_), _) => out.push(Change::Out(path.clone(), Kind::Modified)),
        }
    }
    let id = identity(stage);
    let differs = id.cmd != locked.cmd
        || id.uses != locked.uses
        || id.version != locked.version
        || id.with != locked.with;
    // As DVC: a stage that never ran lists its deps and outs, not its command; with nothing
    // else to list, the command is what is new.
    if (entry.is_some() && differs) || (entry.is_none() && out.is_empty()) {
        out.push(Change::Command);
    }
    if stage.always_changed {
        out.push(Change::Always);
    }
    out
}

/// The lock entry recording a stage as it is now. `None` when a dep, out or param is missing.
pub fn entry(stage: &Stage, cur: &Current) -> Entry {
    let mut e = identity(stage);
    let hashed = |list: &[(String, Option<HashInfo>)]| {
        let mut v: Vec<PathHash> = list
            .iter()
            .filter_map(|(p, h)| h.as_ref().map(|h| PathHash::new(p, h)))
            .collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v.dedup_by(|a, b| a.path == b.path);
        v
    };
    e.deps = hashed(&cur.deps);
    e.outs = hashed(&cur.outs);
    e.params = cur
        .params
        .iter()
        .map(|(file, values)| {
            let values = values
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.to_json())))
                .collect();
            (file.clone(), values)
        })
        .collect();
    e
}

/// DVC's `Parameters 'a', 'b' are missing from 'params.yaml'.` problems: (file, missing keys).
pub fn missing_params(cur: &Current) -> Vec<(String, Vec<String>)> {
    cur.params
        .iter()
        .filter_map(|(file, values)| {
            let missing: Vec<String> = values
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k.clone())
                .collect();
            (!missing.is_empty()).then(|| (file.clone(), missing))
        })
        .collect()
}

/// The run-cache key material of a stage as it is now: its identity, deps, params, and every
/// out path (hashes of outs play no part in the key).
pub fn probe(stage: &Stage, cur: &Current) -> Entry {
    let mut e = entry(stage, cur);
    e.outs = cur
        .outs
        .iter()
        .map(|(p, _)| PathHash {
            path: p.clone(),
            hash: "blake3".into(),
            blake3: String::new(),
            size: 0,
            nfiles: None,
        })
        .collect();
    e.outs.sort_by(|a, b| a.path.cmp(&b.path));
    e
}

/// The `wf add`ed paths whose content differs from their pointer file, by pointer file
/// (`data.wf` → `[Out("data", Modified)]`), as `dvc status` reports `.dvc` files.
pub fn pointers(root: &Path, hasher: &Hasher) -> Result<Vec<(String, Vec<Change>)>, String> {
    let mut stale = Vec::new();
    for file in crate::pointer::discover(root) {
        let ptr = crate::pointer::Pointer::read(&file.to_path(root))?;
        let mut changes = Vec::new();
        for o in &ptr.outs {
            let Some(path) = file.parent().join(&o.path) else {
                return Err(format!(
                    "`{file}` tracks `{}`, outside the repository",
                    o.path
                ));
            };
            let kind = match hasher.hash(&path).map_err(|e| e.to_string())? {
                None => Kind::Deleted,
                Some(info) if info.hash != o.info().hash => Kind::Modified,
                Some(_) => continue,
            };
            changes.push(Change::Out(o.path.clone(), kind));
        }
        if !changes.is_empty() {
            stale.push((file.to_string(), changes));
        }
    }
    Ok(stale)
}
