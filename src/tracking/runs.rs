//! The `runs/…` and `metrics/…` endpoints: create, get, update, delete, search, the logging
//! calls, and a metric's history; with MLflow's limits on names, values and batches.

use std::borrow::Cow;
use std::collections::BTreeSet;

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::experiments::parse_id;
use super::filter;
use super::search::{self, Field, Searchable};
use super::server::{ApiState, Caller};
use super::wire::{
    self, Empty, KeyValue, MetricIn, MetricOut, Msg, RunInfo, RunOut, View, double, int, list,
    status, text, texts, view,
};
use crate::store::{Batch, NewMlflowRun, Point, RunRow};

/// As MLflow: a key is at most this long.
const KEY_LIMIT: usize = 250;
/// As MLflow: a param's value is at most this long.
const PARAM_LIMIT: usize = 6000;
/// As MLflow: a tag's value is at most this long.
const TAG_LIMIT: usize = 8000;
/// As MLflow: a batch holds at most this many metrics, params, tags, and all together.
const BATCH_METRICS: usize = 1000;
const BATCH_PARAMS: usize = 100;
const BATCH_TAGS: usize = 100;
const BATCH_ALL: usize = 1000;

/// A run's id as the client sends it (`run_id`, or the older `run_uuid`).
#[derive(Debug, Deserialize)]
pub(crate) struct RunRef {
    #[serde(default, deserialize_with = "text")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    run_uuid: Option<String>,
}

impl RunRef {
    fn id(&self) -> Result<String, ApiError> {
        self.run_id
            .clone()
            .or_else(|| self.run_uuid.clone())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::missing("run_id"))
    }
}

/// `runs/create`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct Create {
    #[serde(default, deserialize_with = "text")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    run_name: Option<String>,
    #[serde(default, deserialize_with = "int")]
    start_time: Option<i64>,
    #[serde(default, deserialize_with = "list")]
    tags: Vec<KeyValue>,
}

/// `runs/update`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct Update {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "status")]
    status: Option<String>,
    #[serde(default, deserialize_with = "int")]
    end_time: Option<i64>,
    #[serde(default, deserialize_with = "text")]
    run_name: Option<String>,
}

/// `runs/search`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct Search {
    #[serde(default, deserialize_with = "texts")]
    experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "text")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "view")]
    run_view_type: View,
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "texts")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "text")]
    page_token: Option<String>,
}

/// `log-parameter`, `set-tag` and `delete-tag`: a run, a key, maybe a value.
#[derive(Debug, Deserialize)]
pub(crate) struct Keyed {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "text")]
    key: Option<String>,
    #[serde(default, deserialize_with = "text")]
    value: Option<String>,
}

/// `runs/log-metric`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct LogMetric {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "text")]
    key: Option<String>,
    #[serde(default, deserialize_with = "double")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "int")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int")]
    step: Option<i64>,
}

/// `runs/log-batch`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct LogBatch {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "list")]
    metrics: Vec<MetricIn>,
    #[serde(default, deserialize_with = "list")]
    params: Vec<KeyValue>,
    #[serde(default, deserialize_with = "list")]
    tags: Vec<KeyValue>,
}

/// `metrics/get-history`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct History {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "text")]
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "text")]
    page_token: Option<String>,
}

/// An answer with one run.
#[derive(Debug, Serialize)]
pub(crate) struct One {
    run: RunOut,
}

/// `runs/update`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct Updated {
    run_info: RunInfo,
}

/// `runs/search`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct Found {
    runs: Vec<RunOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// `metrics/get-history`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct Points {
    metrics: Vec<MetricOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// A metric, param or tag name, as MLflow takes it: alphanumerics, `_ - . : /` and spaces, no
/// more than 250 characters, and not a path that resolves to another name.
fn name(key: Option<String>, field: &str) -> Result<String, ApiError> {
    let key = key.ok_or_else(|| ApiError::missing(field))?;
    let bad = |why: &str| ApiError::invalid(format!("invalid value '{key}' for '{field}': {why}"));
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || "_-.:/ ".contains(c))
    {
        return Err(bad(
            "names may only contain alphanumerics, underscores (_), dashes (-), periods (.), \
             spaces ( ), colons (:) and slashes (/)",
        ));
    }
    if key.is_empty()
        || key.starts_with('/')
        || key.ends_with('/')
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad(
            "names are paths in places and must not resolve to another name (no empty, `.` or `..` parts)",
        ));
    }
    if key.chars().count() > KEY_LIMIT {
        return Err(bad(&format!("longer than {KEY_LIMIT} characters")));
    }
    Ok(key)
}

/// A value of at most `limit` characters.
fn value(value: Option<String>, field: &str, limit: usize) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| ApiError::missing(field))?;
    if value.chars().count() > limit {
        return Err(ApiError::invalid(format!(
            "'{field}' is longer than {limit} characters"
        )));
    }
    Ok(value)
}

fn tag(kv: KeyValue, at: &str) -> Result<(String, String), ApiError> {
    Ok((
        name(kv.key, &format!("{at}key"))?,
        value(kv.value, &format!("{at}value"), TAG_LIMIT)?,
    ))
}

fn metric(m: MetricIn, at: &str, timestamp_required: bool) -> Result<(String, Point), ApiError> {
    let key = name(m.key, &format!("{at}key"))?;
    let value = m
        .value
        .ok_or_else(|| ApiError::missing(&format!("{at}value")))?;
    let timestamp = match m.timestamp {
        Some(t) if t < 0 => {
            return Err(ApiError::invalid(format!(
                "invalid value {t} for '{at}timestamp': expected a nonnegative integer"
            )));
        }
        Some(t) => t,
        None if timestamp_required => return Err(ApiError::missing(&format!("{at}timestamp"))),
        // As protobuf's default in a batch.
        None => 0,
    };
    let point = Point {
        step: m.step.unwrap_or(0),
        timestamp: wire::seconds(timestamp),
        value,
    };
    Ok((key, point))
}

/// `POST runs/create`: a run of the caller's stage, child of the wf run.
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Msg(req): Msg<Create>,
) -> Result<Json<One>, ApiError> {
    let experiment = match req.experiment_id.filter(|id| !id.is_empty()) {
        // As MLflow: no experiment is the Default one.
        None => 0,
        id => parse_id(id, "experiment_id")?,
    };
    let tags = req
        .tags
        .into_iter()
        .enumerate()
        .map(|(i, kv)| tag(kv, &format!("tags[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let started = req.start_time.map_or_else(wire::now, wire::seconds);
    let run_name = req.run_name;
    let parent = state.parent.clone();
    let run = state
        .with_store(move |s| {
            let new = NewMlflowRun {
                experiment,
                name: run_name.as_deref(),
                started,
                tags: &tags,
                parent: parent.as_deref(),
                stage: caller.0.as_deref(),
            };
            Ok(s.mlflow_create_run(&new)??)
        })
        .await?;
    Ok(Json(One {
        run: RunOut::from(&run),
    }))
}

/// `GET runs/get`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Msg(req): Msg<RunRef>,
) -> Result<Json<One>, ApiError> {
    let id = req.id()?;
    let run = found(&state, id).await?;
    Ok(Json(One {
        run: RunOut::from(&run),
    }))
}

async fn found(state: &ApiState, id: String) -> Result<RunRow, ApiError> {
    let run = state
        .with_store({
            let id = id.clone();
            move |s| Ok(s.mlflow_run(&id)?)
        })
        .await?;
    run.ok_or_else(|| ApiError::not_found(format!("run with id={id} not found")))
}

/// `POST runs/update`.
pub(crate) async fn update(
    State(state): State<ApiState>,
    Msg(req): Msg<Update>,
) -> Result<Json<Updated>, ApiError> {
    let id = req.run.id()?;
    let ended = req.end_time.map(wire::seconds);
    let (status, name) = (req.status, req.run_name);
    let run = state
        .with_store(move |s| {
            Ok(s.mlflow_update_run(&id, status.as_deref(), ended, name.as_deref())??)
        })
        .await?;
    Ok(Json(Updated {
        run_info: RunInfo::from(&run),
    }))
}

/// `POST runs/delete`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Msg(req): Msg<RunRef>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.id()?;
    state
        .with_store(move |s| Ok(s.mlflow_set_deleted(&id, true)??))
        .await?;
    Ok(Json(Empty {}))
}

/// `POST runs/restore`.
pub(crate) async fn restore(
    State(state): State<ApiState>,
    Msg(req): Msg<RunRef>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.id()?;
    state
        .with_store(move |s| Ok(s.mlflow_set_deleted(&id, false)??))
        .await?;
    Ok(Json(Empty {}))
}

impl Searchable for RunRow {
    fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).map(|p| p.value)
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    fn attribute(&self, key: &str) -> Option<Field<'_>> {
        let text = |s: &str| Some(Field::Text(Cow::Owned(s.to_string())));
        match key {
            "run_id" => Some(Field::Text(Cow::Borrowed(&self.id))),
            "run_name" => Some(Field::Text(Cow::Borrowed(&self.name))),
            "status" => text(wire::status_name(&self.status)),
            "artifact_uri" => Some(Field::Text(Cow::Borrowed(&self.artifact_uri))),
            "user_id" => Some(Field::Text(Cow::Borrowed(self.user()))),
            "start_time" => Some(Field::Number(wire::millis(self.started) as f64)),
            "end_time" => self.ended.map(|e| Field::Number(wire::millis(e) as f64)),
            _ => None,
        }
    }
}

/// `POST runs/search`.
pub(crate) async fn search(
    State(state): State<ApiState>,
    Msg(req): Msg<Search>,
) -> Result<Json<Found>, ApiError> {
    let experiments = req
        .experiment_ids
        .into_iter()
        .map(|id| parse_id(Some(id), "experiment_ids"))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let clauses = filter::RUNS
        .filter(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
    let orders = req
        .order_by
        .iter()
        .map(|o| {
            filter::RUNS
                .order(o)
                .map_err(|e| ApiError::invalid(format!("invalid order_by clause '{o}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let page = wire::Page::new(req.max_results, req.page_token.as_deref())?;
    let mut runs = state.with_store(|s| Ok(s.mlflow_runs()?)).await?;
    runs.retain(|r| {
        experiments.contains(&r.experiment)
            && req.run_view_type.shows(&r.lifecycle)
            && search::matches(&clauses, r)
    });
    // As MLflow: the newest first, then by id, under the orders asked.
    runs.sort_by(|a, b| {
        b.started
            .total_cmp(&a.started)
            .then_with(|| a.id.cmp(&b.id))
    });
    search::sort(&mut runs, &orders);
    let (shown, next_page_token) = page.of(&runs);
    Ok(Json(Found {
        runs: shown.iter().map(RunOut::from).collect(),
        next_page_token,
    }))
}

async fn log(state: &ApiState, id: String, batch: Batch) -> Result<Json<Empty>, ApiError> {
    state
        .with_store(move |s| Ok(s.mlflow_log(&id, &batch)??))
        .await?;
    Ok(Json(Empty {}))
}

/// `POST runs/log-parameter`.
pub(crate) async fn log_param(
    State(state): State<ApiState>,
    Msg(req): Msg<Keyed>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.run.id()?;
    let param = (
        name(req.key, "key")?,
        value(req.value, "value", PARAM_LIMIT)?,
    );
    let batch = Batch {
        params: vec![param],
        ..Batch::default()
    };
    log(&state, id, batch).await
}

/// `POST runs/log-metric`.
pub(crate) async fn log_metric(
    State(state): State<ApiState>,
    Msg(req): Msg<LogMetric>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.run.id()?;
    let m = MetricIn {
        key: req.key,
        value: req.value,
        timestamp: req.timestamp,
        step: req.step,
    };
    let batch = Batch {
        metrics: vec![metric(m, "", true)?],
        ..Batch::default()
    };
    log(&state, id, batch).await
}

/// `POST runs/set-tag`.
pub(crate) async fn set_tag(
    State(state): State<ApiState>,
    Msg(req): Msg<Keyed>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.run.id()?;
    let kv = KeyValue {
        key: req.key,
        value: req.value,
    };
    let batch = Batch {
        tags: vec![tag(kv, "")?],
        ..Batch::default()
    };
    log(&state, id, batch).await
}

/// `POST runs/delete-tag`.
pub(crate) async fn delete_tag(
    State(state): State<ApiState>,
    Msg(req): Msg<Keyed>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.run.id()?;
    let key = req.key.ok_or_else(|| ApiError::missing("key"))?;
    state
        .with_store(move |s| Ok(s.mlflow_delete_tag(&id, &key)??))
        .await?;
    Ok(Json(Empty {}))
}

/// `POST runs/log-batch`, within MLflow's limits.
pub(crate) async fn log_batch(
    State(state): State<ApiState>,
    Msg(req): Msg<LogBatch>,
) -> Result<Json<Empty>, ApiError> {
    let id = req.run.id()?;
    let counts = [
        ("metrics", req.metrics.len(), BATCH_METRICS),
        ("params", req.params.len(), BATCH_PARAMS),
        ("tags", req.tags.len(), BATCH_TAGS),
        (
            "metrics, params, and tags",
            req.metrics.len() + req.params.len() + req.tags.len(),
            BATCH_ALL,
        ),
    ];
    for (what, n, limit) in counts {
        if n > limit {
            return Err(ApiError::invalid(format!(
                "a batch logging request can contain at most {limit} {what}; got {n}: \
                 split them across several requests"
            )));
        }
    }
    let metrics = req
        .metrics
        .into_iter()
        .enumerate()
        .map(|(i, m)| metric(m, &format!("metrics[{i}]."), false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = BTreeSet::new();
    let mut params = Vec::with_capacity(req.params.len());
    for (i, kv) in req.params.into_iter().enumerate() {
        let key = name(kv.key, &format!("params[{i}].key"))?;
        let value = value(kv.value, &format!("params[{i}].value"), PARAM_LIMIT)?;
        if !seen.insert(key.clone()) {
            return Err(ApiError::invalid(format!(
                "duplicate parameter key '{key}' in one request: send one value per key"
            )));
        }
        params.push((key, value));
    }
    let tags = req
        .tags
        .into_iter()
        .enumerate()
        .map(|(i, kv)| tag(kv, &format!("tags[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let batch = Batch {
        metrics,
        params,
        tags,
    };
    log(&state, id, batch).await
}

/// The calls the client makes that wf keeps nothing of (`log-inputs`, `log-model`).
pub(crate) async fn ignore(Msg(req): Msg<RunRef>) -> Result<Json<Empty>, ApiError> {
    req.id()?;
    Ok(Json(Empty {}))
}

/// `GET metrics/get-history`, paged when `max_results` is given.
pub(crate) async fn history(
    State(state): State<ApiState>,
    Msg(req): Msg<History>,
) -> Result<Json<Points>, ApiError> {
    let id = req.run.id()?;
    let key = req
        .metric_key
        .ok_or_else(|| ApiError::missing("metric_key"))?;
    let page = match req.max_results {
        Some(max) => Some(wire::Page::new(Some(max), req.page_token.as_deref())?),
        None => None,
    };
    let points = state
        .with_store({
            let (id, key) = (id.clone(), key.clone());
            move |s| Ok(s.mlflow_history(&id, &key)?)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run with id={id} not found")))?;
    let (shown, next_page_token) = match &page {
        Some(page) => page.of(&points),
        None => (points.as_slice(), None),
    };
    Ok(Json(Points {
        metrics: shown.iter().map(|p| MetricOut::new(&key, p)).collect(),
        next_page_token,
    }))
}
