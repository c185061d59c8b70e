//! `runs/search` through the router: MLflow's filters on metrics, params, tags and attributes,
//! its orders, and paging.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::api_tests::{Api, api, refused};

/// Three finished runs in experiment 1: `a` (acc 0.95, C 1.0), `b` (acc 0.85, C 0.5), and `c`
/// (no acc, C 1.0, still running), started in that order.
async fn three() -> (Api, [String; 3]) {
    let api = api();
    api.ok("experiments/create", json!({"name": "iris"})).await;
    let mut ids = Vec::new();
    for (i, (name, acc, c)) in [
        ("a", Some(0.95), "1.0"),
        ("b", Some(0.85), "0.5"),
        ("c", None, "1.0"),
    ]
    .into_iter()
    .enumerate()
    {
        let start = 1_700_000_000_000_i64 + i64::try_from(i).unwrap() * 1000;
        let id = api
            .run(json!({"experiment_id": "1", "run_name": name, "start_time": start,
                        "tags": [{"key": "model", "value": if name == "b" { "tree" } else { "svm" }}]}))
            .await;
        let mut batch = json!({"run_id": id, "params": [{"key": "C", "value": c}]});
        if let Some(acc) = acc {
            batch["metrics"] = json!([{"key": "acc", "value": acc, "timestamp": start, "step": 0}]);
        }
        api.ok("runs/log-batch", batch).await;
        if name != "c" {
            api.ok("runs/update", json!({"run_id": id, "status": "FINISHED"}))
                .await;
        }
        ids.push(id);
    }
    let ids = [ids[0].clone(), ids[1].clone(), ids[2].clone()];
    (api, ids)
}

fn names(v: &Value) -> Vec<String> {
    v["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|r| r["info"]["run_name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn search(api: &Api, filter: &str, order_by: &[&str]) -> Vec<String> {
    let body = json!({"experiment_ids": ["1"], "filter": filter, "order_by": order_by});
    names(&api.ok("runs/search", body).await)
}

#[tokio::test]
async fn each_operator_of_mlflows_filter_selects_as_mlflow() {
    let (api, ids) = three().await;
    let cases = [
        ("", vec!["c", "b", "a"]),
        ("metrics.acc > 0.9", vec!["a"]),
        ("metrics.acc >= 0.85", vec!["b", "a"]),
        ("metrics.acc < 0.9", vec!["b"]),
        ("metrics.acc <= 0.95 and metrics.acc != 0.85", vec!["a"]),
        ("metrics.acc = 0.95", vec!["a"]),
        ("params.C = '1.0'", vec!["c", "a"]),
        ("params.C != '1.0'", vec!["b"]),
        ("params.`C` = \"0.5\"", vec!["b"]),
        ("tags.model LIKE 's%'", vec!["c", "a"]),
        ("tags.model ILIKE 'TR_E'", vec!["b"]),
        (
            "tags.missing IS NULL and tags.model IS NOT NULL",
            vec!["c", "b", "a"],
        ),
        ("attributes.status = 'FINISHED'", vec!["b", "a"]),
        ("status != 'FINISHED'", vec!["c"]),
        ("attribute.run_name = 'b'", vec!["b"]),
        ("`Run Name` LIKE '%a%'", vec!["a"]),
        ("attributes.start_time > 1700000000500", vec!["c", "b"]),
        ("created < 1700000000500", vec!["a"]),
        ("METRICS.acc > 0", vec![]),
        (
            "metrics.acc > 0.9 AND params.C = '1.0' and tags.model = 'svm'",
            vec!["a"],
        ),
    ];
    for (filter, want) in cases {
        if filter == "METRICS.acc > 0" {
            // Entity names are lowercase, as MLflow's.
            let body = json!({"experiment_ids": ["1"], "filter": filter});
            refused(
                api.post("runs/search", body).await,
                StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER_VALUE",
                "METRICS",
            );
            continue;
        }
        assert_eq!(search(&api, filter, &[]).await, want, "{filter}");
    }
    let filter = format!("attributes.run_id IN ('{}', '{}')", ids[0], ids[2]);
    assert_eq!(search(&api, &filter, &[]).await, ["c", "a"]);
    let filter = format!("run_id NOT IN ('{}')", ids[0]);
    assert_eq!(search(&api, &filter, &[]).await, ["c", "b"]);
    // Another experiment's runs are not searched.
    let body = json!({"experiment_ids": ["0"]});
    assert!(names(&api.ok("runs/search", body).await).is_empty());
}

#[tokio::test]
async fn orders_sort_as_mlflow_with_missing_values_last() {
    let (api, _) = three().await;
    let cases: [(&[&str], Vec<&str>); 6] = [
        (&["metrics.acc DESC"], vec!["a", "b", "c"]),
        (&["metrics.acc"], vec!["b", "a", "c"]),
        (&["metrics.acc ASC"], vec!["b", "a", "c"]),
        (&["attributes.start_time"], vec!["a", "b", "c"]),
        (
            &["params.C DESC", "attributes.start_time DESC"],
            vec!["c", "a", "b"],
        ),
        (&["tags.model", "`Created` DESC"], vec!["c", "a", "b"]),
    ];
    for (order, want) in cases {
        assert_eq!(search(&api, "", order).await, want, "{order:?}");
    }
}

#[tokio::test]
async fn pages_follow_their_tokens_to_the_end() {
    let (api, _) = three().await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"experiment_ids": ["1"], "max_results": 2, "order_by": ["attributes.start_time"]});
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let v = api.ok("runs/search", body).await;
        seen.extend(names(&v));
        match v.get("next_page_token") {
            Some(t) => token = Some(t.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_bad_filter_or_order_is_invalid_saying_why() {
    let (api, _) = three().await;
    let cases = [
        ("metrics.acc > 'high'", "takes a number"),
        ("params.C > '1'", "cannot be compared with `>`"),
        ("params.C = 1", "quoted string"),
        ("metrics.acc LIKE 0.9", "cannot be compared with `LIKE`"),
        ("attributes.colour = 'red'", "invalid attribute `colour`"),
        ("things.x = 'y'", "invalid entity type `things`"),
        (
            "metrics.acc > 0.9 or params.C = '1'",
            "`OR` is not supported",
        ),
        ("params.C = '1.0", "unterminated"),
        ("params.C", "expected a comparison"),
        ("params.C =", "expected a value"),
        ("status IN ('FINISHED')", "only run_id"),
        ("run_id = ('a')", "take a list"),
        ("params.C = '1' and", "expected a column"),
        ("params.C = '1' params.D = '2'", "expected `AND`"),
        ("metrics.acc > 0.9 ; drop", "unexpected character `;`"),
    ];
    for (filter, says) in cases {
        let body = json!({"experiment_ids": ["1"], "filter": filter});
        refused(
            api.post("runs/search", body).await,
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            says,
        );
    }
    for (order, says) in [
        ("metrics.acc UP", "`ASC` or `DESC`"),
        ("attributes.colour", "colour"),
    ] {
        let body = json!({"experiment_ids": ["1"], "order_by": [order]});
        refused(
            api.post("runs/search", body).await,
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            says,
        );
    }
}
