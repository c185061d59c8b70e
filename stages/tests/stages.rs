//! The built-in stages run in-process on small CSVs in temp folders, through the public API the
//! engine and `wf model` use: `lookup(..).run(..)`, `load_model`, `predict` and `Registry`.
#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot read its own files should fail loudly"
)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wf_stages::registry::{CHALLENGER, CHAMPION};
use wf_stages::{Cancel, Error, Registry, RunContext, lookup};

/// A temp folder to run stages in.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> &Project {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&self.read(rel)).unwrap()
    }

    /// Runs a built-in stage, returning its log lines.
    fn run(&self, stage: &str, with: Value) -> Result<Vec<String>, Error> {
        let builtin = lookup(stage).unwrap();
        // What the engine does around a run: outs are checked against `io()`.
        builtin.io(&with)?;
        let mut lines = Vec::new();
        let cancel = Cancel::new();
        let mut ctx = RunContext {
            dir: self.dir.path(),
            log: &mut |l| lines.push(l),
            cancel: &cancel,
            cpus: 2,
        };
        builtin.run(&with, &mut ctx)?;
        Ok(lines)
    }

    #[track_caller]
    fn ok(&self, stage: &str, with: Value) -> Vec<String> {
        self.run(stage, with)
            .unwrap_or_else(|e| panic!("{stage} failed: {e}"))
    }

    #[track_caller]
    fn fails(&self, stage: &str, with: Value) -> String {
        match self.run(stage, with) {
            Ok(_) => panic!("{stage} should have failed"),
            Err(e) => e.to_string(),
        }
    }
}

/// Two well-separated classes, 6 rows each, and one row with a missing value.
const SMALL: &str = "\
x1,x2,label
0.10,1.0,a
0.20,1.1,a
0.15,0.9,a
0.30,1.2,a
0.05,1.0,a
0.25,,a
0.22,0.95,a
5.0,5.10,b
5.2,4.9,b
4.8,5.0,b
5.1,5.2,b
4.9,4.8,b
5.3,5.05,b
";

fn prepared() -> Project {
    let p = Project::new();
    p.write("data.csv", SMALL);
    p.ok(
        "prepare",
        json!({"input": "data.csv", "target": "label", "test_size": 0.34, "seed": 1, "out": "prep"}),
    );
    p
}

#[test]
fn prepare_drops_missing_rows_and_splits_by_class() {
    let p = Project::new();
    p.write("in/data.csv", SMALL);
    let log = p.ok(
        "prepare",
        json!({"input": "in/data.csv", "target": "label", "test_size": 0.34, "seed": 1, "out": "prep"}),
    );
    assert!(
        log.contains(&"dropped 1 rows with missing values".to_string()),
        "{log:?}"
    );
    let s = p.json("prep/summary.json");
    assert_eq!(s["rows"], 13);
    assert_eq!(s["dropped"], 1);
    assert_eq!(s["train_rows"], 8);
    assert_eq!(s["test_rows"], 4);
    assert_eq!(
        s["classes"],
        json!({"a": {"test": 2, "train": 4}, "b": {"test": 2, "train": 4}})
    );
    assert_eq!(s["features"], json!(["x1", "x2"]));
    let train = p.read("prep/train.csv");
    let test = p.read("prep/test.csv");
    assert!(train.starts_with("x1,x2,label\n"));
    assert_eq!(train.lines().count() + test.lines().count(), 2 + 12);
    assert!(
        !train.contains("0.25,") && !test.contains("0.25,"),
        "the incomplete row is gone"
    );
    // Cells go through as written.
    assert!(train.contains("5.0,5.10,b") || test.contains("5.0,5.10,b"));
    // Each split keeps input order.
    let order = |text: &str| -> Vec<usize> {
        text.lines()
            .skip(1)
            .map(|l| SMALL.lines().position(|s| s == l).unwrap())
            .collect()
    };
    assert!(order(&train).windows(2).all(|w| w[0] < w[1]));
    assert!(order(&test).windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn prepare_output_is_byte_identical_across_runs_and_depends_on_seed() {
    let p = Project::new();
    p.write("data.csv", SMALL);
    for out in ["a", "b", "c"] {
        let seed = if out == "c" { 2 } else { 1 };
        p.ok(
            "prepare",
            json!({"input": "data.csv", "target": "label", "test_size": 0.34, "seed": seed, "out": out}),
        );
    }
    for f in ["train.csv", "test.csv", "summary.json"] {
        assert_eq!(
            p.bytes(&format!("a/{f}")),
            p.bytes(&format!("b/{f}")),
            "{f}"
        );
    }
    assert_ne!(p.bytes("a/test.csv"), p.bytes("c/test.csv"));
}

#[test]
fn prepare_refuses_bad_input_naming_file_column_and_line() {
    let p = Project::new();
    let with = |input: &str, target: &str| json!({"input": input, "target": target, "seed": 1, "out": "prep"});
    p.write("single.csv", "x,y\n1,a\n2,a\n3,b\n")
        .write("text.csv", "x,y\n1,a\n2,a\nabc,b\n4,b\n")
        .write("empty.csv", "")
        .write("header.csv", "x,y\n")
        .write("ok.csv", "x,y\n1,a\n2,a\n3,b\n4,b\n");
    let err = p.fails("prepare", with("nope.csv", "y"));
    assert!(err.ends_with("nope.csv` does not exist"), "{err}");
    let err = p.fails("prepare", with("ok.csv", "species"));
    assert!(
        err.ends_with("ok.csv` has no column `species` (columns: x, y)"),
        "{err}"
    );
    let err = p.fails("prepare", with("text.csv", "y"));
    assert!(
        err.ends_with("text.csv` line 4, column `x`: `abc` is not a number"),
        "{err}"
    );
    let err = p.fails("prepare", with("single.csv", "y"));
    assert!(
        err.starts_with("class `b` of `y` in `")
            && err.ends_with("has a single row, a stratified split needs at least 2"),
        "{err}"
    );
    for empty in ["empty.csv", "header.csv"] {
        let err = p.fails("prepare", with(empty, "y"));
        assert!(
            err.ends_with(&format!("{empty}` has no data rows")),
            "{err}"
        );
    }
    let err = p.fails(
        "prepare",
        json!({"input": "ok.csv", "target": "y", "test_size": 1.5, "out": "prep"}),
    );
    assert_eq!(
        err,
        "`test_size` of built-in stage `prepare` must be between 0 and 1 (exclusive), got 1.5"
    );
    let err = p.fails(
        "prepare",
        json!({"input": "ok.csv", "target": "y", "out": "prep", "sed": 1}),
    );
    assert!(err.contains("unknown field `sed`"), "{err}");
}

#[test]
fn every_model_trains_evaluates_and_is_deterministic() {
    let p = prepared();
    for model in ["logreg", "svm", "tree", "knn"] {
        let params = if model == "knn" {
            json!({"k": 3})
        } else {
            json!({})
        };
        for run in ["1", "2"] {
            let log = p.ok(
                "train",
                json!({"model": model, "data": "prep", "params": params, "out": format!("m/{model}{run}")}),
            );
            assert!(
                log[0].starts_with(&format!(
                    "fit {model} on 8 rows × 2 features, 2 classes, in "
                )),
                "{log:?}"
            );
            p.ok(
                "evaluate",
                json!({"model": format!("m/{model}{run}"), "data": "prep", "out": format!("e/{model}{run}.json")}),
            );
        }
        for f in [
            format!("m/{model}1/model.json"),
            format!("m/{model}1/metrics.json"),
            format!("e/{model}1.json"),
            format!("e/{model}1.confusion.csv"),
        ] {
            assert_eq!(
                p.bytes(&f),
                p.bytes(&f.replace(&format!("{model}1"), &format!("{model}2"))),
                "{f}"
            );
        }
        let m = p.json(&format!("m/{model}1/model.json"));
        assert_eq!(m["format"], 1);
        assert_eq!(m["model"], model);
        assert_eq!(m["target"], "label", "taken from summary.json");
        assert_eq!(m["classes"], json!(["a", "b"]));
        assert_eq!(m["features"], json!(["x1", "x2"]));
        let train_metrics = p.json(&format!("m/{model}1/metrics.json"));
        assert_eq!(train_metrics["train_accuracy"], 1.0);
        assert_eq!(train_metrics["train_rows"], 8);
        assert!(
            !p.read(&format!("m/{model}1/metrics.json")).contains("ms"),
            "no fit time"
        );
        let e = p.json(&format!("e/{model}1.json"));
        assert_eq!(e["accuracy"], 1.0, "{model}");
        assert_eq!(
            e["per_class"]["a"],
            json!({"f1": 1.0, "precision": 1.0, "recall": 1.0, "support": 2})
        );
        assert_eq!(
            e["confusion_matrix"],
            json!({"labels": ["a", "b"], "matrix": [[2, 0], [0, 2]]})
        );
        assert_eq!(
            p.read(&format!("e/{model}1.confusion.csv")),
            "actual,predicted,count\na,a,2\na,b,0\nb,a,0\nb,b,2\n"
        );
    }
}

#[test]
fn evaluate_metrics_have_the_documented_keys() {
    let p = prepared();
    p.ok(
        "train",
        json!({"model": "logreg", "data": "prep", "target": "label", "out": "m"}),
    );
    p.ok(
        "evaluate",
        json!({"model": "m", "data": "prep", "out": "e.json", "plot": "plots/cm.csv"}),
    );
    let e = p.json("e.json");
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "accuracy",
            "confusion_matrix",
            "f1_macro",
            "f1_weighted",
            "per_class",
            "precision_macro",
            "precision_weighted",
            "recall_macro",
            "recall_weighted",
            "samples"
        ]
    );
    assert!(p.path("plots/cm.csv").is_file());
}

#[test]
fn train_refuses_bad_params_and_data() {
    let p = prepared();
    let train = |model: &str, params: Value| json!({"model": model, "data": "prep", "params": params, "out": "m"});
    let err = p.fails("train", train("forest", json!({})));
    assert!(err.contains("unknown variant `forest`"), "{err}");
    let err = p.fails("train", train("svm", json!({"gama": 1})));
    assert_eq!(
        err,
        "unknown parameter `gama` for model `svm`, expected one of `C`, `kernel`, `gamma`, `degree`, `coef0`, `tol`"
    );
    let err = p.fails("train", train("logreg", json!({"max_iter": "many"})));
    assert_eq!(
        err,
        "parameter `max_iter` of model `logreg` must be a whole number, got `\"many\"`"
    );
    let err = p.fails("train", train("knn", json!({"k": 9})));
    assert_eq!(
        err,
        "parameter `k` of model `knn` must be at most the 8 training rows, got 9"
    );
    let err = p.fails(
        "train",
        json!({"model": "svm", "data": "prep", "target": "kind", "out": "m"}),
    );
    assert!(
        err.contains("train.csv` has no column `kind` (columns: x1, x2, label)"),
        "{err}"
    );

    p.write("one/train.csv", "x,y\n1,a\n2,a\n");
    let err = p.fails(
        "train",
        json!({"model": "svm", "data": "one", "target": "y", "out": "m"}),
    );
    assert!(
        err.ends_with("train.csv` has 1 class(es) in `y`, a classifier needs at least 2"),
        "{err}"
    );
    let err = p.fails("train", json!({"model": "svm", "data": "one", "out": "m"}));
    assert!(
        err.starts_with("no `target` given and `") && err.ends_with("summary.json` names none"),
        "{err}"
    );
    p.write("gap/train.csv", "x,y\n1,a\n,b\n");
    let err = p.fails(
        "train",
        json!({"model": "svm", "data": "gap", "target": "y", "out": "m"}),
    );
    assert!(
        err.ends_with("train.csv` line 3, column `x` is empty"),
        "{err}"
    );
}

#[test]
fn a_model_file_of_another_format_is_refused() {
    let p = prepared();
    p.ok(
        "train",
        json!({"model": "tree", "data": "prep", "out": "m"}),
    );
    let text = p
        .read("m/model.json")
        .replacen("\"format\": 1", "\"format\": 2", 1);
    p.write("m/model.json", &text);
    let err = p.fails(
        "evaluate",
        json!({"model": "m", "data": "prep", "out": "e.json"}),
    );
    assert!(
        err.ends_with("model.json` is model format 2, this version of wf reads format 1"),
        "{err}"
    );
    p.write("m/model.json", "{\"model\": \"tree\"}");
    let err = wf_stages::load_model(&p.path("m/model.json"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("is model format null, this version of wf reads format 1"),
        "{err}"
    );
}

#[test]
fn predict_needs_only_the_feature_columns() {
    let p = prepared();
    p.ok("train", json!({"model": "svm", "data": "prep", "out": "m"}));
    let model = wf_stages::load_model(&p.path("m/model.json")).unwrap();
    p.write("new.csv", "x2,x1\n1.0,0.1\n5.0,5.0\n");
    let rows = wf_stages::Table::read(&p.path("new.csv")).unwrap();
    assert_eq!(wf_stages::predict(&model, &rows).unwrap(), ["a", "b"]);
    p.write("bad.csv", "x1\n1.0\n");
    let rows = wf_stages::Table::read(&p.path("bad.csv")).unwrap();
    let err = wf_stages::predict(&model, &rows).unwrap_err().to_string();
    assert!(
        err.ends_with("bad.csv` has no column `x2` (columns: x1)"),
        "{err}"
    );
}

/// Trains a distinct model file (knn with `k`) and writes a metrics file with `f1_macro`.
fn candidate(p: &Project, name: &str, k: u64, f1: f64) -> Value {
    p.ok(
        "train",
        json!({"model": "knn", "data": "prep", "params": {"k": k}, "out": format!("models/{name}")}),
    );
    p.write(
        &format!("metrics/{name}.json"),
        &json!({"f1_macro": f1}).to_string(),
    );
    json!({"model": format!("models/{name}"), "metrics": format!("metrics/{name}.json")})
}

fn deploy(p: &Project, candidates: Vec<Value>, direction: &str) -> Vec<String> {
    p.ok(
        "deploy",
        json!({"candidates": candidates, "metric": "f1_macro", "direction": direction, "registry": "reg"}),
    )
}

#[test]
fn champion_is_kept_on_a_tie_or_worse_and_replaced_on_better() {
    let p = prepared();
    let a = candidate(&p, "a", 1, 0.8);
    let b = candidate(&p, "b", 2, 0.8);
    let c = candidate(&p, "c", 3, 0.7);
    let d = candidate(&p, "d", 4, 0.9);

    let log = deploy(&p, vec![a.clone()], "max");
    assert!(
        log.iter()
            .any(|l| l == "version 1 is the first champion (f1_macro 0.8)"),
        "{log:?}"
    );
    let reg = Registry::open(p.path("reg")).unwrap();
    assert_eq!(reg.champion().unwrap(), Some(1));

    deploy(&p, vec![a.clone(), b], "max");
    assert_eq!(reg.versions().unwrap(), [1, 2], "a is not registered twice");
    assert_eq!(reg.champion().unwrap(), Some(1), "a tie keeps the champion");

    deploy(&p, vec![c], "max");
    assert_eq!(reg.champion().unwrap(), Some(1), "worse keeps the champion");
    let list = reg.list().unwrap();
    assert_eq!(list[2].aliases, [CHALLENGER]);
    assert_eq!(list[0].aliases, [CHAMPION]);
    assert_eq!(list[2].metric.value, 0.7);
    assert_eq!(list[2].model, "knn");

    let log = deploy(&p, vec![d.clone()], "max");
    assert!(
        log.iter()
            .any(|l| l
                == "version 4 (f1_macro 0.9) beats champion version 1 (0.8) and is now champion"),
        "{log:?}"
    );
    assert_eq!(reg.champion().unwrap(), Some(4));
    assert!(
        reg.list().unwrap()[2].aliases.is_empty(),
        "the old challenger lost its alias"
    );

    // Re-running with the same models adds nothing and changes no alias.
    let before = p.bytes("reg/aliases.json");
    let log = deploy(&p, vec![a, d], "max");
    assert_eq!(reg.versions().unwrap(), [1, 2, 3, 4]);
    assert_eq!(p.bytes("reg/aliases.json"), before);
    assert!(
        log.iter().any(|l| l == "models/d is already version 4"),
        "{log:?}"
    );

    let meta = reg.meta(4).unwrap();
    assert_eq!(meta.source, "models/d");
    assert_eq!(meta.params, json!({"k": 4}).as_object().unwrap().clone());
    assert_eq!(
        meta.blake3,
        blake3::hash(&p.bytes("models/d/model.json"))
            .to_hex()
            .to_string()
    );
    assert_eq!(
        p.bytes("reg/versions/4/model.json"),
        p.bytes("models/d/model.json")
    );
}

#[test]
fn a_registry_without_champion_gets_one_from_registered_candidates() {
    // As after a deploy interrupted between registering and writing aliases.json.
    let p = prepared();
    let a = candidate(&p, "a", 1, 0.5);
    let b = candidate(&p, "b", 2, 0.6);
    deploy(&p, vec![a.clone(), b.clone()], "max");
    std::fs::remove_file(p.path("reg/aliases.json")).unwrap();
    let log = deploy(&p, vec![a, b], "max");
    assert!(
        log.iter()
            .any(|l| l == "version 2 is the first champion (f1_macro 0.6)"),
        "{log:?}"
    );
    let reg = Registry::open(p.path("reg")).unwrap();
    assert_eq!(reg.versions().unwrap(), [1, 2]);
}

#[test]
fn with_direction_min_the_smaller_metric_wins() {
    let p = prepared();
    let a = candidate(&p, "a", 1, 0.3);
    let b = candidate(&p, "b", 2, 0.2);
    let c = candidate(&p, "c", 3, 0.5);
    deploy(&p, vec![a, c], "min");
    let reg = Registry::open(p.path("reg")).unwrap();
    assert_eq!(reg.champion().unwrap(), Some(1));
    deploy(&p, vec![b], "min");
    assert_eq!(reg.champion().unwrap(), Some(3));
}

#[test]
fn promote_and_rollback() {
    let p = prepared();
    let a = candidate(&p, "a", 1, 0.5);
    let b = candidate(&p, "b", 2, 0.6);
    let c = candidate(&p, "c", 3, 0.4);
    deploy(&p, vec![a], "max");
    deploy(&p, vec![b], "max");
    deploy(&p, vec![c], "max");
    let reg = Registry::open(p.path("reg")).unwrap();
    assert_eq!(reg.champion().unwrap(), Some(2));

    reg.promote(3).unwrap();
    assert_eq!(reg.champion().unwrap(), Some(3));
    assert_eq!(reg.show("champion").unwrap().info.version, 3);
    let history: Vec<(u32, String)> = reg
        .history()
        .unwrap()
        .into_iter()
        .map(|h| (h.version, h.reason))
        .collect();
    assert_eq!(
        history,
        [
            (1, "deploy".into()),
            (2, "deploy".into()),
            (3, "promote".into())
        ]
    );

    assert_eq!(reg.rollback().unwrap(), 2);
    assert_eq!(reg.champion().unwrap(), Some(2));
    assert_eq!(reg.rollback().unwrap(), 1);
    let err = reg.rollback().unwrap_err().to_string();
    assert!(
        err.ends_with("has no earlier champion to roll back to"),
        "{err}"
    );
    assert_eq!(reg.champion().unwrap(), Some(1));

    let err = reg.promote(9).unwrap_err().to_string();
    assert!(err.ends_with("has no version or alias `9`"), "{err}");
    let err = reg.show("staging").unwrap_err().to_string();
    assert!(err.ends_with("has no version or alias `staging`"), "{err}");
    let err = Registry::open(p.path("nowhere")).unwrap_err().to_string();
    assert!(
        err.ends_with("is not a model registry (no `versions` folder)"),
        "{err}"
    );

    p.write("new.csv", "x1,x2\n0.1,1.0\n5.0,5.0\n");
    let pred = reg.predict("champion", &p.path("new.csv")).unwrap();
    assert_eq!(
        (pred.version, pred.labels),
        (1, vec!["a".to_string(), "b".to_string()])
    );
    let detail = reg.show("2").unwrap();
    assert_eq!(detail.target, "label");
    assert_eq!(detail.metrics, json!({"f1_macro": 0.6}));
}

#[test]
fn deploy_refuses_a_metrics_file_without_the_metric() {
    let p = prepared();
    let a = candidate(&p, "a", 1, 0.5);
    let err = p.fails(
        "deploy",
        json!({"candidates": [a], "metric": "accuracy", "registry": "reg"}),
    );
    assert!(
        err.ends_with("a.json` has no numeric metric `accuracy`"),
        "{err}"
    );
}

/// The params of the repo's Iris pipeline, read from specs/params.yaml.
fn iris_params() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join("specs/params.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[test]
fn iris_logreg_and_svm_reach_90_percent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let params = iris_params();
    let p = Project::new();
    std::fs::copy(root.join("data/iris.csv"), p.path("iris.csv")).unwrap();
    p.ok(
        "prepare",
        json!({
            "input": "iris.csv",
            "target": "species",
            "test_size": params["prepare"]["test_size"],
            "seed": params["seed"],
            "out": "prepared",
        }),
    );
    let summary = p.json("prepared/summary.json");
    assert_eq!(
        (
            summary["train_rows"].as_u64(),
            summary["test_rows"].as_u64()
        ),
        (Some(120), Some(30))
    );
    let mut candidates = Vec::new();
    for model in params["models"].as_array().unwrap() {
        let model = model.as_str().unwrap();
        p.ok(
            "train",
            json!({"model": model, "data": "prepared", "target": "species",
                   "params": params["train"][model], "out": format!("models/{model}")}),
        );
        let log = p.ok(
            "evaluate",
            json!({"model": format!("models/{model}"), "data": "prepared", "out": format!("metrics/{model}.json")}),
        );
        let accuracy = p.json(&format!("metrics/{model}.json"))["accuracy"]
            .as_f64()
            .unwrap();
        eprintln!("{}", log.join("\n"));
        assert!(accuracy >= 0.9, "{model}: test accuracy {accuracy}");
        candidates.push(
            json!({"model": format!("models/{model}"), "metrics": format!("metrics/{model}.json")}),
        );
    }
    p.ok(
        "deploy",
        json!({"candidates": candidates, "metric": params["deploy"]["metric"], "registry": "registry"}),
    );
    let reg = Registry::open(p.path("registry")).unwrap();
    assert_eq!(reg.versions().unwrap(), [1, 2]);
    assert!(reg.champion().unwrap().is_some());
    let pred = reg
        .predict("champion", &p.path("prepared/test.csv"))
        .unwrap();
    assert_eq!(pred.labels.len(), 30);
}
