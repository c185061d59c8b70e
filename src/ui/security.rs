//! Who may do what. Every request must name this server in its `Host` (no DNS rebinding onto a
//! loopback port); a request that changes state (any method but GET and HEAD) must carry the
//! server's token and come from the server's own pages (its `Origin`, when sent, is the
//! server's); on an address other than loopback, reads need the token too. The token comes as
//! `Authorization: Bearer`, the `X-WF-Token` header, or a cookie set by opening any page once
//! with `?token=`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::UiError;

/// The server's rules.
#[derive(Debug, Clone)]
pub(super) struct Access {
    /// The token.
    pub(super) token: String,
    /// Whether reads need no token (loopback only).
    pub(super) open_reads: bool,
    /// The `Host` values accepted; empty: any (the server listens on every address).
    pub(super) hosts: Vec<String>,
    /// The cookie's name (one per port: cookies do not tell ports apart).
    pub(super) cookie: String,
}

impl Access {
    /// The rules for a server on `host:port`.
    pub(super) fn new(host: &str, port: u16, token: String) -> Access {
        let loopback = is_loopback(host);
        let hosts = if loopback {
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .map(|h| format!("{h}:{port}"))
                .collect()
        } else {
            Vec::new()
        };
        Access {
            token,
            open_reads: loopback,
            hosts,
            cookie: format!("wf_ui_token_{port}"),
        }
    }

    fn valid(&self, token: &str) -> bool {
        let (a, b) = (token.as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// The token a request carries, from a header or the cookie.
    fn carried<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(bearer) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
            return Some(bearer.trim());
        }
        if let Some(t) = header("x-wf-token") {
            return Some(t.trim());
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == self.cookie)
            .map(|(_, v)| v)
    }
}

/// Whether `host` is a loopback address (or `localhost`).
pub(super) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refuse(status: StatusCode, message: &str, help: &str) -> Response {
    UiError {
        status,
        message: message.to_string(),
        help: Some(help.to_string()),
    }
    .into_response()
}

/// The middleware applying [`Access`].
pub(super) async fn guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !access.hosts.is_empty() && !access.hosts.iter().any(|h| h == host) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!("this server does not answer to the host `{host}`"),
            &format!("open {} instead", access.hosts[0]),
        );
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let cross_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site");
        if cross_site || origin.is_some_and(|o| o != format!("http://{host}")) {
            return refuse(
                StatusCode::FORBIDDEN,
                &format!(
                    "a request from another site ({}) may not change anything here",
                    origin.unwrap_or("unknown origin")
                ),
                "use the buttons of wf ui's own pages, or send the request without an Origin",
            );
        }
    }
    let carried = access.carried(headers).is_some_and(|t| access.valid(t));
    let in_query = (safe && !carried)
        .then(|| query_token(req.uri()))
        .flatten()
        .filter(|t| access.valid(t));
    if let Some(token) = in_query {
        // Set as a cookie, then the same page without the token in its address.
        let path = req.uri().path().to_string();
        let cookie = format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/",
            access.cookie
        );
        return (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, path), (header::SET_COOKIE, cookie)],
        )
            .into_response();
    }
    if !(carried || safe && access.open_reads) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "this request needs the server's token",
            "open the page once as /?token=TOKEN (the token is in the file wf ui named when it \
             started), or send `Authorization: Bearer TOKEN`",
        );
    }
    next.run(req).await
}

fn query_token(uri: &axum::http::Uri) -> Option<String> {
    use axum::extract::Query;
    let Query(mut q) =
        Query::<std::collections::HashMap<String, String>>::try_from_uri(uri).ok()?;
    q.remove("token")
}
