//! The API driven through its router, without a network: each endpoint's answer and JSON shape,
//! MLflow's limits and error codes, auth, and bodies no client should send.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{ApiState, Auth, Tokens, router};
use crate::store::{NewRun, Store};

pub(super) struct Api {
    router: Router,
    pub(super) tmp: tempfile::TempDir,
    pub(super) parent: String,
    tokens: Tokens,
    token: String,
}

pub(super) fn api() -> Api {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let (parent, _) = store
        .begin(&NewRun {
            kind: "repro".into(),
            command: "wf repro".into(),
            started: 1.0,
            ..NewRun::default()
        })
        .unwrap();
    let tokens = Tokens::new();
    let token = tokens.issue("train");
    let state = ApiState::new(store, Some(parent.clone()), Auth::Stages(tokens.clone()));
    Api {
        router: router(state),
        tmp,
        parent,
        tokens,
        token,
    }
}

impl Api {
    pub(super) async fn send(&self, req: Request<Body>) -> (StatusCode, String) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    pub(super) async fn raw(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(format!("/api/2.0/mlflow/{path}"))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, text) = self.send(req).await;
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, value)
    }

    pub(super) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.raw("POST", path, &body.to_string()).await
    }

    pub(super) async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        self.raw("GET", path_and_query, "").await
    }

    /// A POST that must succeed.
    pub(super) async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        v
    }

    pub(super) async fn run(&self, body: Value) -> String {
        let v = self.ok("runs/create", body).await;
        v["run"]["info"]["run_id"].as_str().unwrap().to_string()
    }
}

#[track_caller]
pub(super) fn refused(answer: (StatusCode, Value), status: StatusCode, code: &str, says: &str) {
    let (got, v) = answer;
    assert_eq!((got, v["error_code"].as_str()), (status, Some(code)), "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains(says), "{message:?} does not say {says:?}");
}

#[tokio::test]
async fn health_answers_ok_without_a_token() {
    let api = api();
    let req = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(api.send(req).await, (StatusCode::OK, "OK".into()));
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_unauthenticated_and_never_echoed() {
    let api = api();
    for auth in [
        None,
        Some("Bearer 0123456789abcdef0123456789abcdef"),
        Some("Basic eDp5"),
    ] {
        let mut req = Request::get("/api/2.0/mlflow/experiments/get?experiment_id=0");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let (status, body) = api.send(req.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error_code"], "UNAUTHENTICATED");
        assert!(!body.contains("0123456789abcdef"), "{body}");
    }
    // Unknown endpoints too ask for a token first.
    let req = Request::get("/api/2.0/mlflow/nothing")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_server_token_is_one_for_all_and_its_runs_have_no_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let app = router(ApiState::new(store, None, Auth::Server("secret".into())));
    let req = |token: &str| {
        Request::post("/api/2.0/mlflow/runs/create")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from("{}"))
            .unwrap()
    };
    let res = app.clone().oneshot(req("wrong")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.oneshot(req("secret")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    let tags = v["run"]["data"]["tags"].as_array().unwrap();
    assert!(tags.iter().all(|t| t["key"] != "wf.stage"), "{v}");
}

#[tokio::test]
async fn set_experiment_finds_then_makes_then_finds_an_experiment() {
    let api = api();
    refused(
        api.get("experiments/get-by-name?experiment_name=iris")
            .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "iris",
    );
    let v = api.ok("experiments/create", json!({"name": "iris"})).await;
    assert_eq!(v, json!({"experiment_id": "1"}));
    refused(
        api.post("experiments/create", json!({"name": "iris"}))
            .await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "iris",
    );
    let (status, v) = api.get("experiments/get?experiment_id=1").await;
    assert_eq!(status, StatusCode::OK);
    let e = &v["experiment"];
    assert_eq!(
        (&e["experiment_id"], &e["name"]),
        (&json!("1"), &json!("iris"))
    );
    assert_eq!(e["lifecycle_stage"], "active");
    let location = api.tmp.path().join(".wf/runs");
    assert_eq!(
        e["artifact_location"],
        format!("file://{}", location.display())
    );
    assert!(
        e["creation_time"].as_i64().unwrap() > 1_600_000_000_000,
        "{e}"
    );
    let (_, v) = api
        .get("experiments/get-by-name?experiment_name=iris")
        .await;
    assert_eq!(v["experiment"]["experiment_id"], "1");
    // As MLflow: Default is experiment 0.
    let (_, v) = api
        .get("experiments/get-by-name?experiment_name=Default")
        .await;
    assert_eq!(v["experiment"]["experiment_id"], "0");
    refused(
        api.get("experiments/get?experiment_id=7").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "7",
    );
    refused(
        api.get("experiments/get?experiment_id=abc").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "experiment_id",
    );
    refused(
        api.post("experiments/create", json!({"name": "  "})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "name",
    );
}

#[tokio::test]
async fn experiments_are_searched_by_name_ordered_and_paged() {
    let api = api();
    for name in ["iris", "iris-tuned", "wine"] {
        api.ok("experiments/create", json!({"name": name})).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    let cases = [
        ("name = 'wine'", vec!["wine"]),
        ("name LIKE 'iris%'", vec!["iris", "iris-tuned"]),
        ("attributes.name ILIKE 'IRIS'", vec!["iris"]),
        ("name != 'wine'", vec!["Default", "iris", "iris-tuned"]),
    ];
    for (filter, want) in cases {
        let body = json!({"filter": filter, "order_by": ["name ASC"]});
        assert_eq!(
            names(&api.ok("experiments/search", body).await),
            want,
            "{filter}"
        );
    }
    // The GET form, as MLflow's server takes it: a field given twice is a list.
    let (status, v) = api
        .get("experiments/search?order_by=name%20DESC&max_results=2&view_type=ACTIVE_ONLY")
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["wine", "iris-tuned"]);
    let token = v["next_page_token"].as_str().unwrap();
    let body = json!({"order_by": ["name DESC"], "max_results": 2, "page_token": token});
    let v = api.ok("experiments/search", body).await;
    assert_eq!(names(&v), ["iris", "Default"]);
    assert!(v.get("next_page_token").is_none(), "{v}");
    refused(
        api.post("experiments/search", json!({"filter": "metrics.x > 1"}))
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "metrics",
    );
}

#[tokio::test]
async fn a_run_is_made_logged_to_read_and_finished_with_mlflow_shapes() {
    let api = api();
    let v = api
        .ok(
            "runs/create",
            json!({"experiment_id": "0", "run_name": "baseline", "start_time": 1_700_000_000_123_i64,
                   "tags": [{"key": "mlflow.user", "value": "ada"}], "user_id": "ada"}),
        )
        .await;
    let info = &v["run"]["info"];
    let id = info["run_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(info["run_uuid"], id.as_str());
    assert_eq!(info["run_name"], "baseline");
    assert_eq!(info["experiment_id"], "0");
    assert_eq!(info["user_id"], "ada");
    assert_eq!(info["status"], "RUNNING");
    assert_eq!(info["start_time"], 1_700_000_000_123_i64);
    assert_eq!(info["lifecycle_stage"], "active");
    assert!(info.get("end_time").is_none(), "{info}");
    let dir = api.tmp.path().join(".wf/runs").join(&id).join("artifacts");
    assert_eq!(info["artifact_uri"], format!("file://{}", dir.display()));
    assert!(dir.is_dir());
    assert_eq!(v["run"]["inputs"], json!({}));

    let log = |path: &'static str, body: Value| {
        let api = &api;
        async move { assert_eq!(api.ok(path, body).await, json!({})) }
    };
    log(
        "runs/log-parameter",
        json!({"run_id": id, "key": "C", "value": "1.0"}),
    )
    .await;
    // The same value again is fine, as in MLflow.
    log(
        "runs/log-parameter",
        json!({"run_uuid": id, "key": "C", "value": "1.0"}),
    )
    .await;
    for step in 0..3 {
        let body = json!({"run_id": id, "key": "loss", "value": 1.0 / f64::from(step + 1),
                          "timestamp": 1_700_000_001_000_i64 + i64::from(step), "step": step});
        log("runs/log-metric", body).await;
    }
    let batch = json!({"run_id": id,
        "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1_700_000_002_000_i64, "step": 0},
                    {"key": "acc", "value": "NaN", "timestamp": "1700000002001", "step": "1"}],
        "params": [{"key": "kernel", "value": "rbf"}],
        "tags": [{"key": "model", "value": "svm"}]});
    log("runs/log-batch", batch).await;
    log(
        "runs/set-tag",
        json!({"run_id": id, "key": "note", "value": "x"}),
    )
    .await;
    log("runs/delete-tag", json!({"run_id": id, "key": "note"})).await;
    refused(
        api.post("runs/delete-tag", json!({"run_id": id, "key": "note"}))
            .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "note",
    );
    log("runs/log-inputs", json!({"run_id": id, "datasets": []})).await;
    log("runs/log-model", json!({"run_id": id, "model_json": "{}"})).await;

    let (status, v) = api.get(&format!("runs/get?run_id={id}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let data = &v["run"]["data"];
    assert_eq!(
        data["params"],
        json!([{"key": "C", "value": "1.0"}, {"key": "kernel", "value": "rbf"}])
    );
    assert_eq!(
        data["metrics"],
        json!([{"key": "acc", "value": "NaN", "timestamp": 1_700_000_002_001_i64, "step": 1},
               {"key": "loss", "value": 1.0 / 3.0, "timestamp": 1_700_000_001_002_i64, "step": 2}])
    );
    let tags = data["tags"].as_array().unwrap();
    for (k, want) in [
        ("model", "svm"),
        ("wf.stage", "train"),
        ("mlflow.runName", "baseline"),
    ] {
        assert!(
            tags.contains(&json!({"key": k, "value": want})),
            "{k}: {tags:?}"
        );
    }
    assert!(!tags.iter().any(|t| t["key"] == "note"));

    let (_, v) = api
        .get(&format!("metrics/get-history?run_id={id}&metric_key=loss"))
        .await;
    let steps: Vec<_> = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].clone())
        .collect();
    assert_eq!(steps, [json!(0), json!(1), json!(2)]);
    let (_, v) = api
        .get(&format!(
            "metrics/get-history?run_id={id}&metric_key=loss&max_results=2"
        ))
        .await;
    assert_eq!(v["metrics"].as_array().unwrap().len(), 2);
    assert_eq!(v["next_page_token"], "2");

    let v = api
        .ok(
            "runs/update",
            json!({"run_id": id, "status": "FINISHED", "end_time": 1_700_000_009_000_i64}),
        )
        .await;
    assert_eq!(v["run_info"]["status"], "FINISHED");
    assert_eq!(v["run_info"]["end_time"], 1_700_000_009_000_i64);
    // As MLflow: a finished run still takes logs.
    log(
        "runs/set-tag",
        json!({"run_id": id, "key": "late", "value": "yes"}),
    )
    .await;

    // The same API under the path MLflow's web UI calls.
    let req = Request::get(format!("/ajax-api/2.0/mlflow/runs/get?run_id={id}"))
        .header("authorization", format!("Bearer {}", api.token))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.0, StatusCode::OK);

    let store = Store::open(api.tmp.path()).unwrap();
    let children = store.children(&api.parent).unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].status, "finished");
    assert!(children[0].metrics["acc"][1].value.is_nan());
}

#[tokio::test]
async fn a_param_logged_again_with_a_new_value_is_refused_and_changes_nothing() {
    let api = api();
    let id = api.run(json!({})).await;
    api.ok(
        "runs/log-parameter",
        json!({"run_id": id, "key": "C", "value": "1.0"}),
    )
    .await;
    refused(
        api.post(
            "runs/log-parameter",
            json!({"run_id": id, "key": "C", "value": "2.0"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "key='C'",
    );
    // A refused batch keeps none of its other values.
    let batch = json!({"run_id": id, "params": [{"key": "C", "value": "3.0"}],
                       "tags": [{"key": "t", "value": "v"}]});
    refused(
        api.post("runs/log-batch", batch).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "'3.0'",
    );
    let (_, v) = api.get(&format!("runs/get?run_id={id}")).await;
    assert_eq!(
        v["run"]["data"]["params"],
        json!([{"key": "C", "value": "1.0"}])
    );
    assert!(
        !v["run"]["data"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "t")
    );
}

#[tokio::test]
async fn runs_without_a_name_get_one_and_names_stay_unique_in_the_store() {
    let api = api();
    let a = api.run(json!({"run_name": "a"})).await;
    let b = api.run(json!({"run_name": "a"})).await;
    let c = api.run(json!({})).await;
    let d = api.run(json!({"run_name": "run-2"})).await;
    let (_, v) = api.get(&format!("runs/get?run_id={c}")).await;
    let made_up = v["run"]["info"]["run_name"].as_str().unwrap().to_string();
    assert_eq!(made_up.split('-').count(), 3, "{made_up}");
    let (_, v) = api.get(&format!("runs/get?run_id={b}")).await;
    assert_eq!(v["run"]["info"]["run_name"], "a");
    let store = Store::open(api.tmp.path()).unwrap();
    let names: Vec<_> = store
        .children(&api.parent)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    assert_eq!(
        names,
        [
            (a, "a".into()),
            (b, "a-2".into()),
            (c, made_up),
            (d, "run-2-2".into())
        ]
    );
    // The store's own runs keep their `run-N` names.
    drop(store);
    let (_, name) = Store::open(api.tmp.path())
        .unwrap()
        .begin(&NewRun {
            kind: "repro".into(),
            command: "wf repro".into(),
            ..NewRun::default()
        })
        .unwrap();
    assert!(name.starts_with("run-"), "{name}");
}

#[tokio::test]
async fn each_stage_token_tags_its_runs_with_its_stage() {
    let api = api();
    let eval = api.tokens.issue("eval");
    assert_eq!(eval.len(), 32);
    assert_ne!(eval, api.token);
    let req = Request::post("/api/2.0/mlflow/runs/create")
        .header("authorization", format!("Bearer {eval}"))
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(api.send(req).await.0, StatusCode::OK);
    api.run(json!({})).await;
    let store = Store::open(api.tmp.path()).unwrap();
    let stages: Vec<_> = store
        .children(&api.parent)
        .unwrap()
        .into_iter()
        .map(|r| r.stage.unwrap())
        .collect();
    assert_eq!(stages, ["eval", "train"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stages_logging_at_once_each_keep_every_value() {
    let api = api();
    let eval_token = api.tokens.issue("eval");
    let train = api.run(json!({})).await;
    let req = Request::post("/api/2.0/mlflow/runs/create")
        .header("authorization", format!("Bearer {eval_token}"))
        .body(Body::from("{}"))
        .unwrap();
    let (_, body) = api.send(req).await;
    let eval: Value = serde_json::from_str(&body).unwrap();
    let eval = eval["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let calls = (0..40).map(|i| {
        let (run, token) = if i % 2 == 0 {
            (&train, &api.token)
        } else {
            (&eval, &eval_token)
        };
        let body = json!({"run_id": run, "key": "loss", "value": i, "timestamp": i, "step": i / 2});
        let req = Request::post("/api/2.0/mlflow/runs/log-metric")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.to_string()))
            .unwrap();
        api.send(req)
    });
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let store = Store::open(api.tmp.path()).unwrap();
    for child in store.children(&api.parent).unwrap() {
        assert_eq!(child.metrics["loss"].len(), 20, "{}", child.name);
    }
}
