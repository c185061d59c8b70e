//! `GET /runs`: the run store as a table, filtered, sorted and paged on the server, so that a
//! store of 10 000 runs answers as fast as one of ten.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::UiError;
use super::page::when;
use super::query::{Filter, text_of};
use super::server::Ui;
use crate::exp::show::{self, Kind, Options};

/// Rows a page shows unless asked.
const PER_PAGE: usize = 50;

/// What the table is asked to show.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct Ask {
    /// The filter (see `query`).
    #[serde(default)]
    q: String,
    /// The column to sort by (`name`, `created`, a header).
    sort: Option<String>,
    /// `1`: descending.
    #[serde(default)]
    desc: Option<String>,
    /// The page, from 1.
    page: Option<usize>,
    /// Rows a page.
    per: Option<usize>,
    /// The columns shown, by header, comma-separated (all when absent).
    cols: Option<String>,
}

#[derive(Serialize)]
struct ColumnView {
    header: String,
    /// The file's name, shown above the key.
    file: String,
    key: String,
    kind: &'static str,
    title: String,
    shown: bool,
    sort_href: String,
    sorted: Option<&'static str>,
}

#[derive(Serialize)]
struct RowView {
    id: String,
    name: String,
    state: String,
    created: String,
    group: String,
    values: Vec<String>,
}

#[derive(Serialize)]
struct RunsPage {
    title: &'static str,
    nav: &'static str,
    token: String,
    columns: Vec<ColumnView>,
    rows: Vec<RowView>,
    total: usize,
    matched: usize,
    page: usize,
    pages: usize,
    per: usize,
    q: String,
    error: Option<String>,
    prev_href: Option<String>,
    next_href: Option<String>,
    sort: String,
    desc: bool,
    cols: String,
    name_href: String,
    created_href: String,
}

impl Ask {
    fn href(&self, page: usize, sort: Option<&str>, desc: bool) -> String {
        let mut parts = Vec::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode(v)));
            }
        };
        put("q", &self.q);
        put("sort", sort.unwrap_or(""));
        put("desc", if desc { "1" } else { "" });
        put("cols", self.cols.as_deref().unwrap_or(""));
        if let Some(per) = self.per {
            put("per", &per.to_string());
        }
        if page > 1 {
            put("page", &page.to_string());
        }
        if parts.is_empty() {
            "/runs".into()
        } else {
            format!("/runs?{}", parts.join("&"))
        }
    }
}

/// Percent-encodes a query value.
pub(super) fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /runs`.
pub(super) async fn page(
    State(ui): State<Arc<Ui>>,
    Query(ask): Query<Ask>,
) -> Result<Response, UiError> {
    let token = ui.access_token();
    let (ctx, bad) = ui
        .with_store(move |store| Ok(table(store, &ask, token)))
        .await?;
    let response = ui.pages.render("runs.html", &ctx)?;
    Ok(if bad {
        (StatusCode::BAD_REQUEST, response).into_response()
    } else {
        response
    })
}

/// The table `ask` asks for; whether the ask was wrong (its error is in the context).
fn table(store: &crate::store::Store, ask: &Ask, token: String) -> (RunsPage, bool) {
    let desc = ask.desc.as_deref().is_some_and(|d| d == "1" || d == "true");
    let per = ask.per.unwrap_or(PER_PAGE).clamp(1, 1000);
    let mut ctx = RunsPage {
        title: "Runs",
        nav: "runs",
        token,
        columns: Vec::new(),
        rows: Vec::new(),
        total: 0,
        matched: 0,
        page: 1,
        pages: 1,
        per,
        q: ask.q.clone(),
        error: None,
        prev_href: None,
        next_href: None,
        sort: ask.sort.clone().unwrap_or_default(),
        desc,
        cols: ask.cols.clone().unwrap_or_default(),
        name_href: ask.href(
            1,
            Some("name"),
            ask.sort.as_deref() == Some("name") && !desc,
        ),
        created_href: ask.href(
            1,
            Some("created"),
            ask.sort.as_deref() == Some("created") && !desc,
        ),
    };
    let grid = match store.grid(true) {
        Ok(g) => g,
        Err(e) => {
            ctx.error = Some(format!("{e} ({})", e.help()));
            return (ctx, false);
        }
    };
    let studies = store
        .tag_values(crate::store::STUDY_TAG)
        .unwrap_or_default();
    let commands: std::collections::HashMap<String, String> = grid
        .runs
        .iter()
        .map(|r| (r.id.clone(), r.command.clone()))
        .collect();
    ctx.total = grid.runs.len();
    let options = Options {
        all: true,
        sort_by: ask.sort.clone().filter(|s| !s.is_empty()),
        descending: desc,
        ..Options::default()
    };
    let mut bad = false;
    let sheet = match show::sheet(grid, &options) {
        Ok(s) => s,
        Err(e) => {
            // Shown unsorted, with why.
            ctx.error = Some(e);
            bad = true;
            let unsorted = Options {
                all: true,
                ..Options::default()
            };
            match store.grid(true).map(|g| show::sheet(g, &unsorted)) {
                Ok(Ok(s)) => s,
                _ => return (ctx, true),
            }
        }
    };
    let filter = match Filter::parse(&ask.q, &sheet.columns) {
        Ok(f) => f,
        Err(e) => {
            ctx.error = Some(e);
            bad = true;
            Filter::default()
        }
    };
    let chosen: Option<Vec<&str>> = ask
        .cols
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| c.split(',').collect());
    // Unless chosen: every param, and the metrics at the top of their files (a report's
    // nested details, such as per-class scores, are one click away).
    let top = |c: &show::Column| c.kind == Kind::Param || !c.key.contains('.');
    let any_top = sheet
        .columns
        .iter()
        .any(|c| c.kind == Kind::Metric && top(c));
    let shown: Vec<bool> = sheet
        .columns
        .iter()
        .map(|c| match &chosen {
            Some(ch) => ch.contains(&c.header.as_str()),
            None => !any_top || top(c),
        })
        .collect();
    ctx.columns = sheet
        .columns
        .iter()
        .zip(&shown)
        .map(|(c, &shown)| {
            let sorted = (ask.sort.as_deref() == Some(c.header.as_str())).then_some(if desc {
                "desc"
            } else {
                "asc"
            });
            ColumnView {
                header: c.header.clone(),
                file: c.file.rsplit('/').next().unwrap_or(&c.file).to_string(),
                key: c.key.clone(),
                kind: match c.kind {
                    Kind::Metric => "metric",
                    Kind::Param => "param",
                },
                title: format!("{}:{}", c.file, c.key),
                shown,
                sort_href: ask.href(1, Some(&c.header), sorted == Some("asc")),
                sorted,
            }
        })
        .collect();
    let rows: Vec<(Option<String>, &show::Row)> = sheet
        .groups
        .iter()
        .flat_map(|g| g.rows.iter().map(move |r| (g.baseline.clone(), r)))
        .filter(|(_, r)| {
            filter.is_empty() || filter.keeps(r, commands.get(&r.id).map_or("", String::as_str))
        })
        .collect();
    ctx.matched = rows.len();
    ctx.pages = rows.len().div_ceil(per).max(1);
    ctx.page = ask.page.unwrap_or(1).clamp(1, ctx.pages);
    let start = (ctx.page - 1) * per;
    ctx.rows = rows
        .into_iter()
        .skip(start)
        .take(per)
        .map(|(baseline, r)| RowView {
            id: r.id.clone(),
            name: r.name.clone(),
            state: r.state.clone(),
            created: when(r.created),
            group: match (studies.get(&r.id), baseline) {
                (Some(study), _) => format!("study {study}"),
                (None, Some(b)) => b.chars().take(7).collect(),
                (None, None) => String::new(),
            },
            values: r
                .values
                .iter()
                .zip(&shown)
                .filter(|(_, s)| **s)
                .map(|(v, _)| v.as_ref().map_or_else(|| "-".into(), text_of))
                .collect(),
        })
        .collect();
    ctx.prev_href = (ctx.page > 1).then(|| ask.href(ctx.page - 1, ask.sort.as_deref(), desc));
    ctx.next_href =
        (ctx.page < ctx.pages).then(|| ask.href(ctx.page + 1, ask.sort.as_deref(), desc));
    (ctx, bad)
}
