//! `${}` interpolation exactly as DVC does it: the scope (DVC's context) of params.yaml and
//! `vars`, key paths, native values for a lone `${x}`, Python's text for numbers, and mappings
//! unpacked into `--key value` flags in `cmd` only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::budget::{self, Budget};
use super::error::SpecError;
use super::flags::{flags_len, unpack_flags};
use super::source::{Loc, Source, Span};
use super::value::Value;
use super::yaml::{self, Key, Kind, Node};

/// The variables visible to a stage: params.yaml, top-level and stage `vars`, and, inside a
/// foreach/matrix, `item` and `key`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// params.yaml and `vars`: shared, not copied, by the stages of a foreach/matrix until one
    /// loads vars of its own.
    vars: Arc<Vars>,
    /// `item` and (for a mapping or a matrix) `key` of one generated stage, seen over `vars`.
    item: Option<(Value, Option<Value>)>,
    /// Params a run sets in memory, applied to each file as it is loaded.
    overrides: Arc<crate::overrides::Overrides>,
    /// What resolving the spec has made so far.
    budget: Budget,
}

/// The variables loaded into a scope.
#[derive(Debug, Clone, Default)]
struct Vars {
    data: IndexMap<String, Value>,
    /// Which source defined each dotted key path (for "cannot redefine" errors).
    sources: HashMap<String, String>,
    /// Files loaded so far and the keys taken from each (`None`: the whole file), as DVC tracks.
    imports: HashMap<String, Option<Vec<String>>>,
}

impl Scope {
    /// An empty scope whose files get these overrides.
    pub fn with(overrides: Arc<crate::overrides::Overrides>) -> Scope {
        Scope {
            overrides,
            ..Scope::default()
        }
    }

    /// Loads a vars entry naming a file: `path` or `path:key1,key2`, relative to `dir` (a folder
    /// relative to `root`). `loc` is the entry in the spec (`None` for the default params.yaml).
    pub fn load_file(
        &mut self,
        root: &Path,
        dir: &str,
        item: &str,
        loc: Option<&Loc>,
    ) -> Result<(), SpecError> {
        let (file, keys) = match item.split_once(':') {
            Some((f, k)) => (
                f,
                Some(
                    k.split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                ),
            ),
            None => (item, None),
        };
        let keys = keys.filter(|k| !k.is_empty());
        let name = crate::repo_path::join_display(dir, file);
        let vars_err = |message: String| match loc {
            Some(loc) => SpecError::Vars {
                message,
                loc: loc.clone(),
            },
            None => SpecError::Read {
                path: name.clone(),
                reason: message,
            },
        };
        if let Some(imported) = self.vars.imports.get(&name) {
            match (imported, &keys) {
                (None, None) => return Ok(()),
                (Some(_), None) => {
                    return Err(vars_err(format!(
                        "cannot load `{item}` as it's partially loaded already"
                    )));
                }
                (None, Some(_)) => {
                    return Err(vars_err(format!(
                        "cannot partially load `{item}` as it's already loaded"
                    )));
                }
                (Some(had), Some(want)) if want.iter().any(|k| had.contains(k)) => {
                    return Err(vars_err(format!(
                        "cannot load `{item}` as it's partially loaded already"
                    )));
                }
                _ => {}
            }
        }
        let path = root.join(&name);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => return Err(vars_err(format!("`{name}` is a directory"))),
            // A device or a pipe (`/dev/zero`, `/dev/stdin`) could be read forever.
            Ok(m) if !m.is_file() => {
                return Err(vars_err(format!("`{name}` is not a regular file")));
            }
            _ => {}
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                vars_err(format!("vars file `{name}` does not exist"))
            } else {
                vars_err(format!("cannot read `{name}`: {e}"))
            }
        })?;
        let src = Arc::new(Source {
            name: name.clone(),
            path,
            text,
        });
        let node = yaml::parse(&src)?;
        let value = self
            .overrides
            .apply(&name, Some(Value::from_node(&node)))
            .unwrap_or(Value::Null);
        let Value::Map(mut map) = value else {
            return Err(vars_err(format!(
                "expected a mapping in `{name}`, found {}",
                node.kind_name()
            )));
        };
        if let Some(keys) = &keys {
            let mut picked = IndexMap::new();
            for k in keys {
                let v = map
                    .shift_remove(k)
                    .ok_or_else(|| vars_err(format!("could not find `{k}` in `{name}`")))?;
                picked.insert(k.clone(), v);
            }
            map = picked;
        }
        self.merge(map, &name, loc)?;
        let imports = &mut self.vars_mut().imports;
        match (imports.get_mut(&name), keys) {
            (Some(Some(had)), Some(keys)) => had.extend(keys),
            (Some(_), _) => {}
            (None, keys) => {
                imports.insert(name, keys);
            }
        }
        Ok(())
    }

    /// Merges an inline `vars` mapping; `source` names it as DVC does (`vars[0]`, `train.vars[1]`).
    pub fn merge_inline(&mut self, node: &Node, source: &str, loc: &Loc) -> Result<(), SpecError> {
        let Value::Map(map) = Value::from_node(node) else {
            return Err(SpecError::WrongType {
                field: "vars".into(),
                expected: "a file name or a mapping",
                found: node.kind_name(),
                loc: loc.clone(),
            });
        };
        self.merge(map, source, Some(loc))
    }

    /// DVC's merge: mappings merge key by key, any other redefinition is an error.
    fn merge(
        &mut self,
        map: IndexMap<String, Value>,
        source: &str,
        loc: Option<&Loc>,
    ) -> Result<(), SpecError> {
        fn go(
            into: &mut IndexMap<String, Value>,
            update: IndexMap<String, Value>,
            prefix: &str,
            source: &str,
            sources: &mut HashMap<String, String>,
        ) -> Result<(), (String, String)> {
            for (k, v) in update {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match (into.get_mut(&k), v) {
                    (Some(Value::Map(old)), Value::Map(new)) => {
                        go(old, new, &path, source, sources)?
                    }
                    (Some(_), _) => {
                        let old = owner(sources, &path).unwrap_or_default();
                        return Err((path, old));
                    }
                    (None, v) => {
                        sources.insert(path, source.to_string());
                        into.insert(k, v);
                    }
                }
            }
            Ok(())
        }
        let vars = self.vars_mut();
        go(&mut vars.data, map, "", source, &mut vars.sources).map_err(
            |(key, old_source)| match loc {
                Some(loc) => SpecError::Redefined {
                    key,
                    new_source: source.into(),
                    old_source,
                    loc: loc.clone(),
                },
                None => SpecError::Read {
                    path: source.into(),
                    reason: format!(
                        "cannot redefine `{key}` as it already exists in `{old_source}`"
                    ),
                },
            },
        )
    }

    /// The vars, to change: copied first if another scope shares them, with `item` and `key`
    /// moved in (vars loaded beside them cannot redefine them).
    fn vars_mut(&mut self) -> &mut Vars {
        let vars = Arc::make_mut(&mut self.vars);
        if let Some((item, key)) = self.item.take() {
            vars.data.insert("item".into(), item);
            if let Some(key) = key {
                vars.data.insert("key".into(), key);
            }
        }
        vars
    }

    /// Sets `item` (and `key`, for a mapping or a matrix) for one generated stage, sharing the
    /// vars rather than copying them.
    pub fn with_item(&self, item: Value, key: Option<String>) -> Scope {
        Scope {
            item: Some((item, key.map(Value::Str))),
            ..self.clone()
        }
    }

    /// Counts what resolving made against the spec's budget; past it, an error at `at`.
    pub fn charge(&self, bytes: usize, at: impl FnOnce() -> Loc) -> Result<(), SpecError> {
        self.budget.charge(bytes, at)
    }

    /// What copying the vars costs, for a stage that loads vars of its own.
    pub fn weight(&self) -> usize {
        self.vars
            .data
            .iter()
            .map(|(k, v)| k.len() + budget::weight(v))
            .sum()
    }

    /// Looks up a key path such as `train.lr`, `models[1]` or `models.1`.
    fn select(&self, segments: &[String]) -> Option<&Value> {
        let (first, rest) = segments.split_first()?;
        let mut cur = match (&self.item, first.as_str()) {
            (Some((item, _)), "item") => item,
            (Some((_, Some(key))), "key") => key,
            _ => self.vars.data.get(first)?,
        };
        for seg in rest {
            cur = match cur {
                Value::Map(m) => m.get(seg)?,
                Value::List(items) => {
                    let i: i64 = seg.parse().ok()?;
                    let i = if i < 0 { i + items.len() as i64 } else { i };
                    items.get(usize::try_from(i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(cur)
    }
}

/// The source that defined a dotted path or its nearest defined parent.
fn owner(sources: &HashMap<String, String>, path: &str) -> Option<String> {
    let mut p = path;
    loop {
        if let Some(s) = sources.get(p) {
            return Some(s.clone());
        }
        p = p.rsplit_once('.')?.0;
    }
}

/// One `${...}` in a string: its byte range and the text between the braces.
struct Match<'a> {
    start: usize,
    end: usize,
    inner: &'a str,
}

/// Finds `${...}` not preceded by a backslash, each ending at the first `}` (DVC's regex).
fn matches(s: &str) -> Vec<Match<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find("${") {
        let start = from + i;
        if start > 0 && s.as_bytes()[start - 1] == b'\\' {
            from = start + 2;
            continue;
        }
        // DVC ends an interpolation at the first `}`; wf also lets one nest another
        // (`${train.${item.model}}`), which DVC refuses, so every DVC spec reads the same.
        let mut depth = 1;
        let mut i = start + 2;
        let mut close = None;
        // Bytes, not `&s[i..]`: `i` steps through the bytes of multi-byte characters too.
        while i < s.len() {
            if s.as_bytes()[i..].starts_with(b"${") {
                depth += 1;
                i += 2;
                continue;
            }
            if s.as_bytes()[i] == b'}' {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            i += 1;
        }
        let Some(close) = close.or_else(|| s[start + 2..].find('}').map(|c| start + 2 + c)) else {
            break;
        };
        let end = close + 1;
        out.push(Match {
            start,
            end,
            inner: &s[start + 2..end - 1],
        });
        from = end;
    }
    out
}

/// Splits a key path into segments: `a.b[1].c` → `a`, `b`, `1`, `c`.
fn parse_key(inner: &str) -> Result<Vec<String>, &'static str> {
    let mut segs = Vec::new();
    let mut rest = inner.trim();
    let mut first = true;
    while !rest.is_empty() {
        let (seg, tail) = if first {
            let end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[', ']']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or("unclosed `[`")?;
            let seg = &r[..end];
            if seg.contains(['.', '[']) {
                return Err("unexpected character inside `[]`");
            }
            (seg, &r[end + 1..])
        } else {
            return Err("expected `.key` or `[index]` after a key");
        };
        let seg = seg.trim();
        if seg.is_empty() {
            return Err("empty key");
        }
        segs.push(seg.to_string());
        rest = tail;
        first = false;
    }
    if segs.is_empty() {
        return Err("empty key");
    }
    Ok(segs)
}

/// Where a string being interpolated sits: its field, its node's span and its source.
pub struct Site<'a> {
    /// The dotted field for messages, such as `stages.train.cmd`.
    pub field: &'a str,
    /// The stage key it belongs to (`cmd`, `outs`, `foreach`, ...): decides what may be
    /// interpolated, as DVC's `validate_value`.
    pub key: &'a str,
    /// The spec file.
    pub src: &'a Arc<Source>,
}

impl Site<'_> {
    /// Lists and mappings may be interpolated whole into `foreach`, `matrix` and `with`.
    fn allows_composite(&self) -> bool {
        matches!(self.key, "foreach" | "matrix" | "with")
    }

    fn loc(&self, node: &Node, m: Option<(usize, usize)>) -> Loc {
        let text = node.as_str().unwrap_or("");
        let mut span = node.span;
        if let Some((start, end)) = m {
            // Point at the `${...}` itself when the scalar is written verbatim (plain, or quoted
            // without escapes); otherwise at the whole scalar.
            for shift in [0, 1] {
                let at = node.span.offset + shift;
                if self.src.text.get(at..at + text.len()) == Some(text) {
                    let col = node.span.col + shift + text[..start].chars().count();
                    span = Span {
                        line: node.span.line,
                        col,
                        offset: at + start,
                        len: end - start,
                    };
                    break;
                }
            }
        }
        Loc {
            src: self.src.clone(),
            span,
        }
    }
}

/// Resolves every `${}` in a string node, as DVC's `resolve_str`.
pub fn resolve_str(
    node: &Node,
    s: &str,
    scope: &Scope,
    site: &Site<'_>,
) -> Result<Value, SpecError> {
    let found = matches(s);
    let lookup = |m: &Match<'_>| -> Result<&Value, SpecError> {
        let inner = if m.inner.contains("${") {
            resolve_str(node, m.inner, scope, site)?.to_text()
        } else {
            m.inner.to_string()
        };
        let segs = parse_key(&inner).map_err(|reason| SpecError::BadExpression {
            expr: m.inner.to_string(),
            field: site.field.to_string(),
            reason,
            loc: site.loc(node, Some((m.start, m.end))),
        })?;
        scope.select(&segs).ok_or_else(|| SpecError::Undefined {
            key: inner.trim().to_string(),
            field: site.field.to_string(),
            loc: site.loc(node, Some((m.start, m.end))),
        })
    };
    let check = |m: &Match<'_>, v: &Value, in_string: bool| -> Result<(), SpecError> {
        let allowed = match v {
            Value::Map(_) => site.allows_composite() || (site.key == "cmd" && in_string),
            Value::List(_) => site.allows_composite(),
            _ => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(SpecError::BadInterpolationType {
                type_name: v.type_name(),
                field: site.field.to_string(),
                loc: site.loc(node, Some((m.start, m.end))),
            })
        }
    };
    if let [m] = found.as_slice()
        && m.start == 0
        && m.end == s.len()
    {
        // As DVC: a string that is exactly one `${x}` takes x's own type.
        let v = lookup(m)?;
        check(m, v, false)?;
        scope.charge(budget::weight(v), || site.loc(node, Some((m.start, m.end))))?;
        return Ok(v.clone());
    }
    scope.charge(budget::VALUE + s.len(), || site.loc(node, None))?;
    let mut buf = String::with_capacity(s.len());
    let mut index = 0;
    for m in &found {
        let v = lookup(m)?;
        check(m, v, true)?;
        buf.push_str(&s[index..m.start]);
        // Charged before the text is made.
        let cost = match v {
            Value::Map(map) => flags_len(map, 0),
            other => budget::weight(other),
        };
        scope.charge(cost, || site.loc(node, Some((m.start, m.end))))?;
        match v {
            Value::Map(map) => {
                buf.push_str(&unpack_flags(map).map_err(|key| SpecError::NestedIterable {
                    key,
                    field: site.field.to_string(),
                    loc: site.loc(node, Some((m.start, m.end))),
                })?)
            }
            other => buf.push_str(&other.to_text()),
        }
        index = m.end;
    }
    buf.push_str(&s[index..]);
    Ok(Value::Str(buf.replace("\\${", "${")))
}

/// Resolves every string (and mapping key) in a tree; the result keeps the original spans.
pub fn resolve_node(node: &Node, scope: &Scope, site: &Site<'_>) -> Result<Node, SpecError> {
    if !matches!(node.kind, Kind::Str(_)) {
        scope.charge(budget::VALUE, || site.loc(node, None))?;
    }
    let kind = match &node.kind {
        Kind::Str(s) => return Ok(from_value(resolve_str(node, s, scope, site)?, node.span)),
        Kind::Seq(items) => Kind::Seq(
            items
                .iter()
                .map(|i| resolve_node(i, scope, site))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map(entries) => Kind::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key_node = Node {
                        kind: Kind::Str(k.name.clone()),
                        span: k.span,
                    };
                    let name = match resolve_str(&key_node, &k.name, scope, site)? {
                        Value::Str(s) => s,
                        other => other.to_text(),
                    };
                    Ok((Key { name, span: k.span }, resolve_node(v, scope, site)?))
                })
                .collect::<Result<_, SpecError>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node {
        kind,
        span: node.span,
    })
}

/// A plain value as a node, every part at `span`.
pub fn from_value(v: Value, span: Span) -> Node {
    let kind = match v {
        Value::Null => Kind::Null,
        Value::Bool(b) => Kind::Bool(b),
        Value::Int(i) => Kind::Int(i),
        Value::Float(f) => Kind::Float(f),
        Value::Str(s) => Kind::Str(s),
        Value::List(items) => Kind::Seq(items.into_iter().map(|i| from_value(i, span)).collect()),
        Value::Map(m) => Kind::Map(
            m.into_iter()
                .map(|(k, v)| (Key { name: k, span }, from_value(v, span)))
                .collect(),
        ),
    };
    Node { kind, span }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(yaml_text: &str) -> Scope {
        let src = Arc::new(Source {
            name: "params.yaml".into(),
            path: "params.yaml".into(),
            text: yaml_text.into(),
        });
        let node = yaml::parse(&src).unwrap();
        let mut c = Scope::default();
        let Value::Map(m) = Value::from_node(&node) else {
            panic!()
        };
        c.merge(m, "params.yaml", None).unwrap();
        c
    }

    fn resolve(c: &Scope, key: &str, s: &str) -> Result<Value, SpecError> {
        let src = Arc::new(Source {
            name: "dvc.yaml".into(),
            path: "dvc.yaml".into(),
            text: s.into(),
        });
        let node = Node {
            kind: Kind::Str(s.into()),
            span: Span {
                line: 1,
                col: 1,
                offset: 0,
                len: s.len(),
            },
        };
        resolve_str(
            &node,
            s,
            c,
            &Site {
                field: "stages.s.cmd",
                key,
                src: &src,
            },
        )
    }

    #[track_caller]
    fn case(c: &Scope, s: &str, expected: &str) {
        match resolve(c, "cmd", s).unwrap() {
            Value::Str(got) => assert_eq!(got, expected),
            other => panic!("{other:?}"),
        }
    }

    const PARAMS: &str = "a: {b: {c: 3}}\nlst: [x, y, 2]\nname: cnn\nlr: 0.001\nsmall: 0.00001\nflag: true\nyes_str: yes\noct: 010\ncfg: {lr: 0.01, sizes: [1, 2], nested: {deep: yes}, on: true, off: false, s: 'a b'}\nnested_list: {k: [[1]]}\nnone: null\n";

    #[test]
    fn key_paths() {
        let c = scope(PARAMS);
        case(&c, "x ${a.b.c}", "x 3");
        case(&c, "${lst[1]}-${lst.0}", "y-x");
        case(&c, "${ name }!", "cnn!");
        case(&c, "run ${lst[-1]}", "run 2");
    }

    #[test]
    fn scalars_render_as_dvc() {
        let c = scope(PARAMS);
        case(
            &c,
            "lr=${lr} s=${small} f=${flag} y=${yes_str} o=${oct} n=${none}",
            "lr=0.001 s=1e-05 f=true y=yes o=010 n=None",
        );
    }

    #[test]
    fn escape_keeps_literal() {
        let c = scope(PARAMS);
        case(&c, "echo \\${name} ${name}", "echo ${name} cnn");
        case(&c, "echo \\${nothing}", "echo ${nothing}");
    }

    #[test]
    fn lone_interpolation_keeps_type() {
        let c = scope(PARAMS);
        assert_eq!(resolve(&c, "cmd", "${flag}").unwrap(), Value::Bool(true));
        assert_eq!(resolve(&c, "cmd", "${lr}").unwrap(), Value::Float(0.001));
        assert_eq!(
            resolve(&c, "foreach", "${lst}").unwrap(),
            Value::List(vec![
                Value::Str("x".into()),
                Value::Str("y".into()),
                Value::Int(2)
            ])
        );
        assert_eq!(
            resolve(&c, "cmd", " ${flag}").unwrap(),
            Value::Str(" true".into())
        );
    }

    #[test]
    fn dict_unpacks_into_flags_in_cmd_only() {
        let c = scope(PARAMS);
        case(
            &c,
            "python t.py ${cfg}",
            "python t.py --lr 0.01 --sizes 1 2 --nested.deep yes --on --s 'a b'",
        );
        case(&c, "x${cfg.nested}", "x--deep yes");
        assert!(matches!(
            resolve(&c, "outs", "o/${cfg}"),
            Err(SpecError::BadInterpolationType {
                type_name: "dict",
                ..
            })
        ));
        assert!(matches!(
            resolve(&c, "cmd", "echo ${nested_list}"),
            Err(SpecError::NestedIterable { .. })
        ));
    }

    #[test]
    fn lists_cannot_be_interpolated_into_strings() {
        let c = scope(PARAMS);
        assert!(matches!(
            resolve(&c, "cmd", "echo ${lst}"),
            Err(SpecError::BadInterpolationType {
                type_name: "list",
                ..
            })
        ));
        assert!(matches!(
            resolve(&c, "outs", "${lst}"),
            Err(SpecError::BadInterpolationType {
                type_name: "list",
                ..
            })
        ));
    }

    #[test]
    fn undefined_and_malformed_keys() {
        let c = scope(PARAMS);
        assert!(
            matches!(resolve(&c, "cmd", "echo ${nope}"), Err(SpecError::Undefined { key, .. }) if key == "nope")
        );
        assert!(matches!(
            resolve(&c, "cmd", "echo ${a.b.x}"),
            Err(SpecError::Undefined { .. })
        ));
        assert!(matches!(
            resolve(&c, "cmd", "echo ${lst[9]}"),
            Err(SpecError::Undefined { .. })
        ));
        assert!(matches!(
            resolve(&c, "cmd", "echo ${}"),
            Err(SpecError::BadExpression { .. })
        ));
        assert!(matches!(
            resolve(&c, "cmd", "echo ${a..b}"),
            Err(SpecError::BadExpression { .. })
        ));
        case(&c, "echo ${unclosed", "echo ${unclosed");
    }

    #[test]
    fn non_ascii_inside_an_interpolation_is_a_key() {
        // Regression: `${é}` panicked, slicing the string inside the `é` (found by fuzzing).
        let c = scope("é: 1\ncafé: {crème: 2}\n");
        case(&c, "echo ${é} ${café.crème}€", "echo 1 2€");
        assert!(matches!(
            resolve(&c, "cmd", "echo ${ü}"),
            Err(SpecError::Undefined { key, .. }) if key == "ü"
        ));
    }

    #[test]
    fn redefinition_is_an_error() {
        let mut c = scope(PARAMS);
        let mut more = IndexMap::new();
        more.insert(
            "a".to_string(),
            Value::Map(
                [(
                    "b".to_string(),
                    Value::Map([("d".to_string(), Value::Int(1))].into()),
                )]
                .into(),
            ),
        );
        c.merge(more, "v1.yaml", None).unwrap();
        let mut again = IndexMap::new();
        again.insert(
            "a".to_string(),
            Value::Map(
                [(
                    "b".to_string(),
                    Value::Map([("c".to_string(), Value::Int(1))].into()),
                )]
                .into(),
            ),
        );
        let err = c.merge(again, "v2.yaml", None).unwrap_err();
        assert!(
            err.to_string().contains("`a.b.c`") && err.to_string().contains("`params.yaml`"),
            "{err}"
        );
    }

    #[test]
    fn nested_interpolation_selects_by_a_value() {
        let c = scope("which: b\nopts: {a: 1, b: 2}\n");
        case(&c, "x ${opts.${which}}", "x 2");
    }
}
