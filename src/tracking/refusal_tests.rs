//! What the API refuses, with MLflow's error codes: its limits, unknown runs and experiments,
//! deleted runs, and bodies no client should send; never a 500, always MLflow's error JSON.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::api_tests::{api, refused};

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const INVALID: &str = "INVALID_PARAMETER_VALUE";

fn metrics(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"key": format!("m{i}"), "value": 1.0, "timestamp": 1, "step": 0}))
        .collect()
}

fn pairs(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"key": format!("{prefix}{i}"), "value": "v"}))
        .collect()
}

#[tokio::test]
async fn a_batch_over_mlflows_limits_is_refused_naming_the_limit() {
    let api = api();
    let id = api.run(json!({})).await;
    let cases = [
        (json!({"metrics": metrics(1001)}), "at most 1000 metrics"),
        (json!({"params": pairs("p", 101)}), "at most 100 params"),
        (json!({"tags": pairs("t", 101)}), "at most 100 tags"),
        (
            json!({"metrics": metrics(901), "params": pairs("p", 100)}),
            "at most 1000 metrics, params, and tags",
        ),
    ];
    for (mut body, says) in cases {
        body["run_id"] = json!(id);
        refused(api.post("runs/log-batch", body).await, BAD, INVALID, says);
    }
    // At the limits, a batch is taken.
    let body = json!({"run_id": id, "metrics": metrics(900), "params": pairs("p", 100)});
    api.ok("runs/log-batch", body).await;
}

#[tokio::test]
async fn keys_and_values_over_mlflows_limits_or_with_bad_names_are_refused() {
    let api = api();
    let id = api.run(json!({})).await;
    let param = |key: String, value: String| json!({"run_id": id, "key": key, "value": value});
    let cases = [
        (param("C".into(), "x".repeat(6001)), "longer than 6000"),
        (param("k".repeat(251), "v".into()), "longer than 250"),
        (param("a;b".into(), "v".into()), "names may only contain"),
        (param("../up".into(), "v".into()), "must not resolve"),
        (param("a//b".into(), "v".into()), "must not resolve"),
        (param(String::new(), "v".into()), "must not resolve"),
    ];
    for (body, says) in cases {
        refused(
            api.post("runs/log-parameter", body).await,
            BAD,
            INVALID,
            says,
        );
    }
    api.ok("runs/log-parameter", param("C".into(), "x".repeat(6000)))
        .await;
    api.ok("runs/log-parameter", param("k".repeat(250), "v".into()))
        .await;
    let tag = json!({"run_id": id, "key": "t", "value": "x".repeat(8001)});
    refused(api.post("runs/set-tag", tag).await, BAD, INVALID, "8000");
    let dup =
        json!({"run_id": id, "params": [{"key": "d", "value": "1"}, {"key": "d", "value": "1"}]});
    refused(
        api.post("runs/log-batch", dup).await,
        BAD,
        INVALID,
        "duplicate",
    );
    let neg = json!({"run_id": id, "key": "m", "value": 1, "timestamp": -1});
    refused(
        api.post("runs/log-metric", neg).await,
        BAD,
        INVALID,
        "timestamp",
    );
}

#[tokio::test]
async fn unknown_runs_and_experiments_do_not_exist() {
    let api = api();
    let nf = StatusCode::NOT_FOUND;
    let gone = "RESOURCE_DOES_NOT_EXIST";
    let id = "0123456789abcdef0123456789abcdef";
    refused(
        api.get(&format!("runs/get?run_id={id}")).await,
        nf,
        gone,
        id,
    );
    let body = json!({"run_id": id, "key": "C", "value": "1"});
    refused(api.post("runs/log-parameter", body).await, nf, gone, id);
    let body = json!({"run_id": id, "status": "FINISHED"});
    refused(api.post("runs/update", body).await, nf, gone, id);
    refused(
        api.get(&format!("metrics/get-history?run_id={id}&metric_key=x"))
            .await,
        nf,
        gone,
        id,
    );
    let body = json!({"experiment_id": "42"});
    refused(api.post("runs/create", body).await, nf, gone, "42");
    // The wf run is no MLflow run: the API cannot write to it.
    let body = json!({"run_id": api.parent, "key": "C", "value": "1"});
    refused(
        api.post("runs/log-parameter", body).await,
        nf,
        gone,
        &api.parent,
    );
}

#[tokio::test]
async fn a_deleted_run_takes_no_more_logs_and_a_restored_one_does() {
    let api = api();
    let id = api.run(json!({})).await;
    api.ok("runs/delete", json!({"run_id": id})).await;
    let (_, v) = api.get(&format!("runs/get?run_id={id}")).await;
    assert_eq!(v["run"]["info"]["lifecycle_stage"], "deleted");
    let body = json!({"run_id": id, "key": "m", "value": 1, "timestamp": 1});
    refused(
        api.post("runs/log-metric", body.clone()).await,
        BAD,
        INVALID,
        "deleted",
    );
    let search = json!({"experiment_ids": ["0"]});
    let v = api.ok("runs/search", search.clone()).await;
    assert!(v["runs"].as_array().unwrap().is_empty(), "{v}");
    let v = api
        .ok(
            "runs/search",
            json!({"experiment_ids": ["0"], "run_view_type": "DELETED_ONLY"}),
        )
        .await;
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    api.ok("runs/restore", json!({"run_id": id})).await;
    api.ok("runs/log-metric", body).await;
}

#[tokio::test]
async fn malformed_bodies_and_missing_fields_are_invalid_naming_what() {
    let api = api();
    let id = api.run(json!({})).await;
    let cases = [
        (
            "runs/log-parameter",
            "{\"run_id\": ".to_string(),
            "malformed JSON",
        ),
        (
            "runs/log-parameter",
            "[1, 2]".to_string(),
            "invalid request",
        ),
        (
            "runs/log-parameter",
            "\"text\"".to_string(),
            "invalid request",
        ),
        (
            "runs/log-parameter",
            json!({"key": "C", "value": "1"}).to_string(),
            "'run_id'",
        ),
        (
            "runs/log-parameter",
            json!({"run_id": id, "value": "1"}).to_string(),
            "'key'",
        ),
        (
            "runs/log-parameter",
            json!({"run_id": id, "key": "C"}).to_string(),
            "'value'",
        ),
        (
            "runs/log-metric",
            json!({"run_id": id, "key": "m", "timestamp": 1}).to_string(),
            "'value'",
        ),
        (
            "runs/log-metric",
            json!({"run_id": id, "key": "m", "value": 1}).to_string(),
            "'timestamp'",
        ),
        (
            "runs/log-metric",
            json!({"run_id": id, "key": "m", "value": "high", "timestamp": 1}).to_string(),
            "value",
        ),
        (
            "runs/log-metric",
            json!({"run_id": id, "key": "m", "value": 1, "timestamp": 1, "step": 1.5}).to_string(),
            "step",
        ),
        (
            "runs/log-batch",
            json!({"run_id": id, "metrics": [{"key": "m", "timestamp": 1}]}).to_string(),
            "'metrics[0].value'",
        ),
        (
            "runs/log-batch",
            json!({"run_id": id, "params": {"a": 1}}).to_string(),
            "params",
        ),
        (
            "runs/update",
            json!({"run_id": id, "status": "DONE"}).to_string(),
            "DONE",
        ),
        (
            "runs/search",
            json!({"experiment_ids": ["x"]}).to_string(),
            "experiment_ids",
        ),
        (
            "runs/search",
            json!({"experiment_ids": ["0"], "max_results": 50001}).to_string(),
            "max_results",
        ),
        (
            "runs/search",
            json!({"experiment_ids": ["0"], "page_token": "abc"}).to_string(),
            "page_token",
        ),
        (
            "runs/search",
            json!({"experiment_ids": ["0"], "run_view_type": "SOME"}).to_string(),
            "SOME",
        ),
        (
            "experiments/create",
            json!({"name": {"a": 1}}).to_string(),
            "expected a string",
        ),
        ("experiments/create", json!({}).to_string(), "'name'"),
    ];
    for (path, body, says) in cases {
        let (status, v) = api.raw("POST", path, &body).await;
        assert_eq!(status, BAD, "{path} {body}: {v}");
        refused((status, v), BAD, INVALID, says);
    }
    refused(
        api.get("metrics/get-history?metric_key=x").await,
        BAD,
        INVALID,
        "'run_id'",
    );
    refused(api.get("runs/get?run_id=").await, BAD, INVALID, "'run_id'");
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large_in_mlflows_json() {
    let api = api();
    let body = format!("{{\"name\": \"{}\"}}", "x".repeat(17 * 1024 * 1024));
    let (status, v) = api.raw("POST", "experiments/create", &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error_code"], INVALID);
}

#[tokio::test]
async fn unknown_endpoints_and_wrong_methods_answer_in_mlflows_json() {
    let api = api();
    refused(
        api.get("runs/nothing").await,
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        "runs/nothing",
    );
    refused(
        api.get("runs/create").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_REQUEST",
        "GET",
    );
    let req = Request::get("/elsewhere").body(Body::empty()).unwrap();
    let (status, body) = api.send(req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_code"], "ENDPOINT_NOT_FOUND");
}
