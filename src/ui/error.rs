//! `UiError`: what a request to `wf ui` got wrong (a 4xx) or what failed on the server (a 5xx),
//! answered as JSON: `{"error": "...", "help": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refused or failed request.
#[derive(Debug)]
pub struct UiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, in a sentence.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl UiError {
    /// 400: the request itself is wrong.
    pub fn bad(message: impl Into<String>) -> UiError {
        UiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            help: None,
        }
    }

    /// 404: nothing is there.
    pub fn not_found(message: impl Into<String>) -> UiError {
        UiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            help: None,
        }
    }

    /// 500: the server could not do it (the store or a file could not be read).
    pub fn internal(message: impl Into<String>) -> UiError {
        UiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            help: None,
        }
    }

    /// With what to do.
    pub fn help(mut self, help: impl Into<String>) -> UiError {
        self.help = Some(help.into());
        self
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UiError {}

impl From<crate::store::StoreError> for UiError {
    fn from(e: crate::store::StoreError) -> UiError {
        let help = e.help();
        UiError::internal(e.to_string()).help(help)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(help) = self.help {
            body["help"] = serde_json::Value::String(help);
        }
        (self.status, axum::Json(body)).into_response()
    }
}
