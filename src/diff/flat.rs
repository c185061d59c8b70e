//! Nested values flattened to dotted keys, and two flattened values compared key by key, as
//! DVC's `flatten` and `_diff_vals`.

use std::collections::{BTreeMap, BTreeSet};

use crate::spec::Value;

/// One key's values on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The old value; `None` when the key is absent.
    pub old: Option<Value>,
    /// The new value; `None` when the key is absent.
    pub new: Option<Value>,
    /// new − old, when both are numbers.
    pub diff: Option<Value>,
}

/// A file's values by dotted key, as DVC flattens them: mappings are walked (empty ones
/// dropped), lists are single values, a file that is not a mapping is the key `""`. With
/// `keep`, only those keys and the keys under them.
pub fn flatten(file: Option<&Value>, keep: Option<&BTreeSet<String>>) -> BTreeMap<String, Value> {
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

/// Every key of two flattened values that changed (every key with `all`), in key order.
pub fn changes(
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    all: bool,
) -> BTreeMap<String, Change> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| Some((k.clone(), change(old.get(k), new.get(k), all)?)))
        .collect()
}

/// How one key changed, or `None` when it did not and `all` is off. As DVC's `_diff_vals`:
/// one-item lists compare their items, null is absent, numbers get a difference.
pub fn change(old: Option<&Value>, new: Option<&Value>, all: bool) -> Option<Change> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::from_json;
    use serde_json::json;

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

    #[test]
    fn changes_keep_changed_keys_in_order() {
        let old = flatten(Some(&from_json(&json!({"a": 1, "b": 2, "c": 3}))), None);
        let new = flatten(Some(&from_json(&json!({"a": 1, "b": 5, "d": 4}))), None);
        let changed: Vec<String> = changes(&old, &new, false).into_keys().collect();
        assert_eq!(changed, ["b", "c", "d"]);
        assert_eq!(changes(&old, &new, true).len(), 4);
    }
}
