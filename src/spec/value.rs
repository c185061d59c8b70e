//! Plain values of params and vars files, compared and printed the way DVC (Python) does.

use indexmap::IndexMap;

pub use super::python::python_float;

use super::yaml::{Kind, Node};

/// A params value: YAML without positions, maps in file order.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A mapping, in file order.
    Map(IndexMap<String, Value>),
}

impl PartialEq for Value {
    /// Python equality, as DVC compares params: `1 == 1.0`, `true != 1` is not needed by
    /// users and is kept strict, maps compare without regard to order.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
            }
            _ => false,
        }
    }
}

impl Value {
    /// Drops the positions of a YAML tree.
    pub fn from_node(node: &Node) -> Value {
        match &node.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::Int(*i),
            Kind::Float(f) => Value::Float(*f),
            Kind::Str(s) => Value::Str(s.clone()),
            Kind::Seq(items) => Value::List(items.iter().map(Value::from_node).collect()),
            Kind::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), Value::from_node(v)))
                    .collect(),
            ),
        }
    }

    /// Python's type name, for DVC's "Cannot interpolate data of type 'list'".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// A list or a mapping.
    pub fn is_composite(&self) -> bool {
        matches!(self, Value::List(_) | Value::Map(_))
    }

    /// The text a scalar becomes inside a longer string, as DVC's `to_str`: booleans are
    /// `true`/`false`, numbers are Python's `str()`, null is `None`.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => "None".into(),
            Value::Bool(b) => if *b { "true" } else { "false" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float(*f),
            Value::Str(s) => s.clone(),
            Value::List(items) => format!(
                "[{}]",
                items.iter().map(Value::repr).collect::<Vec<_>>().join(", ")
            ),
            Value::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("'{k}': {}", v.repr()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Python's `repr()`, used inside printed lists and maps.
    fn repr(&self) -> String {
        match self {
            Value::Str(s) => format!("'{s}'"),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            other => other.to_text(),
        }
    }

    /// Converts to JSON, for `with:` of built-in stages and `--json` output.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_by_parsed_value() {
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Str("0.1".into()), Value::Float(0.1));
        let a = Value::Map(
            [
                ("x".to_string(), Value::Int(1)),
                ("y".to_string(), Value::Int(2)),
            ]
            .into(),
        );
        let b = Value::Map(
            [
                ("y".to_string(), Value::Int(2)),
                ("x".to_string(), Value::Int(1)),
            ]
            .into(),
        );
        assert_eq!(a, b);
    }
}
