//! MLflow's scoring protocol, as `mlflow models serve` speaks it, so MLflow clients work
//! unchanged: `POST /invocations` with JSON holding exactly one of `dataframe_split`,
//! `dataframe_records`, `instances` or `inputs` (and optionally `params`, not used), or a
//! `text/csv` table → `{"predictions": [label, ...]}`; `GET /ping`; `GET /version`.
//! As MLflow does, columns the model does not read are ignored.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::error::{ApiError, Protocol};
use super::input::{self, Extra, Rows};
use super::loaded::Loaded;
use super::routes::body;
use super::state::Shared;

const FORMATS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

/// `POST /invocations`.
pub(crate) async fn invocations(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let answer = || -> Result<Json<Value>, ApiError> {
        let loaded = shared.current();
        let media = input::media_type(&headers);
        let bytes = body(bytes)?;
        let rows = match media.as_deref() {
            Some("text/csv") => input::csv(&bytes, &loaded)?,
            Some(m) if input::is_json(m) => from_json(&input::json(&bytes)?, &loaded)?,
            other => return Err(input::unsupported(other, "application/json or text/csv")),
        };
        let labels: Vec<&str> = loaded
            .predict(&rows.values)
            .iter()
            .map(|s| loaded.label(s))
            .collect();
        Ok(Json(json!({ "predictions": labels })))
    };
    answer().map_err(|e| e.in_protocol(Protocol::Mlflow))
}

fn from_json(value: &Value, loaded: &Loaded) -> Result<Rows, ApiError> {
    let Value::Object(fields) = value else {
        return Err(ApiError::bad(format!(
            "the body must be a JSON object with exactly one of {}, got {}",
            listed(),
            input::kind(value)
        )));
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !FORMATS.contains(&k.as_str()) && k.as_str() != "params")
    {
        return Err(ApiError::bad(format!(
            "unknown field `{other}`: the body holds exactly one of {} (and optionally `params`)",
            listed()
        )));
    }
    let given: Vec<&str> = FORMATS
        .into_iter()
        .filter(|f| fields.contains_key(*f))
        .collect();
    let [format] = given[..] else {
        return Err(ApiError::bad(format!(
            "the body must hold exactly one of {}, it holds {}",
            listed(),
            if given.is_empty() {
                "none".to_string()
            } else {
                given.join(" and ")
            }
        )));
    };
    let data = &fields[format];
    match (format, data) {
        ("dataframe_split", Value::Object(split)) => dataframe_split(split, loaded),
        ("dataframe_records", Value::Array(list)) => input::records(list, loaded, Extra::Ignore),
        ("instances" | "inputs", Value::Array(list)) => match list.first() {
            Some(Value::Array(_)) => input::positional(list, loaded),
            _ => input::records(list, loaded, Extra::Ignore),
        },
        ("instances" | "inputs", Value::Object(columns)) => {
            input::columnar(columns, loaded, Extra::Ignore)
        }
        (_, other) => Err(ApiError::bad(format!(
            "`{format}` must be {}, got {}",
            if format == "dataframe_split" {
                "an object with `columns` and `data`"
            } else {
                "a list"
            },
            input::kind(other)
        ))),
    }
}

/// `{"columns": [...], "data": [[...], ...]}`; without `columns`, values are in the model's
/// feature order.
fn dataframe_split(
    split: &serde_json::Map<String, Value>,
    loaded: &Loaded,
) -> Result<Rows, ApiError> {
    let Some(Value::Array(data)) = split.get("data") else {
        return Err(ApiError::bad(
            "`dataframe_split` needs `data`, a list of rows",
        ));
    };
    match split.get("columns") {
        None => input::positional(data, loaded),
        Some(Value::Array(columns)) => {
            let names: Option<Vec<&str>> = columns.iter().map(Value::as_str).collect();
            let names = names.ok_or_else(|| {
                ApiError::bad("`dataframe_split.columns` must be a list of column names")
            })?;
            input::table(&names, data, loaded, Extra::Ignore)
        }
        Some(other) => Err(ApiError::bad(format!(
            "`dataframe_split.columns` must be a list of column names, got {}",
            input::kind(other)
        ))),
    }
}

fn listed() -> String {
    FORMATS
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /ping`: 200 while a model is served (always, once started).
pub(crate) async fn ping() -> &'static str {
    "\n"
}

/// `GET /version`: wf's version, where MLflow gives its own.
pub(crate) async fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
