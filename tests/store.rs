//! The run store: every `wf repro` that ran or restored a stage is a run in `.wf/runs.db`, with
//! its status, its tracked params, the metrics after it and each stage's output tail; a killed
//! run leaves the store readable and the run not finished; a store that cannot be read never
//! stops a run.

use std::path::Path;

use rusqlite::Connection;

use crate::test::Test;

const SPEC: &str = "stages:
  train:
    cmd: >-
      echo training with lr ${lr} &&
      echo '{\"acc\": 0.9, \"loss\": 3, \"name\": \"m\"}' > m.json
    params: [lr]
    metrics:
      - m.json: {cache: false}
";

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join(".wf/runs.db")).unwrap()
}

/// (name, kind, status, command, ended is set) of every run, oldest first.
fn runs(dir: &Path) -> Vec<(String, String, String, String, bool)> {
    let conn = db(dir);
    let mut q = conn
        .prepare("SELECT name, kind, status, command, ended IS NOT NULL FROM runs ORDER BY seq")
        .unwrap();
    q.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn one(dir: &Path, sql: &str) -> String {
    db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn every_repro_that_runs_a_stage_is_a_run_with_its_params_metrics_and_output() {
    let out = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("params.yaml", "lr: 0.1\nother: 2\n")
        .arg("repro")
        .success();
    let dir = out.path();
    let all = runs(dir);
    assert_eq!(all.len(), 1, "{all:?}");
    let (name, kind, status, command, ended) = &all[0];
    assert_eq!(
        (name.as_str(), kind.as_str(), status.as_str(), *ended),
        ("run-1", "repro", "finished", true)
    );
    assert!(command.ends_with("repro"), "{command}");
    assert_eq!(
        one(dir, "SELECT file || ':' || key || '=' || value FROM params"),
        "params.yaml:lr=0.1"
    );
    let metrics: Vec<(String, f64)> = {
        let conn = db(dir);
        let mut q = conn
            .prepare("SELECT key, value FROM metrics ORDER BY key")
            .unwrap();
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        metrics,
        [("acc".to_string(), 0.9), ("loss".to_string(), 3.0)]
    );
    assert_eq!(
        one(dir, "SELECT outcome || ': ' || output FROM stages"),
        "ran: training with lr 0.1\n"
    );
    // Nothing ran: no run.
    out.test().arg("repro").success();
    assert_eq!(runs(dir).len(), 1);
    // A change runs again: a second run.
    std::fs::write(dir.join("params.yaml"), "lr: 0.2\nother: 2\n").unwrap();
    out.test().arg("repro").success();
    let all = runs(dir);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].0, "run-2");
    assert_eq!(
        one(
            dir,
            "SELECT value FROM params p JOIN runs r ON p.run = r.id WHERE r.name = 'run-2'"
        ),
        "0.2"
    );
}

#[test]
fn a_failed_run_is_recorded_as_failed_with_the_stage_output() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  bad:\n    cmd: echo going wrong && exit 3\n",
        )
        .arg("repro")
        .status(1)
        .run();
    let dir = out.path();
    assert_eq!(runs(dir)[0].2, "failed");
    assert_eq!(
        one(dir, "SELECT outcome || ': ' || output FROM stages"),
        "failed: going wrong\n"
    );
}

#[test]
fn a_killed_run_leaves_the_store_readable_and_the_run_not_finished() {
    let t = Test::new().write(
        "pipeline.yaml",
        "stages:\n  slow:\n    cmd: touch started && sleep 30\n",
    );
    let dir = t.path().to_path_buf();
    let mut child = crate::test::repro_until(&dir, "started");
    // A reader does not wait for the running writer (WAL).
    assert_eq!(runs(&dir)[0].2, "running");
    child.kill().unwrap();
    child.wait().unwrap();
    let conn = db(&dir);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let all = runs(&dir);
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].2.as_str(), all[0].4), ("running", false));
    // The next run records itself beside it.
    std::fs::write(
        dir.join("pipeline.yaml"),
        "stages:\n  slow:\n    cmd: echo quick\n",
    )
    .unwrap();
    let _out = t.arg("repro").success();
    let all = runs(&dir);
    assert_eq!(
        all.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["running", "finished"]
    );
}

#[test]
fn a_store_that_cannot_be_read_is_a_warning_and_the_run_goes_on() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo ran > a.txt\n    outs: [a.txt]\n",
        )
        .write(".wf/runs.db", &"this is not a database\n".repeat(200))
        .arg("repro")
        .stderr_contains("warning: this run is not recorded: cannot read the run store `")
        .stderr_contains("runs.db`")
        .stderr_contains("move the file away to start a new store")
        .success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("a.txt")).unwrap(),
        "ran\n"
    );
    out.test().arg("status").success();
}

#[test]
fn a_run_in_a_git_checkout_records_its_commit_and_whether_the_tree_was_dirty() {
    let t = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("params.yaml", "lr: 0.1\n")
        .write(".gitignore", "/.wf\n/m.json\n/pipeline.lock\n");
    let dir = t.path().to_path_buf();
    let dir = dir.as_path();
    crate::test::git(dir, &["init", "-q"]);
    crate::test::git(dir, &["add", "-A"]);
    crate::test::git(dir, &["commit", "-q", "-m", "first"]);
    let head = String::from_utf8(
        std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let out = t.arg("repro").success();
    assert_eq!(
        one(dir, "SELECT revision || ' ' || dirty FROM runs"),
        format!("{} 0", head.trim())
    );
    std::fs::write(dir.join("params.yaml"), "lr: 0.2\n").unwrap();
    out.test().arg("repro").success();
    assert_eq!(
        one(dir, "SELECT '' || dirty FROM runs WHERE name = 'run-2'").as_str(),
        "1"
    );
}

#[test]
fn no_environment_variable_or_tracking_token_reaches_the_store_or_the_lock() {
    let secret = "wf-test-secret-5b2c9e";
    let spec = "stages:\n  train:\n    cmd: printf %s \"$MLFLOW_TRACKING_TOKEN\" > token.txt && echo done > out.txt\n    outs: [out.txt, token.txt]\n";
    let out = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("pipeline.yaml", spec)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("WF_TEST_API_KEY", secret)
        .arg("repro")
        .success();
    let token = std::fs::read_to_string(out.path().join("token.txt")).unwrap();
    assert_eq!(token.len(), 32, "the stage got a tracking token: {token:?}");
    // Every byte wf keeps: the store (with its journal), the run records, the lock, the cache
    // (which holds token.txt as an out, so is searched for the secret only).
    for entry in walkdir::WalkDir::new(out.path())
        .into_iter()
        .map(Result::unwrap)
    {
        if !entry.file_type().is_file() || entry.path().ends_with("token.txt") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !has(secret),
            "{} holds an environment variable",
            entry.path().display()
        );
        let in_cache = entry.path().starts_with(out.path().join(".wf/cache"));
        assert!(
            in_cache || !has(&token),
            "{} holds the tracking token",
            entry.path().display()
        );
    }
}
