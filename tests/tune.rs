//! `wf tune` through the real binary: a study's trials as experiments, sampled by a grid, at
//! random or by TPE, continued from the store, with failing trials recorded and bad `tune:`
//! blocks pointed at.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::test::Test;

/// A pipeline whose `f` stage computes a known function of `x`, `y` and `kind` (failing for
/// `kind: bad`), after a `prep` stage that depends on no tuned param.
fn project(tune: &str) -> Test {
    let spec = format!(
        "stages:
  prep:
    cmd: echo prepared > prep.txt
    outs: [prep.txt]
  f:
    cmd: python3 f.py ${{x}} ${{y}} ${{kind}}
    deps: [f.py, prep.txt]
    params: [x, y, kind]
    metrics: [m.json]
tune:
{tune}"
    );
    Test::new()
        .write("pipeline.yaml", &spec)
        .write(
            "f.py",
            "import json, os, sys, time
x, y, kind = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
slow = os.environ.get('TEST_SLOW_DIR')
if slow and os.path.exists(os.path.join(slow, 'slow')):
    open(os.path.join(slow, 'started'), 'a').write('x')
    open(os.path.join(slow, 'stage.pid'), 'w').write(str(os.getpid()))
    time.sleep(30)
if kind == 'bad':
    sys.exit('a bad kind')
json.dump({'loss': (x - 1) ** 2 + (y + 2) ** 2 + (0 if kind == 'b' else 1)}, open('m.json', 'w'))
",
        )
        .write("params.yaml", "x: 0.0\ny: 0\nkind: a\n")
}

fn trials(t: Test) -> serde_json::Value {
    let out = t.args(["tune", "show", "--json"]).success();
    serde_json::from_str(&out.stdout).unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.join(".wf/runs.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Each trial's params, in trial order.
fn params_by_trial(study: &serde_json::Value) -> Vec<String> {
    let mut list: Vec<(u64, String)> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["trial"].as_u64().unwrap(), t["params"].to_string()))
        .collect();
    list.sort();
    list.into_iter().map(|(_, p)| p).collect()
}

#[test]
fn a_grid_study_visits_exactly_the_grid_and_runs_the_upstream_stage_once() {
    let t = project(
        "  objective: m.json:loss\n  direction: min\n  sampler: grid\n  space:\n    x: {float: [1, 2], step: 0.5}\n    kind: {choice: [a, b]}\n",
    );
    for args in [
        &["init", "-q"][..],
        &["add", "."],
        &["commit", "-q", "-m", "study"],
    ] {
        crate::test::git(t.path(), args);
    }
    let out = t
        .args(["tune", "-j", "2"])
        .stdout_contains("Best trial")
        .stdout_contains("`wf exp apply")
        .success();
    let study = trials(out.test());
    let visited: BTreeSet<(String, String)> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["state"], "finished", "{t}");
            (
                t["params"]["x"].to_string(),
                t["params"]["kind"].to_string(),
            )
        })
        .collect();
    let grid: BTreeSet<(String, String)> = ["1.0", "1.5", "2.0"]
        .iter()
        .flat_map(|x| ["\"a\"", "\"b\""].map(|k| (x.to_string(), k.to_string())))
        .collect();
    assert_eq!(visited, grid);
    assert_eq!(study["trials"].as_array().unwrap().len(), 6);
    // Best first: x = 1, kind b has loss 4.
    assert_eq!(study["trials"][0]["value"], 4.0);
    assert_eq!(
        count(
            out.path(),
            "SELECT COUNT(*) FROM stages WHERE stage = 'prep' AND outcome = 'ran'"
        ),
        1,
        "the stage no tuned param reaches ran once"
    );
    // The study is done: running it again runs nothing more.
    out.test().args(["tune", "-j", "2"]).success();
    assert_eq!(trials(out.test())["trials"].as_array().unwrap().len(), 6);
    // The report shows the study: its best trial and its history.
    let report = out.test().args(["report", "--md"]).success();
    assert!(report.stdout.contains("### Tuning"), "{}", report.stdout);
    assert!(
        report.stdout.contains(&format!(
            "Best of 6 trials: trial {} `{}`, loss = 4.0",
            study["trials"][0]["trial"],
            study["trials"][0]["name"].as_str().unwrap()
        )),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("| Trial | State    | loss | Best so far |"),
        "{}",
        report.stdout
    );
    // The best trial applies like any experiment.
    let best = study["trials"][0]["name"].as_str().unwrap();
    out.test().args(["exp", "apply", best]).success();
    out.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .success();
}

#[test]
fn random_and_tpe_studies_with_a_seed_give_the_same_trials_twice() {
    for (sampler, n) in [("random", 5), ("tpe", 13)] {
        let block = format!(
            "  objective: m.json:loss\n  direction: min\n  trials: {n}\n  sampler: {sampler}\n  seed: 7\n  space:\n    x: {{float: [-5, 5]}}\n    y: {{int: [-4, 4], step: 2}}\n    kind: {{choice: [a, b]}}\n"
        );
        let runs: Vec<Vec<String>> = (0..2)
            .map(|_| {
                let out = project(&block).args(["tune", "-j", "1"]).success();
                params_by_trial(&trials(out.test()))
            })
            .collect();
        assert_eq!(runs[0].len(), n);
        assert_eq!(runs[0], runs[1], "{sampler}");
        let distinct: BTreeSet<&String> = runs[0].iter().collect();
        assert!(distinct.len() > n / 2, "{sampler}: {:?}", runs[0]);
    }
}

#[test]
fn a_failing_trial_is_recorded_and_the_study_goes_on() {
    let out = project(
        "  objective: m.json:loss\n  direction: min\n  sampler: grid\n  space:\n    kind: {choice: [bad, a, b]}\n",
    )
    .args(["tune", "-j", "1"])
    .stdout_contains("Best trial 2")
    .success();
    let study = trials(out.test());
    let states: Vec<&str> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["finished", "finished", "failed"]);
}

/// `wf tune -j 1` in `dir`, once its first trial's stage has started (and is slow, as `dir/slow`
/// makes it).
fn slow_study(dir: &std::path::Path) -> std::process::Child {
    std::fs::write(dir.join("slow"), "").unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["tune", "-j", "1"])
        .current_dir(dir)
        .env("TEST_SLOW_DIR", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("stage.pid").exists() {
        assert!(Instant::now() < deadline, "no trial started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_study_stopped_by_ctrl_c_continues_to_its_number_of_trials() {
    let t = project(
        "  objective: m.json:loss\n  direction: min\n  trials: 4\n  sampler: random\n  space:\n    x: {float: [-5, 5]}\n",
    );
    let dir = t.path().to_path_buf();
    let mut child = slow_study(&dir);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(
        count(&dir, "SELECT COUNT(*) FROM runs WHERE status = 'cancelled'"),
        1
    );
    std::fs::remove_file(dir.join("slow")).unwrap();
    t.again().args(["tune", "-j", "1"]).success();
    let study = trials(t.again());
    let finished = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "finished")
        .count();
    assert_eq!(finished, 4, "{study:#}");
    // More with -n.
    t.again().args(["tune", "-j", "1", "-n", "2"]).success();
    let numbers: Vec<u64> = trials(t.again())["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trial"].as_u64().unwrap())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_trial_left_running_by_a_killed_study_is_cancelled_when_it_continues() {
    let t = project(
        "  objective: m.json:loss\n  direction: min\n  trials: 3\n  sampler: random\n  space:\n    x: {float: [-5, 5]}\n",
    );
    let dir = t.path().to_path_buf();
    let mut child = slow_study(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    // The stage outlives a wf killed outright; it is stopped here, as a user would.
    let stage: i32 = std::fs::read_to_string(dir.join("stage.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(stage),
        nix::sys::signal::Signal::SIGKILL,
    );
    let states = |t: Test| -> Vec<String> {
        trials(t)["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(states(t.again()), ["running"]);
    std::fs::remove_file(dir.join("slow")).unwrap();
    t.again().args(["tune", "-j", "1"]).success();
    let mut after = states(t.again());
    after.sort();
    assert_eq!(after, ["cancelled", "finished", "finished", "finished"]);
}

#[test]
fn bad_tune_blocks_are_errors_at_their_place() {
    let cases = [
        (
            "  objective: m.json:loss\n  direction: min\n  space:\n    xx: {float: [0, 1]}\n",
            "pipeline.yaml:14:5",
            "did you mean `x`?",
        ),
        (
            "  objective: m.json:loss\n  direction: min\n  space:\n    x: {float: [2, 1]}\n",
            "pipeline.yaml:14:16",
            "lo must be below hi",
        ),
        (
            "  objective: m.json:loss\n  direction: min\n  space:\n    x: {float: [0, 1], log: true}\n",
            "pipeline.yaml:14:17",
            "a log scale needs lo > 0",
        ),
        (
            "  objective: metrics.json:loss\n  direction: min\n  space:\n    x: {float: [0, 1]}\n",
            "pipeline.yaml:11:14",
            "the metrics files are `m.json`",
        ),
        (
            "  objective: m.json:loss\n  space:\n    x: {float: [0, 1]}\n",
            "pipeline.yaml:11:3",
            "`direction: max`",
        ),
        (
            "  objective: m.json:loss\n  direction: min\n  sampler: grid\n  space:\n    x: {float: [0, 1]}\n",
            "pipeline.yaml:15:8",
            "give it a `step`",
        ),
    ];
    for (block, at, says) in cases {
        project(block)
            .arg("tune")
            .status(2)
            .stderr_contains(at)
            .stderr_contains(says)
            .run();
    }
    Test::new()
        .write("pipeline.yaml", "stages:\n  s:\n    cmd: echo\n")
        .arg("tune")
        .status(2)
        .stderr_contains("has no `tune:` block")
        .run();
}

#[test]
fn the_iris_study_runs_its_trials_with_prepare_once() {
    let root = crate::test::project_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let out = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("specs/pipeline.yaml", &read("specs/pipeline.yaml"))
        .write("specs/params.yaml", &read("specs/params.yaml"))
        .write("data/iris.csv", &read("data/iris.csv"))
        .args(["-C", "specs", "tune", "-n", "4", "-j", "2"])
        .stdout_contains("Best trial")
        .success();
    let study = trials(out.test().args(["-C", "specs"]));
    assert_eq!(study["objective"], "out/metrics/svm.json:accuracy");
    let list = study["trials"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    for t in list {
        assert_eq!(t["state"], "finished", "{t}");
        assert!(t["value"].as_f64().is_some_and(|v| v > 0.3), "{t}");
        let c = t["params"]["train.svm.C"].as_f64().unwrap();
        assert!((0.01..=1000.0).contains(&c), "{t}");
    }
    for stage in ["prepare", "train@logreg"] {
        assert_eq!(
            count(
                out.path(),
                &format!("SELECT COUNT(*) FROM stages WHERE stage = '{stage}' AND outcome = 'ran'")
            ),
            1,
            "{stage}"
        );
    }
}

#[test]
fn a_dvc_project_takes_its_study_from_a_config_file() {
    let t = Test::new().copy_dir(&crate::test::project_root().join("examples/dvc-project"));
    let out = t
        .write(
            "tune.yaml",
            "tune:\n  objective: summary.json:long\n  direction: max\n  sampler: grid\n  space:\n    features.min_words: {int: [2, 4]}\n",
        )
        .args(["tune", "--config", "tune.yaml", "-j", "2"])
        .stdout_contains("Best trial")
        .success();
    let study = trials(out.test());
    let words: BTreeSet<i64> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["params"]["features.min_words"].as_i64().unwrap())
        .collect();
    assert_eq!(words, BTreeSet::from([2, 3, 4]));
    // Fewer words make more reviews long: the best is 2.
    assert_eq!(study["trials"][0]["params"]["features.min_words"], 2);
    // The config holds the study only.
    out.test()
        .write("bad.yaml", "tune:\n  objective: summary.json:long\n  direction: max\n  space: {report.top: {int: [1, 3]}}\nstages: {}\n")
        .args(["tune", "--config", "bad.yaml"])
        .status(2)
        .stderr_contains("bad.yaml:5:1")
        .stderr_contains("a tune config holds only `tune:`")
        .run();
}

/// Logs `loss` = x · (step + 1) at 8 steps through the MLflow REST API, a quarter second apart,
/// after writing its pid where the test finds it.
const STEPS: &str = r#"
import json, os, sys, time, urllib.request
x = float(sys.argv[1])
uri, token = os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_TRACKING_TOKEN"]
def call(path, body):
    req = urllib.request.Request(uri + "/api/2.0/mlflow/" + path, data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": "Bearer " + token,
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
run = call("runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
open(os.path.join(os.environ["TEST_DIR"], "pid-%g" % x), "w").write(str(os.getpid()))
for step in range(8):
    call("runs/log-metric", {"run_id": run, "key": "loss", "value": x * (step + 1),
                             "timestamp": int(time.time() * 1000), "step": step})
    time.sleep(0.25)
call("runs/update", {"run_id": run, "status": "FINISHED"})
json.dump({"loss": x * 8}, open("m.json", "w"))
"#;

/// Whether a process runs. A killed stage's process whose shell died first is reparented, and
/// where nothing reaps orphans (a container's first process often does not) it stays a zombie:
/// stopped all the same.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command's closing parenthesis: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[test]
fn a_trial_behind_the_median_is_pruned_and_its_process_stopped() {
    let t = Test::new()
        .write(
            "pipeline.yaml",
            "stages:
  f:
    cmd: python3 steps.py ${x}
    deps: [steps.py]
    params: [x]
    metrics: [m.json]
tune:
  objective: m.json:loss
  direction: min
  sampler: grid
  prune: {warmup_trials: 2}
  space:
    x: {choice: [1, 2, 3, 4]}
",
        )
        .write("steps.py", STEPS)
        .write("params.yaml", "x: 1\n");
    let dir = t.path().to_path_buf();
    let out = t
        .env("TEST_DIR", dir.to_str().unwrap())
        .args(["tune", "-j", "1"])
        .stderr_contains("Trial 2 '")
        .stderr_contains("' pruned at step 0: loss = 3.0 is worse than the median 1.5")
        .success();
    // Why the trial stops comes before its stage says it was stopped.
    let (note, stopped) = (
        out.stderr.find("pruned at step 0"),
        out.stderr.find("was interrupted"),
    );
    assert!(note < stopped, "{}", out.stderr);
    let study = trials(out.test());
    let states: Vec<(f64, String)> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["params"]["x"].as_f64().unwrap(),
                t["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (1.0, "finished".into()),
            (2.0, "finished".into()),
            (3.0, "pruned".into()),
            (4.0, "pruned".into())
        ]
    );
    for x in ["3", "4"] {
        let pid: i32 = std::fs::read_to_string(dir.join(format!("pid-{x}")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!running(pid), "the pruned trial's process {pid} is gone");
    }
    assert_eq!(
        count(
            &dir,
            "SELECT COUNT(*) FROM tags WHERE key = 'wf.pruned_step' AND value = '0'"
        ),
        2
    );
}

#[test]
fn a_study_that_cannot_take_the_repository_leaves_no_trial_queued() {
    let t = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write(
            "pipeline.yaml",
            "stages:
  hold:
    cmd: touch started && sleep 30
  f:
    cmd: sh f.sh ${x}
    deps: [f.sh]
    params: [x]
    metrics: [m.json]
tune:
  objective: m.json:v
  direction: max
  sampler: grid
  space:
    x: {choice: [1, 2]}
",
        )
        .write("f.sh", "printf '{\"v\": %s}\\n' \"$1\" > m.json\n")
        .write("params.yaml", "x: 0\n");
    let mut repro = crate::test::repro_until(t.path(), "started");
    t.again()
        .args(["tune", "-j", "1"])
        .status(2)
        .stderr_contains("lock")
        .run();
    let _ = repro.kill();
    let _ = repro.wait();
    let study = trials(t.again());
    let states: BTreeSet<&str> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, BTreeSet::from(["cancelled"]), "{study:#}");
}

#[test]
fn tune_show_lists_studies_and_names_them_when_one_is_unknown() {
    let t = project(
        "  objective: m.json:loss\n  direction: min\n  sampler: grid\n  space:\n    kind: {choice: [a, b]}\n",
    );
    t.again()
        .args(["tune", "show"])
        .stdout_contains("No study yet")
        .success();
    t.again()
        .args(["tune", "-j", "1", "--name", "first"])
        .success();
    t.again()
        .args([
            "tune",
            "-j",
            "1",
            "--name",
            "second",
            "--sampler",
            "random",
            "-n",
            "1",
        ])
        .success();
    t.again()
        .args(["tune", "show", "--md"])
        .stdout_contains("| Study  | Objective   | Direction | Trials |")
        .stdout_contains("| first  | m.json:loss | min       | 2      |")
        .stdout_contains("| second | m.json:loss | min       | 1      |")
        .success();
    t.again()
        .args(["tune", "show", "first", "--md"])
        .stdout_contains("| Trial | Experiment")
        .success();
    t.again()
        .args(["tune", "show", "third"])
        .status(2)
        .stderr_contains("no study named `third`")
        .stderr_contains("the studies are `first`, `second`")
        .run();
    // A bad `prune:` is an error at its place too.
    project("  objective: m.json:loss\n  direction: min\n  prune: sometimes\n  space:\n    x: {float: [0, 1]}\n")
        .arg("tune")
        .status(2)
        .stderr_contains("pipeline.yaml:13:10")
        .stderr_contains("`tune.prune` must be")
        .run();
}
