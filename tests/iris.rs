//! The Iris pipeline of `specs/` end to end through the real binary: built-in stages, the
//! registry, `wf model`, and byte-identical outputs.

use std::path::Path;

use crate::test::{Output, Test, project_root};

/// A copy of the repository's Iris pipeline and data, run once.
fn iris() -> Output {
    let root = project_root();
    let spec = std::fs::read_to_string(root.join("specs/pipeline.yaml")).unwrap();
    let params = std::fs::read_to_string(root.join("specs/params.yaml")).unwrap();
    let data = std::fs::read_to_string(root.join("data/iris.csv")).unwrap();
    // `.wf/` marks the repository root, as in a checkout of this repository.
    Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("specs/pipeline.yaml", &spec)
        .write("specs/params.yaml", &params)
        .write("data/iris.csv", &data)
        .args(["-C", "specs", "repro"])
        .success()
}

fn ran(out: &Output, args: &[&str]) -> Vec<String> {
    let o = out
        .test()
        .args(["-C", "specs", "repro"])
        .args(args.iter().copied())
        .success();
    let mut v: Vec<String> = o
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("Running stage '"))
        .map(|l| l.trim_end_matches("':").to_string())
        .collect();
    v.sort();
    v
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn runs_end_to_end_and_only_what_a_change_affects() {
    let out = iris();
    for model in ["logreg", "svm"] {
        let m = json(&out.path().join(format!("out/metrics/{model}.json")));
        let acc = m["accuracy"].as_f64().unwrap();
        assert!(acc >= 0.9, "{model} accuracy {acc}");
        assert!(
            out.path()
                .join(format!("out/metrics/{model}.confusion.csv"))
                .exists()
        );
    }
    assert!(ran(&out, &[]).is_empty(), "a second run does nothing");
    let params = std::fs::read_to_string(out.path().join("specs/params.yaml")).unwrap();
    std::fs::write(
        out.path().join("specs/params.yaml"),
        params.replace("C: 1.0", "C: 2.0"),
    )
    .unwrap();
    assert_eq!(ran(&out, &[]), ["deploy", "evaluate@svm", "train@svm"]);
}

#[test]
fn the_registry_has_a_champion_and_predicts() {
    let out = iris();
    let list = out.test().args(["-C", "specs", "model", "list"]).success();
    assert!(list.stdout.starts_with("version  model"), "{}", list.stdout);
    assert_eq!(
        list.stdout.matches("champion").count(),
        1,
        "{}",
        list.stdout
    );
    let listed: serde_json::Value = serde_json::from_str(
        &out.test()
            .args(["-C", "specs", "model", "list", "--json"])
            .success()
            .stdout,
    )
    .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let pred = out
        .test()
        .args(["-C", "specs", "model", "predict", "../data/iris.csv"])
        .success();
    let lines: Vec<&str> = pred.stdout.lines().collect();
    assert_eq!(lines[0], "predicted_species");
    assert_eq!(lines.len(), 151);
    assert_eq!(lines[1], "setosa");
    // Promote the other version, then roll back to the first champion.
    let champion = out
        .test()
        .args(["-C", "specs", "model", "show", "champion", "--json"])
        .success();
    let first: serde_json::Value = serde_json::from_str(&champion.stdout).unwrap();
    let first = first["version"].as_u64().unwrap();
    let other = if first == 1 { 2 } else { 1 };
    out.test()
        .args(["-C", "specs", "model", "promote", &other.to_string()])
        .stdout(&format!("version {other} is now the champion\n"))
        .run();
    out.test()
        .args(["-C", "specs", "model", "rollback"])
        .stdout(&format!(
            "rolled back: version {first} is the champion again\n"
        ))
        .run();
    out.test()
        .args(["-C", "specs", "model", "rollback"])
        .status(2)
        .stderr_contains("no earlier champion to roll back to")
        .run();
}

#[test]
fn outputs_are_byte_identical_across_runs() {
    let a = iris();
    let b = iris();
    for f in [
        "out/prepared/train.csv",
        "out/prepared/test.csv",
        "out/prepared/summary.json",
        "out/models/logreg/model.json",
        "out/models/svm/model.json",
        "out/metrics/logreg.json",
        "out/metrics/svm.confusion.csv",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn a_with_key_the_stage_does_not_know_points_at_with() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  p:\n    uses: prepare\n    with:\n      input: d.csv\n      target: y\n      out: p\n      tset_size: 0.3\n")
        .arg("dag")
        .status(2)
        .stderr_contains("unknown field `tset_size`")
        .stderr_contains(" --> pipeline.yaml:4:5")
        .run();
}

#[test]
fn model_list_at_the_repository_root_uses_the_only_deploy_stage() {
    let out = iris();
    let list = out.test().args(["model", "list"]).success();
    assert!(list.stdout.starts_with("version  model"), "{}", list.stdout);
    assert_eq!(
        list.stdout.matches("champion").count(),
        1,
        "{}",
        list.stdout
    );
}

#[test]
fn several_deploy_stages_and_none_in_the_working_folder_is_an_error_naming_them() {
    let spec = std::fs::read_to_string(project_root().join("specs/pipeline.yaml")).unwrap();
    let params = std::fs::read_to_string(project_root().join("specs/params.yaml")).unwrap();
    let t = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("a/pipeline.yaml", &spec)
        .write("a/params.yaml", &params)
        .write("b/pipeline.yaml", &spec)
        .write("b/params.yaml", &params);
    let t = t
        .args(["model", "list"])
        .status(2)
        .stderr(
            "\
error: several `deploy` stages, so no one registry to use: `a/pipeline.yaml:deploy`, `b/pipeline.yaml:deploy`
help: pass `--registry DIR`, or run from the folder of the spec whose registry you mean
",
        )
        .run();
    // From one spec's folder, its own deploy stage is the one: its registry does not exist yet.
    t.test()
        .args(["-C", "b", "model", "list"])
        .status(2)
        .stderr_contains("out/registry")
        .run();
}

#[test]
fn plots_show_draws_both_confusion_matrices_with_nothing_written() {
    let out = iris();
    let shown = out
        .test()
        .args(["-C", "specs", "plots", "show", "--json"])
        .success();
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let data = shown["data"].as_object().unwrap();
    let ids: Vec<&String> = data.keys().collect();
    assert_eq!(
        ids,
        [
            "out/metrics/logreg.confusion.csv",
            "out/metrics/svm.confusion.csv"
        ]
    );
    for plot in data.values() {
        let spec = &plot[0]["content"];
        assert!(spec.get("facet").is_some(), "a confusion matrix: {spec}");
        assert_eq!(spec["spec"]["encoding"]["x"]["field"], "predicted");
        assert_eq!(spec["spec"]["encoding"]["y"]["field"], "actual");
        assert_eq!(spec["data"]["values"].as_array().unwrap().len(), 9);
    }
    let page = out.test().args(["-C", "specs", "plots", "show"]).success();
    assert!(page.path().join("specs/dvc_plots/index.html").is_file());
    // At `HEAD` the matrices are git-ignored outs: read from the cache through the lock.
    std::fs::write(out.path().join(".gitignore"), "/out/\n/specs/dvc_plots/\n").unwrap();
    crate::test::git(out.path(), &["init", "-q"]);
    crate::test::git(out.path(), &["add", "-A"]);
    crate::test::git(out.path(), &["commit", "-q", "-m", "iris"]);
    let diff = out
        .test()
        .args(["-C", "specs", "plots", "diff", "--json"])
        .success();
    let diff: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    for plot in diff["data"].as_object().unwrap().values() {
        assert_eq!(
            plot[0]["revisions"],
            serde_json::json!(["workspace", "HEAD"])
        );
        assert_eq!(
            plot[0]["content"]["data"]["values"]
                .as_array()
                .unwrap()
                .len(),
            18
        );
    }
}
