//! `Params`: params files read once per run, and values looked up by dotted key, compared by
//! parsed value as DVC does.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::repo_path::RepoPath;
use crate::spec::value::Value;
use crate::spec::{Source, SpecError, yaml};

/// Params files already read, by path, with a run's in-memory overrides applied.
#[derive(Debug, Default)]
pub struct Params {
    files: HashMap<RepoPath, Option<Value>>,
    overrides: Arc<Overrides>,
}

/// Params set for one run only, in memory, as if their files said so (what an experiment's
/// `-S key=value` sets): by params file (relative to the root), then dotted key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    files: BTreeMap<String, Vec<(String, Value)>>,
}

impl Overrides {
    /// Sets `key` (dotted: `train.C`) of `file` to `value`.
    pub fn set(&mut self, file: &RepoPath, key: &str, value: Value) {
        let keys = self.files.entry(file.to_string()).or_default();
        keys.retain(|(k, _)| k != key);
        keys.push((key.to_string(), value));
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Applies the overrides of `file` to its parsed content (`None`: the file does not exist;
    /// overrides then make it).
    pub fn apply(&self, file: &str, value: Option<Value>) -> Option<Value> {
        let Some(keys) = self.files.get(file) else {
            return value;
        };
        let mut value = match value {
            Some(Value::Map(m)) => Value::Map(m),
            _ => Value::Map(Default::default()),
        };
        for (key, v) in keys {
            set_dotted(&mut value, key, v.clone());
        }
        Some(value)
    }
}

/// Sets a dotted key inside a mapping, making the mappings on the way (a key spelled with dots
/// at the top level is set as it is, as `lookup` finds it first).
fn set_dotted(file: &mut Value, key: &str, value: Value) {
    if let Value::Map(map) = file
        && map.contains_key(key)
    {
        map.insert(key.to_string(), value);
        return;
    }
    let mut cur = file;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if !matches!(cur, Value::Map(_)) {
            *cur = Value::Map(Default::default());
        }
        let Value::Map(map) = cur else { return };
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        cur = map.entry(part.to_string()).or_insert(Value::Null);
    }
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

    #[test]
    fn overrides_set_nested_keys_and_make_what_is_missing() {
        let mut o = Overrides::default();
        let file = RepoPath::root().join("params.yaml").unwrap();
        o.set(&file, "train.opt.lr", Value::Float(0.5));
        o.set(&file, "seed", Value::Int(7));
        o.set(&file, "a.b", Value::Int(2));
        let v = from_json(&serde_json::json!({"train": {"opt": {"lr": 0.1, "m": 1}}, "a.b": 1}));
        let v = o.apply("params.yaml", Some(v)).unwrap();
        assert_eq!(lookup(&v, "train.opt.lr"), Some(&Value::Float(0.5)));
        assert_eq!(lookup(&v, "train.opt.m"), Some(&Value::Int(1)));
        assert_eq!(lookup(&v, "seed"), Some(&Value::Int(7)));
        assert_eq!(lookup(&v, "a.b"), Some(&Value::Int(2)));
        // Another file is left alone, and a missing file is made.
        assert_eq!(o.apply("other.yaml", None), None);
        let made = o.apply("params.yaml", None).unwrap();
        assert_eq!(lookup(&made, "seed"), Some(&Value::Int(7)));
    }
}
