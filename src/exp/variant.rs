//! `Variant`: one experiment's overrides, expanded from the `-S` values of `wf exp run` (a sweep
//! gives several), and their params files rewritten with them.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::ExpError;
use super::hydra::{self, Assignment, Op};
use super::rewrite::{self, Change};
use crate::repo_path::RepoPath;
use crate::spec::value::Value;

/// The params file an override without a `file:` changes, in the working folder.
pub const DEFAULT_FILE: &str = "params.yaml";

/// One experiment's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Each override as one experiment's (`train.C=2`, not the sweep `train.C=1,2`).
    pub overrides: Vec<String>,
    assignments: Vec<Assignment>,
}

/// The experiments the `-S` values ask for: one, or with sweeps their cartesian product.
pub fn expand(texts: &[String]) -> Result<Vec<Variant>, ExpError> {
    let parsed = texts
        .iter()
        .map(|t| hydra::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hydra::expand(&parsed)
        .into_iter()
        .map(|assignments| Variant {
            overrides: assignments.iter().map(text_of).collect(),
            assignments,
        })
        .collect())
}

impl Variant {
    /// The variant that sets each key (`[file:]key`, `value`) or, with `add`, adds it.
    pub fn setting(
        values: impl IntoIterator<Item = (Option<String>, String, bool, Value)>,
    ) -> Variant {
        let assignments: Vec<Assignment> = values
            .into_iter()
            .map(|(file, key, add, value)| Assignment {
                file,
                op: if add { Op::Add } else { Op::Set },
                key,
                value: Some(value),
            })
            .collect();
        Variant {
            overrides: assignments.iter().map(text_of).collect(),
            assignments,
        }
    }

    /// The values it sets, by `[file:]key` as written.
    pub fn assigned(&self) -> BTreeMap<String, Value> {
        self.assignments
            .iter()
            .filter_map(|a| {
                let name = match &a.file {
                    Some(f) => format!("{f}:{}", a.key),
                    None => a.key.clone(),
                };
                Some((name, a.value.clone()?))
            })
            .collect()
    }

    /// The variant of overrides as one experiment recorded them.
    pub fn recorded(overrides: &[String]) -> Result<Variant, ExpError> {
        let mut all = expand(overrides)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            _ => Ok(Variant {
                overrides: overrides.to_vec(),
                assignments: Vec::new(),
            }),
        }
    }

    /// The params files it changes (relative to the root) with their new text, read from the
    /// repository at `root` with `cwd` the working folder; an override that does not apply is
    /// an error naming its file and key.
    pub fn rewritten(
        &self,
        root: &Path,
        cwd: &RepoPath,
    ) -> Result<Vec<(RepoPath, String)>, ExpError> {
        let mut by_file: BTreeMap<RepoPath, Vec<Change>> = BTreeMap::new();
        for a in &self.assignments {
            let file = a.file.as_deref().unwrap_or(DEFAULT_FILE);
            let path = cwd.join(file).ok_or_else(|| ExpError::Outside {
                file: file.to_string(),
                text: text_of(a),
            })?;
            let change = match (&a.op, &a.value) {
                (Op::Remove, _) => Change::Remove { key: a.key.clone() },
                (Op::Add, value) => Change::Add {
                    key: a.key.clone(),
                    value: value.clone().unwrap_or(Value::Null),
                },
                (Op::Set, value) => Change::Set {
                    key: a.key.clone(),
                    value: value.clone().unwrap_or(Value::Null),
                },
            };
            by_file.entry(path).or_default().push(change);
        }
        let mut out = Vec::new();
        for (path, changes) in by_file {
            let abs = path.to_path(root);
            let text = match std::fs::read_to_string(&abs) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(source) => return Err(ExpError::Write { path: abs, source }),
            };
            let new = rewrite::rewrite(path.as_str(), &text, &changes)?;
            out.push((path, new));
        }
        Ok(out)
    }

    /// The params it sets: file (relative to the root), dotted key, value.
    pub fn values(&self, cwd: &RepoPath) -> Vec<(String, String, serde_json::Value)> {
        self.assignments
            .iter()
            .filter_map(|a| {
                let file = cwd.join(a.file.as_deref().unwrap_or(DEFAULT_FILE))?;
                Some((file.to_string(), a.key.clone(), a.value.as_ref()?.to_json()))
            })
            .collect()
    }

    /// Rewrites its params files in the repository at `root`; returns them.
    pub fn apply(&self, root: &Path, cwd: &RepoPath) -> Result<Vec<RepoPath>, ExpError> {
        let files = self.rewritten(root, cwd)?;
        for (path, text) in &files {
            let abs = path.to_path(root);
            crate::atomic::replace(&abs, text.as_bytes())
                .map_err(|source| ExpError::Write { path: abs, source })?;
        }
        Ok(files.into_iter().map(|(p, _)| p).collect())
    }
}

/// One experiment's override as it would be typed.
fn text_of(a: &Assignment) -> String {
    let file = a.file.as_ref().map(|f| format!("{f}:")).unwrap_or_default();
    match (&a.op, &a.value) {
        (Op::Remove, _) => format!("{file}~{}", a.key),
        (op, value) => {
            let plus = if matches!(op, Op::Add) { "+" } else { "" };
            let value = value.as_ref().map_or("null".into(), value_text);
            format!("{file}{plus}{}={value}", a.key)
        }
    }
}

/// A value as an override writes it: strings that would read as something else are quoted.
fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => {
            let plain = hydra::parse(&format!("k={s}"))
                .ok()
                .and_then(|o| o.values.into_iter().next());
            if plain.as_ref() == Some(v) && !s.contains(',') {
                s.clone()
            } else {
                format!("'{}'", s.replace('\'', "\\'"))
            }
        }
        Value::Null => "null".into(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", value_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_text(),
    }
}
