//! `wf serve` on 127.0.0.1 through a real HTTP client: each endpoint and input form, the same
//! predictions as `wf model predict`, and every bad input refused with its status and message.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::test::{Output, Test, project_root};

/// The Iris pipeline of `specs/`, run once: version 1 (logreg) is champion, 2 (svm) is not.
pub(crate) fn iris() -> Output {
    let root = project_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("specs/pipeline.yaml", &read("specs/pipeline.yaml"))
        .write("specs/params.yaml", &read("specs/params.yaml"))
        .write("data/iris.csv", &read("data/iris.csv"))
        .args(["-C", "specs", "repro", "-q"])
        .success()
}

/// A running `wf serve`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) stderr: PathBuf,
}

impl Server {
    /// `wf serve --port 0 ARGS` in `dir/specs`, once it printed its address.
    #[track_caller]
    pub(crate) fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut all = vec!["-C", "specs", "serve", "--port", "0"];
        all.extend_from_slice(args);
        Server::launch(dir, &all, env)
    }

    /// `wf ARGS` in `dir`, a server printing its address as its first line on stdout.
    #[track_caller]
    pub(crate) fn launch(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let stderr = tempfile::NamedTempFile::new_in(dir)
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wf"));
        cmd.args(args)
            .current_dir(dir)
            .env_remove("WF_SERVE_TOKEN")
            .env_remove("WF_UI_TOKEN")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(at) = line.find("http://") else {
            let _ = child.wait();
            panic!(
                "wf {args:?} printed {line:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap()
            );
        };
        Server {
            child,
            url: line[at..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string(),
            stderr,
        }
    }

    /// Sends `signal`.
    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Waits for the exit code.
    pub(crate) fn wait(mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }

    /// Sends `signal` and waits for the exit code.
    pub(crate) fn stop(self, signal: nix::sys::signal::Signal) -> Option<i32> {
        self.signal(signal);
        self.wait()
    }

    /// CPU seconds the server has used (user and system), from `/proc`.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that returns 4xx and 5xx answers rather than failing on them.
pub(crate) fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `POST url` with a body of this content type: the status and the body as JSON.
pub(crate) fn post(agent: &ureq::Agent, url: &str, content_type: &str, body: &str) -> (u16, Value) {
    let mut resp = agent
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
    (resp.status().as_u16(), value)
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    let mut resp = agent.get(url).call().unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn test_rows(dir: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(dir.join("out/prepared/test.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').take(4).map(|v| v.parse().unwrap()).collect())
        .collect();
    (header[..4].to_vec(), rows)
}

#[test]
fn predictions_in_every_form_equal_wf_model_predict() {
    let out = iris();
    let expected: Value = serde_json::from_str(
        &out.test()
            .args([
                "-C",
                "specs",
                "model",
                "predict",
                "../out/prepared/test.csv",
                "--json",
            ])
            .success()
            .stdout,
    )
    .unwrap();
    let labels = &expected["labels"];
    assert_eq!(labels.as_array().unwrap().len(), 30);
    let server = Server::start(out.path(), &[], &[]);
    let agent = client();
    let (features, rows) = test_rows(out.path());
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Object(
                features
                    .iter()
                    .cloned()
                    .zip(r.iter().map(|v| json!(v)))
                    .collect(),
            )
        })
        .collect();
    let json_type = "application/json";

    // wf's own: a list of records, then each record alone.
    let url = format!("{}/predict", server.url);
    let (status, many) = post(
        &agent,
        &url,
        json_type,
        &Value::Array(records.clone()).to_string(),
    );
    assert_eq!(status, 200, "{many}");
    assert_eq!(
        (many["version"].clone(), many["alias"].clone()),
        (json!(1), json!("champion"))
    );
    assert_eq!(many["model"], "logreg");
    let got: Vec<&Value> = many["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["label"])
        .collect();
    assert_eq!(
        Value::from(got.into_iter().cloned().collect::<Vec<_>>()),
        *labels
    );
    for (i, p) in many["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(p["probabilities"], expected["probabilities"][i], "row {i}");
        let sum: f64 = p["probabilities"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    }
    for (i, record) in records.iter().enumerate().step_by(7) {
        let (status, one) = post(&agent, &url, json_type, &record.to_string());
        assert_eq!(status, 200);
        assert_eq!(one["label"], labels[i]);
        assert_eq!(one["probabilities"], expected["probabilities"][i]);
        assert_eq!(one["hash"].as_str().unwrap().len(), 64);
    }

    // MLflow's scoring protocol, in each of its forms; extra columns (the label) are ignored.
    let invocations = format!("{}/invocations", server.url);
    let positional: Vec<Value> = rows.iter().map(|r| json!(r)).collect();
    let mut columns = serde_json::Map::new();
    for (j, f) in features.iter().enumerate() {
        columns.insert(f.clone(), rows.iter().map(|r| r[j]).collect());
    }
    let with_label: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["species"] = json!("?");
            r
        })
        .collect();
    let bodies = [
        json!({"dataframe_split": {"columns": features, "data": positional}}),
        json!({"dataframe_split": {"data": positional}}),
        json!({"dataframe_records": with_label}),
        json!({"instances": records}),
        json!({"instances": positional}),
        json!({"inputs": columns}),
        json!({"inputs": positional, "params": {}}),
    ];
    for body in &bodies {
        let (status, answer) = post(&agent, &invocations, json_type, &body.to_string());
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["predictions"],
            *labels,
            "{}",
            &body.to_string()[..40]
        );
    }
    let csv = std::fs::read_to_string(out.path().join("out/prepared/test.csv")).unwrap();
    let (status, answer) = post(&agent, &invocations, "text/csv", &csv);
    assert_eq!((status, &answer["predictions"]), (200, labels));
    assert_eq!(get(&agent, &format!("{}/ping", server.url)).0, 200);
    assert_eq!(
        get(&agent, &format!("{}/version", server.url)),
        (200, env!("CARGO_PKG_VERSION").to_string())
    );

    // The Open Inference Protocol: one tensor per feature, or one [rows, features] tensor.
    let infer = format!("{}/v2/models/champion/infer", server.url);
    let named: Vec<Value> = features
        .iter()
        .map(|f| json!({"name": f, "shape": [rows.len()], "datatype": "FP64", "data": columns[f]}))
        .collect();
    let one = json!([{"name": "input-0", "shape": [rows.len(), 4], "datatype": "FP32", "data": positional}]);
    for inputs in [Value::from(named), one] {
        let body = json!({"id": "r1", "inputs": inputs});
        let (status, answer) = post(&agent, &infer, json_type, &body.to_string());
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (&answer["id"], &answer["model_version"]),
            (&json!("r1"), &json!("1"))
        );
        assert_eq!(answer["outputs"][0]["name"], "label");
        assert_eq!(answer["outputs"][0]["data"], *labels);
        assert_eq!(answer["outputs"][1]["shape"], json!([30, 3]));
    }
    let versioned = format!("{}/v2/models/champion/versions/1/infer", server.url);
    let body =
        json!({"inputs": [{"name": "x", "shape": [4], "datatype": "FP64", "data": rows[0]}]});
    let (status, answer) = post(&agent, &versioned, json_type, &body.to_string());
    assert_eq!(
        (status, &answer["outputs"][0]["data"][0]),
        (200, &labels[0])
    );
    for path in [
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/champion/ready",
    ] {
        assert_eq!(
            get(&agent, &format!("{}{path}", server.url)).0,
            200,
            "{path}"
        );
    }
    let (status, meta) = get(&agent, &format!("{}/v2/models/champion", server.url));
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!((status, &meta["versions"]), (200, &json!(["1"])));
    assert_eq!(meta["inputs"][3]["name"], "petal_width");

    // /health and /metrics say what was served.
    let (status, health) = get(&agent, &format!("{}/health", server.url));
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(
        (status, &health["status"], &health["version"]),
        (200, &json!("ok"), &json!(1))
    );
    assert_eq!(health["hash"], many["hash"]);
    assert_eq!(health["last_reload_error"], Value::Null);
    let (status, metrics) = get(&agent, &format!("{}/metrics", server.url));
    assert_eq!(status, 200);
    for line in [
        "wf_serve_requests_total{route=\"/predict\",status=\"200\"} 6",
        "wf_serve_model_version 1",
        "wf_serve_request_duration_seconds_count{route=\"/invocations\"} 8",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    // Setosa rows: 10 of the 30, each predicted by the list, 8 invocations and 2 infers; then
    // 2 of the single records (rows 0 and 7) and the versioned infer's row 0.
    let setosa = labels
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| *l == "setosa")
        .count();
    let line = format!(
        "wf_serve_predictions_total{{class=\"setosa\"}} {}",
        setosa * 11 + 3
    );
    assert!(metrics.contains(&line), "{line} not in\n{metrics}");
}

#[test]
fn an_idle_server_following_the_champion_does_no_work() {
    let out = iris();
    let server = Server::start(out.path(), &[], &[]);
    std::thread::sleep(Duration::from_millis(500));
    let before = server.cpu_seconds();
    std::thread::sleep(Duration::from_secs(3));
    let used = server.cpu_seconds() - before;
    // Reading the aliases once a second costs well under a millisecond each time.
    assert!(used < 0.1, "{used} s of CPU in 3 idle seconds");
}

/// MLflow's own scoring client, with the inputs it knows: a pandas DataFrame (sent as
/// `dataframe_split` with its index), a numpy array and a dict of columns (as `inputs`), params.
const MLFLOW_CLIENT: &str = r#"
import json, sys
import numpy as np
import pandas as pd
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

host, port, csv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = ScoringServerClient(host, port)
client.wait_server_ready(timeout=10)
frame = pd.read_csv(csv)
features = frame.drop(columns=["species"])
answers = {
    "frame": client.invoke(frame)["predictions"],
    "array": client.invoke(features.to_numpy())["predictions"],
    "columns": client.invoke({c: features[c].to_numpy() for c in features.columns})["predictions"],
    "params": client.invoke(features, params={"unused": 1})["predictions"],
    "version": client.get_version(),
}
print(json.dumps(answers))
"#;

#[test]
fn mlflows_own_scoring_client_gets_the_labels_of_wf_model_predict() {
    let Some(python) = crate::tracking::mlflow_python() else {
        return;
    };
    let out = iris();
    let expected: Value = serde_json::from_str(
        &out.test()
            .args([
                "-C",
                "specs",
                "model",
                "predict",
                "../out/prepared/test.csv",
                "--json",
            ])
            .success()
            .stdout,
    )
    .unwrap();
    let server = Server::start(out.path(), &[], &[]);
    let (host, port) = server
        .url
        .trim_start_matches("http://")
        .split_once(':')
        .unwrap();
    let script = out.path().join("client.py");
    std::fs::write(&script, MLFLOW_CLIENT).unwrap();
    let run = Command::new(&python)
        .arg(&script)
        .args([host, port])
        .arg(out.path().join("out/prepared/test.csv"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let answers: Value = serde_json::from_str(&stdout).unwrap();
    for form in ["frame", "array", "columns", "params"] {
        assert_eq!(answers[form], expected["labels"], "{form}");
    }
    assert_eq!(answers["version"], env!("CARGO_PKG_VERSION"));
}
