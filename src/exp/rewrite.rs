//! Overrides applied to the text of a params file, as `dvc exp run` does: only the changed
//! value is rewritten (a removed key's lines go, an added key's line is inserted), so comments,
//! key order, quoting and layout elsewhere stay byte for byte. YAML and JSON files.

use std::sync::Arc;

use crate::spec::value::Value;
use crate::spec::yaml::{self, Kind, Node};
use crate::spec::{Source, SpecError};

/// One change to a params file.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Change an existing key.
    Set {
        /// The dotted key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// Add a key that does not exist.
    Add {
        /// The dotted key.
        key: String,
        /// Its value.
        value: Value,
    },
    /// Remove an existing key.
    Remove {
        /// The dotted key.
        key: String,
    },
}

/// Why an override does not apply to its file.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The key is not in the file.
    #[error("`{file}` has no key `{key}`")]
    Missing {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The closest key the file has.
        suggestion: Option<String>,
    },
    /// `+key` of a key the file has.
    #[error("`{file}` already has the key `{key}`")]
    Exists {
        /// The file.
        file: String,
        /// The key.
        key: String,
    },
    /// The key goes through a value that is not a mapping.
    #[error("`{key}` in `{file}` is inside `{parent}`, which is not a mapping")]
    NotAMapping {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The part that is a scalar or a list.
        parent: String,
    },
    /// A file kind wf cannot rewrite.
    #[error("wf cannot rewrite `{file}`: only YAML and JSON params files can be overridden")]
    Unsupported {
        /// The file.
        file: String,
    },
    /// The file does not parse.
    #[error(transparent)]
    Parse(SpecError),
}

impl RewriteError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            RewriteError::Missing {
                key, suggestion, ..
            } => Some(match suggestion {
                Some(s) => format!("did you mean `{s}`? (add a new key with `+{key}=…`)"),
                None => format!("add a new key with `+{key}=…`"),
            }),
            RewriteError::Exists { .. } => Some("drop the `+` to change it".into()),
            RewriteError::NotAMapping { .. } => None,
            RewriteError::Unsupported { .. } => {
                Some("change it in the file and run `wf repro`".into())
            }
            RewriteError::Parse(_) => None,
        }
    }
}

/// Applies `changes` in order to `text`, the content of the params file `name`.
pub fn rewrite(name: &str, text: &str, changes: &[Change]) -> Result<String, RewriteError> {
    let json = name.ends_with(".json");
    if !(json || name.ends_with(".yaml") || name.ends_with(".yml")) {
        return Err(RewriteError::Unsupported { file: name.into() });
    }
    let mut text = text.to_string();
    for change in changes {
        let src = Arc::new(Source {
            name: name.into(),
            path: name.into(),
            text: text.clone(),
        });
        let root = yaml::parse(&src).map_err(RewriteError::Parse)?;
        text = apply(name, &text, &root, change, json)?;
    }
    Ok(text)
}

fn apply(
    name: &str,
    text: &str,
    root: &Node,
    change: &Change,
    json: bool,
) -> Result<String, RewriteError> {
    let (key, found) = match change {
        Change::Set { key, .. } | Change::Add { key, .. } | Change::Remove { key } => {
            (key.as_str(), find(root, key))
        }
    };
    let missing = || RewriteError::Missing {
        file: name.into(),
        key: key.into(),
        suggestion: suggest(root, key),
    };
    match change {
        Change::Set { value, .. } => {
            let (_, node) = found.ok_or_else(missing)?;
            let (start, end) = extent(text, node);
            let quoted = text[start..].starts_with(['\'', '"']);
            let new = format_value(value, json, quoted.then(|| text.as_bytes()[start] as char));
            Ok(format!("{}{new}{}", &text[..start], &text[end..]))
        }
        Change::Remove { .. } => {
            let (key_node, node) = found.ok_or_else(missing)?;
            Ok(remove(text, key_node, node))
        }
        Change::Add { value, .. } => {
            if found.is_some() {
                return Err(RewriteError::Exists {
                    file: name.into(),
                    key: key.into(),
                });
            }
            add(name, text, root, key, value, json)
        }
    }
}

/// The key and value nodes of a dotted key: a top-level key spelled with dots first.
fn find<'n>(root: &'n Node, key: &str) -> Option<(Option<&'n yaml::Key>, &'n Node)> {
    if let Some(m) = root.as_map()
        && let Some((k, v)) = m.iter().find(|(k, _)| k.name == key)
    {
        return Some((Some(k), v));
    }
    let mut cur = (None, root);
    for part in key.split('.') {
        cur = match &cur.1.kind {
            Kind::Map(m) => {
                let (k, v) = m.iter().find(|(k, _)| k.name == part)?;
                (Some(k), v)
            }
            Kind::Seq(items) => (None, items.get(part.parse::<usize>().ok()?)?),
            _ => return None,
        };
    }
    Some(cur)
}

/// The closest dotted key the file has.
fn suggest(root: &Node, key: &str) -> Option<String> {
    let mut keys = Vec::new();
    fn walk(node: &Node, prefix: &str, out: &mut Vec<String>) {
        if let Kind::Map(m) = &node.kind {
            for (k, v) in m {
                let full = if prefix.is_empty() {
                    k.name.clone()
                } else {
                    format!("{prefix}.{}", k.name)
                };
                out.push(full.clone());
                walk(v, &full, out);
            }
        }
    }
    walk(root, "", &mut keys);
    keys.into_iter()
        .map(|k| {
            (
                strsim::jaro_winkler(&k.to_lowercase(), &key.to_lowercase()),
                k,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The byte range of a scalar or flow value's text.
fn extent(text: &str, node: &Node) -> (usize, usize) {
    let mut start = node.span.offset.min(text.len());
    let bytes = text.as_bytes();
    if start > 0
        && matches!(bytes[start - 1], b'\'' | b'"')
        && !matches!(bytes.get(start), Some(b'\'' | b'"'))
    {
        start -= 1;
    }
    match bytes.get(start) {
        Some(q @ (b'\'' | b'"')) => {
            let mut i = start + 1;
            while i < bytes.len() {
                if bytes[i] == b'\\' && *q == b'"' {
                    i += 2;
                    continue;
                }
                if bytes[i] == *q {
                    if *q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return (start, i + 1);
                }
                i += 1;
            }
            (start, bytes.len())
        }
        Some(open @ (b'[' | b'{')) => {
            let close = if *open == b'[' { b']' } else { b'}' };
            let mut depth = 0;
            for (i, b) in bytes.iter().enumerate().skip(start) {
                if *b == *open {
                    depth += 1;
                } else if *b == close {
                    depth -= 1;
                    if depth == 0 {
                        return (start, i + 1);
                    }
                }
            }
            (start, bytes.len())
        }
        _ => {
            let mut end = start;
            while end < bytes.len() && !matches!(bytes[end], b'\n' | b',' | b']' | b'}') {
                if bytes[end] == b'#' && end > start && bytes[end - 1].is_ascii_whitespace() {
                    break;
                }
                end += 1;
            }
            while end > start && bytes[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            (start, end)
        }
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    text[at.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| at + i + 1)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The end (after its newline) of a block entry whose key starts the line at `start`: the key's
/// line and every following line indented deeper (blank lines inside included).
fn block_end(text: &str, start: usize) -> usize {
    let indent = indent_of(&text[start..line_end(text, start)]);
    let mut end = line_end(text, start);
    let mut scan = end;
    while scan < text.len() {
        let next = line_end(text, scan);
        let line = &text[scan..next];
        if line.trim().is_empty() {
            scan = next;
            continue;
        }
        if indent_of(line) > indent {
            end = next;
            scan = next;
        } else {
            break;
        }
    }
    end
}

fn remove(text: &str, key: Option<&yaml::Key>, node: &Node) -> String {
    let Some(key) = key else {
        // A list item: its text, as a flow value.
        let (s, e) = extent(text, node);
        return format!("{}{}", &text[..s], &text[e..]);
    };
    let ks = key.span.offset.min(text.len());
    let ls = line_start(text, ks);
    let flow = !text[ls..ks].trim().is_empty() && !text[ls..ks].trim().starts_with('-')
        || text[ks..].starts_with('"') && text[ls..ks].trim().is_empty() && is_json_like(text);
    if flow {
        let (_, mut e) = extent(text, node);
        let mut s = ks;
        if s > 0 && matches!(text.as_bytes()[s - 1], b'"' | b'\'') {
            s -= 1;
        }
        let after = &text[e..];
        let trimmed = after.trim_start();
        if let Some(rest) = trimmed.strip_prefix(',') {
            e = text.len() - rest.trim_start().len();
        } else if let Some(comma) = text[..s].rfind(',')
            && text[comma + 1..s].trim().is_empty()
        {
            s = comma;
        }
        return format!("{}{}", &text[..s], &text[e..]);
    }
    let end = block_end(text, ls);
    format!("{}{}", &text[..ls], &text[end..])
}

fn is_json_like(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn add(
    name: &str,
    text: &str,
    root: &Node,
    key: &str,
    value: &Value,
    json: bool,
) -> Result<String, RewriteError> {
    // The deepest existing mapping on the key's path.
    let parts: Vec<&str> = key.split('.').collect();
    let mut parent = root;
    let mut depth = 0;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1) {
        match &parent.kind {
            Kind::Map(m) => match m.iter().find(|(k, _)| k.name == *part) {
                Some((_, v)) => {
                    parent = v;
                    depth = i + 1;
                }
                None => break,
            },
            _ => break,
        }
    }
    if !matches!(parent.kind, Kind::Map(_) | Kind::Null) {
        return Err(RewriteError::NotAMapping {
            file: name.into(),
            key: key.into(),
            parent: parts[..depth].join("."),
        });
    }
    let rest = &parts[depth..];
    let entries = parent.as_map().unwrap_or(&[]);
    let starts_flow = text
        .get(parent.span.offset.min(text.len())..)
        .is_some_and(|t| t.starts_with('{'));
    if json || starts_flow {
        // Nest what is missing as a flow value: `b: {c: 1}`.
        let mut v = value.clone();
        for part in rest[1..].iter().rev() {
            v = Value::Map([(part.to_string(), v)].into_iter().collect());
        }
        let k = if json {
            format!("\"{}\"", rest[0])
        } else {
            rest[0].to_string()
        };
        let entry = format!("{k}: {}", format_value(&v, json, None));
        let (s, e) = if entries.is_empty() && parent.span.len == 0 && depth == 0 {
            return Ok(format!("{{{entry}}}\n"));
        } else {
            extent(text, parent)
        };
        let close = e - 1;
        let inner = text[s + 1..close].trim();
        let sep = if inner.is_empty() { "" } else { ", " };
        let before = text[..close].trim_end_matches([' ', '\n']);
        let tail = &text[before.len()..];
        let nl = if json && tail.contains('\n') {
            "\n"
        } else {
            ""
        };
        let _ = nl;
        return Ok(format!("{before}{sep}{entry}{tail}"));
    }
    let (at, indent) = match entries.last() {
        Some((k, _)) => {
            let ls = line_start(text, k.span.offset);
            (block_end(text, ls), k.span.col.saturating_sub(1))
        }
        None if depth == 0 => (text.len(), 0),
        None => {
            // An empty mapping value (`train:`): under its key's line.
            let ls = line_start(text, parent.span.offset);
            (
                line_end(text, ls),
                indent_of(&text[ls..line_end(text, ls)]) + 2,
            )
        }
    };
    let mut lines = String::new();
    for (i, part) in rest.iter().enumerate() {
        let pad = " ".repeat(indent + 2 * i);
        if i + 1 == rest.len() {
            lines.push_str(&format!(
                "{pad}{part}: {}\n",
                format_value(value, false, None)
            ));
        } else {
            lines.push_str(&format!("{pad}{part}:\n"));
        }
    }
    let mut head = text[..at].to_string();
    if !head.is_empty() && !head.ends_with('\n') {
        head.push('\n');
    }
    Ok(format!("{head}{lines}{}", &text[at..]))
}

/// A value as YAML (or JSON) text that reads back as the same value; a string keeps `quote`.
fn format_value(v: &Value, json: bool, quote: Option<char>) -> String {
    if json {
        return v.to_json().to_string();
    }
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float(*f),
        Value::Str(s) => match quote {
            Some('"') => serde_json::Value::String(s.clone()).to_string(),
            Some(_) => format!("'{}'", s.replace('\'', "''")),
            None if plain_ok(s) => s.clone(),
            None => format!("'{}'", s.replace('\'', "''")),
        },
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| format_value(i, false, None))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", format_value(v, false, None)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A float that YAML 1.2 and PyYAML both read as a float: `1.0`, `1.0e-05`.
fn float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let s = format!("{f:?}");
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m.to_string(), Some(e.to_string())),
        None => (s.clone(), None),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
    } else {
        format!("{mantissa}.0")
    };
    match exp {
        Some(e) if e.starts_with('-') => format!("{mantissa}e{e}"),
        Some(e) => format!("{mantissa}e+{e}"),
        None => mantissa,
    }
}

/// Whether a string can be written unquoted and read back as the same string.
fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.trim() != s || s.contains(": ") || s.contains(" #") {
        return false;
    }
    if s.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ]) {
        return false;
    }
    let src = Arc::new(Source {
        name: String::new(),
        path: "".into(),
        text: format!("k: {s}\n"),
    });
    yaml::parse(&src)
        .ok()
        .and_then(|n| n.get("k").and_then(|v| v.as_str().map(|v| v == s)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;
