//! MLflow's JSON on the wire: the request messages as the official client sends them (protobuf's
//! JSON: int64 as numbers or strings, doubles maybe `"NaN"`, enums by name, unknown fields
//! ignored; a GET's fields in its query string), and the entities it parses back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{Method, StatusCode};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::ApiError;
use crate::store::{MlflowExperiment as Experiment, Point, RunRow};

/// The largest request body taken.
pub(crate) const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A request's message: a POST's JSON body, a GET's query string. Rejections are MLflow's error
/// JSON.
#[derive(Debug)]
pub(crate) struct Msg<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Msg<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = if req.method() == Method::GET {
            // As MLflow's server: a field given once is a value, given again a list.
            let Query(pairs) =
                Query::<Vec<(String, String)>>::try_from_uri(req.uri()).map_err(|e| {
                    ApiError::invalid(format!("invalid query string: {}", e.body_text()))
                })?;
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                match map.get_mut(&k) {
                    Some(Value::Array(list)) => list.push(Value::String(v)),
                    Some(one) => *one = Value::Array(vec![one.take(), Value::String(v)]),
                    None => drop(map.insert(k, Value::String(v))),
                }
            }
            Bytes::from(serde_json::to_vec(&map).map_err(|e| ApiError::invalid(e.to_string()))?)
        } else {
            Bytes::from_request(req, state).await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large(BODY_LIMIT)
                } else {
                    ApiError::invalid(format!("cannot read the request body: {}", e.body_text()))
                }
            })?
        };
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            bytes
        };
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(message)) => Ok(Msg(message)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::invalid(format!(
                "malformed JSON in the request: {}",
                e.body_text()
            ))),
            Err(e) => Err(ApiError::invalid(format!(
                "invalid request: {}",
                e.body_text()
            ))),
        }
    }
}

/// A field protobuf's JSON may give as a number or a string.
fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.filter(|v| !v.is_null()))
}

/// An int64: a number or a string of digits.
pub(crate) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected an integer, found {n}"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected an integer, found \"{s}\""))),
        Some(v) => Err(D::Error::custom(format!("expected an integer, found {v}"))),
    }
}

/// A double: a number, or a string (`"NaN"`, `"Infinity"`, `"-Infinity"` among them).
pub(crate) fn double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a number, found {n}"))),
        Some(Value::String(s)) => match s.trim() {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            t => t
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("expected a number, found \"{s}\""))),
        },
        Some(v) => Err(D::Error::custom(format!("expected a number, found {v}"))),
    }
}

/// A string; a number is taken as its digits (an experiment id sent as a number).
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => Err(D::Error::custom(format!("expected a string, found {v}"))),
    }
}

/// A repeated string field: a list, or one value (a GET's field given once).
pub(crate) fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let one = |v: Value| match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        v => Err(D::Error::custom(format!("expected a string, found {v}"))),
    };
    match value(d)? {
        None => Ok(Vec::new()),
        Some(Value::Array(list)) => list.into_iter().map(one).collect(),
        Some(v) => one(v).map(|s| vec![s]),
    }
}

/// A repeated message field; `null` is none.
pub(crate) fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A key and a value: a param or a tag.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct KeyValue {
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) value: Option<String>,
}

/// A metric value as the client sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct MetricIn {
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: Option<String>,
    #[serde(default, deserialize_with = "double")]
    pub(crate) value: Option<f64>,
    #[serde(default, deserialize_with = "int")]
    pub(crate) timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int")]
    pub(crate) step: Option<i64>,
}

/// MLflow's run status, by name or number.
pub(crate) fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let found = match value(d)? {
        None => return Ok(None),
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
    };
    let status = match found.as_str() {
        "RUNNING" | "1" => "running",
        "SCHEDULED" | "2" => "queued",
        "FINISHED" | "3" => "finished",
        "FAILED" | "4" => "failed",
        "KILLED" | "5" => "cancelled",
        _ => {
            return Err(D::Error::custom(format!(
                "invalid status \"{found}\": expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"
            )));
        }
    };
    Ok(Some(status.to_string()))
}

/// The MLflow name of a stored status.
pub(crate) fn status_name(stored: &str) -> &'static str {
    match stored {
        "queued" => "SCHEDULED",
        "finished" => "FINISHED",
        "failed" => "FAILED",
        "cancelled" => "KILLED",
        _ => "RUNNING",
    }
}

/// Which lifecycle stages a search sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum View {
    /// `ACTIVE_ONLY`, the default.
    #[default]
    Active,
    /// `DELETED_ONLY`.
    Deleted,
    /// `ALL`.
    All,
}

impl View {
    /// Whether a lifecycle stage is in view.
    pub(crate) fn shows(self, lifecycle: &str) -> bool {
        match self {
            View::Active => lifecycle == "active",
            View::Deleted => lifecycle == "deleted",
            View::All => true,
        }
    }
}

/// A view type, by name or number.
pub(crate) fn view<'de, D: Deserializer<'de>>(d: D) -> Result<View, D::Error> {
    let found = match value(d)? {
        None => return Ok(View::Active),
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
    };
    match found.as_str() {
        "ACTIVE_ONLY" | "1" => Ok(View::Active),
        "DELETED_ONLY" | "2" => Ok(View::Deleted),
        "ALL" | "3" => Ok(View::All),
        _ => Err(D::Error::custom(format!(
            "invalid view type \"{found}\": expected ACTIVE_ONLY, DELETED_ONLY or ALL"
        ))),
    }
}

/// As MLflow: a search returns at most this many at once.
const MAX_RESULTS: i64 = 50_000;

/// One page of a search's answers: where it starts, how many.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    start: usize,
    max: usize,
}

impl Page {
    /// The page a request asks for (`max_results` defaults to 1000, as MLflow).
    pub(crate) fn new(max_results: Option<i64>, token: Option<&str>) -> Result<Page, ApiError> {
        let max = max_results.unwrap_or(1000);
        if !(1..=MAX_RESULTS).contains(&max) {
            return Err(ApiError::invalid(format!(
                "invalid value {max} for max_results: expected 1 to {MAX_RESULTS}"
            )));
        }
        let start = match token.map(str::trim) {
            None | Some("") => 0,
            Some(t) => t
                .parse()
                .map_err(|_| ApiError::invalid(format!("invalid page_token '{t}'")))?,
        };
        Ok(Page {
            start,
            max: usize::try_from(max).unwrap_or(1000),
        })
    }

    /// This page of `items`, and the token of the next when there is one.
    pub(crate) fn of<'a, T>(&self, items: &'a [T]) -> (&'a [T], Option<String>) {
        let start = self.start.min(items.len());
        let end = start.saturating_add(self.max).min(items.len());
        let next = (end < items.len()).then(|| end.to_string());
        (&items[start..end], next)
    }
}

/// Now, in seconds since the Unix epoch.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds since the epoch as MLflow's milliseconds.
pub(crate) fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// MLflow's milliseconds as seconds since the epoch.
pub(crate) fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// A double as protobuf's JSON has it: a number, or `"NaN"`/`"Infinity"`/`"-Infinity"`.
fn double_out<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(*v)
    }
}

/// An empty message: the answer of the logging calls.
#[derive(Debug, Serialize)]
pub(crate) struct Empty {}

/// A key and a value as the client parses them.
#[derive(Debug, Serialize)]
pub(crate) struct Pair {
    key: String,
    value: String,
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> Vec<Pair> {
    map.iter()
        .map(|(k, v)| Pair {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// MLflow's `Experiment`.
#[derive(Debug, Serialize)]
pub(crate) struct ExperimentOut {
    experiment_id: String,
    name: String,
    artifact_location: String,
    lifecycle_stage: String,
    last_update_time: i64,
    creation_time: i64,
    tags: Vec<Pair>,
}

impl From<&Experiment> for ExperimentOut {
    fn from(e: &Experiment) -> ExperimentOut {
        ExperimentOut {
            experiment_id: e.id.to_string(),
            name: e.name.clone(),
            artifact_location: e.artifact_location.clone(),
            lifecycle_stage: e.lifecycle.clone(),
            last_update_time: millis(e.updated),
            creation_time: millis(e.created),
            tags: Vec::new(),
        }
    }
}

/// MLflow's `Metric`.
#[derive(Debug, Serialize)]
pub(crate) struct MetricOut {
    key: String,
    #[serde(serialize_with = "double_out")]
    value: f64,
    timestamp: i64,
    step: i64,
}

impl MetricOut {
    /// A metric's value at a point.
    pub(crate) fn new(key: &str, p: &Point) -> MetricOut {
        MetricOut {
            key: key.to_string(),
            value: p.value,
            timestamp: millis(p.timestamp),
            step: p.step,
        }
    }
}

/// MLflow's `RunInfo`.
#[derive(Debug, Serialize)]
pub(crate) struct RunInfo {
    run_id: String,
    run_uuid: String,
    run_name: String,
    experiment_id: String,
    user_id: String,
    status: &'static str,
    start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: String,
}

/// MLflow's `RunData`.
#[derive(Debug, Serialize)]
pub(crate) struct RunData {
    metrics: Vec<MetricOut>,
    params: Vec<Pair>,
    tags: Vec<Pair>,
}

/// MLflow's `Run`.
#[derive(Debug, Serialize)]
pub(crate) struct RunOut {
    info: RunInfo,
    data: RunData,
    inputs: Empty,
}

impl From<&RunRow> for RunInfo {
    fn from(r: &RunRow) -> RunInfo {
        RunInfo {
            run_id: r.id.clone(),
            run_uuid: r.id.clone(),
            run_name: r.name.clone(),
            experiment_id: r.experiment.to_string(),
            user_id: r.user().to_string(),
            status: status_name(&r.status),
            start_time: millis(r.started),
            end_time: r.ended.map(millis),
            artifact_uri: r.artifact_uri.clone(),
            lifecycle_stage: r.lifecycle.clone(),
        }
    }
}

impl From<&RunRow> for RunOut {
    fn from(r: &RunRow) -> RunOut {
        RunOut {
            info: RunInfo::from(r),
            data: RunData {
                metrics: r
                    .metrics
                    .iter()
                    .map(|(k, p)| MetricOut::new(k, p))
                    .collect(),
                params: pairs(&r.params),
                tags: pairs(&r.tags),
            },
            inputs: Empty {},
        }
    }
}
