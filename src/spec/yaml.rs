//! YAML read into a tree that keeps the position of every key and value (serde-saphyr), with
//! YAML 1.2 scalars as DVC reads them: `yes` and `010` stay strings.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::SpecError;
use super::source::{Loc, Source, Span};

/// A YAML value with the span of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: Kind,
    /// Where it is written.
    pub span: Span,
}

/// The kinds of YAML values.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (quoted or plain).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in the order written; keys are strings (other scalars are converted).
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

impl Node {
    /// The node's kind in words, for "expected X, found Y" errors.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The string, if the node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if the node is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks up a key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }
}

/// Parses a YAML document. An empty document is `null`.
pub fn parse(src: &Arc<Source>) -> Result<Node, SpecError> {
    let mut options = serde_saphyr::options::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.non_finite_float_policy = serde_saphyr::options::NonFiniteFloatPolicy::PassThrough;
    options.with_snippet = false;
    let raw: Spanned<Raw> =
        serde_saphyr::from_str_with_options(&src.text, options).map_err(|e| translate(src, &e))?;
    Ok(convert(&src.text, raw))
}

/// serde-saphyr's error in wf's words, at its place: a duplicate key names the key and, when it
/// can be found, its first occurrence.
fn translate(src: &Arc<Source>, e: &serde_saphyr::Error) -> SpecError {
    let (line, col) = e
        .location()
        .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
    let (line, col) = (line.max(1), col.max(1));
    if let serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } = e.without_snippet() {
        let first = first_key(&src.text, key, line, col).map(|(l, c)| Loc {
            src: src.clone(),
            span: Span::at(&src.text, l, c, key.chars().count()),
        });
        return SpecError::DuplicateKey {
            key: key.clone(),
            loc: Loc {
                src: src.clone(),
                span: Span::at(&src.text, line, col, key.chars().count()),
            },
            first,
        };
    }
    let loc = |line, col| Loc {
        src: src.clone(),
        span: Span::at(&src.text, line, col, 1),
    };
    if let Some(open) = super::flow::unclosed(&src.text, line, col) {
        return SpecError::Unclosed {
            bracket: open.bracket,
            loc: loc(open.line, open.col),
            stopped: loc(line, col),
        };
    }
    // `{` and `}` are flow indicators: `[a${item}.txt]` breaks on them, a common DVC mistake.
    let help = super::flow::interpolation_in_flow(&src.text, line).map(|(bracket, value)| {
        let (inside, block) = if bracket == '[' {
            ("[...]", format!("write a block list (`- {value}`)"))
        } else {
            ("{...}", "write the mapping as a block".into())
        };
        format!(
            "`{{` and `}}` are flow indicators inside `{inside}`: quote the value (`\"{value}\"`) or {block}"
        )
    });
    SpecError::Yaml {
        message: message(e),
        loc: loc(line, col),
        help,
    }
}

/// The message of a serde-saphyr error without its place, in the words meant for users (not its
/// developer hints such as "set DuplicateKeyPolicy in Options"), lowercase.
pub fn message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let e = e.without_snippet();
    if let serde_saphyr::Error::DuplicateMappingKey { key, .. } = e {
        return key.as_ref().map_or_else(
            || "duplicate key".into(),
            |k| format!("duplicate key `{k}`"),
        );
    }
    let text = serde_saphyr::UserMessageFormatter.format_message(e);
    let text = text.trim_start_matches("error: ");
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        // "Recursive reference…" reads after `error: ` as "recursive reference…"; "YAML" stays.
        (Some(c), Some(d)) if c.is_uppercase() && d.is_lowercase() => c
            .to_lowercase()
            .chain(text[c.len_utf8()..].chars())
            .collect(),
        _ => text.to_string(),
    }
}

/// The line and column where `key` is first written in the block mapping holding the duplicate
/// at `line`:`col`: the nearest line above at the same column that starts with `key:`, before
/// the mapping ends (a line indented less). `None` for flow mappings and quoted keys.
fn first_key(text: &str, key: &str, line: usize, col: usize) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    for l in (1..line).rev() {
        let s = lines.get(l - 1)?;
        let body = s.trim_start_matches([' ', '-']);
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = s.chars().count() - body.chars().count();
        if indent < col - 1 {
            return None;
        }
        if indent == col - 1
            && let Some(rest) = body.strip_prefix(key)
            && rest.trim_start().starts_with(':')
        {
            return Some((l, col));
        }
    }
    None
}

fn span_of<T>(text: &str, s: &Spanned<T>) -> Span {
    let l = s.referenced;
    let line = l.line() as usize;
    let col = l.column() as usize;
    let chars = l.span().len() as usize;
    match (l.span().byte_offset(), l.span().byte_len()) {
        (Some(offset), Some(len)) => Span {
            line,
            col,
            offset: offset as usize,
            len: len as usize,
        },
        _ => Span::at(text, line.max(1), col.max(1), chars.max(1)),
    }
}

fn convert(text: &str, raw: Spanned<Raw>) -> Node {
    let span = span_of(text, &raw);
    let kind = match raw.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|i| convert(text, i)).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        span: span_of(text, &k),
                        name: k.value.0,
                    };
                    (key, convert(text, v))
                })
                .collect(),
        ),
    };
    Node { kind, span }
}

/// What serde-saphyr hands us, before spans are converted.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<KeyText>, Spanned<Raw>)>),
}

/// A mapping key: any scalar, kept as its text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        match raw {
            Raw::Str(s) => Ok(KeyText(s)),
            Raw::Int(i) => Ok(KeyText(i.to_string())),
            Raw::Float(f) => Ok(KeyText(super::python::python_float(f))),
            Raw::Bool(b) => Ok(KeyText(if b { "True" } else { "False" }.into())),
            Raw::Null => Ok(KeyText("None".into())),
            Raw::Seq(_) | Raw::Map(_) => Err(de::Error::custom("a mapping key must be a scalar")),
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Int)
                    .or_else(|_| Ok(Raw::Float(v as f64)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Int)
                    .or_else(|_| Ok(Raw::Float(v as f64)))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Int)
                    .or_else(|_| Ok(Raw::Float(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = a.next_key::<Spanned<KeyText>>()? {
                    let v = a.next_value()?;
                    entries.push((k, v));
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}
