//! The MLflow side of the store, without the API: what `children` shows, and refusals that leave
//! the store as it was.

use super::{Batch, NewMlflowRun, NewRun, Point, Refusal, Store};

fn stage_run(store: &mut Store, parent: &str, stage: &str) -> String {
    let new = NewMlflowRun {
        name: Some("fit"),
        started: 10.0,
        parent: Some(parent),
        stage: Some(stage),
        ..NewMlflowRun::default()
    };
    store.mlflow_create_run(&new).unwrap().unwrap().id
}

#[test]
fn children_show_each_stage_run_with_its_history_and_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let (parent, _) = store
        .begin(&NewRun {
            kind: "repro".into(),
            command: "wf repro".into(),
            ..NewRun::default()
        })
        .unwrap();
    let a = stage_run(&mut store, &parent, "train");
    let b = stage_run(&mut store, &parent, "eval");
    let point = |step, timestamp, value| Point {
        step,
        timestamp,
        value,
    };
    let batch = Batch {
        metrics: vec![
            ("loss".into(), point(1, 12.0, 0.5)),
            ("loss".into(), point(0, 11.0, 1.0)),
            // Two values at one step, as MLflow keeps them.
            ("loss".into(), point(1, 13.0, 0.4)),
        ],
        params: vec![("C".into(), "1.0".into())],
        tags: vec![("model".into(), "svm".into())],
    };
    store.mlflow_log(&a, &batch).unwrap().unwrap();
    let artifacts = tmp.path().join(".wf/runs").join(&a).join("artifacts");
    std::fs::create_dir_all(artifacts.join("plots")).unwrap();
    std::fs::write(artifacts.join("plots/roc.json"), "{}").unwrap();
    std::fs::write(artifacts.join("model.pkl"), "m").unwrap();

    let children = store.children(&parent).unwrap();
    assert_eq!(children.len(), 2);
    let (first, second) = (&children[0], &children[1]);
    assert_eq!(
        (first.id.as_str(), first.name.as_str()),
        (a.as_str(), "fit")
    );
    assert_eq!(
        (second.id.as_str(), second.name.as_str()),
        (b.as_str(), "fit-2")
    );
    assert_eq!(first.stage.as_deref(), Some("train"));
    assert_eq!(second.stage.as_deref(), Some("eval"));
    assert_eq!(first.status, "running");
    assert_eq!(first.params["C"], "1.0");
    assert_eq!(first.tags["model"], "svm");
    assert_eq!(
        first.metrics["loss"],
        [
            point(0, 11.0, 1.0),
            point(1, 12.0, 0.5),
            point(1, 13.0, 0.4)
        ]
    );
    assert_eq!(first.artifacts, ["model.pkl", "plots/roc.json"]);
    assert!(second.artifacts.is_empty());
    // The latest value is the highest step's latest.
    let row = store.mlflow_run(&a).unwrap().unwrap();
    assert_eq!(row.metrics["loss"], point(1, 13.0, 0.4));
    assert!(store.children("no such run").unwrap().is_empty());
}

#[test]
fn a_refused_batch_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let id = stage_run(&mut store, "p", "train");
    let params = |v: &str| Batch {
        params: vec![("C".into(), v.into())],
        tags: vec![("t".into(), v.into())],
        ..Batch::default()
    };
    store.mlflow_log(&id, &params("1")).unwrap().unwrap();
    let refusal = store.mlflow_log(&id, &params("2")).unwrap().unwrap_err();
    assert!(
        matches!(refusal, Refusal::ParamChanged { .. }),
        "{refusal:?}"
    );
    let row = store.mlflow_run(&id).unwrap().unwrap();
    assert_eq!(row.tags["t"], "1");
    assert_eq!(
        store.mlflow_log("nope", &params("1")).unwrap(),
        Err(Refusal::NoRun("nope".into()))
    );
}

#[test]
fn an_exported_run_imports_whole_into_another_store_once() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Store::open(a_dir.path()).unwrap();
    let (parent, _) = a
        .begin(&NewRun {
            kind: "experiment".into(),
            command: "wf exp run".into(),
            name: Some("bold-lynx".into()),
            ..NewRun::default()
        })
        .unwrap();
    let child = stage_run(&mut a, &parent, "train");
    let batch = Batch {
        metrics: vec![(
            "loss".into(),
            Point {
                step: 2,
                timestamp: 5.0,
                value: f64::NAN,
            },
        )],
        params: vec![("C".into(), "0.5".into())],
        tags: vec![("model".into(), "svm".into())],
    };
    a.mlflow_log(&child, &batch).unwrap().unwrap();
    let artifacts = a_dir.path().join(".wf/runs").join(&child).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("report.txt"), "fine\n").unwrap();
    let doc = a.export(&parent, vec!["ab/cdef".into()]).unwrap();
    assert_eq!(doc.name(), Some("bold-lynx"));
    assert_eq!(doc.objects, ["ab/cdef"]);
    assert_eq!(doc.artifacts.len(), 1);
    assert_eq!(
        doc.artifacts[0].hash,
        blake3::hash(b"fine\n").to_hex().as_str()
    );
    let doc = super::Document::from_bytes(&doc.to_bytes()).unwrap();

    let mut b = Store::open(b_dir.path()).unwrap();
    // A run of the same name in the other store keeps its name; the newcomer gets a suffix.
    b.begin(&NewRun {
        kind: "experiment".into(),
        command: "wf exp run".into(),
        name: Some("bold-lynx".into()),
        ..NewRun::default()
    })
    .unwrap();
    assert!(b.import(&doc).unwrap());
    assert!(!b.import(&doc).unwrap(), "a second import changes nothing");
    let names: Vec<String> = b.runs().unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["bold-lynx", "bold-lynx-2", "fit"]);
    let (before, after) = (a.children(&parent).unwrap(), b.children(&parent).unwrap());
    assert_eq!(after.len(), 1);
    assert_eq!(
        (&after[0].params, &after[0].tags, &after[0].status),
        (&before[0].params, &before[0].tags, &before[0].status)
    );
    assert!(after[0].metrics["loss"][0].value.is_nan(), "NaN travels");
    // Its artifact folder is this store's, and a path out of it is refused.
    let there = b.artifact_path(&doc.artifacts[0]).unwrap();
    assert!(
        there.starts_with(b_dir.path().join(".wf/runs")),
        "{there:?}"
    );
    let mut evil = doc.artifacts[0].clone();
    evil.path = "../../x".into();
    assert_eq!(b.artifact_path(&evil), None);
    assert!(super::Document::from_bytes(br#"{"format": 99}"#).is_err());
}
