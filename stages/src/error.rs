//! `Error`: everything a built-in stage or the model registry can refuse, each variant naming the
//! file and, where it applies, the column, row, parameter or version at fault.

use std::path::PathBuf;

/// Errors of built-in stages and of the model registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `with:` did not match what the stage accepts.
    #[error("invalid `with:` for built-in stage `{stage}`: {message}")]
    With {
        /// The stage's name, such as `train`.
        stage: &'static str,
        /// What is wrong, as serde reports it (names the field).
        message: String,
    },

    /// An input file or folder does not exist.
    #[error("`{}` does not exist", path.display())]
    Missing {
        /// The path as the stage resolved it.
        path: PathBuf,
    },

    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A file or folder could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A CSV file could not be parsed or written.
    #[error("cannot {action} CSV `{}`: {message}", path.display())]
    Csv {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What polars reported.
        message: String,
    },

    /// A CSV file has a header but no data rows, or nothing at all.
    #[error("`{}` has no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// A column a stage needs is not in the CSV header.
    #[error("`{}` has no column `{column}` (columns: {available})", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column looked for.
        column: String,
        /// The columns the file has, comma separated.
        available: String,
    },

    /// A feature cell does not parse as a number.
    #[error("`{}` line {line}, column `{column}`: `{value}` is not a number", path.display())]
    NotNumeric {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the file (the header is line 1).
        line: usize,
        /// The column.
        column: String,
        /// The cell as written.
        value: String,
    },

    /// A cell a model needs is empty.
    #[error("`{}` line {line}, column `{column}` is empty", path.display())]
    EmptyCell {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the file (the header is line 1).
        line: usize,
        /// The column.
        column: String,
    },

    /// A class has too few rows to appear in both splits.
    #[error(
        "class `{class}` of `{column}` in `{}` has a single row, a stratified split needs at least 2",
        path.display()
    )]
    SingleRowClass {
        /// The file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// The label with one row.
        class: String,
    },

    /// Training data with fewer than two classes.
    #[error("`{}` has {found} class(es) in `{column}`, a classifier needs at least 2", path.display())]
    TooFewClasses {
        /// The file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// How many distinct labels there are.
        found: usize,
    },

    /// A number in `with:` outside the range it must lie in.
    #[error("`{field}` of built-in stage `{stage}` {message}")]
    Range {
        /// The stage's name.
        stage: &'static str,
        /// The field of `with:`.
        field: &'static str,
        /// What the value must be, and what it was.
        message: String,
    },

    /// `train` was given no `target` and the data folder does not name one.
    #[error("no `target` given and `{}` names none", path.display())]
    NoTarget {
        /// The `summary.json` looked at.
        path: PathBuf,
    },

    /// A hyper-parameter the model does not have.
    #[error("unknown parameter `{name}` for model `{model}`, expected one of {expected}")]
    UnknownParam {
        /// The model, such as `svm`.
        model: &'static str,
        /// The parameter given.
        name: String,
        /// The parameters the model accepts, in backticks.
        expected: String,
    },

    /// A hyper-parameter of the wrong type or out of range.
    #[error("parameter `{name}` of model `{model}` {message}")]
    Param {
        /// The model, such as `svm`.
        model: &'static str,
        /// The parameter.
        name: String,
        /// What it must be, and what it was.
        message: String,
    },

    /// The learning library refused the data or the parameters.
    #[error("cannot fit model `{model}`: {message}")]
    Fit {
        /// The model, such as `svm`.
        model: &'static str,
        /// What linfa reported.
        message: String,
    },

    /// A JSON file (model, metrics, registry) is not what it should be.
    #[error("cannot parse `{}`: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A model file written by another version of the format.
    #[error(
        "`{}` is model format {found}, this version of wf reads format {expected}",
        path.display()
    )]
    ModelFormat {
        /// The model file.
        path: PathBuf,
        /// The format the file declares (`null` when it has none).
        found: String,
        /// The format this crate reads and writes.
        expected: u32,
    },

    /// A metrics file without the metric `deploy` compares on.
    #[error("`{}` has no numeric metric `{metric}`", path.display())]
    MissingMetric {
        /// The metrics file.
        path: PathBuf,
        /// The metric looked for.
        metric: String,
    },

    /// A registry version or alias that does not exist.
    #[error("model registry `{}` has no version or alias `{name}`", registry.display())]
    UnknownVersion {
        /// The registry folder.
        registry: PathBuf,
        /// The version number or alias asked for.
        name: String,
    },

    /// A registered model file whose bytes are not those registered.
    #[error(
        "`{}` was changed or damaged since it was registered: its blake3 is {found}, not {recorded}",
        path.display()
    )]
    Damaged {
        /// The model file.
        path: PathBuf,
        /// The hash in the version's `meta.json`.
        recorded: String,
        /// The file's hash now.
        found: String,
    },

    /// A registry folder that does not exist.
    #[error("`{}` is not a model registry (no `versions` folder)", path.display())]
    NotARegistry {
        /// The folder.
        path: PathBuf,
    },

    /// The engine raised the cancel flag (Ctrl-C) before the stage finished.
    #[error("cancelled before it finished")]
    Cancelled,

    /// `rollback` with no earlier champion to go back to.
    #[error("model registry `{}` has no earlier champion to roll back to", registry.display())]
    NoRollback {
        /// The registry folder.
        registry: PathBuf,
    },
}

impl Error {
    /// Maps a read error, telling a missing file from an unreadable one.
    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::Missing { path }
        } else {
            Error::Read { path, source }
        }
    }

    /// Maps a write error.
    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Write {
            path: path.into(),
            source,
        }
    }

    /// Maps a JSON (de)serialisation error.
    pub(crate) fn json(path: impl Into<PathBuf>, message: impl ToString) -> Error {
        Error::Json {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
