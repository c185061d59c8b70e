//! wf's own routes: `POST /predict`, `GET /health`, `POST /reload`, `GET /metrics`, and the
//! answers to a path or method that does not exist.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::SerializeMap;
use wf_stages::Scored;

use super::error::ApiError;
use super::input::{self, Extra};
use super::loaded::Loaded;
use super::state::{ReloadError, Shared};

/// The largest body taken.
pub(crate) const BODY_LIMIT: usize = 8 << 20;

/// A body, or why it could not be read (413 past [`BODY_LIMIT`]).
pub(crate) fn body(bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    bytes.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the body is larger than {} MiB: send fewer rows per request",
                    BODY_LIMIT >> 20
                ),
            )
        } else {
            ApiError::new(status, rejection.body_text())
        }
    })
}

/// Each class's probability, as an object in the model's class order.
pub(crate) struct Probabilities<'a> {
    pub(crate) classes: &'a [String],
    pub(crate) values: &'a [f64],
}

impl Serialize for Probabilities<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.classes.len()))?;
        for (c, p) in self.classes.iter().zip(self.values) {
            map.serialize_entry(c, p)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Prediction<'a> {
    label: &'a str,
    probabilities: Probabilities<'a>,
}

#[derive(Serialize)]
struct Served<'a> {
    model: &'a str,
    version: u32,
    alias: Option<&'a str>,
    hash: &'a str,
}

#[derive(Serialize)]
struct One<'a> {
    #[serde(flatten)]
    prediction: Prediction<'a>,
    #[serde(flatten)]
    served: Served<'a>,
}

#[derive(Serialize)]
struct Many<'a> {
    predictions: Vec<Prediction<'a>>,
    #[serde(flatten)]
    served: Served<'a>,
}

fn prediction<'a>(loaded: &'a Loaded, s: &'a Scored) -> Prediction<'a> {
    Prediction {
        label: loaded.label(s),
        probabilities: Probabilities {
            classes: loaded.classes(),
            values: &s.probabilities,
        },
    }
}

fn served(loaded: &Loaded) -> Served<'_> {
    Served {
        model: &loaded.kind,
        version: loaded.version,
        alias: loaded.alias.as_deref(),
        hash: &loaded.hash,
    }
}

/// `POST /predict`: one record or a list → label and probabilities of each, and the version.
pub(crate) async fn predict(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let media = input::media_type(&headers);
    if !media.as_deref().is_some_and(input::is_json) {
        return Err(input::unsupported(media.as_deref(), "application/json"));
    }
    let value = input::json(&body(bytes)?)?;
    let loaded = shared.current();
    let (rows, one) = input::record_or_records(&value, &loaded, Extra::Refuse)?;
    let scored = loaded.predict(&rows.values);
    let served = served(&loaded);
    Ok(if one {
        match scored.first() {
            Some(s) => Json(One {
                prediction: prediction(&loaded, s),
                served,
            })
            .into_response(),
            None => return Err(input::empty()),
        }
    } else {
        Json(Many {
            predictions: scored.iter().map(|s| prediction(&loaded, s)).collect(),
            served,
        })
        .into_response()
    })
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    name: &'a str,
    #[serde(flatten)]
    served: Served<'a>,
    loaded_at: &'a str,
    following: Option<&'a str>,
    registry: String,
    last_reload_error: Option<ReloadError>,
}

fn health_of(shared: &Shared, loaded: &Loaded) -> Response {
    let last_reload_error = shared.last_error();
    Json(Health {
        status: if last_reload_error.is_some() {
            "degraded"
        } else {
            "ok"
        },
        name: &shared.name,
        served: served(loaded),
        loaded_at: &loaded.loaded_at,
        following: shared.source.target.alias(),
        registry: shared.source.registry.dir().display().to_string(),
        last_reload_error,
    })
    .into_response()
}

/// `GET /health`: what is served, since when, and the last reload error.
pub(crate) async fn health(State(shared): State<Arc<Shared>>) -> Response {
    health_of(&shared, &shared.current())
}

/// `POST /reload`: serve the target's version of the moment now (needs the token).
pub(crate) async fn reload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = &shared.token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this server takes no reload requests: start it with WF_SERVE_TOKEN set",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "POST /reload needs `Authorization: Bearer TOKEN` with {}",
                shared.token_hint
            ),
        ));
    }
    match shared.refresh().await {
        Ok(_) => Ok(health_of(&shared, &shared.current())),
        Err(e) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{}; still serving version {}",
                e.message,
                shared.current().version
            ),
        )),
    }
}

/// Compares in constant time, so timing tells nothing of the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /metrics`: Prometheus' text format.
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.text(),
    )
        .into_response()
}

/// No such path.
pub(crate) async fn no_route(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint `{}`: wf serve answers /predict, /health, /reload, /metrics, \
             /invocations, /ping, /version and /v2/...",
            uri.path()
        ),
    )
}

/// The path exists, not with this method.
pub(crate) async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("`{}` does not take {method}", uri.path()),
    )
}
