//! Cells in Python's text, as DVC fills its tables: `str()` of a value, floats the shortest
//! text that reads back (`0.9333`, `1e-05`), optionally `round(x, 5)` first.

use crate::spec::Value;
use crate::spec::value::python_float;

/// Python's `str()`, as DVC fills a cell; with `round`, floats (also inside lists) are
/// `round(x, 5)`, DVC's default precision for metrics.
pub fn py_str(v: &Value, round: bool) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::from_json;
    use serde_json::json;

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
        case(Value::Null, false, "None");
        case(Value::Str("adam".into()), false, "adam");
        case(
            from_json(&json!([0.123456, "a", true, [1, 2]])),
            true,
            "[0.12346, 'a', True, [1, 2]]",
        );
        case(from_json(&json!({"k": 0.5})), false, "{'k': 0.5}");
    }
}
