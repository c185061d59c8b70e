//! The grid and its cache: what `wf exp show` reads stays true to the database whoever writes
//! it, and a cache that cannot be used is rebuilt.

use super::{Batch, EXPERIMENT, NewMlflowRun, NewRun, Outcome, Point, Store};
use crate::run::{RunRecord, RunStatus};

fn experiment(store: &mut Store, c: f64, accuracy: f64) -> String {
    let (id, _) = store
        .begin(&NewRun {
            kind: EXPERIMENT.into(),
            command: "wf exp run".into(),
            started: 1.0,
            ..NewRun::default()
        })
        .unwrap();
    let record = RunRecord {
        version: crate::run::record::VERSION,
        started: 1.0,
        ended: 2.0,
        revision: None,
        status: RunStatus::Finished,
        stages: vec![],
    };
    let outcome = Outcome {
        record: Some(&record),
        params: vec![("params.yaml".into(), "train.C".into(), c.into())],
        metrics: vec![("m.json".into(), "accuracy".into(), accuracy)],
        ..Outcome::default()
    };
    store.finish(&id, &outcome).unwrap();
    id
}

/// Each run's name and values, as `file:key=value`, sorted.
fn table(store: &Store) -> Vec<Vec<String>> {
    let grid = store.grid(false).unwrap();
    grid.cells
        .iter()
        .map(|cells| {
            let mut row: Vec<String> = cells
                .clone()
                .into_iter()
                .map(|(c, v)| {
                    let c = &grid.columns[c as usize];
                    format!("{}:{}={}", c.file, c.key, v.to_json())
                })
                .collect();
            row.sort();
            row
        })
        .collect()
}

#[test]
fn the_grid_follows_every_write_to_the_database_and_outlives_a_broken_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let a = experiment(&mut store, 1.0, 0.9);
    let b = experiment(&mut store, 2.0, 0.8);
    let first = table(&store);
    assert_eq!(
        first,
        [
            ["m.json:accuracy=0.9", "params.yaml:train.C=1.0"],
            ["m.json:accuracy=0.8", "params.yaml:train.C=2.0"]
        ]
    );
    let cache = tmp.path().join(".wf/runs.grid");
    assert!(cache.exists(), "the first read leaves the cache");
    assert_eq!(table(&store), first, "read again from the cache");

    // Written by anything else than wf: the triggers still mark the run.
    let conn = rusqlite::Connection::open(Store::path(tmp.path())).unwrap();
    conn.execute("UPDATE metrics SET value = 0.95 WHERE run = ?1", [&a])
        .unwrap();
    conn.execute("DELETE FROM runs WHERE id = ?1", [&b])
        .unwrap();
    assert_eq!(
        table(&store),
        [["m.json:accuracy=0.95", "params.yaml:train.C=1.0"]]
    );
    conn.execute("UPDATE runs SET status = 'failed' WHERE id = ?1", [&a])
        .unwrap();
    let runs = store.grid(false).unwrap().runs;
    assert_eq!(
        runs.iter()
            .map(|r| (r.id.as_str(), r.status.as_str()))
            .collect::<Vec<_>>(),
        [(a.as_str(), "failed")],
        "a run's own row is read again when it changes"
    );

    // What a stage logged through MLflow after the run is under the run.
    let child = store
        .mlflow_create_run(&NewMlflowRun {
            started: 3.0,
            parent: Some(&a),
            stage: Some("train"),
            ..NewMlflowRun::default()
        })
        .unwrap()
        .unwrap()
        .id;
    let batch = Batch {
        metrics: vec![(
            "loss".into(),
            Point {
                step: 0,
                timestamp: 4.0,
                value: 0.25,
            },
        )],
        ..Batch::default()
    };
    store.mlflow_log(&child, &batch).unwrap().unwrap();
    let with_loss = [[
        "m.json:accuracy=0.95",
        "mlflow:train:loss=0.25",
        "params.yaml:train.C=1.0",
    ]];
    assert_eq!(table(&store), with_loss);

    std::fs::write(&cache, b"not a cache").unwrap();
    assert_eq!(table(&store), with_loss, "a broken cache is rebuilt");
    std::fs::remove_file(&cache).unwrap();
    assert_eq!(table(&store), with_loss, "a missing cache is rebuilt");
}
