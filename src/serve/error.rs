//! `ServeError`: why `wf serve` cannot start; `ApiError`: a refused request, answered with a
//! 4xx status and a JSON body naming the problem, in the shape its protocol's clients read.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `wf serve` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// `HOST:PORT` as given.
        addr: String,
        /// The system's reason.
        message: String,
    },
    /// The registry, the version or the model file.
    #[error(transparent)]
    Model(#[from] wf_stages::Error),
    /// The token file cannot be written.
    #[error("cannot write the token file `{}`: {message}", path.display())]
    Token {
        /// The file.
        path: std::path::PathBuf,
        /// The system's reason.
        message: String,
    },
    /// The async runtime or the signal handlers cannot be set up.
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
}

impl ServeError {
    /// What to do about it.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            ServeError::Bind { .. } => {
                Some("pick another `--port` (0 takes a free one), or stop what listens there")
            }
            ServeError::Model(wf_stages::Error::UnknownVersion { .. }) => Some(
                "`wf model list` shows the versions and aliases; `wf repro` fills the registry",
            ),
            _ => None,
        }
    }
}

/// Whose error body a refusal is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `{"error": "..."}`: wf's own routes and the Open Inference Protocol.
    Plain,
    /// MLflow's scoring server: `{"error_code": "BAD_REQUEST", "message": "..."}`.
    Mlflow,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    protocol: Protocol,
}

impl ApiError {
    /// A refusal with this status.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            protocol: Protocol::Plain,
        }
    }

    /// 400: the body says something the model cannot take.
    pub(crate) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// The same refusal in `protocol`'s body.
    pub(crate) fn in_protocol(mut self, protocol: Protocol) -> ApiError {
        self.protocol = protocol;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.protocol {
            Protocol::Plain => json!({ "error": self.message }),
            Protocol::Mlflow => {
                let code = match self.status {
                    StatusCode::NOT_FOUND => "ENDPOINT_NOT_FOUND",
                    StatusCode::SERVICE_UNAVAILABLE => "TEMPORARILY_UNAVAILABLE",
                    _ => "BAD_REQUEST",
                };
                json!({ "error_code": code, "message": self.message })
            }
        };
        (self.status, Json(body)).into_response()
    }
}
