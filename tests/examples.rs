//! Every project in `examples/` runs with `wf repro`, and a second run does nothing.

use crate::test::{Test, project_root};

#[test]
fn every_example_runs_and_then_is_up_to_date() {
    let dir = project_root().join("examples");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // `ci/` holds CI configurations, tested in tests/report.rs.
        if !path.is_dir()
            || !(path.join("pipeline.yaml").exists() || path.join("dvc.yaml").exists())
        {
            continue;
        }
        let name = path.display().to_string();
        // `.wf/` makes the copy a repository of its own.
        let out = Test::new()
            .copy_dir(&path)
            .write(".wf/.gitignore", "/*\n")
            .arg("repro")
            .success();
        out.test()
            .arg("repro")
            .stderr_contains("Data and pipelines are up to date.")
            .success();
        out.test().args(["status", "--check"]).success();
        if let Ok(expected) = std::fs::read_to_string(path.join("dag.dot.expected")) {
            out.test().args(["dag", "--dot"]).stdout(&expected).run();
        }
        assert!(
            out.path().join("pipeline.lock").exists(),
            "{name} wrote no lock"
        );
        ran += 1;
    }
    assert!(
        ran >= 2,
        "expected at least two examples in {}",
        dir.display()
    );
}
