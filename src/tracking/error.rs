//! `TrackingError`: why the tracking server cannot start; `ApiError`: an answer in MLflow's error
//! JSON (`{"error_code", "message"}`), which every handler returns when it refuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::{Refusal, StoreError};

/// The tracking server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// No loopback port could be bound.
    #[error("cannot listen on 127.0.0.1 for the MLflow tracking API: {message}")]
    Bind {
        /// The system's reason.
        message: String,
    },
    /// The repository's folder cannot be resolved to an absolute path.
    #[error("cannot resolve the repository folder `{}`: {message}", path.display())]
    Root {
        /// The folder.
        path: std::path::PathBuf,
        /// The system's reason.
        message: String,
    },
    /// The run store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refusal in MLflow's error JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error_code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// A bad request: MLflow's `INVALID_PARAMETER_VALUE`.
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }

    /// A required field is missing.
    pub(crate) fn missing(field: &str) -> ApiError {
        ApiError::invalid(format!("missing value for required parameter '{field}'"))
    }

    /// No such run, experiment or tag.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }

    /// No such endpoint.
    pub(crate) fn no_endpoint(path: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "ENDPOINT_NOT_FOUND",
            message: format!("no endpoint `{path}` in wf's MLflow tracking API"),
        }
    }

    /// The endpoint takes another method.
    pub(crate) fn wrong_method(method: &str, path: &str) -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "BAD_REQUEST",
            message: format!("the endpoint `{path}` does not take {method}"),
        }
    }

    /// The request has no valid token.
    pub(crate) fn unauthenticated() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHENTICATED",
            message: "missing or wrong token: send `Authorization: Bearer` with the \
                      MLFLOW_TRACKING_TOKEN wf set for this stage"
                .into(),
        }
    }

    /// The body is over the server's limit.
    pub(crate) fn too_large(limit: usize) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "INVALID_PARAMETER_VALUE",
            message: format!("the request body is larger than {limit} bytes"),
        }
    }

    /// The server failed (the store cannot be written); no request causes it.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error_code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

/// As MLflow's messages for the same refusals.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::NoExperiment(id) => {
                ApiError::not_found(format!("no experiment with id={id} exists"))
            }
            Refusal::ExperimentExists(name) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "RESOURCE_ALREADY_EXISTS",
                message: format!("experiment '{name}' already exists"),
            },
            Refusal::NoRun(id) => ApiError::not_found(format!("run with id={id} not found")),
            Refusal::Deleted { what, id } => ApiError::invalid(format!(
                "the {what} {id} must be in the 'active' state; it is deleted"
            )),
            Refusal::NoTag { run, key } => {
                ApiError::not_found(format!("no tag with name: {key} in run with id {run}"))
            }
            Refusal::ParamChanged { run, key, old, new } => ApiError::invalid(format!(
                "changing param values is not allowed: param with key='{key}' was already \
                 logged with value='{old}' for run ID='{run}'; attempted logging new value '{new}'"
            )),
        }
    }
}
