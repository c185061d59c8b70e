//! The pages' templates (minijinja, compiled into the binary) and how a page is answered: HTML
//! with a content security policy that lets scripts come only from this server.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use super::error::UiError;

/// Scripts only from this server (Vega compiles its expressions, hence `unsafe-eval`); nothing
/// loaded from elsewhere.
const POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-eval'; \
                      style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'";

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("runs.html", include_str!("templates/runs.html")),
    ("run.html", include_str!("templates/run.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("models.html", include_str!("templates/models.html")),
    ("studies.html", include_str!("templates/studies.html")),
    ("pipeline.html", include_str!("templates/pipeline.html")),
    ("stage.html", include_str!("templates/stage.html")),
];

/// The templates, ready.
pub(super) struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Compiles every template (they are the binary's own: a template that does not compile is
    /// a bug found by the first test that renders it).
    pub(super) fn new() -> Pages {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            if let Err(e) = env.add_template(name, text) {
                eprintln!("warning: wf ui's template {name} does not compile: {e}");
            }
        }
        Pages { env }
    }

    /// Renders `name` with `ctx` as an HTML answer.
    pub(super) fn render(&self, name: &str, ctx: impl Serialize) -> Result<Response, UiError> {
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
            .map_err(|e| UiError::internal(format!("cannot render the page {name}: {e:#}")))?;
        Ok(html_response(html))
    }
}

/// The policy of the plots page, whose scripts are inlined (it is the page `wf plots show`
/// writes, which works from a file): still nothing loaded from anywhere.
pub(super) const SELF_CONTAINED: &str = "default-src 'none'; script-src 'unsafe-inline' \
                                         'unsafe-eval'; style-src 'unsafe-inline'; \
                                         img-src data: blob:; frame-ancestors 'none'";

/// An HTML page under the policy.
pub(super) fn html_response(html: String) -> Response {
    html_under(html, POLICY)
}

/// An HTML page under `policy`.
pub(super) fn html_under(html: String, policy: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// A number as the pages show it: integers as they are, others with up to 6 significant
/// digits.
pub(super) fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let digits = 6 - (v.abs().log10().floor() as i32 + 1).clamp(-10, 6);
    let s = format!("{v:.*}", digits.clamp(0, 16) as usize);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A time (seconds since the Unix epoch) as `2026-12-08 01:02:03` UTC.
pub(super) fn when(t: f64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64).map_or_else(
        |_| String::new(),
        |d| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.933333333), "0.933333");
        assert_eq!(number(1234.5678), "1234.57");
        assert_eq!(number(0.000123456), "0.000123456");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn every_template_compiles() {
        let pages = Pages::new();
        for (name, _) in TEMPLATES {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
    }
}
