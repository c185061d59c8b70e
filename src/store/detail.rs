//! One run in full, for `wf ui`'s run page: its row, params, metrics with their steps, tags,
//! stages (with their records and output tails) and artifacts.

use rusqlite::{OptionalExtension, params};

use super::error::StoreError;
use super::mlflow_runs::files_under;
use super::runs::{RUN_COLUMNS, Store, StoredRun, stored_run};

/// A run and everything the store keeps of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunDetail {
    /// Its row.
    pub run: StoredRun,
    /// Its params: file (`''` for MLflow's), key, value as JSON text.
    pub params: Vec<(String, String, String)>,
    /// Its metrics: file, key, step, time (0 when unknown), value (`None`: NaN).
    pub metrics: Vec<(String, String, i64, f64, Option<f64>)>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
    /// Its stages, in run order.
    pub stages: Vec<StageRow>,
    /// The files of its artifact folder, relative to it.
    pub artifacts: Vec<String>,
}

/// A stage of a stored run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageRow {
    /// Its address.
    pub stage: String,
    /// `ran`, `restored`, `skipped`, `failed`, …
    pub outcome: String,
    /// Who ran it.
    pub executor: String,
    /// When it started, in seconds since the Unix epoch.
    pub started: Option<f64>,
    /// How long it took.
    pub seconds: f64,
    /// Its record as JSON (reasons, hashes).
    pub record: String,
    /// The last lines it printed.
    pub output: String,
}

impl Store {
    /// The run with this id, in full; `None` when there is none.
    pub fn detail(&self, id: &str) -> Result<Option<RunDetail>, StoreError> {
        let detail = self.read(|c| {
            let Some(run) = c
                .query_row(
                    &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                    [id],
                    stored_run,
                )
                .optional()?
            else {
                return Ok(None);
            };
            let mut q =
                c.prepare("SELECT file, key, value FROM params WHERE run = ?1 ORDER BY file, key")?;
            let params = q
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let mut q = c.prepare(
                "SELECT file, key, step, timestamp, value FROM metrics WHERE run = ?1
                 ORDER BY file, key, step, timestamp",
            )?;
            let metrics = q
                .query_map([id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut q = c.prepare("SELECT key, value FROM tags WHERE run = ?1 ORDER BY key")?;
            let tags = q
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut q = c.prepare(
                "SELECT stage, outcome, executor, started, seconds, record, output FROM stages
                 WHERE run = ?1 ORDER BY position",
            )?;
            let stages = q
                .query_map(params![id], |r| {
                    Ok(StageRow {
                        stage: r.get(0)?,
                        outcome: r.get(1)?,
                        executor: r.get(2)?,
                        started: r.get(3)?,
                        seconds: r.get(4)?,
                        record: r.get(5)?,
                        output: r.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(Some(RunDetail {
                run,
                params,
                metrics,
                tags,
                stages,
                artifacts: Vec::new(),
            }))
        })?;
        Ok(detail.map(|mut d| {
            d.artifacts = files_under(&self.artifact_dir(id));
            d
        }))
    }
}

/// A run of one stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageRun {
    /// The run's id.
    pub run: String,
    /// The run's name.
    pub name: String,
    /// What happened to the stage.
    pub outcome: String,
    /// When it started, in seconds since the Unix epoch.
    pub started: Option<f64>,
    /// How long it took.
    pub seconds: f64,
}

impl Store {
    /// The last `limit` runs that considered `stage`, newest first (skips included).
    pub fn stage_runs(&self, stage: &str, limit: usize) -> Result<Vec<StageRun>, StoreError> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT s.run, r.name, s.outcome, s.started, s.seconds FROM stages s
                 JOIN runs r ON r.id = s.run WHERE s.stage = ?1 ORDER BY r.seq DESC LIMIT ?2",
            )?;
            let rows = q.query_map(
                params![stage, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(StageRun {
                        run: r.get(0)?,
                        name: r.get(1)?,
                        outcome: r.get(2)?,
                        started: r.get(3)?,
                        seconds: r.get(4)?,
                    })
                },
            )?;
            rows.collect()
        })
    }
}

impl Store {
    /// Every run's value of tag `key`, by run id.
    pub fn tag_values(
        &self,
        key: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        self.read(|c| {
            let mut q = c.prepare("SELECT run, value FROM tags WHERE key = ?1")?;
            let rows = q.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }
}
