//! Experiments in the run store: listed with their params and metrics (what `wf exp show`
//! tabulates), found by name, their files (to apply them), and removed.

use std::collections::BTreeMap;

use rusqlite::params;

use super::error::StoreError;
use super::runs::{RUN_COLUMNS, Store, StoredRun, stored_run, write_err};

/// A run with what it worked with and what it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The run.
    pub run: StoredRun,
    /// Its params: file, then dotted key.
    pub params: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Its metrics (the last step of each): file, then dotted key.
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Store {
    /// Every experiment (with `all`, every run), oldest first, with its params and metrics.
    pub fn experiments(&self, all: bool) -> Result<Vec<Experiment>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.file().to_path_buf(),
            message: e.to_string(),
        };
        let conn = self.reader();
        let filter = if all { "" } else { "WHERE kind = 'experiment'" };
        let mut q = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs {filter} ORDER BY seq"
            ))
            .map_err(read)?;
        let mut found: Vec<Experiment> = q
            .query_map([], stored_run)
            .map_err(read)?
            .map(|r| {
                r.map(|run| Experiment {
                    run,
                    params: BTreeMap::new(),
                    metrics: BTreeMap::new(),
                })
            })
            .collect::<Result<_, _>>()
            .map_err(read)?;
        let index: std::collections::HashMap<String, usize> = found
            .iter()
            .enumerate()
            .map(|(i, e)| (e.run.id.clone(), i))
            .collect();
        let join = if all {
            String::new()
        } else {
            " JOIN runs ON runs.id = t.run AND runs.kind = 'experiment'".into()
        };
        let mut q = conn
            .prepare(&format!(
                "SELECT t.run, t.file, t.key, t.value FROM params t{join}"
            ))
            .map_err(read)?;
        let mut rows = q.query([]).map_err(read)?;
        while let Some(r) = rows.next().map_err(read)? {
            let run: String = r.get(0).map_err(read)?;
            let Some(&i) = index.get(&run) else { continue };
            let value: String = r.get(3).map_err(read)?;
            let value = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            found[i]
                .params
                .entry(r.get(1).map_err(read)?)
                .or_default()
                .insert(r.get(2).map_err(read)?, value);
        }
        let mut q = conn
            .prepare(&format!(
                "SELECT t.run, t.file, t.key, t.value FROM metrics t{join}
                 ORDER BY t.step, t.timestamp"
            ))
            .map_err(read)?;
        let mut rows = q.query([]).map_err(read)?;
        while let Some(r) = rows.next().map_err(read)? {
            let run: String = r.get(0).map_err(read)?;
            let Some(&i) = index.get(&run) else { continue };
            let value: Option<f64> = r.get(3).map_err(read)?;
            found[i]
                .metrics
                .entry(r.get(1).map_err(read)?)
                .or_default()
                .insert(r.get(2).map_err(read)?, value.unwrap_or(f64::NAN));
        }
        // What the stages' scripts logged through MLflow, under `mlflow:STAGE` as if a file: the
        // latest value of each metric (highest step, then latest), and the params.
        let logged = |table: &str, order: &str| {
            format!(
                "SELECT c.parent, COALESCE('mlflow:' || s.value, 'mlflow'), x.key, x.value
                 FROM {table} x JOIN runs c ON c.id = x.run AND c.kind = 'mlflow'
                 LEFT JOIN tags s ON s.run = c.id AND s.key = '{}' {order}",
                super::STAGE_TAG
            )
        };
        let mut q = conn
            .prepare(&logged("metrics", "ORDER BY x.step, x.timestamp"))
            .map_err(read)?;
        let mut rows = q.query([]).map_err(read)?;
        while let Some(r) = rows.next().map_err(read)? {
            let Some(parent) = r.get::<_, Option<String>>(0).map_err(read)? else {
                continue;
            };
            let Some(&i) = index.get(&parent) else {
                continue;
            };
            let value: Option<f64> = r.get(3).map_err(read)?;
            found[i]
                .metrics
                .entry(r.get(1).map_err(read)?)
                .or_default()
                .insert(r.get(2).map_err(read)?, value.unwrap_or(f64::NAN));
        }
        let mut q = conn.prepare(&logged("params", "")).map_err(read)?;
        let mut rows = q.query([]).map_err(read)?;
        while let Some(r) = rows.next().map_err(read)? {
            let Some(parent) = r.get::<_, Option<String>>(0).map_err(read)? else {
                continue;
            };
            let Some(&i) = index.get(&parent) else {
                continue;
            };
            found[i]
                .params
                .entry(r.get(1).map_err(read)?)
                .or_default()
                .insert(
                    r.get(2).map_err(read)?,
                    serde_json::Value::String(r.get(3).map_err(read)?),
                );
        }
        Ok(found)
    }

    /// The experiment (or run) called `name`, or whose id is `name` or starts with it.
    pub fn find(&self, name: &str) -> Result<Experiment, StoreError> {
        let all = self.experiments(true)?;
        let mut by_id = all
            .iter()
            .filter(|e| name.len() >= 7 && e.run.id.starts_with(name));
        if let Some(e) = all.iter().find(|e| e.run.name == name) {
            return Ok(e.clone());
        }
        if let (Some(e), None) = (by_id.next(), by_id.next()) {
            return Ok(e.clone());
        }
        let suggestion = all
            .iter()
            .map(|e| (strsim::jaro_winkler(name, &e.run.name), &e.run.name))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n.clone());
        Err(StoreError::NoSuchRun {
            name: name.to_string(),
            suggestion,
        })
    }

    /// The files a run ended with: path, role (`lock`, `params`), content.
    pub fn files(&self, id: &str) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.file().to_path_buf(),
            message: e.to_string(),
        };
        let mut q = self
            .reader()
            .prepare("SELECT path, role, text FROM files WHERE run = ?1 ORDER BY path")
            .map_err(read)?;
        q.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)
    }

    /// Whether some run ended with (or started from) `text` as the file `path`.
    pub fn known(&self, path: &str, text: &[u8]) -> Result<bool, StoreError> {
        self.reader()
            .query_row(
                "SELECT COUNT(*) FROM files WHERE path = ?1 AND text = ?2",
                params![path, text],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| StoreError::Unreadable {
                path: self.file().to_path_buf(),
                message: e.to_string(),
            })
    }

    /// Keeps files with a run: path, role, content.
    pub fn keep_files(
        &mut self,
        id: &str,
        files: &[(String, &str, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn().transaction().map_err(err)?;
        for (file, role, text) in files {
            tx.execute(
                "INSERT OR REPLACE INTO files (run, path, role, text) VALUES (?1, ?2, ?3, ?4)",
                params![id, file, role, text],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Removes runs (with their stages, params, metrics, tags and files) in one transaction.
    pub fn remove(&mut self, ids: &[String]) -> Result<(), StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn().transaction().map_err(err)?;
        for id in ids {
            tx.execute("DELETE FROM runs WHERE id = ?1", params![id])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Records how an experiment that never ran ended (`cancelled`, or `failed` when it could
    /// not start), with why.
    pub fn abandon(&mut self, id: &str, status: &str) -> Result<(), StoreError> {
        let path = self.file().to_path_buf();
        self.conn()
            .execute(
                "UPDATE runs SET status = ?2, ended = ?3 WHERE id = ?1",
                params![id, status, super::runs::now()],
            )
            .map(drop)
            .map_err(|e| write_err(&path, &e))
    }
}
