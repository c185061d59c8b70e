//! A mapping interpolated into `cmd`, unpacked into command-line flags as DVC does.

use indexmap::IndexMap;

use super::budget;
use super::value::Value;

/// A mapping as command-line flags, as DVC's `to_str(dict)` with its defaults (`store_true`
/// booleans, `nargs` lists): `{lr: 0.01, sizes: [1, 2], deep: {x: yes}}` → `--lr 0.01 --sizes 1 2
/// --deep.x yes`. Errs with the flag name on a nested list.
pub(super) fn unpack_flags(map: &IndexMap<String, Value>) -> Result<String, String> {
    fn flatten(prefix: &str, map: &IndexMap<String, Value>, out: &mut Vec<(String, Value)>) {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Map(inner) if !inner.is_empty() => flatten(&key, inner, out),
                other => out.push((key, other.clone())),
            }
        }
    }
    let mut flat = Vec::new();
    flatten("", map, &mut flat);
    let mut parts: Vec<String> = Vec::new();
    for (k, v) in flat {
        match v {
            Value::Bool(true) => parts.push(format!("--{k}")),
            Value::Bool(false) => {}
            Value::Str(s) => parts.push(format!("--{k} {}", shell_quote(&s))),
            Value::List(items) => {
                let mut flag = format!("--{k}");
                for item in items {
                    match item {
                        Value::Str(s) => flag.push_str(&format!(" {}", shell_quote(&s))),
                        Value::List(_) | Value::Map(_) => return Err(k),
                        other => flag.push_str(&format!(" {}", other.to_text_py())),
                    }
                }
                parts.push(flag);
            }
            other => parts.push(format!("--{k} {}", other.to_text_py())),
        }
    }
    Ok(parts.join(" "))
}

/// At least the length of `unpack_flags(map)` (`prefix` is the length of the keys above), found
/// without making it: each flag spells its whole dotted path, so the flags of a deep mapping can
/// be much longer than the mapping.
pub(super) fn flags_len(map: &IndexMap<String, Value>, prefix: usize) -> usize {
    map.iter()
        .map(|(k, v)| {
            let key = prefix.saturating_add(1 + k.len());
            match v {
                Value::Map(inner) if !inner.is_empty() => flags_len(inner, key),
                // `--key value`: a value's text, shell-quoted, is at most five times its weight.
                other => key
                    .saturating_add(4)
                    .saturating_add(budget::weight(other).saturating_mul(5)),
            }
        })
        .fold(budget::VALUE, usize::saturating_add)
}

impl Value {
    /// Python's `str()` of a scalar inside a flag (booleans as `True`/`False`, as an f-string
    /// would print them).
    fn to_text_py(&self) -> String {
        match self {
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            other => other.to_text(),
        }
    }
}

/// Python's `shlex.quote`.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_no_longer_than_their_bound() {
        let cfg: IndexMap<String, Value> = [
            ("lr".to_string(), Value::Float(0.01)),
            ("on".to_string(), Value::Bool(true)),
            ("s".to_string(), Value::Str("it's a b".into())),
            (
                "sizes".to_string(),
                Value::List(vec![Value::Int(1), Value::Str("x y".into())]),
            ),
        ]
        .into();
        let cfg = &cfg;
        let deep: IndexMap<String, Value> = [(
            "a".repeat(50),
            Value::Map([("b".repeat(50), Value::Map(cfg.clone()))].into()),
        )]
        .into();
        for map in [cfg, &deep] {
            let flags = unpack_flags(map).unwrap();
            assert!(flags.len() <= flags_len(map, 0), "{flags}");
        }
    }

    #[test]
    fn shell_quote_as_python() {
        assert_eq!(shell_quote("abc-1.0/x"), "abc-1.0/x");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
    }
}
