//! Resolution of a checked spec into stages: the vars context, foreach/matrix expansion with
//! DVC's generated names, interpolation of every field, and paths made repository-relative.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::budget;
use super::error::SpecError;
use super::interp::{self, Scope, Site};
use super::schema::{DefKind, RawSpec, StageDef};
use super::source::Loc;
use super::stage::{
    Action, Cmd, ExecutorName, Out, OutKind, ParamDep, PathEntry, Resources, SpecFile, Stage,
    plot_props,
};
use super::value::Value;
use super::yaml::{Kind, Node};
use crate::dep_path::DepPath;
use crate::repo_path::RepoPath;

/// DVC's default params file, loaded for interpolation and tracked by bare `params:` keys.
pub const DEFAULT_PARAMS: &str = "params.yaml";

/// Resolves every stage of one spec file.
pub fn resolve(
    root: &Path,
    spec: &Arc<SpecFile>,
    raw: &RawSpec,
    overrides: &Arc<crate::overrides::Overrides>,
) -> Result<Vec<Stage>, SpecError> {
    let src = &spec.src;
    let loc = |node: &Node| Loc {
        src: src.clone(),
        span: node.span,
    };
    let mut scope = Scope::with(overrides.clone());
    if spec
        .dir
        .join(DEFAULT_PARAMS)
        .is_some_and(|p| p.to_path(root).is_file())
    {
        scope.load_file(root, spec.dir.as_str(), DEFAULT_PARAMS, None)?;
    }
    load_vars(&mut scope, root, spec.dir.as_str(), &raw.vars, "", &loc)?;
    let mut stages = Vec::new();
    for def in &raw.stages {
        expand(root, spec, def, &scope, &mut stages)?;
    }
    Ok(stages)
}

fn load_vars(
    scope: &mut Scope,
    root: &Path,
    dir: &str,
    vars: &[Node],
    stage: &str,
    loc: &impl Fn(&Node) -> Loc,
) -> Result<(), SpecError> {
    for (i, item) in vars.iter().enumerate() {
        match &item.kind {
            Kind::Str(file) => scope.load_file(root, dir, file, Some(&loc(item)))?,
            _ => {
                let source = if stage.is_empty() {
                    format!("vars[{i}]")
                } else {
                    format!("{stage}.vars[{i}]")
                };
                scope.merge_inline(item, &source, &loc(item))?;
            }
        }
    }
    Ok(())
}

/// Expands one definition into its stages.
fn expand(
    root: &Path,
    spec: &Arc<SpecFile>,
    def: &StageDef,
    scope: &Scope,
    out: &mut Vec<Stage>,
) -> Result<(), SpecError> {
    let name = &def.name.name;
    let src = &spec.src;
    let key_loc = Loc {
        src: src.clone(),
        span: def.name.span,
    };
    match &def.kind {
        DefKind::Plain(template) => {
            scope.charge(budget::STAGE, || key_loc.clone())?;
            out.push(build(root, spec, name, None, template, scope, &key_loc)?)
        }
        DefKind::Foreach { foreach, template } => {
            let field = format!("stages.{name}.foreach");
            let data = interp::resolve_node(
                foreach,
                scope,
                &Site {
                    field: &field,
                    key: "foreach",
                    src,
                },
            )?;
            let not_iterable = |found| SpecError::NotIterable {
                field: field.clone(),
                expected: "a list or a mapping",
                found,
                loc: Loc {
                    src: src.clone(),
                    span: foreach.span,
                },
            };
            let items: Vec<(String, Value, Option<String>)> = match Value::from_node(&data) {
                Value::List(items) => {
                    // As DVC: a list of scalars is named by its values, any composite item makes
                    // the whole list named by index.
                    let by_index = items.iter().any(Value::is_composite);
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (if by_index { i.to_string() } else { v.to_text() }, v, None))
                        .collect()
                }
                Value::Map(m) => m
                    .into_iter()
                    .map(|(k, v)| (k.clone(), v, Some(k)))
                    .collect(),
                other => return Err(not_iterable(other.type_name())),
            };
            for (key, item, key_var) in items {
                scope.charge(budget::STAGE, || key_loc.clone())?;
                let c = scope.with_item(item, key_var);
                let stage_name = format!("{name}@{key}");
                out.push(build(
                    root,
                    spec,
                    &stage_name,
                    Some(name),
                    template,
                    &c,
                    &key_loc,
                )?);
            }
        }
        DefKind::Matrix { matrix, template } => {
            let field = format!("stages.{name}.matrix");
            let data = interp::resolve_node(
                matrix,
                scope,
                &Site {
                    field: &field,
                    key: "matrix",
                    src,
                },
            )?;
            let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
            for (k, v) in data.as_map().unwrap_or(&[]) {
                match Value::from_node(v) {
                    Value::List(items) => axes.push((k.name.clone(), items)),
                    other => {
                        return Err(SpecError::NotIterable {
                            field: format!("{field}.{}", k.name),
                            expected: "a list",
                            found: other.type_name(),
                            loc: Loc {
                                src: src.clone(),
                                span: v.span,
                            },
                        });
                    }
                }
            }
            // Every combination is a stage: count them before making them, as a few lists (or
            // one list aliased under several keys) multiply.
            let matrix_loc = || Loc {
                src: src.clone(),
                span: matrix.span,
            };
            let count = axes
                .iter()
                .fold(1usize, |n, (_, values)| n.saturating_mul(values.len()));
            scope.charge(
                count.saturating_mul(budget::STAGE + axes.len() * budget::VALUE),
                matrix_loc,
            )?;
            // The cartesian product in the order the keys are written, the last key varying fastest.
            let mut combos: Vec<Vec<(usize, &Value)>> = vec![vec![]];
            for (_, values) in &axes {
                combos = combos
                    .into_iter()
                    .flat_map(|prefix| {
                        values.iter().enumerate().map(move |(i, v)| {
                            let mut next = prefix.clone();
                            next.push((i, v));
                            next
                        })
                    })
                    .collect();
            }
            if axes.is_empty() {
                combos.clear();
            }
            for combo in combos {
                scope.charge(
                    combo.iter().map(|(_, v)| budget::weight(v)).sum(),
                    matrix_loc,
                )?;
                let mut item = IndexMap::new();
                let mut fragments = Vec::new();
                for ((axis, _), (i, v)) in axes.iter().zip(&combo) {
                    item.insert(axis.clone(), (*v).clone());
                    fragments.push(if v.is_composite() {
                        format!("{axis}{i}")
                    } else {
                        v.to_text()
                    });
                }
                let key = fragments.join("-");
                let c = scope.with_item(Value::Map(item), Some(key.clone()));
                let stage_name = format!("{name}@{key}");
                out.push(build(
                    root,
                    spec,
                    &stage_name,
                    Some(name),
                    template,
                    &c,
                    &key_loc,
                )?);
            }
        }
    }
    Ok(())
}

/// Interpolates a stage template and turns it into a `Stage`.
fn build(
    root: &Path,
    spec: &Arc<SpecFile>,
    name: &str,
    group: Option<&str>,
    template: &Node,
    scope: &Scope,
    key_loc: &Loc,
) -> Result<Stage, SpecError> {
    let src = &spec.src;
    let loc = |node: &Node| Loc {
        src: src.clone(),
        span: node.span,
    };
    let def_name = group.unwrap_or(name);
    let field = |key: &str| format!("stages.{def_name}.{key}");

    // Stage vars are visible to this stage only.
    let mut local;
    let mut scope = scope;
    if let Some((node, vars)) = template.get("vars").and_then(|v| match &v.kind {
        Kind::Seq(items) => Some((v, items)),
        _ => None,
    }) {
        // The stage's vars go into a copy of the spec's.
        scope.charge(scope.weight(), || loc(node))?;
        local = scope.clone();
        load_vars(&mut local, root, spec.dir.as_str(), vars, name, &loc)?;
        scope = &local;
    }

    let resolve = |key: &str| -> Result<Option<Node>, SpecError> {
        template
            .get(key)
            .map(|node| {
                interp::resolve_node(
                    node,
                    scope,
                    &Site {
                        field: &field(key),
                        key,
                        src,
                    },
                )
            })
            .transpose()
    };
    let string = |key: &str, node: &Node| -> Result<String, SpecError> {
        match &node.kind {
            Kind::Str(s) => Ok(s.clone()),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => Ok(Value::from_node(node).to_text()),
            _ => Err(SpecError::WrongType {
                field: field(key),
                expected: "a string",
                found: node.kind_name(),
                loc: loc(node),
            }),
        }
    };
    let path_in = |base: &RepoPath, written: &str, node: &Node| -> Result<PathEntry, SpecError> {
        let path = base.join(written).ok_or_else(|| SpecError::PathEscapes {
            path: written.to_string(),
            loc: loc(node),
        })?;
        Ok(PathEntry {
            path,
            written: written.to_string(),
            loc: loc(node),
        })
    };
    // As DVC: a dep may lie outside the repository (an external dependency); an out may not.
    let dep_in = |base: &RepoPath, written: &str, node: &Node| PathEntry {
        path: DepPath::resolve(root, base, written),
        written: written.to_string(),
        loc: loc(node),
    };

    let wdir = match resolve("wdir")? {
        Some(node) => {
            let w = string("wdir", &node)?;
            spec.dir.join(&w).ok_or_else(|| SpecError::PathEscapes {
                path: w,
                loc: loc(&node),
            })?
        }
        None => spec.dir.clone(),
    };

    let mut deps = Vec::new();
    let mut outs = Vec::new();
    let action = if let Some(cmd) = resolve("cmd")? {
        match &cmd.kind {
            Kind::Seq(items) => Action::Cmd(Cmd::List(
                items
                    .iter()
                    .map(|i| string("cmd", i))
                    .collect::<Result<_, _>>()?,
            )),
            _ => Action::Cmd(Cmd::Line(string("cmd", &cmd)?)),
        }
    } else {
        let uses_node =
            resolve("uses")?.unwrap_or_else(|| interp::from_value(Value::Null, key_loc.span));
        let uses = string("uses", &uses_node)?;
        let builtin = wf_stages::lookup(&uses).ok_or_else(|| SpecError::UnknownBuiltin {
            suggestion: super::schema::suggest(&uses, wf_stages::names()),
            name: uses.clone(),
            stage: name.to_string(),
            loc: loc(&uses_node),
        })?;
        let with_node = resolve("with")?;
        let with = with_node
            .as_ref()
            .map_or(Value::Map(IndexMap::new()), Value::from_node);
        let with_loc = template
            .as_map()
            .and_then(|m| {
                m.iter().find(|(k, _)| k.name == "with").map(|(k, _)| Loc {
                    src: src.clone(),
                    span: k.span,
                })
            })
            .unwrap_or_else(|| loc(&uses_node));
        let io = builtin
            .io(&with.to_json())
            .map_err(|e| SpecError::BuiltinWith {
                message: e.to_string(),
                loc: with_loc.clone(),
            })?;
        let at = with_node.as_ref().unwrap_or(&uses_node);
        for d in &io.deps {
            deps.push(dep_in(&wdir, d, at));
        }
        for (list, kind, persist) in [
            (&io.outs, OutKind::Out, false),
            (&io.metrics, OutKind::Metric, false),
            (&io.plots, OutKind::Plot, false),
            (&io.persist, OutKind::Out, true),
        ] {
            for o in list {
                let props = io.plot_props.get(o).into_iter().flatten();
                outs.push(Out {
                    entry: path_in(&wdir, o, at)?,
                    kind,
                    cache: true,
                    persist,
                    props: props
                        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                        .collect(),
                });
            }
        }
        Action::Builtin {
            name: uses,
            version: builtin.version(),
            with,
        }
    };

    if let Some(node) = resolve("deps")? {
        for item in seq(&node) {
            deps.push(dep_in(&wdir, &string("deps", item)?, item));
        }
    }
    for (key, kind) in [
        ("outs", OutKind::Out),
        ("metrics", OutKind::Metric),
        ("plots", OutKind::Plot),
    ] {
        let Some(node) = resolve(key)? else { continue };
        for item in seq(&node) {
            match &item.kind {
                Kind::Map(paths) => {
                    for (p, flags) in paths {
                        let key_node = Node {
                            kind: Kind::Str(p.name.clone()),
                            span: p.span,
                        };
                        let flag = |f: &str, default: bool| match flags.get(f).map(|n| &n.kind) {
                            Some(Kind::Bool(b)) => *b,
                            _ => default,
                        };
                        outs.push(Out {
                            entry: path_in(&wdir, &p.name, &key_node)?,
                            kind,
                            cache: flag("cache", true),
                            persist: flag("persist", false),
                            props: plot_props(flags),
                        });
                    }
                }
                _ => outs.push(Out {
                    entry: path_in(&wdir, &string(key, item)?, item)?,
                    kind,
                    cache: true,
                    persist: false,
                    props: IndexMap::new(),
                }),
            }
        }
    }

    let mut params = Vec::new();
    if let Some(node) = resolve("params")? {
        for item in seq(&node) {
            match &item.kind {
                Kind::Map(files) => {
                    for (file, keys) in files {
                        let file_node = Node {
                            kind: Kind::Str(file.name.clone()),
                            span: file.span,
                        };
                        let entry = path_in(&wdir, &file.name, &file_node)?;
                        let keys = match &keys.kind {
                            Kind::Null => None,
                            _ => Some(
                                seq(keys)
                                    .iter()
                                    .map(|k| string("params", k))
                                    .collect::<Result<Vec<_>, _>>()?,
                            ),
                        };
                        add_params(&mut params, entry, keys);
                    }
                }
                _ => {
                    let key = string("params", item)?;
                    let entry = path_in(&wdir, DEFAULT_PARAMS, item)?;
                    add_params(&mut params, entry, Some(vec![key]));
                }
            }
        }
    }

    let flag = |key: &str| {
        template
            .get(key)
            .is_some_and(|n| matches!(n.kind, Kind::Bool(true)))
    };
    let desc = resolve("desc")?.map(|n| string("desc", &n)).transpose()?;
    let mut env = IndexMap::new();
    if let Some(node) = resolve("env")? {
        for (k, v) in node.as_map().unwrap_or(&[]) {
            env.insert(k.name.clone(), string("env", v)?);
        }
    }
    let mut resources = Resources::default();
    if let Some(node) = resolve("resources")? {
        for (k, v) in node.as_map().unwrap_or(&[]) {
            let text = string("resources", v)?;
            let f = format!("{}.{}", field("resources"), k.name);
            let whole = |t: &str| {
                t.parse::<u32>().map_err(|_| SpecError::WrongType {
                    field: f.clone(),
                    expected: "a whole number",
                    found: v.kind_name(),
                    loc: loc(v),
                })
            };
            match k.name.as_str() {
                "cpus" => resources.cpus = whole(&text)?.max(1),
                "gpus" => resources.gpus = Some(whole(&text)?),
                "mem" => resources.mem = Some(text),
                _ => resources.time = Some(text),
            }
        }
    }

    let executor = match resolve("executor")? {
        None => None,
        Some(node) => {
            let text = string("executor", &node)?;
            Some(
                ExecutorName::parse(&text).ok_or_else(|| SpecError::UnknownExecutor {
                    name: text,
                    stage: name.to_string(),
                    loc: loc(&node),
                })?,
            )
        }
    };

    Ok(Stage {
        name: name.to_string(),
        group: group.map(str::to_string),
        spec: spec.clone(),
        loc: key_loc.clone(),
        action,
        wdir,
        deps,
        params,
        outs,
        frozen: flag("frozen"),
        always_changed: flag("always_changed"),
        desc,
        env,
        resources,
        executor,
    })
}

/// The items of a list node (a lone scalar counts as a list of one, after interpolation).
fn seq(node: &Node) -> Vec<&Node> {
    match &node.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Null => vec![],
        _ => vec![node],
    }
}

/// Adds tracked keys of a params file, merging with an earlier entry for the same file.
fn add_params(params: &mut Vec<ParamDep>, entry: PathEntry, keys: Option<Vec<String>>) {
    if let Some(existing) = params.iter_mut().find(|p| p.file == entry.path) {
        match (&mut existing.keys, keys) {
            (Some(have), Some(more)) => {
                for k in more {
                    if !have.contains(&k) {
                        have.push(k);
                    }
                }
            }
            (have, _) => *have = None,
        }
        return;
    }
    params.push(ParamDep {
        file: entry.path,
        written: entry.written,
        keys,
        loc: entry.loc,
    });
}
