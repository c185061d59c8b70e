//! The run store's schema and its migrations: each migration is applied once, in order, in a
//! transaction, and SQLite's `user_version` records how many have been.

/// The migrations, oldest first; `user_version` is the number applied.
///
/// 2: experiments (their overrides, the folder they ran from, and the params and lock files they
/// ended with).
///
/// 3: what MLflow's tracking API writes: its experiments, a run's experiment, lifecycle (`active`
/// or `deleted`) and artifact folder, and a metric's history as MLflow keeps it (several values
/// of a key at one step, told apart by their time in seconds since the Unix epoch; a NULL value
/// is NaN, which SQLite cannot hold). MLflow's params and metrics have `file = ''`.
///
/// 4: a run's `version`, bumped by triggers whenever one of its params, metrics or tags is
/// added, changed or removed (by wf, or by anything else that writes the database): what the
/// grid's cache (`runs.grid`) checks to know which runs it must read again.
///
/// 5: the version is bumped too when the run's own row changes (its status, its end, its name).
///
/// 6: `live`: each stage of a running run as it starts and ends, in order, for `wf ui` to follow
/// a run made by another process.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE runs (
    id       TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL UNIQUE,
    name     TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    parent   TEXT,
    revision TEXT,
    dirty    INTEGER,
    command  TEXT NOT NULL,
    status   TEXT NOT NULL,
    pid      INTEGER,
    started  REAL NOT NULL,
    ended    REAL
);
CREATE TABLE stages (
    run      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    stage    TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    executor TEXT NOT NULL,
    started  REAL,
    seconds  REAL NOT NULL,
    record   TEXT NOT NULL,
    output   TEXT NOT NULL,
    PRIMARY KEY (run, stage)
);
CREATE TABLE params (
    run   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    file  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run, file, key)
);
CREATE TABLE metrics (
    run   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    file  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value REAL NOT NULL,
    step  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run, file, key, step)
);
CREATE TABLE tags (
    run   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE INDEX runs_by_start ON runs(started);
",
    "
ALTER TABLE runs ADD COLUMN overrides TEXT;
ALTER TABLE runs ADD COLUMN cwd TEXT;
CREATE TABLE files (
    run  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    role TEXT NOT NULL,
    text BLOB NOT NULL,
    PRIMARY KEY (run, path, role)
);
CREATE INDEX runs_by_kind ON runs(kind, seq);
",
    "
CREATE TABLE experiments (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL DEFAULT 'active',
    created           REAL NOT NULL,
    updated           REAL NOT NULL
);
ALTER TABLE runs ADD COLUMN experiment INTEGER REFERENCES experiments(id);
ALTER TABLE runs ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'active';
ALTER TABLE runs ADD COLUMN artifact_uri TEXT;
CREATE INDEX runs_by_parent ON runs(parent);
CREATE TABLE metrics_history (
    run       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    file      TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     REAL,
    step      INTEGER NOT NULL DEFAULT 0,
    timestamp REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (run, file, key, step, timestamp, value)
);
INSERT INTO metrics_history (run, file, key, value, step)
    SELECT run, file, key, value, step FROM metrics;
DROP TABLE metrics;
ALTER TABLE metrics_history RENAME TO metrics;
",
    "
ALTER TABLE runs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER params_added AFTER INSERT ON params
    BEGIN UPDATE runs SET version = version + 1 WHERE id = NEW.run; END;
CREATE TRIGGER params_changed AFTER UPDATE ON params
    BEGIN UPDATE runs SET version = version + 1 WHERE id IN (OLD.run, NEW.run); END;
CREATE TRIGGER params_removed AFTER DELETE ON params
    BEGIN UPDATE runs SET version = version + 1 WHERE id = OLD.run; END;
CREATE TRIGGER metrics_added AFTER INSERT ON metrics
    BEGIN UPDATE runs SET version = version + 1 WHERE id = NEW.run; END;
CREATE TRIGGER metrics_changed AFTER UPDATE ON metrics
    BEGIN UPDATE runs SET version = version + 1 WHERE id IN (OLD.run, NEW.run); END;
CREATE TRIGGER metrics_removed AFTER DELETE ON metrics
    BEGIN UPDATE runs SET version = version + 1 WHERE id = OLD.run; END;
CREATE TRIGGER tags_added AFTER INSERT ON tags
    BEGIN UPDATE runs SET version = version + 1 WHERE id = NEW.run; END;
CREATE TRIGGER tags_changed AFTER UPDATE ON tags
    BEGIN UPDATE runs SET version = version + 1 WHERE id IN (OLD.run, NEW.run); END;
CREATE TRIGGER tags_removed AFTER DELETE ON tags
    BEGIN UPDATE runs SET version = version + 1 WHERE id = OLD.run; END;
",
    "
CREATE TRIGGER runs_changed
    AFTER UPDATE OF name, kind, status, parent, revision, dirty, command, started, ended,
                    overrides, cwd ON runs
    BEGIN UPDATE runs SET version = version + 1 WHERE id = NEW.id; END;
",
    "
CREATE TABLE live (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    run   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    state TEXT NOT NULL,
    at    REAL NOT NULL
);
CREATE INDEX live_by_run ON live(run);
",
];

/// The schema version this wf writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`VERSION`]; `Err(found)` when it is newer than that.
pub(super) fn migrate(conn: &mut rusqlite::Connection) -> Result<Result<(), i64>, rusqlite::Error> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found == VERSION {
        // Readers never wait for a writer.
        return Ok(Ok(()));
    }
    loop {
        // The version is read inside the write transaction: two processes opening a new store
        // at once apply each migration once.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > VERSION {
            return Ok(Err(found));
        }
        let Some(sql) = MIGRATIONS.get(usize::try_from(found).unwrap_or(usize::MAX)) else {
            return Ok(Ok(()));
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mlflow_migration_keeps_metrics_and_takes_several_values_per_step() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO runs (id, seq, name, kind, command, status, started)
                 VALUES ('r', 1, 'run-1', 'repro', 'wf repro', 'finished', 1.0);
             INSERT INTO metrics (run, file, key, value, step) VALUES ('r', 'm.json', 'acc', 0.9, 0);",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), Ok(()));
        let kept: (f64, i64, f64) = conn
            .query_row("SELECT value, step, timestamp FROM metrics", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(kept, (0.9, 0, 0.0));
        conn.execute(
            "INSERT INTO metrics (run, file, key, value, step, timestamp) VALUES ('r', '', 'l', 1.0, 0, 5.0), ('r', '', 'l', 2.0, 0, 6.0)",
            [],
        )
        .unwrap();
        let lifecycle: String = conn
            .query_row("SELECT lifecycle FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(lifecycle, "active");
    }
}
