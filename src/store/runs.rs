//! `Store`: the run store, an embedded SQLite database at `.wf/runs.db`. Every run that ran or
//! restored a stage is kept: who started it and where (commit, dirty tree, command line), how it
//! went (status, times, each stage's outcome and output tail), and what it worked with (the
//! tracked params, the metrics after it). WAL mode, so a reader never blocks a run; every write
//! is one transaction, so a killed run leaves the store readable with the run not finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, params};

use super::error::StoreError;
use super::schema;
use crate::run::{RunRecord, RunStatus, StageOutcome};

/// The file name of the store, in `.wf/`.
pub const FILE: &str = "runs.db";

/// How long a writer waits for another one before giving up.
const BUSY: Duration = Duration::from_secs(10);

/// An open run store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A run about to start.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    /// What started it: `repro`, `watch`, `experiment`.
    pub kind: String,
    /// Its parent: the baseline commit of an experiment, the run of a stage run.
    pub parent: Option<String>,
    /// The git commit the workspace was at.
    pub revision: Option<String>,
    /// Whether the working tree had uncommitted changes.
    pub dirty: Option<bool>,
    /// The command line.
    pub command: String,
    /// When it started, in seconds since the Unix epoch.
    pub started: f64,
    /// Its name (`None`: `run-N`, or for an experiment a readable one such as `brave-lynx`).
    pub name: Option<String>,
    /// Recorded as queued, to run later, instead of running now.
    pub queued: bool,
    /// An experiment's overrides, as typed (`train.C=2`).
    pub overrides: Vec<String>,
    /// The folder it runs from, relative to the root (`specs`).
    pub cwd: String,
}

/// A run as the store lists it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredRun {
    /// Its id: 32 hex digits, as MLflow's.
    pub id: String,
    /// Its readable name (`run-12`).
    pub name: String,
    /// What started it.
    pub kind: String,
    /// `queued`, `running`, `finished`, `failed` or `cancelled`.
    pub status: String,
    /// Its parent: an experiment's baseline commit.
    pub parent: Option<String>,
    /// The git commit.
    pub revision: Option<String>,
    /// Whether the working tree had uncommitted changes.
    pub dirty: Option<bool>,
    /// The command line.
    pub command: String,
    /// Start and end, in seconds since the Unix epoch.
    pub started: f64,
    /// `None` while running (or when killed before it ended).
    pub ended: Option<f64>,
    /// An experiment's overrides, as typed.
    pub overrides: Vec<String>,
    /// The folder it runs from, relative to the root.
    pub cwd: String,
}

/// What a finished run adds to its row.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    /// The run's record (its commit among the rest).
    pub record: Option<&'a RunRecord>,
    /// Whether the working tree had uncommitted changes when the run started.
    pub dirty: Option<bool>,
    /// The tracked params: file, dotted key, value.
    pub params: Vec<(String, String, serde_json::Value)>,
    /// The metrics after the run: file, dotted key, value.
    pub metrics: Vec<(String, String, f64)>,
    /// The last lines each stage printed, by stage.
    pub output: BTreeMap<String, String>,
    /// Files the run ended with, to apply it later: path, role (`lock`, `params`), content.
    pub files: Vec<(String, &'static str, Vec<u8>)>,
}

impl Store {
    /// Where a repository's store is.
    pub fn path(root: &Path) -> PathBuf {
        root.join(crate::workspace::DIR).join(FILE)
    }

    /// Opens (or makes) the repository's store, migrating it to this wf's schema.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let path = Store::path(root);
        let unreadable = |e: &dyn std::fmt::Display| StoreError::Unreadable {
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| unreadable(&e))?;
        }
        let mut conn = Connection::open(&path).map_err(|e| unreadable(&e))?;
        conn.busy_timeout(BUSY).map_err(|e| unreadable(&e))?;
        // A deferred transaction that reads and then writes fails at once (SQLITE_BUSY, no
        // waiting) when another process wrote in between: every transaction takes the write
        // lock first instead, and waits its turn.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        // As WAL needs: one writer at a time, readers never blocked.
        wal(&conn).map_err(|e| unreadable(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .map_err(|e| unreadable(&e))?;
        // The last connection to close would checkpoint the WAL into the database (and sync
        // both) on every run; SQLite checkpoints by itself once the WAL grows instead.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(|e| unreadable(&e))?;
        match schema::migrate(&mut conn).map_err(|e| unreadable(&e))? {
            Ok(()) => Ok(Store { conn, path }),
            Err(found) => Err(StoreError::Newer {
                path,
                found,
                known: schema::VERSION,
            }),
        }
    }

    /// Records a run as running (or queued); returns its id and name.
    pub fn begin(&mut self, run: &NewRun) -> Result<(String, String), StoreError> {
        let id = new_id(run);
        let path = self.path.clone();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn.transaction().map_err(err)?;
        let seq: i64 = tx
            .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        let taken = |name: &str| -> Result<bool, rusqlite::Error> {
            tx.query_row("SELECT COUNT(*) FROM runs WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
        };
        let name = match &run.name {
            Some(name) if taken(name).map_err(err)? => {
                return Err(StoreError::NameTaken { name: name.clone() });
            }
            Some(name) => name.clone(),
            None if run.kind == super::EXPERIMENT => {
                let mut name = super::names::readable(&id, 0);
                for attempt in 1.. {
                    if !taken(&name).map_err(err)? {
                        break;
                    }
                    name = super::names::readable(&id, attempt);
                }
                name
            }
            None => format!("run-{seq}"),
        };
        let overrides = (!run.overrides.is_empty())
            .then(|| serde_json::to_string(&run.overrides).unwrap_or_default());
        tx.execute(
            "INSERT INTO runs (id, seq, name, kind, parent, revision, dirty, command, status, pid,
                               started, overrides, cwd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                id,
                seq,
                name,
                run.kind,
                run.parent,
                run.revision,
                run.dirty,
                run.command,
                if run.queued { "queued" } else { "running" },
                (!run.queued).then(std::process::id),
                run.started,
                overrides,
                run.cwd,
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok((id, name))
    }

    /// Marks a recorded run (a queued experiment) as running from now, in this process.
    pub fn start(&mut self, id: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'running', started = ?2, pid = ?3, ended = NULL
                 WHERE id = ?1",
                params![id, now(), std::process::id()],
            )
            .map(drop)
            .map_err(|e| write_err(&self.path, &e))
    }

    /// Records how a run ended, in one transaction. A run that neither ran, restored nor failed a
    /// stage is no run (unless it is an experiment, which is kept whatever happened): its row
    /// goes.
    pub fn finish(&mut self, id: &str, outcome: &Outcome<'_>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn.transaction().map_err(err)?;
        let kind: String = tx
            .query_row("SELECT kind FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .map_err(err)?;
        let Some(record) = outcome.record else {
            tx.execute(
                "UPDATE runs SET status = 'failed', ended = ?2 WHERE id = ?1",
                params![id, now()],
            )
            .map_err(err)?;
            return tx.commit().map_err(err);
        };
        let did_something = record.stages.iter().any(|s| {
            !matches!(
                s.outcome,
                StageOutcome::Skipped | StageOutcome::NotStarted | StageOutcome::Blocked { .. }
            )
        });
        if !did_something && kind != super::EXPERIMENT {
            tx.execute("DELETE FROM runs WHERE id = ?1", params![id])
                .map_err(err)?;
            return tx.commit().map_err(err);
        }
        let status = match record.status {
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "cancelled",
        };
        tx.execute(
            "UPDATE runs SET status = ?2, ended = ?3,
                 revision = COALESCE(revision, ?4), dirty = COALESCE(dirty, ?5)
             WHERE id = ?1",
            params![id, status, record.ended, record.revision, outcome.dirty],
        )
        .map_err(err)?;
        for (position, s) in record.stages.iter().enumerate() {
            let outcome_name = serde_json::to_value(&s.outcome)
                .ok()
                .and_then(|v| v["outcome"].as_str().map(str::to_string))
                .unwrap_or_default();
            let json = serde_json::to_string(s).unwrap_or_default();
            tx.execute(
                "INSERT OR REPLACE INTO stages
                 (run, position, stage, outcome, executor, started, seconds, record, output)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    position as i64,
                    s.stage,
                    outcome_name,
                    s.executor,
                    s.started,
                    s.seconds,
                    json,
                    outcome.output.get(&s.stage).map_or("", String::as_str)
                ],
            )
            .map_err(err)?;
            // An MLflow run its stage left open (a script killed, or one that never called
            // `end_run`) ends with the stage.
            let ended_as = match s.outcome {
                StageOutcome::Ran => "finished",
                StageOutcome::Failed { .. } => "failed",
                StageOutcome::Interrupted => "cancelled",
                _ => continue,
            };
            tx.execute(
                "UPDATE runs SET status = ?3, ended = ?4
                 WHERE parent = ?1 AND kind = 'mlflow' AND status = 'running'
                   AND id IN (SELECT run FROM tags WHERE key = 'wf.stage' AND value = ?2)",
                params![id, s.stage, ended_as, record.ended],
            )
            .map_err(err)?;
        }
        for (file, key, value) in &outcome.params {
            tx.execute(
                "INSERT OR REPLACE INTO params (run, file, key, value) VALUES (?1, ?2, ?3, ?4)",
                params![id, file, key, value.to_string()],
            )
            .map_err(err)?;
        }
        for (file, role, text) in &outcome.files {
            tx.execute(
                "INSERT OR REPLACE INTO files (run, path, role, text) VALUES (?1, ?2, ?3, ?4)",
                params![id, file, role, text],
            )
            .map_err(err)?;
        }
        for (file, key, value) in &outcome.metrics {
            tx.execute(
                "INSERT OR REPLACE INTO metrics (run, file, key, value, step) VALUES (?1, ?2, ?3, ?4, 0)",
                params![id, file, key, value],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<StoredRun>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let mut q = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY seq"))
            .map_err(read)?;
        let rows = q.query_map([], stored_run).map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// The repository the store is in.
    pub fn root(&self) -> PathBuf {
        self.path
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// The store's file.
    pub(super) fn file(&self) -> &Path {
        &self.path
    }

    /// The connection, for the queries of the other store modules.
    pub(super) fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The connection, for reading.
    pub(super) fn reader(&self) -> &Connection {
        &self.conn
    }
}

/// Puts the database in WAL mode, once. Switching takes an exclusive lock, for which SQLite does
/// not wait when the connection already reads (it would deadlock): processes opening a new store
/// at once retry until the first has switched it.
fn wal(conn: &Connection) -> Result<(), rusqlite::Error> {
    let deadline = std::time::Instant::now() + BUSY;
    loop {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A row of `runs` selected as `Store::runs` selects it.
pub(super) fn stored_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRun> {
    let overrides: Option<String> = r.get(10)?;
    Ok(StoredRun {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        status: r.get(3)?,
        parent: r.get(4)?,
        revision: r.get(5)?,
        dirty: r.get(6)?,
        command: r.get(7)?,
        started: r.get(8)?,
        ended: r.get(9)?,
        overrides: overrides
            .and_then(|o| serde_json::from_str(&o).ok())
            .unwrap_or_default(),
        cwd: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
    })
}

/// The columns `stored_run` reads, in its order.
pub(super) const RUN_COLUMNS: &str = "id, name, kind, status, parent, revision, dirty, command, \
     started, ended, overrides, cwd";

pub(super) fn write_err(path: &Path, e: &rusqlite::Error) -> StoreError {
    StoreError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A fresh run id: 32 hex digits from the time, the process and the run's own fields.
fn new_id(run: &NewRun) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&now().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(run.command.as_bytes());
    h.update(&run.started.to_le_bytes());
    h.finalize().to_hex()[..32].to_string()
}

pub(super) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: &str) -> NewRun {
        NewRun {
            kind: kind.into(),
            command: "wf repro".into(),
            started: 1.0,
            ..NewRun::default()
        }
    }

    #[test]
    fn a_begun_run_is_running_and_reopening_keeps_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (id, name) = Store::open(tmp.path())
            .unwrap()
            .begin(&run("repro"))
            .unwrap();
        assert_eq!(name, "run-1");
        assert_eq!(id.len(), 32);
        // As after a kill: the store is reopened by the next command.
        let store = Store::open(tmp.path()).unwrap();
        let runs = store.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].status.as_str(), runs[0].ended), ("running", None));
        let (_, second) = Store::open(tmp.path())
            .unwrap()
            .begin(&run("repro"))
            .unwrap();
        assert_eq!(second, "run-2");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_unreadable_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".wf")).unwrap();
        std::fs::write(
            Store::path(tmp.path()),
            "not a database, just text\n".repeat(100),
        )
        .unwrap();
        let err = Store::open(tmp.path()).unwrap_err();
        assert!(matches!(err, StoreError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("runs.db"), "{err}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        drop(Store::open(tmp.path()).unwrap());
        let conn = Connection::open(Store::path(tmp.path())).unwrap();
        conn.pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(tmp.path()).unwrap_err();
        assert!(matches!(err, StoreError::Newer { .. }), "{err}");
    }

    #[test]
    fn a_run_that_did_nothing_is_no_run() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let (id, _) = store.begin(&run("repro")).unwrap();
        let record = RunRecord {
            version: crate::run::record::VERSION,
            started: 1.0,
            ended: 2.0,
            revision: None,
            status: RunStatus::Finished,
            stages: vec![],
        };
        store
            .finish(
                &id,
                &Outcome {
                    record: Some(&record),
                    ..Outcome::default()
                },
            )
            .unwrap();
        assert!(store.runs().unwrap().is_empty());
    }

    #[test]
    fn writers_in_several_connections_at_once_all_land() {
        let tmp = tempfile::tempdir().unwrap();
        let record = RunRecord {
            version: crate::run::record::VERSION,
            started: 1.0,
            ended: 2.0,
            revision: None,
            status: RunStatus::Finished,
            stages: vec![],
        };
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..25 {
                        let mut store = Store::open(tmp.path()).unwrap();
                        let (id, _) = store.begin(&run(crate::store::EXPERIMENT)).unwrap();
                        let outcome = Outcome {
                            record: Some(&record),
                            ..Outcome::default()
                        };
                        store.finish(&id, &outcome).unwrap();
                    }
                });
            }
        });
        let runs = Store::open(tmp.path()).unwrap().runs().unwrap();
        assert_eq!(runs.len(), 100);
        assert!(runs.iter().all(|r| r.status == "finished"));
    }
}
