//! Studies in the run store: a study's trials are experiments tagged with the study's name, their
//! number and the objective (so `wf tune show` reads a study without its spec).

use rusqlite::{OptionalExtension, params};

use super::error::StoreError;
use super::runs::{Store, write_err};

/// The tag naming a trial's study.
pub const STUDY_TAG: &str = "wf.study";
/// The tag holding a trial's number in its study.
pub const TRIAL_TAG: &str = "wf.trial";
/// The tag holding a study's objective, `FILE:KEY` from the repository root.
pub const OBJECTIVE_TAG: &str = "wf.objective";
/// The tag holding a study's direction, `max` or `min`.
pub const DIRECTION_TAG: &str = "wf.direction";

/// The tag holding the step at which a trial was pruned.
pub const PRUNED_TAG: &str = "wf.pruned_step";

/// A trial as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Its run's id.
    pub id: String,
    /// Its run's name.
    pub name: String,
    /// Its number in the study, from 0.
    pub number: u64,
    /// `queued`, `running`, `finished`, `failed`, `cancelled`.
    pub status: String,
    /// Its overrides.
    pub overrides: Vec<String>,
    /// When it started and ended, in seconds since the Unix epoch.
    pub started: f64,
    /// See `started`.
    pub ended: Option<f64>,
    /// The objective (the metric's value after the run, if it has one).
    pub value: Option<f64>,
}

/// A study as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRow {
    /// Its name.
    pub name: String,
    /// `FILE:KEY`.
    pub objective: String,
    /// `max` or `min`.
    pub direction: String,
    /// How many trials it has.
    pub trials: usize,
}

impl Store {
    /// Ends as cancelled those of the runs `ids` still recorded as running by a process that is
    /// gone (a `wf` killed outright never ends its runs); returns how many.
    pub fn cancel_orphans(&mut self, ids: &[&str]) -> Result<usize, StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn().transaction().map_err(err)?;
        let mut cancelled = 0;
        for id in ids {
            let row: Option<(String, Option<i64>)> = tx
                .query_row("SELECT status, pid FROM runs WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(err)?;
            let Some((status, pid)) = row else { continue };
            let gone = pid.is_none_or(|p| !crate::repo_lock::alive(i32::try_from(p).unwrap_or(0)));
            if status == "running" && gone {
                cancelled += tx
                    .execute(
                        "UPDATE runs SET status = 'cancelled', ended = ?2 WHERE id = ?1",
                        params![id, super::runs::now()],
                    )
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(cancelled)
    }

    /// Tags a run.
    pub fn tag(&mut self, run: &str, tags: &[(&str, String)]) -> Result<(), StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn().transaction().map_err(err)?;
        for (key, value) in tags {
            tx.execute(
                "INSERT OR REPLACE INTO tags (run, key, value) VALUES (?1, ?2, ?3)",
                params![run, key, value],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The trials of study `name`, by number, with the value of `file`'s `key` after each.
    pub fn trials(&self, name: &str, file: &str, key: &str) -> Result<Vec<Trial>, StoreError> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT r.id, r.name, CAST(t.value AS INTEGER), r.status, r.overrides, r.started,
                        r.ended,
                        (SELECT m.value FROM metrics m WHERE m.run = r.id AND m.file = ?2
                                AND m.key = ?3 ORDER BY m.step DESC LIMIT 1)
                 FROM runs r
                 JOIN tags s ON s.run = r.id AND s.key = ?4 AND s.value = ?1
                 JOIN tags t ON t.run = r.id AND t.key = ?5
                 ORDER BY CAST(t.value AS INTEGER), r.seq",
            )?;
            let rows = q.query_map(params![name, file, key, STUDY_TAG, TRIAL_TAG], |r| {
                let overrides: Option<String> = r.get(4)?;
                Ok(Trial {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    number: r.get::<_, i64>(2)?.max(0) as u64,
                    status: r.get(3)?,
                    overrides: overrides
                        .and_then(|o| serde_json::from_str(&o).ok())
                        .unwrap_or_default(),
                    started: r.get(5)?,
                    ended: r.get(6)?,
                    value: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The values of metric `key` that the MLflow runs of run `id` logged, by step (the latest
    /// of each step).
    pub fn steps(&self, id: &str, key: &str) -> Result<Vec<(i64, f64)>, StoreError> {
        let all: Vec<(i64, f64)> = self.read(|c| {
            let mut q = c.prepare(
                "SELECT x.step, x.value FROM runs c JOIN metrics x ON x.run = c.id
                 WHERE c.parent = ?1 AND c.kind = 'mlflow' AND x.key = ?2 AND x.value IS NOT NULL
                 ORDER BY x.step, x.timestamp",
            )?;
            let rows = q.query_map(params![id, key], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let mut steps: Vec<(i64, f64)> = Vec::new();
        for (step, value) in all {
            match steps.last_mut() {
                Some(last) if last.0 == step => last.1 = value,
                _ => steps.push((step, value)),
            }
        }
        Ok(steps)
    }

    /// Every study, by name, with its objective as its latest trial records it.
    pub fn studies(&self) -> Result<Vec<StudyRow>, StoreError> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT s.value, COUNT(*),
                        (SELECT o.value FROM tags o JOIN tags s2 ON s2.run = o.run
                         WHERE o.key = ?2 AND s2.key = ?1 AND s2.value = s.value
                         ORDER BY o.run DESC LIMIT 1),
                        (SELECT d.value FROM tags d JOIN tags s3 ON s3.run = d.run
                         WHERE d.key = ?3 AND s3.key = ?1 AND s3.value = s.value
                         ORDER BY d.run DESC LIMIT 1)
                 FROM tags s WHERE s.key = ?1 GROUP BY s.value ORDER BY s.value",
            )?;
            let rows = q.query_map(params![STUDY_TAG, OBJECTIVE_TAG, DIRECTION_TAG], |r| {
                Ok(StudyRow {
                    name: r.get(0)?,
                    trials: r.get::<_, i64>(1)?.max(0) as usize,
                    objective: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    direction: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
    }
}
