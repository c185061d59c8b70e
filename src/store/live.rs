//! `live`: the stages of a running run as they start and end, written while it runs, so that
//! `wf ui` (another process) can follow it. Rows of runs that have ended are dropped when the
//! next run begins: the table holds what is running and what ran last.

use rusqlite::params;

use super::error::StoreError;
use super::runs::{Store, write_err};

/// A stage of a run changed state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LiveEvent {
    /// Its place in the table: later changes have higher numbers.
    pub seq: i64,
    /// The run's id.
    pub run: String,
    /// The stage's address.
    pub stage: String,
    /// `running`, `done`, `failed`, `interrupted`, `restored` or `blocked`.
    pub state: String,
    /// When, in seconds since the Unix epoch.
    pub at: f64,
}

impl Store {
    /// Adds a run's stage changes (stage, state, time), in one transaction.
    pub fn live_record(
        &mut self,
        run: &str,
        changes: &[(String, &str, f64)],
    ) -> Result<(), StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let tx = self.conn().transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO live (run, stage, state, at) VALUES (?1, ?2, ?3, ?4)")
                .map_err(err)?;
            for (stage, state, at) in changes {
                insert
                    .execute(params![run, stage, state, at])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Drops the rows of runs that are not running.
    pub fn live_prune(&mut self) -> Result<(), StoreError> {
        let path = self.file().to_path_buf();
        self.conn()
            .execute(
                "DELETE FROM live WHERE run NOT IN (SELECT id FROM runs WHERE status = 'running')",
                [],
            )
            .map(|_| ())
            .map_err(|e| write_err(&path, &e))
    }

    /// The changes after `seq`, oldest first (at most `limit`).
    pub fn live_since(&self, seq: i64, limit: usize) -> Result<Vec<LiveEvent>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.file().to_path_buf(),
            message: e.to_string(),
        };
        let mut q = self
            .reader()
            .prepare_cached(
                "SELECT seq, run, stage, state, at FROM live WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(read)?;
        let rows = q
            .query_map(
                params![seq, i64::try_from(limit).unwrap_or(i64::MAX)],
                live_event,
            )
            .map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// The changes of the runs still running, oldest first.
    pub fn live_running(&self) -> Result<Vec<LiveEvent>, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.file().to_path_buf(),
            message: e.to_string(),
        };
        let mut q = self
            .reader()
            .prepare_cached(
                "SELECT l.seq, l.run, l.stage, l.state, l.at FROM live l
                 JOIN runs r ON r.id = l.run WHERE r.status = 'running' ORDER BY l.seq",
            )
            .map_err(read)?;
        let rows = q.query_map([], live_event).map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// The highest change number so far (0 with none).
    pub fn live_last(&self) -> Result<i64, StoreError> {
        self.reader()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM live", [], |r| r.get(0))
            .map_err(|e| StoreError::Unreadable {
                path: self.file().to_path_buf(),
                message: e.to_string(),
            })
    }
}

/// A row of `SELECT seq, run, stage, state, at`.
fn live_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<LiveEvent> {
    Ok(LiveEvent {
        seq: r.get(0)?,
        run: r.get(1)?,
        stage: r.get(2)?,
        state: r.get(3)?,
        at: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewRun;

    #[test]
    fn changes_come_back_in_order_and_ended_runs_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let (id, _) = store
            .begin(&NewRun {
                kind: "repro".into(),
                command: "wf repro".into(),
                ..NewRun::default()
            })
            .unwrap();
        store
            .live_record(
                &id,
                &[("a".into(), "running", 1.0), ("a".into(), "done", 2.0)],
            )
            .unwrap();
        let all = store.live_since(0, 100).unwrap();
        assert_eq!(
            all.iter().map(|e| e.state.as_str()).collect::<Vec<_>>(),
            ["running", "done"]
        );
        assert_eq!(store.live_since(all[0].seq, 100).unwrap().len(), 1);
        assert_eq!(store.live_last().unwrap(), all[1].seq);
        // Still running: kept.
        store.live_prune().unwrap();
        assert_eq!(store.live_since(0, 100).unwrap().len(), 2);
        store
            .finish(&id, &crate::store::Outcome::default())
            .unwrap();
        store.live_prune().unwrap();
        assert!(store.live_since(0, 100).unwrap().is_empty());
    }
}
