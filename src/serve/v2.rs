//! The Open Inference Protocol (v2) that KServe, Triton and MLServer clients speak:
//! `GET /v2`, `/v2/health/live`, `/v2/health/ready`, `/v2/models/{name}[/versions/{v}]`,
//! `.../ready`, and `POST .../infer`.
//!
//! `infer` takes either one tensor per feature, named as the feature (shape `[N]` or `[N, 1]`),
//! or one tensor of shape `[N, features]` (or `[features]` for one row) in the model's feature
//! order; `data` may be flat or nested. It answers two outputs: `label` (BYTES, `[N]`) and
//! `probabilities` (FP64, `[N, classes]`, classes in the order of the model's metadata).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::input::{self, Rows};
use super::loaded::Loaded;
use super::routes::body;
use super::state::Shared;

const NUMERIC: [&str; 11] = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32",
    "FP64",
];

/// `GET /v2`: the server's metadata.
pub(crate) async fn server() -> Json<Value> {
    Json(json!({ "name": "wf", "version": env!("CARGO_PKG_VERSION"), "extensions": [] }))
}

/// `GET /v2/health/live`.
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// `GET /v2/health/ready`: a model is always loaded once the server listens.
pub(crate) async fn ready() -> Json<Value> {
    Json(json!({ "ready": true }))
}

/// The model named in the path, at the version named (if any), or 404.
fn check(shared: &Shared, name: &str, version: Option<&str>) -> Result<Arc<Loaded>, ApiError> {
    if name != shared.name {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no model `{name}`: this server serves `{}`", shared.name),
        ));
    }
    let loaded = shared.current();
    match version {
        Some(v) if v != loaded.version.to_string() => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "version {v} of `{name}` is not served: version {} is",
                loaded.version
            ),
        )),
        _ => Ok(loaded),
    }
}

fn metadata(shared: &Shared, loaded: &Loaded) -> Json<Value> {
    let inputs: Vec<Value> = loaded
        .features()
        .iter()
        .map(|f| json!({ "name": f, "datatype": "FP64", "shape": [-1] }))
        .collect();
    Json(json!({
        "name": shared.name,
        "versions": [loaded.version.to_string()],
        "platform": format!("wf-{}", loaded.kind),
        "inputs": inputs,
        "outputs": [
            { "name": "label", "datatype": "BYTES", "shape": [-1] },
            { "name": "probabilities", "datatype": "FP64", "shape": [-1, loaded.classes().len()] },
        ],
        "parameters": { "classes": loaded.classes() },
    }))
}

/// `GET /v2/models/{name}`.
pub(crate) async fn model(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let loaded = check(&shared, &name, None)?;
    Ok(metadata(&shared, &loaded))
}

/// `GET /v2/models/{name}/versions/{version}`.
pub(crate) async fn model_version(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let loaded = check(&shared, &name, Some(&version))?;
    Ok(metadata(&shared, &loaded))
}

/// `GET /v2/models/{name}/ready`.
pub(crate) async fn model_ready(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check(&shared, &name, None)?;
    Ok(Json(json!({ "name": name, "ready": true })))
}

#[derive(Deserialize)]
struct Request {
    id: Option<String>,
    inputs: Vec<Tensor>,
}

#[derive(Deserialize)]
struct Tensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    data: Value,
}

/// `POST /v2/models/{name}/infer`.
pub(crate) async fn infer(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    answer(&shared, &name, None, &headers, bytes)
}

/// `POST /v2/models/{name}/versions/{version}/infer`.
pub(crate) async fn infer_version(
    State(shared): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    answer(&shared, &name, Some(&version), &headers, bytes)
}

fn answer(
    shared: &Shared,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let loaded = check(shared, name, version)?;
    // Clients of this protocol do not all send a Content-Type; one that is sent must be JSON.
    let media = input::media_type(headers);
    if media.as_deref().is_some_and(|m| !input::is_json(m)) {
        return Err(input::unsupported(media.as_deref(), "application/json"));
    }
    let value = input::json(&body(bytes)?)?;
    let request: Request = serde_json::from_value(value).map_err(|e| {
        ApiError::bad(format!(
            "not an inference request ({{\"inputs\": [{{\"name\", \"shape\", \"datatype\", \"data\"}}]}}): {e}"
        ))
    })?;
    let rows = rows(&request.inputs, &loaded)?;
    let scored = loaded.predict(&rows.values);
    let labels: Vec<&str> = scored.iter().map(|s| loaded.label(s)).collect();
    let probabilities: Vec<f64> = scored
        .iter()
        .flat_map(|s| s.probabilities.iter().copied())
        .collect();
    let mut out = json!({
        "model_name": shared.name,
        "model_version": loaded.version.to_string(),
        "outputs": [
            { "name": "label", "datatype": "BYTES", "shape": [rows.count], "data": labels },
            {
                "name": "probabilities",
                "datatype": "FP64",
                "shape": [rows.count, loaded.classes().len()],
                "data": probabilities,
            },
        ],
    });
    if let Some(id) = request.id {
        out["id"] = Value::String(id);
    }
    Ok(Json(out))
}

fn rows(inputs: &[Tensor], loaded: &Loaded) -> Result<Rows, ApiError> {
    if inputs.is_empty() {
        return Err(ApiError::bad("`inputs` is empty: send at least one tensor"));
    }
    let n = loaded.features().len();
    let mut flat = Vec::with_capacity(inputs.len());
    for t in inputs {
        if !NUMERIC.contains(&t.datatype.as_str()) {
            return Err(ApiError::bad(format!(
                "tensor `{}` has datatype `{}`; features are numbers ({})",
                t.name,
                t.datatype,
                NUMERIC.join(", ")
            )));
        }
        let values = flatten(&t.name, &t.data)?;
        let expected: i64 = t.shape.iter().product();
        if t.shape.iter().any(|d| *d < 0) || usize::try_from(expected).ok() != Some(values.len()) {
            return Err(ApiError::bad(format!(
                "tensor `{}` has shape {:?} but {} values",
                t.name,
                t.shape,
                values.len()
            )));
        }
        flat.push(values);
    }
    let named = inputs.iter().all(|t| loaded.index.contains_key(&t.name));
    if named {
        let names: Vec<&str> = inputs.iter().map(|t| t.name.as_str()).collect();
        let place = input::placement(&names, loaded, input::Extra::Refuse)?;
        let count = flat[0].len();
        if count == 0 {
            return Err(input::empty());
        }
        let mut values = vec![f64::NAN; count * n];
        for ((t, column), j) in inputs.iter().zip(&flat).zip(place) {
            if column.len() != count {
                return Err(ApiError::bad(format!(
                    "tensor `{}` has {} values where `{}` has {count}",
                    t.name,
                    column.len(),
                    inputs[0].name
                )));
            }
            for (i, v) in column.iter().enumerate() {
                if let Some(j) = j {
                    values[i * n + j] = *v;
                }
            }
        }
        return Ok(Rows { values, count });
    }
    let [t] = inputs else {
        return Err(ApiError::bad(format!(
            "send one tensor per feature, named as the features ({}), or one tensor of shape \
             [rows, {n}]",
            loaded.features().join(", ")
        )));
    };
    let width = t.shape.last().copied().unwrap_or(0);
    let values = flat.remove(0);
    if width != n as i64 || t.shape.len() > 2 {
        return Err(ApiError::bad(format!(
            "tensor `{}` has shape {:?}: a tensor that is not named as a feature must have \
             shape [rows, {n}], one column per feature in the order {}",
            t.name,
            t.shape,
            loaded.features().join(", ")
        )));
    }
    if values.is_empty() {
        return Err(input::empty());
    }
    Ok(Rows {
        count: values.len() / n,
        values,
    })
}

/// A tensor's `data`, flat or nested, as numbers (`true`/`false` as 1/0 for BOOL).
fn flatten(name: &str, data: &Value) -> Result<Vec<f64>, ApiError> {
    let mut out = Vec::new();
    let mut stack = vec![data];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Bool(b) => out.push(if *b { 1.0 } else { 0.0 }),
            other => out.push(input::number(other, || {
                format!("value {} of tensor `{name}`", out.len() + 1)
            })?),
        }
    }
    Ok(out)
}
