//! The schema of a spec file, checked on the YAML tree before interpolation, as DVC validates
//! `dvc.yaml`: unknown keys and values of the wrong shape are errors with their position.

use std::sync::Arc;

use super::error::SpecError;
use super::source::{Loc, Source};
use super::yaml::{Key, Kind, Node};

/// Top-level keys.
const TOP: &[&str] = &[
    "stages",
    "vars",
    "params",
    "metrics",
    "plots",
    "artifacts",
    "datasets",
    "tune",
];
/// Keys of a stage (DVC's plus `uses`, `with`, `env`, `resources`, `executor`).
pub const STAGE: &[&str] = &[
    "cmd",
    "uses",
    "with",
    "wdir",
    "deps",
    "params",
    "outs",
    "metrics",
    "plots",
    "frozen",
    "always_changed",
    "desc",
    "meta",
    "vars",
    "matrix",
    "env",
    "resources",
    "executor",
];
/// Keys of a foreach stage.
const FOREACH: &[&str] = &["foreach", "do"];
/// Flags of an out or metric.
const OUT_FLAGS: &[&str] = &[
    "cache",
    "persist",
    "checkpoint",
    "remote",
    "push",
    "desc",
    "type",
    "labels",
    "meta",
];
/// Flags of a plot.
const PLOT_FLAGS: &[&str] = &[
    "cache",
    "persist",
    "checkpoint",
    "remote",
    "push",
    "desc",
    "type",
    "labels",
    "meta",
    "template",
    "x",
    "y",
    "x_label",
    "y_label",
    "title",
    "header",
];
/// Keys of `resources:`.
const RESOURCES: &[&str] = &["cpus", "mem", "gpus", "time"];

/// A stage definition as written.
#[derive(Debug)]
pub struct StageDef {
    /// Its key in `stages:`.
    pub name: Key,
    /// How it generates stages.
    pub kind: DefKind,
}

/// Plain, foreach or matrix.
#[derive(Debug)]
pub enum DefKind {
    /// One stage.
    Plain(Node),
    /// `foreach:` data and the `do:` template.
    Foreach {
        /// The data.
        foreach: Node,
        /// The template.
        template: Node,
    },
    /// `matrix:` data and the rest of the stage as template.
    Matrix {
        /// The data.
        matrix: Node,
        /// The stage without `matrix`.
        template: Node,
    },
}

/// A spec file, checked.
#[derive(Debug)]
pub struct RawSpec {
    /// Top-level `vars:` entries.
    pub vars: Vec<Node>,
    /// Stage definitions in file order.
    pub stages: Vec<StageDef>,
}

/// Checks a parsed spec against the schema.
pub fn check(root: &Node, src: &Arc<Source>) -> Result<RawSpec, SpecError> {
    let c = Checker { src };
    if matches!(root.kind, Kind::Null) {
        return Err(SpecError::EmptySpec {
            path: src.name.clone(),
        });
    }
    let top = c.map(root, "the spec", "a mapping with `stages:`")?;
    c.keys(top, TOP, "the spec")?;
    let mut spec = RawSpec {
        vars: vec![],
        stages: vec![],
    };
    if let Some(vars) = root.get("vars") {
        spec.vars = c.vars(vars, "vars")?;
    }
    for key in ["params", "metrics"] {
        if let Some(list) = root.get(key) {
            for item in c.seq(list, key, "a list of file names")? {
                c.string(item, key)?;
            }
        }
    }
    let Some((key, stages)) = top.iter().find(|(k, _)| k.name == "stages") else {
        return Ok(spec);
    };
    if matches!(stages.kind, Kind::Null) {
        // As DVC, which says "expected a dictionary": an empty `stages:` is a mistake.
        return Err(SpecError::NullStages {
            loc: c.loc_key(key),
        });
    }
    for (name, def) in c.map(stages, "stages", "a mapping of stage names to stages")? {
        if name.name.contains(['@', ':', '/']) || name.name.is_empty() {
            return Err(SpecError::WrongType {
                field: format!("stages.{}", name.name),
                expected: "a stage name without `@`, `:` or `/`",
                found: "a name with one of them",
                loc: c.loc_key(name),
            });
        }
        let field = format!("stages.{}", name.name);
        let context = format!("stage `{}`", name.name);
        let entries = c.map(def, &field, "a mapping")?;
        let kind = if def.get("foreach").is_some() || def.get("do").is_some() {
            c.keys(entries, FOREACH, &context)?;
            let foreach = def.get("foreach").ok_or_else(|| {
                c.missing(
                    "foreach",
                    &context,
                    "a `do:` stage needs `foreach:` data: a list, a mapping or `${key}`",
                    def,
                )
            })?;
            let template = def.get("do").ok_or_else(|| {
                c.missing(
                    "do",
                    &context,
                    "`foreach:` needs a `do:` stage to generate",
                    def,
                )
            })?;
            if !matches!(foreach.kind, Kind::Seq(_) | Kind::Map(_) | Kind::Str(_)) {
                return Err(c.wrong(
                    foreach,
                    &format!("{field}.foreach"),
                    "a list, a mapping or `${key}`",
                ));
            }
            c.stage(template, &format!("{field}.do"), &context, false)?;
            DefKind::Foreach {
                foreach: foreach.clone(),
                template: template.clone(),
            }
        } else if let Some(matrix) = def.get("matrix") {
            c.stage(def, &field, &context, true)?;
            let mut template = def.clone();
            if let Kind::Map(entries) = &mut template.kind {
                entries.retain(|(k, _)| k.name != "matrix");
            }
            DefKind::Matrix {
                matrix: matrix.clone(),
                template,
            }
        } else {
            c.stage(def, &field, &context, false)?;
            DefKind::Plain(def.clone())
        };
        spec.stages.push(StageDef {
            name: name.clone(),
            kind,
        });
    }
    Ok(spec)
}

struct Checker<'a> {
    src: &'a Arc<Source>,
}

impl Checker<'_> {
    fn loc(&self, node: &Node) -> Loc {
        Loc {
            src: self.src.clone(),
            span: node.span,
        }
    }

    fn loc_key(&self, key: &Key) -> Loc {
        Loc {
            src: self.src.clone(),
            span: key.span,
        }
    }

    fn wrong(&self, node: &Node, field: &str, expected: &'static str) -> SpecError {
        SpecError::WrongType {
            field: field.to_string(),
            expected,
            found: node.kind_name(),
            loc: self.loc(node),
        }
    }

    fn missing(
        &self,
        field: &'static str,
        context: &str,
        help: &'static str,
        node: &Node,
    ) -> SpecError {
        SpecError::Missing {
            field,
            context: context.to_string(),
            help,
            loc: self.loc(node),
        }
    }

    fn map<'n>(
        &self,
        node: &'n Node,
        field: &str,
        expected: &'static str,
    ) -> Result<&'n [(Key, Node)], SpecError> {
        node.as_map()
            .ok_or_else(|| self.wrong(node, field, expected))
    }

    fn seq<'n>(
        &self,
        node: &'n Node,
        field: &str,
        expected: &'static str,
    ) -> Result<&'n [Node], SpecError> {
        match &node.kind {
            Kind::Seq(items) => Ok(items),
            Kind::Null => Ok(&[]),
            _ => Err(self.wrong(node, field, expected)),
        }
    }

    fn string(&self, node: &Node, field: &str) -> Result<(), SpecError> {
        node.as_str()
            .map(|_| ())
            .ok_or_else(|| self.wrong(node, field, "a string"))
    }

    fn boolean(&self, node: &Node, field: &str) -> Result<(), SpecError> {
        match node.kind {
            Kind::Bool(_) => Ok(()),
            _ => Err(self.wrong(node, field, "`true` or `false`")),
        }
    }

    fn keys(
        &self,
        entries: &[(Key, Node)],
        allowed: &'static [&'static str],
        context: &str,
    ) -> Result<(), SpecError> {
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                return Err(SpecError::UnknownField {
                    field: k.name.clone(),
                    context: context.to_string(),
                    expected: allowed.to_vec(),
                    suggestion: suggest(&k.name, allowed.iter().copied()),
                    loc: self.loc_key(k),
                });
            }
        }
        Ok(())
    }

    fn vars(&self, node: &Node, field: &str) -> Result<Vec<Node>, SpecError> {
        let items = self.seq(node, field, "a list of file names and mappings")?;
        for item in items {
            if !matches!(item.kind, Kind::Str(_) | Kind::Map(_)) {
                return Err(self.wrong(item, field, "a file name or a mapping"));
            }
            let mut interpolated = false;
            walk_strings(item, &mut |s| interpolated |= s.contains("${"));
            if interpolated {
                return Err(SpecError::WrongType {
                    field: field.to_string(),
                    expected: "values without `${}` (interpolating is not allowed in `vars`)",
                    found: "an interpolation",
                    loc: self.loc(item),
                });
            }
        }
        Ok(items.to_vec())
    }

    fn stage(
        &self,
        node: &Node,
        field: &str,
        context: &str,
        allow_matrix: bool,
    ) -> Result<(), SpecError> {
        let entries = self.map(node, field, "a mapping")?;
        self.keys(entries, STAGE, context)?;
        let has = |k: &str| node.get(k).is_some();
        match (has("cmd"), has("uses")) {
            (false, false) => {
                return Err(self.missing(
                    "cmd",
                    context,
                    "add `cmd: <shell command>`, or `uses: <built-in stage>` with `with:`",
                    node,
                ));
            }
            (true, true) => {
                let loc = entries
                    .iter()
                    .find(|(k, _)| k.name == "uses")
                    .map_or_else(|| self.loc(node), |(k, _)| self.loc_key(k));
                return Err(SpecError::Conflict {
                    first: "cmd",
                    second: "uses",
                    context: context.to_string(),
                    help: "a stage runs either a shell command (`cmd`) or a built-in stage (`uses`)",
                    loc,
                });
            }
            _ => {}
        }
        if has("with") && !has("uses") {
            let (k, _) = entries
                .iter()
                .find(|(k, _)| k.name == "with")
                .map_or((None, None), |(k, v)| (Some(k), Some(v)));
            return Err(SpecError::Conflict {
                first: "cmd",
                second: "with",
                context: context.to_string(),
                help: "`with:` gives the inputs of a built-in stage named by `uses:`; a `cmd` stage takes none",
                loc: k.map_or_else(|| self.loc(node), |k| self.loc_key(k)),
            });
        }
        for (key, value) in entries {
            let f = format!("{field}.{}", key.name);
            match key.name.as_str() {
                "cmd" => match &value.kind {
                    Kind::Str(_) => {}
                    Kind::Seq(items) => {
                        for item in items {
                            self.string(item, &f)?;
                        }
                    }
                    _ => return Err(self.wrong(value, &f, "a string or a list of strings")),
                },
                "uses" | "wdir" | "desc" => self.string(value, &f)?,
                "with" => {
                    self.map(value, &f, "a mapping of the built-in stage's inputs")?;
                }
                "frozen" | "always_changed" => self.boolean(value, &f)?,
                "deps" => {
                    for item in self.seq(value, &f, "a list of paths")? {
                        self.string(item, &f)?;
                    }
                }
                "params" => {
                    for item in self.seq(value, &f, "a list of keys and `file: [keys]` mappings")? {
                        match &item.kind {
                            Kind::Str(_) => {}
                            Kind::Map(files) => {
                                for (_, keys) in files {
                                    if !matches!(keys.kind, Kind::Null) {
                                        for k in self.seq(
                                            keys,
                                            &f,
                                            "a list of keys, or nothing for the whole file",
                                        )? {
                                            self.string(k, &f)?;
                                        }
                                    }
                                }
                            }
                            _ => {
                                return Err(self.wrong(
                                    item,
                                    &f,
                                    "a key or a `file: [keys]` mapping",
                                ));
                            }
                        }
                    }
                }
                "outs" | "metrics" | "plots" => {
                    let flags = if key.name == "plots" {
                        PLOT_FLAGS
                    } else {
                        OUT_FLAGS
                    };
                    for item in self.seq(value, &f, "a list of paths")? {
                        match &item.kind {
                            Kind::Str(_) => {}
                            Kind::Map(paths) => {
                                for (path, opts) in paths {
                                    let ctx = format!("output `{}` of {context}", path.name);
                                    if matches!(opts.kind, Kind::Null) {
                                        continue;
                                    }
                                    let opts_map = self.map(
                                        opts,
                                        &f,
                                        "a mapping of flags such as `cache: false`",
                                    )?;
                                    self.keys(opts_map, flags, &ctx)?;
                                    for (flag, v) in opts_map {
                                        let ff = format!("{f}.{}.{}", path.name, flag.name);
                                        match flag.name.as_str() {
                                            "cache" | "persist" | "checkpoint" | "push"
                                            | "header" => self.boolean(v, &ff)?,
                                            "remote" | "desc" | "type" | "template" | "x_label"
                                            | "y_label" | "title" => self.string(v, &ff)?,
                                            _ => {}
                                        }
                                    }
                                }
                            }
                            _ => {
                                return Err(self.wrong(
                                    item,
                                    &f,
                                    "a path or a `path: {flags}` mapping",
                                ));
                            }
                        }
                    }
                }
                "vars" => {
                    self.vars(value, &f)?;
                }
                "matrix" => {
                    if !allow_matrix {
                        return Err(self.wrong(
                            value,
                            &f,
                            "absent inside `do:` (use `matrix:` on a stage of its own)",
                        ));
                    }
                    for (_, v) in self.map(value, &f, "a mapping of names to lists")? {
                        if !matches!(v.kind, Kind::Seq(_) | Kind::Str(_)) {
                            return Err(self.wrong(v, &f, "a list or `${key}`"));
                        }
                    }
                }
                "env" => {
                    for (_, v) in self.map(value, &f, "a mapping of variable names to values")? {
                        if !matches!(
                            v.kind,
                            Kind::Str(_) | Kind::Int(_) | Kind::Float(_) | Kind::Bool(_)
                        ) {
                            return Err(self.wrong(v, &f, "a string, number or boolean"));
                        }
                    }
                }
                "resources" => {
                    let res = self.map(value, &f, "a mapping such as `{cpus: 2, mem: 4G}`")?;
                    self.keys(res, RESOURCES, &format!("`resources` of {context}"))?;
                    for (k, v) in res {
                        let ok = match k.name.as_str() {
                            "cpus" | "gpus" => {
                                matches!(v.kind, Kind::Int(i) if i >= 0)
                                    || matches!(v.kind, Kind::Str(_))
                            }
                            _ => matches!(v.kind, Kind::Str(_) | Kind::Int(_)),
                        };
                        if !ok {
                            return Err(self.wrong(
                                v,
                                &format!("{f}.{}", k.name),
                                "a whole number or a string",
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Calls `f` on every string in a tree.
fn walk_strings(node: &Node, f: &mut impl FnMut(&str)) {
    match &node.kind {
        Kind::Str(s) => f(s),
        Kind::Seq(items) => items.iter().for_each(|i| walk_strings(i, f)),
        Kind::Map(entries) => entries.iter().for_each(|(k, v)| {
            f(&k.name);
            walk_strings(v, f);
        }),
        _ => {}
    }
}

/// The candidate nearest to `name` when it is close enough to be a typo (as just's
/// `find_suggestion`: Levenshtein distance below 3).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, _)| *d < 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
