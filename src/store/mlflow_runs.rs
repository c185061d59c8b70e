//! The MLflow runs of the run store: made, changed, logged to and read, each request one
//! transaction (see `mlflow.rs` for what they are).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension, params};

use super::error::StoreError;
use super::mlflow::{
    Batch, KIND, MlflowRun, NewMlflowRun, Point, RUN_NAME_TAG, Refusable, Refusal, RunRow,
    STAGE_TAG, experiment, file_uri, now,
};
use super::runs::Store;

impl Store {
    /// Makes a run, running, with its artifact folder.
    pub(crate) fn mlflow_create_run(&mut self, new: &NewMlflowRun<'_>) -> Refusable<RunRow> {
        let id = fresh_id();
        let dir = self.artifact_dir(&id);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Write {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let uri = file_uri(&dir);
        self.write(|tx| {
            match experiment(tx, "id = ?1", new.experiment)? {
                None => return Ok(Err(Refusal::NoExperiment(new.experiment))),
                Some(e) if e.lifecycle != "active" => {
                    return Ok(Err(Refusal::Deleted {
                        what: "experiment",
                        id: e.id.to_string(),
                    }));
                }
                Some(_) => {}
            }
            let tagged = new.tags.iter().find(|(k, _)| k == RUN_NAME_TAG);
            let name = match (new.name, tagged) {
                (Some(n), _) if !n.is_empty() => n.to_string(),
                (_, Some((_, n))) if !n.is_empty() => n.clone(),
                _ => made_up_name(&id),
            };
            let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs", [], |r| {
                r.get(0)
            })?;
            tx.execute(
                "INSERT INTO runs (id, seq, name, kind, parent, command, status, started,
                                   experiment, lifecycle, artifact_uri)
                 VALUES (?1, ?2, ?3, ?4, ?5, '', 'running', ?6, ?7, 'active', ?8)",
                params![
                    id,
                    seq,
                    unique_name(tx, &name)?,
                    KIND,
                    new.parent,
                    new.started,
                    new.experiment,
                    uri
                ],
            )?;
            let mut tags: Vec<(&str, &str)> = new
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            tags.push((RUN_NAME_TAG, &name));
            if let Some(stage) = new.stage {
                tags.push((STAGE_TAG, stage));
            }
            for (key, value) in tags {
                tx.execute(
                    "INSERT OR REPLACE INTO tags (run, key, value) VALUES (?1, ?2, ?3)",
                    params![id, key, value],
                )?;
            }
            run(tx, &id).map(|r| r.ok_or(Refusal::NoRun(id.clone())))
        })
    }

    /// Changes a run's status, end or name.
    pub(crate) fn mlflow_update_run(
        &mut self,
        id: &str,
        status: Option<&str>,
        ended: Option<f64>,
        name: Option<&str>,
    ) -> Refusable<RunRow> {
        self.write(|tx| {
            if let Err(refusal) = active_run(tx, id)? {
                return Ok(Err(refusal));
            }
            tx.execute(
                "UPDATE runs SET status = COALESCE(?2, status), ended = COALESCE(?3, ended)
                 WHERE id = ?1",
                params![id, status, ended],
            )?;
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                tx.execute(
                    "INSERT OR REPLACE INTO tags (run, key, value) VALUES (?1, ?2, ?3)",
                    params![id, RUN_NAME_TAG, name],
                )?;
            }
            run(tx, id).map(|r| r.ok_or(Refusal::NoRun(id.to_string())))
        })
    }

    /// Marks a run deleted (`deleted = true`) or active again.
    pub(crate) fn mlflow_set_deleted(&mut self, id: &str, deleted: bool) -> Refusable<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE runs SET lifecycle = ?2 WHERE id = ?1 AND kind = ?3",
                params![id, if deleted { "deleted" } else { "active" }, KIND],
            )?;
            Ok(if n == 0 {
                Err(Refusal::NoRun(id.to_string()))
            } else {
                Ok(())
            })
        })
    }

    /// Logs metrics, params and tags to an active run. A param logged again with its value is
    /// fine, with another is refused (as MLflow); a metric value logged twice is kept once.
    pub(crate) fn mlflow_log(&mut self, id: &str, batch: &Batch) -> Refusable<()> {
        self.write(|tx| {
            if let Err(refusal) = active_run(tx, id)? {
                return Ok(Err(refusal));
            }
            for (key, value) in &batch.params {
                let old: Option<String> = tx
                    .query_row(
                        "SELECT value FROM params WHERE run = ?1 AND file = '' AND key = ?2",
                        params![id, key],
                        |r| r.get(0),
                    )
                    .optional()?;
                match old {
                    Some(old) if &old != value => {
                        return Ok(Err(Refusal::ParamChanged {
                            run: id.to_string(),
                            key: key.clone(),
                            old,
                            new: value.clone(),
                        }));
                    }
                    Some(_) => {}
                    None => {
                        tx.execute(
                            "INSERT INTO params (run, file, key, value) VALUES (?1, '', ?2, ?3)",
                            params![id, key, value],
                        )?;
                    }
                }
            }
            for (key, p) in &batch.metrics {
                let value = (!p.value.is_nan()).then_some(p.value);
                tx.execute(
                    "INSERT OR IGNORE INTO metrics (run, file, key, value, step, timestamp)
                     VALUES (?1, '', ?2, ?3, ?4, ?5)",
                    params![id, key, value, p.step, p.timestamp],
                )?;
            }
            for (key, value) in &batch.tags {
                tx.execute(
                    "INSERT OR REPLACE INTO tags (run, key, value) VALUES (?1, ?2, ?3)",
                    params![id, key, value],
                )?;
            }
            Ok(Ok(()))
        })
    }

    /// Removes a tag from an active run.
    pub(crate) fn mlflow_delete_tag(&mut self, id: &str, key: &str) -> Refusable<()> {
        self.write(|tx| {
            if let Err(refusal) = active_run(tx, id)? {
                return Ok(Err(refusal));
            }
            let n = tx.execute(
                "DELETE FROM tags WHERE run = ?1 AND key = ?2",
                params![id, key],
            )?;
            Ok(if n == 0 {
                Err(Refusal::NoTag {
                    run: id.to_string(),
                    key: key.to_string(),
                })
            } else {
                Ok(())
            })
        })
    }

    /// The MLflow run with this id.
    pub(crate) fn mlflow_run(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        self.read(|c| run(c, id))
    }

    /// Every MLflow run.
    pub(crate) fn mlflow_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        self.read(|c| {
            let ids = ids(c, "SELECT id FROM runs WHERE kind = ?1 ORDER BY seq", KIND)?;
            let mut runs = Vec::with_capacity(ids.len());
            for id in ids {
                runs.extend(run(c, &id)?);
            }
            Ok(runs)
        })
    }

    /// A metric's history (by time, then step, then value); `None` when there is no such run.
    pub(crate) fn mlflow_history(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Option<Vec<Point>>, StoreError> {
        self.read(|c| {
            if run(c, id)?.is_none() {
                return Ok(None);
            }
            let mut q = c.prepare(
                "SELECT step, timestamp, value FROM metrics WHERE run = ?1 AND file = '' AND key = ?2
                 ORDER BY timestamp, step, value",
            )?;
            let rows = q.query_map(params![id, key], |r| point(r, 0))?;
            rows.collect::<Result<Vec<_>, _>>().map(Some)
        })
    }

    /// The wf runs whose stages made MLflow runs.
    pub fn parents_of_children(&self) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT DISTINCT parent FROM runs WHERE kind = 'mlflow' AND parent IS NOT NULL",
            )?;
            let rows = q.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// The MLflow runs of a wf run's stages, oldest first, with each metric's whole history and
    /// the files in each artifact folder.
    pub fn children(&self, parent: &str) -> Result<Vec<MlflowRun>, StoreError> {
        let mut children = self.read(|c| {
            let q = "SELECT id FROM runs WHERE kind = 'mlflow' AND parent = ?1 ORDER BY seq";
            let mut children = Vec::new();
            for id in ids(c, q, parent)? {
                let (name, status): (String, String) = c.query_row(
                    "SELECT name, status FROM runs WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let mut metrics: BTreeMap<String, Vec<Point>> = BTreeMap::new();
                let mut q = c.prepare(
                    "SELECT key, step, timestamp, value FROM metrics WHERE run = ?1
                     ORDER BY key, timestamp, step, value",
                )?;
                let rows =
                    q.query_map(params![id], |r| Ok((r.get::<_, String>(0)?, point(r, 1)?)))?;
                for row in rows {
                    let (key, p) = row?;
                    metrics.entry(key).or_default().push(p);
                }
                let tags = pairs(c, "SELECT key, value FROM tags WHERE run = ?1", &id)?;
                children.push(MlflowRun {
                    stage: tags.get(STAGE_TAG).cloned(),
                    params: pairs(c, "SELECT key, value FROM params WHERE run = ?1", &id)?,
                    id,
                    name,
                    status,
                    metrics,
                    tags,
                    artifacts: Vec::new(),
                });
            }
            Ok(children)
        })?;
        for child in &mut children {
            child.artifacts = files_under(&self.artifact_dir(&child.id));
        }
        Ok(children)
    }
}

fn point(r: &rusqlite::Row<'_>, from: usize) -> Result<Point, rusqlite::Error> {
    Ok(Point {
        step: r.get(from)?,
        timestamp: r.get(from + 1)?,
        value: r.get::<_, Option<f64>>(from + 2)?.unwrap_or(f64::NAN),
    })
}

fn ids(c: &Connection, sql: &str, arg: &str) -> Result<Vec<String>, rusqlite::Error> {
    let mut q = c.prepare(sql)?;
    let rows = q.query_map(params![arg], |r| r.get(0))?;
    rows.collect()
}

fn pairs(
    c: &Connection,
    sql: &str,
    run: &str,
) -> Result<BTreeMap<String, String>, rusqlite::Error> {
    let mut q = c.prepare(sql)?;
    let rows = q.query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The MLflow run with this id, its latest value of each metric.
fn run(c: &Connection, id: &str) -> Result<Option<RunRow>, rusqlite::Error> {
    let row = c
        .query_row(
            "SELECT name, experiment, status, started, ended, artifact_uri, lifecycle
             FROM runs WHERE id = ?1 AND kind = ?2",
            params![id, KIND],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((name, experiment, status, started, ended, artifact_uri, lifecycle)) = row else {
        return Ok(None);
    };
    let tags = pairs(c, "SELECT key, value FROM tags WHERE run = ?1", id)?;
    let params = pairs(
        c,
        "SELECT key, value FROM params WHERE run = ?1 AND file = ''",
        id,
    )?;
    let mut metrics = BTreeMap::new();
    // As MLflow's latest metrics: the highest step wins, then the latest time, then the
    // greatest value.
    let mut q = c.prepare(
        "SELECT key, step, timestamp, value FROM metrics WHERE run = ?1 AND file = ''
         ORDER BY key, step, timestamp, value",
    )?;
    let rows = q.query_map(params![id], |r| Ok((r.get::<_, String>(0)?, point(r, 1)?)))?;
    for row in rows {
        let (key, p) = row?;
        metrics.insert(key, p);
    }
    Ok(Some(RunRow {
        id: id.to_string(),
        name: tags.get(RUN_NAME_TAG).cloned().unwrap_or(name),
        experiment: experiment.unwrap_or(0),
        status,
        started,
        ended,
        artifact_uri: artifact_uri.unwrap_or_default(),
        lifecycle,
        params,
        tags,
        metrics,
    }))
}

/// Refuses to write to a run that is not there or deleted (as MLflow; a finished run takes
/// more).
fn active_run(c: &Connection, id: &str) -> Result<Result<(), Refusal>, rusqlite::Error> {
    let lifecycle: Option<String> = c
        .query_row(
            "SELECT lifecycle FROM runs WHERE id = ?1 AND kind = ?2",
            params![id, KIND],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match lifecycle.as_deref() {
        None => Err(Refusal::NoRun(id.to_string())),
        Some("active") => Ok(()),
        Some(_) => Err(Refusal::Deleted {
            what: "run",
            id: id.to_string(),
        }),
    })
}

/// A name no run has: `name`, else `name-2`, `name-3`, … Never `run-N`, which `begin` gives.
fn unique_name(c: &Connection, name: &str) -> Result<String, rusqlite::Error> {
    let taken = |n: &str| -> Result<bool, rusqlite::Error> {
        c.query_row("SELECT 1 FROM runs WHERE name = ?1", params![n], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    };
    let begin_like = name
        .strip_prefix("run-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !begin_like && !taken(name)? {
        return Ok(name.to_string());
    }
    let mut i = 2u64;
    loop {
        let candidate = format!("{name}-{i}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
        i += 1;
    }
}

/// A name like MLflow's (`adjective-animal-number`), from the run's id.
fn made_up_name(id: &str) -> String {
    const ADJECTIVES: [&str; 16] = [
        "amber", "bold", "brisk", "calm", "clever", "crisp", "eager", "gentle", "keen", "lucid",
        "merry", "nimble", "quiet", "sunny", "swift", "vivid",
    ];
    const ANIMALS: [&str; 16] = [
        "badger", "crane", "falcon", "fox", "heron", "lynx", "otter", "owl", "panda", "raven",
        "robin", "seal", "stoat", "swan", "wren", "yak",
    ];
    let h = blake3::hash(id.as_bytes());
    let b = h.as_bytes();
    format!(
        "{}-{}-{}",
        ADJECTIVES[usize::from(b[0] % 16)],
        ANIMALS[usize::from(b[1] % 16)],
        u16::from_le_bytes([b[2], b[3]]) % 1000
    )
}

/// A fresh run id: 32 hex digits from the time, the process and a counter.
fn fresh_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    h.update(b"wf mlflow run");
    h.update(&now().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// The files under a folder, relative to it, sorted; none when it is missing.
pub(super) fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(dir).ok()?;
            let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            Some(parts.join("/"))
        })
        .collect();
    files.sort();
    files
}
