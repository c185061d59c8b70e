//! MLflow's tracking API during a run, through the real binary: each shell stage gets the
//! endpoint and its own token, what a script logs lands under the run in the store, and a user's
//! own tracking server is left alone. The test with MLflow's own Python client runs with the
//! interpreter named by `WF_MLFLOW_PYTHON` (made by `.ci/mlflow-env`), and is skipped without one
//! unless `WF_MLFLOW_REQUIRED=1`.

use std::path::Path;

use crate::test::{Test, project_root};

/// A stage that asks the endpoint, with Python's standard library only, what an unauthenticated
/// call, an unknown experiment and a param logged twice with two values get.
const PROBE: &str = r#"
import json, os, urllib.request, urllib.error

uri = os.environ["MLFLOW_TRACKING_URI"]
token = os.environ["MLFLOW_TRACKING_TOKEN"]

def call(method, path, body=None, auth=True):
    req = urllib.request.Request(uri + "/api/2.0/mlflow/" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

print("host", uri.split("//")[1].split(":")[0])
status, body = call("POST", "runs/create", {"experiment_id": "0"}, auth=False)
print("no token", status, body["error_code"])
status, body = call("GET", "experiments/get-by-name?experiment_name=nope")
print("unknown", status, body["error_code"])
status, body = call("POST", "runs/create", {"experiment_id": "0", "run_name": "probe"})
run = body["run"]["info"]["run_id"]
call("POST", "runs/log-parameter", {"run_id": run, "key": "C", "value": "1.0"})
status, body = call("POST", "runs/log-parameter", {"run_id": run, "key": "C", "value": "2.0"})
print("again", status, body["error_code"])
call("POST", "runs/log-metric", {"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1000, "step": 3})
call("POST", "runs/update", {"run_id": run, "status": "FINISHED", "end_time": 2000})
call("POST", "runs/create", {"experiment_id": "0", "run_name": "left-open"})
"#;

#[test]
fn a_shell_stage_logs_to_the_runs_endpoint_with_its_own_token() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  probe:\n    cmd: python3 probe.py\n    deps: [probe.py]\n",
        )
        .write("probe.py", PROBE)
        .arg("repro")
        .stdout_contains("probe | host 127.0.0.1\n")
        .stdout_contains("probe | no token 401 UNAUTHENTICATED\n")
        .stdout_contains("probe | unknown 404 RESOURCE_DOES_NOT_EXIST\n")
        .stdout_contains("probe | again 400 INVALID_PARAMETER_VALUE\n")
        .success();
    let db = rusqlite::Connection::open(out.path().join(".wf/runs.db")).unwrap();
    let (name, status, stage, parent_kind): (String, String, String, String) = db
        .query_row(
            "SELECT r.name, r.status, t.value, p.kind FROM runs r
             JOIN tags t ON t.run = r.id AND t.key = 'wf.stage'
             JOIN runs p ON p.id = r.parent
             WHERE r.kind = 'mlflow' AND r.name = 'probe'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (name.as_str(), status.as_str(), stage.as_str()),
        ("probe", "finished", "probe")
    );
    assert_eq!(parent_kind, "repro", "the MLflow run is the wf run's child");
    let param: String = db
        .query_row("SELECT value FROM params WHERE key = 'C'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(param, "1.0", "the refused second value changed nothing");
    let (value, step): (f64, i64) = db
        .query_row(
            "SELECT value, step FROM metrics WHERE key = 'loss'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((value, step), (0.5, 3));
    let open: String = db
        .query_row(
            "SELECT status FROM runs WHERE name = 'left-open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, "finished", "a run left open ends with its stage");
}

#[test]
fn a_tracking_server_of_the_users_own_is_left_alone() {
    let spec = "stages:\n  show:\n    cmd: echo \"uri=$MLFLOW_TRACKING_URI token=$MLFLOW_TRACKING_TOKEN\"\n";
    Test::new()
        .write("pipeline.yaml", spec)
        .env("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
        .arg("repro")
        .stdout_contains("show | uri=http://mlflow.example:5000 token=\n")
        .success();
    // A stage's own `env:` wins too.
    let spec = "stages:\n  show:\n    cmd: echo \"uri=$MLFLOW_TRACKING_URI token=$MLFLOW_TRACKING_TOKEN\"\n    env:\n      MLFLOW_TRACKING_URI: file:./mlruns\n";
    Test::new()
        .write("pipeline.yaml", spec)
        .arg("repro")
        .stdout_contains("show | uri=file:./mlruns token=\n")
        .success();
}

/// The interpreter with MLflow's client, if the test may run.
pub(crate) fn mlflow_python() -> Option<String> {
    let python = std::env::var("WF_MLFLOW_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        assert_ne!(
            std::env::var("WF_MLFLOW_REQUIRED").as_deref(),
            Ok("1"),
            "WF_MLFLOW_REQUIRED=1 but WF_MLFLOW_PYTHON names no interpreter (see .ci/mlflow-env)"
        );
    }
    python
}

#[test]
fn what_an_unmodified_mlflow_script_logs_is_in_exp_show() {
    let Some(python) = mlflow_python() else {
        return;
    };
    let script = project_root().join("tests/fixtures/mlflow/log_everything.py");
    let spec = format!(
        "stages:\n  train:\n    cmd: {python} {} ${{train.C}}\n    params: [train.C]\n",
        script.display()
    );
    let out = Test::new()
        .write("pipeline.yaml", &spec)
        .write("params.yaml", "train:\n  C: 1.0\n")
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .args(["exp", "run", "-n", "logged", "-S", "train.C=0.5"])
        .success();
    let shown = out.test().args(["exp", "show", "--json"]).success();
    let exps: Vec<serde_json::Value> = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(exps.len(), 1, "{exps:#?}");
    // The table has what the script logged as columns of its stage.
    assert_eq!(exps[0]["metrics"]["mlflow:train"]["accuracy"], 0.93);
    assert_eq!(
        exps[0]["metrics"]["mlflow:train"]["loss"], 0.2,
        "the last step's"
    );
    assert_eq!(exps[0]["params"]["mlflow:train"]["kernel"], "rbf");
    assert_eq!(exps[0]["params"]["params.yaml"]["train.C"], 0.5);
    let table = out
        .test()
        .args(["exp", "show", "--md", "--sort-by", "mlflow:train:accuracy"])
        .success();
    assert!(table.stdout.contains("| 0.93 "), "{}", table.stdout);
    let runs = exps[0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{:#}", exps[0]);
    let run = &runs[0];
    assert_eq!(run["stage"], "train");
    assert_eq!(run["status"], "finished");
    assert_eq!(run["name"], "svm-baseline");
    assert_eq!(
        run["params"],
        serde_json::json!({"C": "0.5", "kernel": "rbf", "gamma": "scale"})
    );
    let loss: Vec<(i64, f64)> = run["metrics"]["loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["step"].as_i64().unwrap(), p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        loss,
        (0..5)
            .map(|s| (s, 1.0 / (s as f64 + 1.0)))
            .collect::<Vec<_>>()
    );
    assert_eq!(run["metrics"]["accuracy"][0]["value"], 0.93);
    assert_eq!(run["tags"]["model"], "svm");
    assert_eq!(run["artifacts"], serde_json::json!(["report.txt"]));
    let id = run["id"].as_str().unwrap();
    let artifact = out
        .path()
        .join(".wf/runs")
        .join(id)
        .join("artifacts/report.txt");
    assert_eq!(
        std::fs::read_to_string(&artifact).unwrap(),
        "accuracy is fine\n"
    );
    // The script's own view, through MlflowClient: search with a filter, the metric history,
    // and the refusal of a param logged again with another value.
    let last = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("train | "))
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON from the script:\n{}", out.stdout));
    let got: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(got["found"], serde_json::json!([id]));
    assert_eq!(got["found_none"], 0);
    assert_eq!(got["error_code"], "INVALID_PARAMETER_VALUE");
    assert_eq!(got["same_experiment"], true);
    assert!(Path::new(&artifact).is_file());
}
