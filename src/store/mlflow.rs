//! What MLflow's tracking API keeps in the run store (the "run store" arrow of DESIGN.md's flow,
//! written by the tracking server while a run's stages log): its experiments, and its runs as
//! rows of `runs` with `kind = 'mlflow'`, the wf run as their parent and the stage that made them
//! as the `wf.stage` tag. Params and metrics logged through MLflow have `file = ''`. Every write
//! is one transaction; a refused write changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::error::StoreError;
use super::runs::Store;

/// The `kind` of a run made through MLflow's API.
pub(super) const KIND: &str = "mlflow";

/// The tag naming the stage whose token made a run.
pub const STAGE_TAG: &str = "wf.stage";

/// MLflow's tag holding a run's name.
pub(super) const RUN_NAME_TAG: &str = "mlflow.runName";

/// MLflow's tag naming the user who started a run.
const USER_TAG: &str = "mlflow.user";

/// An MLflow experiment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Experiment {
    /// Its id (MLflow shows it as a string of digits; `0` is `Default`).
    pub(crate) id: i64,
    /// Its unique name.
    pub(crate) name: String,
    /// Where its artifacts go, as a URI.
    pub(crate) artifact_location: String,
    /// `active` or `deleted`.
    pub(crate) lifecycle: String,
    /// When it was made and last changed, in seconds since the Unix epoch.
    pub(crate) created: f64,
    /// See `created`.
    pub(crate) updated: f64,
}

/// One value in a metric's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The step it was logged at.
    pub step: i64,
    /// When it was logged, in seconds since the Unix epoch.
    pub timestamp: f64,
    /// The value (NaN kept as NaN).
    pub value: f64,
}

/// An MLflow run as the API shows it: its latest value of each metric.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRow {
    /// Its id: 32 hex digits.
    pub(crate) id: String,
    /// Its MLflow name (the `mlflow.runName` tag; runs may share one).
    pub(crate) name: String,
    /// Its experiment.
    pub(crate) experiment: i64,
    /// `running`, `queued`, `finished`, `failed` or `cancelled`.
    pub(crate) status: String,
    /// Start and end, in seconds since the Unix epoch.
    pub(crate) started: f64,
    /// See `started`.
    pub(crate) ended: Option<f64>,
    /// Its artifact folder, as a `file://` URI.
    pub(crate) artifact_uri: String,
    /// `active` or `deleted`.
    pub(crate) lifecycle: String,
    /// Its params.
    pub(crate) params: BTreeMap<String, String>,
    /// Its tags.
    pub(crate) tags: BTreeMap<String, String>,
    /// The latest value of each metric (highest step, then latest time).
    pub(crate) metrics: BTreeMap<String, Point>,
}

impl RunRow {
    /// Who started it, as MLflow's client tags it.
    pub(crate) fn user(&self) -> &str {
        self.tags.get(USER_TAG).map_or("", String::as_str)
    }
}

/// A run of a wf run's stage, as wf shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MlflowRun {
    /// Its id: 32 hex digits.
    pub id: String,
    /// Its name in the store (unique; the MLflow name, made unique).
    pub name: String,
    /// The stage whose token made it.
    pub stage: Option<String>,
    /// `running`, `queued`, `finished`, `failed` or `cancelled`.
    pub status: String,
    /// Its params.
    pub params: BTreeMap<String, String>,
    /// Each metric's history, in the order it was logged (by time, then step).
    pub metrics: BTreeMap<String, Vec<Point>>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The files in its artifact folder, relative to it, with `/` separators, sorted.
    pub artifacts: Vec<String>,
}

/// A run about to be made through MLflow's API.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewMlflowRun<'a> {
    /// Its experiment.
    pub(crate) experiment: i64,
    /// The name asked for; one is made up when `None`.
    pub(crate) name: Option<&'a str>,
    /// When it started, in seconds since the Unix epoch.
    pub(crate) started: f64,
    /// The tags it starts with.
    pub(crate) tags: &'a [(String, String)],
    /// The wf run it belongs to.
    pub(crate) parent: Option<&'a str>,
    /// The stage whose token made it.
    pub(crate) stage: Option<&'a str>,
}

/// What one logging request adds to a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Batch {
    /// Metric values by key.
    pub(crate) metrics: Vec<(String, Point)>,
    /// Params: key, value.
    pub(crate) params: Vec<(String, String)>,
    /// Tags: key, value.
    pub(crate) tags: Vec<(String, String)>,
}

/// Why the store refused an MLflow request (MLflow's client errors, not failures).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// No experiment has this id.
    NoExperiment(i64),
    /// An experiment has this name already.
    ExperimentExists(String),
    /// No MLflow run has this id.
    NoRun(String),
    /// The run or experiment is deleted.
    Deleted {
        /// `run` or `experiment`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The run has no such tag.
    NoTag {
        /// The run.
        run: String,
        /// The tag.
        key: String,
    },
    /// A param was logged before with another value.
    ParamChanged {
        /// The run.
        run: String,
        /// The param.
        key: String,
        /// Its value.
        old: String,
        /// The value refused.
        new: String,
    },
}

/// A store answer that MLflow's rules may refuse.
pub(crate) type Refusable<T> = Result<Result<T, Refusal>, StoreError>;

impl Store {
    /// The repository's `.wf/runs` folder, under which each run has its artifact folder.
    pub(super) fn runs_dir(&self) -> PathBuf {
        self.file()
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("runs")
    }

    /// A run's artifact folder.
    pub(crate) fn artifact_dir(&self, run: &str) -> PathBuf {
        self.runs_dir().join(run).join("artifacts")
    }

    /// Runs `f` in one transaction (making experiment `Default` first, as MLflow has it from the
    /// start), committed when `keep` says so.
    fn transact<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, rusqlite::Error>,
        keep: impl FnOnce(&T) -> bool,
    ) -> Result<T, StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| StoreError::Write {
            path: path.clone(),
            message: e.to_string(),
        };
        let location = file_uri(&self.runs_dir());
        let tx = self.conn().transaction().map_err(err)?;
        ensure_default(&tx, &location).map_err(err)?;
        let answer = f(&tx).map_err(err)?;
        if keep(&answer) {
            tx.commit().map_err(err)?;
        }
        Ok(answer)
    }

    /// Runs `f` in one transaction, committed only when nothing was refused.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<Result<T, Refusal>, rusqlite::Error>,
    ) -> Refusable<T> {
        self.transact(f, Result::is_ok)
    }

    /// Runs `f` on one snapshot of the store.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let err = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.file().to_path_buf(),
            message: e.to_string(),
        };
        let tx = self.reader().unchecked_transaction().map_err(err)?;
        f(&tx).map_err(err)
    }

    /// The experiment with this id (making `Default`, id 0, on first use).
    pub(crate) fn mlflow_experiment(&mut self, id: i64) -> Result<Option<Experiment>, StoreError> {
        self.transact(|tx| experiment(tx, "id = ?1", id), |_| true)
    }

    /// The experiment with this name.
    pub(crate) fn mlflow_experiment_named(
        &mut self,
        name: &str,
    ) -> Result<Option<Experiment>, StoreError> {
        self.transact(|tx| experiment(tx, "name = ?1", name), |_| true)
    }

    /// Every experiment, by id.
    pub(crate) fn mlflow_experiments(&mut self) -> Result<Vec<Experiment>, StoreError> {
        self.transact(
            |tx| {
                let mut q = tx.prepare(&format!("{EXPERIMENT} ORDER BY id"))?;
                let rows = q.query_map([], experiment_row)?;
                rows.collect()
            },
            |_| true,
        )
    }

    /// Makes an experiment; returns its id.
    pub(crate) fn mlflow_create_experiment(
        &mut self,
        name: &str,
        artifact_location: Option<&str>,
        now: f64,
    ) -> Refusable<i64> {
        let location = file_uri(&self.runs_dir());
        self.write(|tx| {
            if experiment(tx, "name = ?1", name)?.is_some() {
                return Ok(Err(Refusal::ExperimentExists(name.to_string())));
            }
            tx.execute(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, created, updated)
                 VALUES (?1, ?2, 'active', ?3, ?3)",
                params![name, artifact_location.unwrap_or(&location), now],
            )?;
            Ok(Ok(tx.last_insert_rowid()))
        })
    }
}

const EXPERIMENT: &str =
    "SELECT id, name, artifact_location, lifecycle_stage, created, updated FROM experiments";

fn experiment_row(r: &rusqlite::Row<'_>) -> Result<Experiment, rusqlite::Error> {
    Ok(Experiment {
        id: r.get(0)?,
        name: r.get(1)?,
        artifact_location: r.get(2)?,
        lifecycle: r.get(3)?,
        created: r.get(4)?,
        updated: r.get(5)?,
    })
}

pub(super) fn experiment(
    c: &Connection,
    column: &str,
    value: impl rusqlite::ToSql,
) -> Result<Option<Experiment>, rusqlite::Error> {
    c.query_row(
        &format!("{EXPERIMENT} WHERE {column}"),
        params![value],
        experiment_row,
    )
    .optional()
}

/// As MLflow: experiment 0, `Default`, is there from the start.
fn ensure_default(c: &Connection, location: &str) -> Result<(), rusqlite::Error> {
    let now = now();
    c.execute(
        "INSERT OR IGNORE INTO experiments (id, name, artifact_location, lifecycle_stage, created, updated)
         VALUES (0, 'Default', ?1, 'active', ?2, ?2)",
        params![location, now],
    )
    .map(drop)
}

/// A `file://` URI of an absolute path, as MLflow's client reads it back (`%`, `?` and `#` would
/// be taken for an escape, a query and a fragment).
pub(crate) fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3F"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri
}

pub(super) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
