//! `PlotsError`: what can be wrong with a plot's definition or its data files.

use crate::spec::Loc;
use crate::spec::schema::suggest;

use super::template::TEMPLATES;

/// A plot cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotsError {
    /// A plot's data file is in none of the revisions read.
    #[error("plot file `{path}` does not exist{}", in_revs(revs))]
    Missing {
        /// The file, from the repository root.
        path: String,
        /// The revisions read, `workspace` for the files on disk.
        revs: Vec<String>,
    },
    /// A field named by `x` or `y` is not in the data.
    #[error("field `{field}` is not in `{path}`")]
    UnknownField {
        /// The field.
        field: String,
        /// The data file, with its revision when not the workspace.
        path: String,
        /// The fields the data has.
        known: Vec<String>,
        /// Where the plot is defined, when in a spec.
        loc: Option<Loc>,
    },
    /// A data file does not parse.
    #[error("cannot parse `{path}`{}: {reason}", position(*line, *column))]
    Malformed {
        /// The data file, with its revision when not the workspace.
        path: String,
        /// The line, from 1, when known.
        line: Option<u64>,
        /// The column, from 1, when known.
        column: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// A data file holds no list of records.
    #[error("`{path}` holds no records to plot: {reason}")]
    NoRecords {
        /// The data file.
        path: String,
        /// What it holds instead.
        reason: String,
    },
    /// A template that is not one of DVC's.
    #[error("unknown template `{name}` in plot `{id}`")]
    UnknownTemplate {
        /// As written.
        name: String,
        /// The plot.
        id: String,
        /// Where it is written.
        loc: Option<Loc>,
    },
    /// A plot definition of the wrong shape.
    #[error("plot `{id}`: {message}")]
    Definition {
        /// The plot.
        id: String,
        /// What is wrong.
        message: String,
        /// Where it is written.
        loc: Option<Loc>,
    },
    /// A target that names no plot and no plot file.
    #[error("no plot `{target}`")]
    UnknownTarget {
        /// As given.
        target: String,
        /// The plot ids there are.
        known: Vec<String>,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {reason}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn in_revs(revs: &[String]) -> String {
    match revs {
        [only] if only == crate::diff::WORKSPACE => String::new(),
        revs => format!(" in {}", revs.join(", ")),
    }
}

fn position(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

impl PlotsError {
    /// Where in a spec the error is, when it is about a definition.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            PlotsError::UnknownField { loc, .. }
            | PlotsError::UnknownTemplate { loc, .. }
            | PlotsError::Definition { loc, .. } => loc.as_ref(),
            _ => None,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            PlotsError::Missing { .. } => {
                Some("run `wf repro` to produce it, or fix the plot's path in the spec".into())
            }
            PlotsError::UnknownField { field, known, .. } => {
                Some(match suggest(field, known.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("its fields are: {}", list(known)),
                })
            }
            PlotsError::Malformed { .. } | PlotsError::NoRecords { .. } => Some(
                "plot data is CSV or TSV with a header, a JSON or YAML list of records, or an \
                 object holding one"
                    .into(),
            ),
            PlotsError::UnknownTemplate { name, .. } => Some(
                match suggest(name, TEMPLATES) {
                    Some(near) => format!("did you mean `{near}`? "),
                    None => String::new(),
                } + &format!("the templates are: {}", TEMPLATES.join(", ")),
            ),
            PlotsError::Definition { .. } => Some(
                "write a plot as a file path, or `ID: {x: FIELD, y: {FILE: FIELD}}`, as DVC's \
                 top-level `plots:`"
                    .into(),
            ),
            PlotsError::UnknownTarget { target, known } => {
                Some(match suggest(target, known.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if known.is_empty() => "the specs define no plots".into(),
                    None => format!("the plots are: {}", list(known)),
                })
            }
            PlotsError::Io { .. } => None,
        }
    }
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
