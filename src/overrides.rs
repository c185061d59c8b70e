//! `Overrides`: params a run sets in memory, as if their files said so (what an experiment's
//! `-S key=value` sets). Applied wherever params files are read: `${}` interpolation and the
//! stages' tracked params.

use std::collections::BTreeMap;

use crate::repo_path::RepoPath;
use crate::spec::value::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{from_json, lookup};

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
