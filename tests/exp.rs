//! Experiments through the real binary: `wf exp run` with overrides in the workspace and sweeps
//! in scratch copies, recorded in the run store; `wf exp show|diff|apply|remove`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::test::{Output, Test, project_root};

/// A copy of the repository's Iris pipeline, never run.
fn iris() -> Test {
    let root = project_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("specs/pipeline.yaml", &read("specs/pipeline.yaml"))
        .write("specs/params.yaml", &read("specs/params.yaml"))
        .write("data/iris.csv", &read("data/iris.csv"))
}

/// Every file of the workspace but `.wf/`, with its content.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".wf")
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn show(out: &Output) -> Vec<serde_json::Value> {
    let o = out
        .test()
        .args(["-C", "specs", "exp", "show", "--json"])
        .success();
    serde_json::from_str::<Vec<serde_json::Value>>(&o.stdout).unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.join(".wf/runs.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_sweep_runs_each_experiment_in_a_copy_sharing_what_they_have_in_common() {
    let t = iris();
    let before = snapshot(t.path());
    let out = t
        .args(["-C", "specs", "exp", "run", "-j", "2"])
        .args(["-S", "train.svm.C=0.5,1,2,4"])
        .success();
    assert_eq!(
        snapshot(out.path()),
        before,
        "a sweep leaves the workspace as it was"
    );
    let exps = show(&out);
    assert_eq!(exps.len(), 4, "{exps:#?}");
    let mut cs: Vec<f64> = Vec::new();
    for e in &exps {
        assert_eq!(e["state"], "finished", "{e:#}");
        cs.push(
            e["params"]["specs/params.yaml"]["train.svm.C"]
                .as_f64()
                .unwrap(),
        );
        let accuracy = e["metrics"]["out/metrics/svm.json"]["accuracy"].as_f64();
        assert!(accuracy.is_some_and(|a| a > 0.5), "{e:#}");
    }
    assert_eq!(cs, [0.5, 1.0, 2.0, 4.0]);
    // `prepare` and the logistic regression do not depend on C: each ran once, and the other
    // experiments restored them.
    let ran = |stage: &str, outcome: &str| {
        count(
            out.path(),
            &format!(
                "SELECT COUNT(*) FROM stages WHERE stage = '{stage}' AND outcome = '{outcome}'"
            ),
        )
    };
    assert_eq!((ran("prepare", "ran"), ran("prepare", "restored")), (1, 3));
    assert_eq!(ran("train@logreg", "ran"), 1);
    assert_eq!(ran("train@svm", "ran"), 4);
    assert!(
        !out.path()
            .join(".wf/tmp/exps")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "the scratch copies are gone"
    );
    // Applying one makes the workspace what that experiment left: `wf status` finds it fresh.
    let name = exps[2]["name"].as_str().unwrap();
    out.test()
        .args(["-C", "specs", "exp", "apply", name])
        .stdout_contains("have been applied")
        .success();
    let params = std::fs::read_to_string(out.path().join("specs/params.yaml")).unwrap();
    assert!(params.contains("    C: 2"), "{params}");
    assert!(
        params.starts_with("# Hyper-parameters"),
        "comments are kept:\n{params}"
    );
    out.test()
        .args(["-C", "specs", "status"])
        .stdout("Data and pipelines are up to date.\n")
        .success();
}

#[test]
fn one_experiment_runs_in_the_workspace_with_its_params_file_rewritten() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: >-\n      echo ${lr} > out.txt && echo '{\"score\": ${lr}}' > m.json\n    params: [lr]\n    outs: [out.txt]\n    metrics:\n      - m.json: {cache: false}\n",
        )
        .write("params.yaml", "# learning rate\nlr: 0.1  # small\nother: x\n")
        .args(["exp", "run", "-S", "lr=0.5", "-n", "fast"])
        .stdout_contains("Ran experiment 'fast'")
        .success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("params.yaml")).unwrap(),
        "# learning rate\nlr: 0.5  # small\nother: x\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("out.txt")).unwrap(),
        "0.5\n"
    );
    let o = out.test().args(["exp", "show", "--json"]).success();
    let exps: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(exps[0]["name"], "fast");
    assert_eq!(exps[0]["overrides"][0], "lr=0.5");
    assert_eq!(exps[0]["metrics"]["m.json"]["score"], 0.5);
    // The same name twice is refused; the table lists it.
    out.test()
        .args(["exp", "run", "-S", "lr=0.7", "-n", "fast"])
        .status(2)
        .stderr_contains("a run named `fast` exists")
        .run();
    out.test()
        .args(["exp", "show"])
        .stdout_contains("└── fast")
        .success();
}

#[test]
fn a_failing_experiment_is_recorded_as_failed_and_the_others_go_on() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: echo trying ${x} && test ${x} -lt 3 && echo ${x} > out.txt\n    params: [x]\n    outs: [out.txt]\n",
        )
        .write("params.yaml", "x: 1\n")
        .args(["exp", "run", "-S", "x=1,5"])
        .status(1)
        .stderr_contains("failed")
        .run();
    let o = out.test().args(["exp", "show", "--json"]).success();
    let exps: Vec<serde_json::Value> = serde_json::from_str(&o.stdout).unwrap();
    let states: Vec<&str> = exps.iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["finished", "failed"]);
    let tail: String = rusqlite::Connection::open(out.path().join(".wf/runs.db"))
        .unwrap()
        .query_row(
            "SELECT output FROM stages JOIN runs ON runs.id = stages.run WHERE runs.status = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tail, "trying 5\n");
    out.test().args(["exp", "remove", "--failed"]).success();
    assert_eq!(count(out.path(), "SELECT COUNT(*) FROM runs"), 1);
}

#[test]
fn ctrl_c_cancels_every_experiment_and_removes_their_copies() {
    let t = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: touch started && sleep 30 && echo ${x} > out.txt\n    params: [x]\n    outs: [out.txt]\n",
        )
        .write("params.yaml", "x: 1\n");
    let dir = t.path().to_path_buf();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["exp", "run", "-S", "x=1,2", "-j", "2"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let copies = dir.join(".wf/tmp/exps");
    let started = || {
        std::fs::read_dir(&copies)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("started").exists())
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while started() < 2 {
        assert!(Instant::now() < deadline, "the experiments did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(
        count(&dir, "SELECT COUNT(*) FROM runs WHERE status = 'cancelled'"),
        2
    );
    assert!(!copies.read_dir().is_ok_and(|mut d| d.next().is_some()));
}

#[test]
fn queued_experiments_run_with_run_all() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: echo ${x} > out.txt\n    params: [x]\n    outs: [out.txt]\n",
        )
        .write("params.yaml", "x: 1\n")
        .args(["exp", "run", "--queue", "-S", "x=2,3"])
        .stdout_contains("Queued experiment")
        .success();
    assert_eq!(
        count(
            out.path(),
            "SELECT COUNT(*) FROM runs WHERE status = 'queued'"
        ),
        2
    );
    out.test().args(["exp", "run", "--run-all"]).success();
    assert_eq!(
        count(
            out.path(),
            "SELECT COUNT(*) FROM runs WHERE status = 'finished'"
        ),
        2
    );
    out.test()
        .args(["exp", "run", "--run-all"])
        .status(2)
        .stderr_contains("no experiment is queued")
        .run();
}

#[test]
fn bad_overrides_and_an_unreadable_store_are_clear_errors() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: echo ${train.lr} > out.txt\n    outs: [out.txt]\n",
        )
        .write("params.yaml", "train:\n  lr: 0.1\n")
        .args(["exp", "run", "-S", "train.lt=0.2"])
        .status(2)
        .stderr_contains("train.lr")
        .run();
    out.test()
        .args(["exp", "run", "-S", "train.lr=range(1,"])
        .status(2)
        .stderr_contains("-S")
        .run();
    assert_eq!(
        std::fs::read_to_string(out.path().join("params.yaml")).unwrap(),
        "train:\n  lr: 0.1\n",
        "nothing is written before every override applies"
    );
    std::fs::create_dir_all(out.path().join(".wf")).unwrap();
    std::fs::write(
        out.path().join(".wf/runs.db"),
        "not a database\n".repeat(100),
    )
    .unwrap();
    out.test()
        .args(["exp", "show"])
        .status(2)
        .stderr_contains("runs.db")
        .run();
    // Other commands keep working.
    out.test().arg("repro").success();
}

#[test]
fn pushed_experiments_pulled_into_a_fresh_clone_show_the_same_table() {
    let root = project_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let t = Test::new()
        .write("a/.wf/.gitignore", "/*\n")
        .write("a/specs/pipeline.yaml", &read("specs/pipeline.yaml"))
        .write("a/specs/params.yaml", &read("specs/params.yaml"))
        .write("a/data/iris.csv", &read("data/iris.csv"));
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    crate::test::git(&a, &["init", "-q"]);
    crate::test::git(&a, &["add", "."]);
    crate::test::git(&a, &["commit", "-q", "-m", "iris"]);
    crate::test::git(t.path(), &["clone", "-q", "a", "b"]);
    let remote = t.path().join("remote");
    let remote = remote.to_str().unwrap();
    let added = t
        .current_dir("a")
        .args(["remote", "add", "-d", "team", remote])
        .success();
    added
        .test()
        .current_dir("b")
        .args(["remote", "add", "-d", "team", remote])
        .success();
    let ran = added
        .test()
        .current_dir("a")
        .args(["-C", "specs", "exp", "run", "-S", "train.svm.C=0.5,2"])
        .success();
    let in_dir = |dir: &str| -> Vec<serde_json::Value> {
        let o = ran
            .test()
            .current_dir(dir)
            .args(["-C", "specs", "exp", "show", "--json"])
            .success();
        serde_json::from_str(&o.stdout).unwrap()
    };
    let table = in_dir("a");
    assert_eq!(table.len(), 2);
    ran.test()
        .current_dir("a")
        .args(["exp", "push"])
        .stdout_contains("2 experiments pushed to remote `team`, 0 already there")
        .success();
    ran.test()
        .current_dir("a")
        .args(["exp", "push"])
        .stdout_contains("0 experiments pushed to remote `team`, 2 already there; 0 files moved")
        .success();
    assert!(!b.join(".wf/runs.db").exists());
    ran.test()
        .current_dir("b")
        .args(["exp", "pull"])
        .stdout_contains("2 experiments pulled from remote `team`")
        .success();
    assert_eq!(in_dir("b"), table, "the clone shows the same experiments");
    // Pulling again changes nothing.
    ran.test()
        .current_dir("b")
        .args(["exp", "pull"])
        .stdout_contains("0 experiments pulled from remote `team`, 2 already there; 0 files moved")
        .success();
    assert_eq!(in_dir("b"), table);
    // The outs came along: an experiment applied in the clone is up to date.
    let name = table[1]["name"].as_str().unwrap();
    ran.test()
        .current_dir("b")
        .args(["-C", "specs", "exp", "apply", name])
        .success();
    ran.test()
        .current_dir("b")
        .args(["-C", "specs", "status"])
        .stdout("Data and pipelines are up to date.\n")
        .success();
    // `--json` says the same for scripts.
    let pushed = ran
        .test()
        .current_dir("a")
        .args(["exp", "push", "--json"])
        .success();
    let v: serde_json::Value = serde_json::from_str(&pushed.stdout).unwrap();
    assert_eq!(v["remote"], "team");
    assert_eq!(v["pushed"].as_array().unwrap().len(), 0);
    assert_eq!(v["present"].as_array().unwrap().len(), 2);
    // A document from a newer wf is refused, naming it.
    std::fs::write(
        std::path::Path::new(remote).join("exps/ffffffffffffffffffffffffffffffff.json"),
        r#"{"format": 99}"#,
    )
    .unwrap();
    ran.test()
        .current_dir("b")
        .args(["exp", "pull"])
        .status(2)
        .stderr_contains("exps/ffffffffffffffffffffffffffffffff.json")
        .stderr_contains("newer")
        .run();
    std::fs::remove_file(
        std::path::Path::new(remote).join("exps/ffffffffffffffffffffffffffffffff.json"),
    )
    .unwrap();
    // Unknown names are errors, with nothing pulled.
    ran.test()
        .current_dir("b")
        .args(["exp", "pull", "no-such-exp"])
        .status(2)
        .stderr_contains("no-such-exp")
        .run();
}

#[test]
fn the_table_fits_the_terminal_and_follows_every_change_to_the_store() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: >-\n      echo '{\"accuracy_on_the_held_out_split\": ${lr}, \"precision_of_the_first_class\": 1.0}' > m.json\n    params: [lr, optimiser_name]\n    metrics:\n      - m.json: {cache: false}\n",
        )
        .write("params.yaml", "lr: 0.1\noptimiser_name: stochastic_gradient_descent\n")
        .args(["exp", "run", "-S", "lr=0.25,0.5,0.75"])
        .success();
    let lines = |columns: &str| -> Vec<String> {
        let o = out
            .test()
            .env("COLUMNS", columns)
            .args(["exp", "show"])
            .success();
        o.stdout.lines().map(String::from).collect()
    };
    // Wide enough: every column, each as wide as its longest cell.
    let wide = lines("400");
    assert!(
        wide[0].contains(
            "accuracy_on_the_held_out_split  precision_of_the_first_class  lr    optimiser_name"
        ),
        "{wide:?}"
    );
    assert_eq!(wide.iter().filter(|l| l.contains("finished")).count(), 3);
    // Narrower: the columns equal in every row go first, then long cells are shortened.
    let narrow = lines("80");
    let table = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !l.starts_with('('))
            .cloned()
            .collect()
    };
    assert!(
        table(&narrow).iter().all(|l| l.chars().count() <= 80),
        "{narrow:?}"
    );
    assert!(narrow.iter().any(|l| l.contains("0.75")), "{narrow:?}");
    assert!(
        narrow
            .last()
            .unwrap()
            .contains("(2 columns equal in every row are hidden: `--keep` shows them)"),
        "{narrow:?}"
    );
    // Narrower still: the last columns are left out, and said to be.
    let tight = lines("50");
    assert!(
        table(&tight).iter().all(|l| l.chars().count() <= 50),
        "{tight:?}"
    );
    assert!(
        tight.iter().any(|l| l.contains("more columns do not fit")),
        "{tight:?}"
    );

    // The table follows the store: an experiment added, one removed, one renamed behind wf's
    // back.
    out.test()
        .args(["exp", "run", "-S", "lr=0.9", "-n", "ninth"])
        .success();
    let names = |o: &crate::test::Output| -> Vec<String> {
        let exps: Vec<serde_json::Value> = serde_json::from_str(&o.stdout).unwrap();
        exps.iter()
            .map(|e| {
                format!(
                    "{}={}",
                    e["name"].as_str().unwrap(),
                    e["params"]["params.yaml"]["lr"]
                )
            })
            .collect()
    };
    let all = names(&out.test().args(["exp", "show", "--json"]).success());
    assert_eq!(all.len(), 4);
    assert_eq!(all[3], "ninth=0.9");
    let first = all[0].split('=').next().unwrap().to_string();
    out.test().args(["exp", "remove", &first]).success();
    rusqlite::Connection::open(out.path().join(".wf/runs.db"))
        .unwrap()
        .execute("UPDATE runs SET name = 'renamed' WHERE name = 'ninth'", [])
        .unwrap();
    let after = names(&out.test().args(["exp", "show", "--json"]).success());
    assert_eq!(
        after,
        [all[1].clone(), all[2].clone(), "renamed=0.9".into()]
    );
}
