//! `Params`: params files read once per run, and values looked up by dotted key, compared by
//! parsed value as DVC does.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::overrides::Overrides;
use crate::repo_path::RepoPath;
use crate::spec::value::Value;
use crate::spec::{Source, SpecError, yaml};

/// Params files already read, by path, with a run's in-memory overrides applied.
#[derive(Debug, Default)]
pub struct Params {
    files: HashMap<RepoPath, Option<Value>>,
    overrides: Arc<Overrides>,
}

impl Params {
    /// Params read with these overrides applied.
    pub fn with(overrides: Arc<Overrides>) -> Params {
        Params {
            files: HashMap::new(),
            overrides,
        }
    }

    /// The parsed file, or `None` when it does not exist.
    pub fn file(&mut self, root: &Path, path: &RepoPath) -> Result<Option<&Value>, SpecError> {
        if !self.files.contains_key(path) {
            let abs = path.to_path(root);
            let value = match std::fs::read_to_string(&abs) {
                Ok(text) => {
                    let src = Arc::new(Source {
                        name: path.to_string(),
                        path: abs,
                        text,
                    });
                    Some(Value::from_node(&yaml::parse(&src)?))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(SpecError::Read {
                        path: path.to_string(),
                        reason: e.to_string(),
                    });
                }
            };
            let value = self.overrides.apply(path.as_str(), value);
            self.files.insert(path.clone(), value);
        }
        Ok(self.files.get(path).and_then(Option::as_ref))
    }
}

/// Looks a dotted key up: a top-level key spelled with dots first, then the nested path.
pub fn lookup<'v>(file: &'v Value, key: &str) -> Option<&'v Value> {
    let Value::Map(map) = file else { return None };
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    let mut cur = file;
    for part in key.split('.') {
        cur = match cur {
            Value::Map(m) => m.get(part)?,
            Value::List(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Converts a locked JSON value back for comparison.
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(m) => {
            Value::Map(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_lookup() {
        let v =
            from_json(&serde_json::json!({"train": {"opt": {"lr": 0.1}}, "a.b": 1, "lst": [5, 6]}));
        assert_eq!(lookup(&v, "train.opt.lr"), Some(&Value::Float(0.1)));
        assert_eq!(lookup(&v, "a.b"), Some(&Value::Int(1)));
        assert_eq!(lookup(&v, "lst.1"), Some(&Value::Int(6)));
        assert_eq!(lookup(&v, "train.nope"), None);
    }
}
