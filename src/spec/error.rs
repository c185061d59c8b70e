//! `SpecError`: everything that can be wrong with a spec, its params, targets or graph, each
//! with the place in the file it comes from.

use super::source::Loc;

/// An error in a spec, a params/vars file, a target, or the stage graph.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Read {
        /// The path as given.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// No `pipeline.yaml` or `dvc.yaml` where one was looked for.
    #[error("no `pipeline.yaml` or `dvc.yaml` in `{dir}`")]
    NoSpec {
        /// The folder searched.
        dir: String,
    },
    /// A spec file with nothing in it (or only comments).
    #[error("`{path}` is empty: it has no stages")]
    EmptySpec {
        /// The spec file.
        path: String,
    },
    /// `stages:` with no value, such as when every stage under it is commented out.
    #[error("`stages` must be a mapping of stage names to stages, found null")]
    NullStages {
        /// The `stages` key.
        loc: Loc,
    },
    /// A mapping has the same key twice.
    #[error("duplicate key `{key}`")]
    DuplicateKey {
        /// The key.
        key: String,
        /// Its second occurrence.
        loc: Loc,
        /// Its first occurrence, when it could be found.
        first: Option<Loc>,
    },
    /// The YAML itself is malformed.
    #[error("invalid YAML: {message}")]
    Yaml {
        /// The parser's message.
        message: String,
        /// Where.
        loc: Loc,
        /// What to write instead, when the mistake is a common one.
        help: Option<String>,
    },
    /// A `[` or `{` never closed: the parser only notices at a later line.
    #[error("invalid YAML: unclosed bracket `{bracket}`")]
    Unclosed {
        /// `[` or `{`.
        bracket: char,
        /// The bracket.
        loc: Loc,
        /// Where the parser gave up.
        stopped: Loc,
    },
    /// A key that the schema does not know.
    #[error("unknown field `{field}` in {context}, expected one of {}", expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", "))]
    UnknownField {
        /// The key as written.
        field: String,
        /// Where it sits, such as "stage `train`".
        context: String,
        /// The keys accepted there.
        expected: Vec<&'static str>,
        /// A near key.
        suggestion: Option<&'static str>,
        /// Where.
        loc: Loc,
    },
    /// A value of the wrong shape.
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        /// The field, such as `stages.train.deps`.
        field: String,
        /// What is accepted.
        expected: &'static str,
        /// What was written.
        found: &'static str,
        /// Where.
        loc: Loc,
    },
    /// A required key is missing.
    #[error("{context} has no `{field}`")]
    Missing {
        /// The missing key.
        field: &'static str,
        /// Where it is missing, such as "stage `train`".
        context: String,
        /// What to write.
        help: &'static str,
        /// The mapping lacking it.
        loc: Loc,
    },
    /// Two keys that cannot be used together.
    #[error("{context} has both `{first}` and `{second}`")]
    Conflict {
        /// One key.
        first: &'static str,
        /// The other.
        second: &'static str,
        /// Where, such as "stage `train`".
        context: String,
        /// How to resolve it.
        help: &'static str,
        /// The second key.
        loc: Loc,
    },
    /// `uses:` names no built-in stage.
    #[error("unknown built-in stage `{name}` in `uses:` of stage `{stage}`")]
    UnknownBuiltin {
        /// The name written.
        name: String,
        /// The stage.
        stage: String,
        /// A near name.
        suggestion: Option<&'static str>,
        /// Where.
        loc: Loc,
    },
    /// `executor:` names no executor.
    #[error("unknown executor `{name}` for stage `{stage}`")]
    UnknownExecutor {
        /// The name written.
        name: String,
        /// The stage.
        stage: String,
        /// Where.
        loc: Loc,
    },
    /// `with:` does not fit the built-in stage.
    #[error("{message}")]
    BuiltinWith {
        /// The stage crate's message.
        message: String,
        /// The `with:` mapping.
        loc: Loc,
    },
    /// `${key}` names nothing in params.yaml or vars.
    #[error("undefined variable `{key}` in `{field}`")]
    Undefined {
        /// The key as written.
        key: String,
        /// The field, such as `stages.train.cmd`.
        field: String,
        /// Where.
        loc: Loc,
    },
    /// `${}` whose contents are not a key path.
    #[error("invalid interpolation `${{{expr}}}` in `{field}`: {reason}")]
    BadExpression {
        /// The text between the braces.
        expr: String,
        /// The field.
        field: String,
        /// What is wrong.
        reason: &'static str,
        /// Where.
        loc: Loc,
    },
    /// A list or mapping interpolated where only a scalar fits.
    #[error("cannot interpolate data of type `{type_name}` in `{field}`")]
    BadInterpolationType {
        /// Python's name of the type (`list`, `dict`), as DVC says it.
        type_name: &'static str,
        /// The field.
        field: String,
        /// Where.
        loc: Loc,
    },
    /// A list inside a list, unpacked into `cmd` flags.
    #[error("cannot interpolate nested iterable in `{key}` in `{field}`")]
    NestedIterable {
        /// The flag name.
        key: String,
        /// The field.
        field: String,
        /// Where.
        loc: Loc,
    },
    /// A var defined twice.
    #[error("cannot redefine `{key}` from `{new_source}` as it already exists in `{old_source}`")]
    Redefined {
        /// The dotted key.
        key: String,
        /// The later source.
        new_source: String,
        /// The earlier source.
        old_source: String,
        /// The later `vars` entry.
        loc: Loc,
    },
    /// A vars file loaded twice in incompatible ways, or not loadable.
    #[error("{message}")]
    Vars {
        /// DVC's wording.
        message: String,
        /// The `vars` entry.
        loc: Loc,
    },
    /// A `tune:` block that does not declare a study.
    #[error("{message}")]
    Tune {
        /// What is wrong.
        message: String,
        /// The note under the caret.
        label: String,
        /// What to write instead.
        help: Option<String>,
        /// Where.
        loc: Loc,
    },
    /// `foreach`/`matrix` data of the wrong type.
    #[error("`{field}` must be {expected}, found {found}")]
    NotIterable {
        /// The field, such as `stages.train.foreach`.
        field: String,
        /// What is accepted.
        expected: &'static str,
        /// Python's type name of what was found.
        found: &'static str,
        /// Where.
        loc: Loc,
    },
    /// Resolving the spec makes more than the budget: a foreach or matrix times what its stages
    /// interpolate.
    #[error("the stages of this spec resolve to more than {} MiB of values and text", limit >> 20)]
    TooLarge {
        /// The budget, in bytes.
        limit: usize,
        /// Where it ran out.
        loc: Loc,
    },
    /// Two stages generated with one name.
    #[error("stage `{name}` is defined twice")]
    DuplicateStage {
        /// The full name.
        name: String,
        /// The second definition.
        loc: Loc,
    },
    /// A path that leaves the repository.
    #[error("path `{path}` is outside the repository")]
    PathEscapes {
        /// The path as written.
        path: String,
        /// Where.
        loc: Loc,
    },
    /// A target that names no stage, group or spec.
    #[error("unknown target `{target}`")]
    UnknownTarget {
        /// The target as given.
        target: String,
        /// A near stage name.
        suggestion: Option<String>,
    },
    /// Two stages write the same path.
    #[error("output `{path}` is written by two stages: `{first}` and `{second}`")]
    DuplicateOut {
        /// The path.
        path: String,
        /// The first stage.
        first: String,
        /// The second stage.
        second: String,
        /// The first stage's out.
        first_loc: Loc,
        /// The second stage's out.
        second_loc: Loc,
    },
    /// One out inside another.
    #[error(
        "outputs overlap: `{inner}` of stage `{inner_stage}` is inside `{outer}` of stage `{outer_stage}`"
    )]
    OverlappingOuts {
        /// The enclosing path.
        outer: String,
        /// Its stage.
        outer_stage: String,
        /// The nested path.
        inner: String,
        /// Its stage.
        inner_stage: String,
        /// The enclosing out.
        outer_loc: Loc,
        /// The nested out.
        inner_loc: Loc,
    },
    /// A stage reading what it writes.
    #[error("stage `{stage}` has `{path}` both as a dependency and as an output")]
    OutIsDep {
        /// The stage.
        stage: String,
        /// The path.
        path: String,
        /// The dep.
        loc: Loc,
    },
    /// A cycle in the graph.
    #[error("cycle in the pipeline: {}", cycle.join(" -> "))]
    Cycle {
        /// The stages around the cycle, the first repeated at the end.
        cycle: Vec<String>,
        /// The first stage's definition.
        loc: Loc,
    },
}

/// What an error renders as: its message, the places it points at, and a hint.
pub struct Report<'a> {
    /// The primary place and its label.
    pub primary: Option<(&'a Loc, String)>,
    /// Other places that explain it.
    pub secondary: Vec<(&'a Loc, String)>,
    /// A `help:` line.
    pub help: Option<String>,
}

impl SpecError {
    /// The places this error points at and its help line.
    pub fn report(&self) -> Report<'_> {
        let mut secondary = Vec::new();
        let (primary, help) = match self {
            SpecError::Read { .. } => (None, None),
            SpecError::NoSpec { .. } => (
                None,
                Some("create `pipeline.yaml` (or run from a folder that has one), or pass `-C DIR`".into()),
            ),
            SpecError::EmptySpec { .. } => (
                None,
                Some("write at least one stage under `stages:`, such as `stages: {train: {cmd: python train.py}}`, or delete the file".into()),
            ),
            SpecError::NullStages { loc } => (
                Some((loc, "no stage under it".into())),
                Some("write at least one stage under `stages:` (are they all commented out?), or remove `stages:`".into()),
            ),
            SpecError::Yaml { loc, help, .. } => (Some((loc, String::new())), help.clone()),
            SpecError::Unclosed {
                bracket,
                loc,
                stopped,
            } => {
                secondary.push((stopped, "the parser gave up here".into()));
                let (close, what, item) = if *bracket == '[' {
                    (']', "list", "`- item`")
                } else {
                    ('}', "mapping", "`key: value`")
                };
                (
                    Some((loc, "never closed".into())),
                    Some(format!(
                        "close it with `{close}` where the {what} ends, or write the {what} as a block, one {item} per line"
                    )),
                )
            }
            SpecError::DuplicateKey { loc, first, .. } => {
                if let Some(first) = first {
                    secondary.push((first, "first written here".into()));
                }
                (
                    Some((loc, "written again here".into())),
                    Some("a key can appear once in a mapping: keep one of them".into()),
                )
            }
            SpecError::UnknownField {
                suggestion, loc, ..
            } => (
                Some((
                    loc,
                    suggestion.map_or_else(String::new, |s| format!("did you mean `{s}`?")),
                )),
                None,
            ),
            SpecError::WrongType { expected, loc, .. } => {
                (Some((loc, format!("expected {expected}"))), None)
            }
            SpecError::Missing { help, loc, .. } | SpecError::Conflict { help, loc, .. } => {
                (Some((loc, String::new())), Some((*help).into()))
            }
            SpecError::UnknownBuiltin {
                suggestion, loc, ..
            } => (
                Some((
                    loc,
                    suggestion.map_or_else(String::new, |s| format!("did you mean `{s}`?")),
                )),
                Some(format!(
                    "built-in stages are {}",
                    wf_stages::names()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ),
            SpecError::UnknownExecutor { loc, .. } => (
                Some((loc, "expected `local` or `slurm`".into())),
                Some("`executor: local` runs the stage on this machine, `executor: slurm` submits it to the Slurm cluster (see `[executor.slurm]` in `.wf/config`)".into()),
            ),
            SpecError::BuiltinWith { loc, .. } => (Some((loc, String::new())), None),
            SpecError::Undefined { key, loc, .. } => (
                Some((loc, format!("`{key}` is not defined"))),
                Some("define it in `params.yaml` or in the spec's `vars:`".into()),
            ),
            SpecError::BadExpression { loc, .. } => (
                Some((loc, String::new())),
                Some("write a key path such as `${train.lr}`, `${models[0]}` or `${models.0}`; escape a literal as `\\${x}`".into()),
            ),
            SpecError::BadInterpolationType { type_name, loc, .. } => (
                Some((loc, format!("this is a `{type_name}`"))),
                Some("only a string, number or boolean can be interpolated here (a mapping unpacks into flags in `cmd` only)".into()),
            ),
            SpecError::NestedIterable { loc, .. } => (Some((loc, String::new())), None),
            SpecError::Redefined { loc, .. } => (
                Some((loc, String::new())),
                Some("vars never shadow each other: rename the key or drop one of the definitions".into()),
            ),
            SpecError::Vars { loc, .. } => (Some((loc, String::new())), None),
            SpecError::NotIterable { loc, .. } => (Some((loc, String::new())), None),
            SpecError::Tune {
                label, help, loc, ..
            } => (Some((loc, label.clone())), help.clone()),
            SpecError::TooLarge { loc, .. } => (
                Some((loc, "the budget ran out here".into())),
                Some("a `foreach` or `matrix` makes one stage per item or combination, each with its own copy of what it interpolates: iterate over fewer items, or interpolate key paths (`${train.lr}`) rather than whole mappings or lists".into()),
            ),
            SpecError::DuplicateStage { loc, .. } => (Some((loc, String::new())), None),
            SpecError::PathEscapes { loc, .. } => (
                Some((loc, String::new())),
                Some("outs, params files and `wdir` must stay inside the repository (only a dep may lie outside it); paths are relative to the spec's folder or `wdir`".into()),
            ),
            SpecError::UnknownTarget { suggestion, .. } => (
                None,
                Some(suggestion.as_ref().map_or_else(
                    || "targets are stage names, foreach/matrix group names, spec files (`dir/pipeline.yaml`) or `spec:stage`; `wf stage list` shows the stages".into(),
                    |s| format!("did you mean `{s}`?"),
                )),
            ),
            SpecError::DuplicateOut {
                first, first_loc, second_loc, ..
            } => {
                secondary.push((first_loc, format!("first written by `{first}` here")));
                (
                    Some((second_loc, "written again here".into())),
                    Some("every output must belong to exactly one stage".into()),
                )
            }
            SpecError::OverlappingOuts {
                outer_loc,
                inner_loc,
                ..
            } => {
                secondary.push((outer_loc, "this output contains the other".into()));
                (
                    Some((inner_loc, "inside another stage's output".into())),
                    Some("outputs must be in separate folders or tracked individually".into()),
                )
            }
            SpecError::OutIsDep { loc, .. } => (
                Some((loc, "also an output of this stage".into())),
                None,
            ),
            SpecError::Cycle { loc, .. } => (
                Some((loc, String::new())),
                Some("a stage cannot depend, directly or not, on its own outputs".into()),
            ),
        };
        Report {
            primary,
            secondary,
            help,
        }
    }
}
