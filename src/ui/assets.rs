//! The static files the pages load, compiled into the binary: the Vega libraries
//! (`assets/vega/`, with their versions and licences there), the style sheet and the script.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::UiError;

const FILES: &[(&str, &str, &str)] = &[
    (
        "vega.js",
        "text/javascript",
        include_str!("../../assets/vega/vega-5.33.1.min.js"),
    ),
    (
        "vega-lite.js",
        "text/javascript",
        include_str!("../../assets/vega/vega-lite-5.23.0.min.js"),
    ),
    (
        "vega-embed.js",
        "text/javascript",
        include_str!("../../assets/vega/vega-embed-6.29.0.min.js"),
    ),
    ("ui.js", "text/javascript", include_str!("assets/ui.js")),
    ("ui.css", "text/css", include_str!("assets/ui.css")),
];

/// `GET /assets/NAME`.
pub(super) async fn serve(Path(name): Path<String>) -> Result<Response, UiError> {
    let (_, mime, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| UiError::not_found(format!("no asset `{name}`")))?;
    Ok((
        [
            (header::CONTENT_TYPE, *mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        *body,
    )
        .into_response())
}
