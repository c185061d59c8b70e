//! Experiments in the run store: listed with their params and metrics (what `wf exp show`
//! tabulates), found by name, their files (to apply them), and removed.

use std::collections::BTreeMap;

use rusqlite::params;

use super::error::StoreError;
use super::runs::{Store, StoredRun, write_err};

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
    /// Every experiment (with `all`, every run), oldest first, with its params and metrics (see
    /// [`Store::grid`]).
    pub fn experiments(&self, all: bool) -> Result<Vec<Experiment>, StoreError> {
        let super::Grid {
            runs,
            columns,
            cells,
        } = self.grid(all)?;
        Ok(runs
            .into_iter()
            .zip(cells)
            .map(|(run, cells)| {
                let mut e = Experiment {
                    run,
                    params: BTreeMap::new(),
                    metrics: BTreeMap::new(),
                };
                for (c, value) in cells {
                    let c = &columns[c as usize];
                    if c.metric {
                        let v = value.as_f64().unwrap_or(f64::NAN);
                        e.metrics
                            .entry(c.file.clone())
                            .or_default()
                            .insert(c.key.clone(), v);
                    } else {
                        e.params
                            .entry(c.file.clone())
                            .or_default()
                            .insert(c.key.clone(), value.to_json());
                    }
                }
                e
            })
            .collect())
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
