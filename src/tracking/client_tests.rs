//! The acceptance test: MLflow's own Python client, unmodified, logging through a real `Server`
//! on loopback. It runs with the interpreter named by `WF_MLFLOW_PYTHON` (made by
//! `.ci/mlflow-env`), and is skipped without one unless `WF_MLFLOW_REQUIRED=1`.

use std::path::Path;

use super::Server;
use crate::store::{NewRun, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mlflow_client_logs_a_stage_run_into_the_store() {
    let Some(python) = std::env::var_os("WF_MLFLOW_PYTHON") else {
        assert_ne!(
            std::env::var("WF_MLFLOW_REQUIRED").as_deref(),
            Ok("1"),
            "WF_MLFLOW_REQUIRED=1 but WF_MLFLOW_PYTHON names no interpreter (see .ci/mlflow-env)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (parent, _) = Store::open(tmp.path())
        .unwrap()
        .begin(&NewRun {
            kind: "repro".into(),
            command: "wf repro".into(),
            started: 1.0,
            ..NewRun::default()
        })
        .unwrap();
    let mut server = Server::start(tmp.path(), Some(parent.clone()))
        .await
        .unwrap();
    let token = server.token_for("train");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlflow/log_everything.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .current_dir(tmp.path())
        .env("MLFLOW_TRACKING_URI", server.uri())
        .env("MLFLOW_TRACKING_TOKEN", &token)
        // No test touches the network: MLflow's usage telemetry stays off.
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("MLFLOW_EXPERIMENT_ID")
        .env_remove("MLFLOW_RUN_ID")
        .output()
        .await
        .unwrap();
    server.stop().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the script failed:\n{stderr}");
    // The client prints links to runs on stdout too; the script's JSON is its last line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    let got: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));

    // What the client read back.
    let run_id = got["run_id"].as_str().unwrap().to_string();
    assert_eq!(got["experiment_id"], "1", "{got}");
    assert_eq!(got["same_experiment"], true);
    assert_eq!(got["run_name"], "svm-baseline");
    assert_eq!(got["status"], "FINISHED");
    assert_eq!(got["lifecycle_stage"], "active");
    assert_eq!(
        got["params"],
        serde_json::json!({"C": "1.0", "kernel": "rbf", "gamma": "scale"})
    );
    assert_eq!(got["metrics"]["loss"], 0.2);
    assert_eq!(got["metrics"]["accuracy"], 0.93);
    assert_eq!(got["tags"]["model"], "svm");
    assert_eq!(got["tags"]["wf.stage"], "train");
    assert_eq!(got["found"], serde_json::json!([run_id]));
    assert_eq!(got["found_none"], 0);
    assert_eq!(
        got["history"],
        serde_json::json!([[0, 1.0], [1, 0.5], [2, 1.0 / 3.0], [3, 0.25], [4, 0.2]])
    );
    assert_eq!(got["error_code"], "INVALID_PARAMETER_VALUE");
    let artifacts = tmp.path().join(".wf/runs").join(&run_id).join("artifacts");
    assert_eq!(
        got["artifact_uri"].as_str().unwrap(),
        format!("file://{}", artifacts.display())
    );

    // What the store kept.
    let store = Store::open(tmp.path()).unwrap();
    let children = store.children(&parent).unwrap();
    assert_eq!(children.len(), 1, "{children:?}");
    let child = &children[0];
    assert_eq!(child.id, run_id);
    assert_eq!(child.name, "svm-baseline");
    assert_eq!(child.stage.as_deref(), Some("train"));
    assert_eq!(child.status, "finished");
    assert_eq!(child.params["C"], "1.0");
    let steps: Vec<_> = child.metrics["loss"].iter().map(|p| p.step).collect();
    assert_eq!(steps, [0, 1, 2, 3, 4]);
    assert!(child.metrics["loss"].iter().all(|p| p.timestamp > 1.0e9));
    assert_eq!(child.metrics["f1"][0].value, 0.91);
    assert_eq!(child.tags["model"], "svm");
    assert_eq!(child.tags["wf.stage"], "train");
    assert_eq!(child.artifacts, ["report.txt"]);
    assert_eq!(
        std::fs::read_to_string(artifacts.join("report.txt")).unwrap(),
        "accuracy is fine\n"
    );
}

#[tokio::test]
async fn the_server_listens_on_loopback_until_stopped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), None).await.unwrap();
    let uri = server.uri();
    let addr = uri.strip_prefix("http://127.0.0.1:").unwrap();
    let addr = format!("127.0.0.1:{addr}");
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("OK"), "{answer}");
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
}
