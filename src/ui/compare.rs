//! `GET /compare?runs=ID,ID,…`: runs side by side: their params and metrics in one table (rows
//! that differ marked), a parallel-coordinates chart of every numeric column, a metric against
//! a param, and the metrics logged by step overlaid.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::UiError;
use super::page::number;
use super::run_page::{script_json, steps_chart};
use super::server::Ui;
use crate::store::RunDetail;

/// The line colours, one a run (cycled).
const COLOURS: &[&str] = &[
    "#2f6fd6", "#d1432f", "#2e9d57", "#d99a1e", "#8a4fc7", "#1aa3a3", "#c2417e", "#6b7a8f",
];

/// Axes of the parallel-coordinates chart at most.
const AXES: usize = 12;

#[derive(Debug, Deserialize)]
pub(super) struct Ask {
    #[serde(default)]
    runs: String,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Serialize)]
struct Line {
    key: String,
    kind: &'static str,
    values: Vec<String>,
    differs: bool,
}

/// One column of every run: param or metric, `file:key`, each run's value.
struct Series {
    key: String,
    metric: bool,
    values: Vec<Option<String>>,
    numbers: Vec<Option<f64>>,
}

fn series(details: &[RunDetail]) -> Vec<Series> {
    let mut out: BTreeMap<(bool, String), Series> = BTreeMap::new();
    let n = details.len();
    for (i, d) in details.iter().enumerate() {
        for (file, key, value) in &d.params {
            let name = join(file, key);
            let s = out.entry((false, name.clone())).or_insert_with(|| Series {
                key: name,
                metric: false,
                values: vec![None; n],
                numbers: vec![None; n],
            });
            let parsed: serde_json::Value =
                serde_json::from_str(value).unwrap_or(serde_json::Value::String(value.clone()));
            s.numbers[i] = parsed.as_f64();
            s.values[i] = Some(match parsed {
                serde_json::Value::String(t) => t,
                other => other.to_string(),
            });
        }
        // The latest value of each metric: highest step, then latest time.
        let mut latest: BTreeMap<String, (i64, f64, Option<f64>)> = BTreeMap::new();
        for (file, key, step, at, value) in &d.metrics {
            let e = latest
                .entry(join(file, key))
                .or_insert((*step, *at, *value));
            if (*step, *at) >= (e.0, e.1) {
                *e = (*step, *at, *value);
            }
        }
        for (name, (_, _, value)) in latest {
            let s = out.entry((true, name.clone())).or_insert_with(|| Series {
                key: name,
                metric: true,
                values: vec![None; n],
                numbers: vec![None; n],
            });
            s.numbers[i] = value;
            s.values[i] = Some(value.map_or("NaN".into(), number));
        }
    }
    // Metrics first, as `wf exp show`.
    let (mut metrics, params): (Vec<Series>, Vec<Series>) =
        out.into_values().partition(|s| s.metric);
    metrics.extend(params);
    metrics
}

fn join(file: &str, key: &str) -> String {
    if file.is_empty() {
        key.to_string()
    } else {
        format!("{file}:{key}")
    }
}

/// The parallel-coordinates chart, drawn here as SVG: an axis per numeric column (scaled to
/// its range over these runs), a line per run.
fn parallel(series: &[Series], names: &[String]) -> String {
    // The columns that tell the runs apart first: params, then metrics; then the others.
    let differs = |s: &&Series| s.numbers.iter().any(|v| v != &s.numbers[0]);
    let numeric: Vec<&Series> = series
        .iter()
        .filter(|s| s.numbers.iter().any(Option::is_some))
        .collect();
    // Rank 0: params that differ; 1: metrics that differ; 2: the rest (a stable sort keeps
    // each rank in table order).
    let mut axes = numeric;
    axes.sort_by_key(|s| match (differs(s), s.metric) {
        (true, false) => 0,
        (true, true) => 1,
        (false, _) => 2,
    });
    axes.truncate(AXES);
    let (w, h, top, left, gap) = (0.0_f64, 260.0_f64, 36.0_f64, 60.0_f64, 130.0_f64);
    let width = left * 2.0 + gap * (axes.len().max(2) - 1) as f64 + w;
    let mut svg = format!(
        "<svg class=\"parallel\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">",
        h + top + 40.0,
        h + top + 40.0
    );
    let scale: Vec<(f64, f64)> = axes
        .iter()
        .map(|s| {
            let xs = s.numbers.iter().flatten().filter(|v| v.is_finite());
            let lo = xs.clone().fold(f64::INFINITY, |a, &b| a.min(b));
            let hi = xs.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            (lo, hi)
        })
        .collect();
    for (a, s) in axes.iter().enumerate() {
        let x = left + gap * a as f64;
        let (lo, hi) = scale[a];
        svg.push_str(&format!(
            "<line class=\"pc-axis\" x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{}\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\
             <text x=\"{}\" y=\"{top}\" font-size=\"10\" fill=\"#5f6b7a\">{}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#5f6b7a\">{}</text>",
            top + h,
            top - 12.0,
            escape(short(&s.key)),
            x + 4.0,
            if hi.is_finite() {
                number(hi)
            } else {
                String::new()
            },
            x + 4.0,
            top + h,
            if lo.is_finite() {
                number(lo)
            } else {
                String::new()
            },
        ));
    }
    for (r, name) in names.iter().enumerate() {
        let points: Vec<String> = axes
            .iter()
            .enumerate()
            .filter_map(|(a, s)| {
                let v = s.numbers[r]?;
                let (lo, hi) = scale[a];
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                Some(format!(
                    "{:.1},{:.1}",
                    left + gap * a as f64,
                    top + h * (1.0 - t)
                ))
            })
            .collect();
        svg.push_str(&format!(
            "<polyline class=\"pc-line\" data-run=\"{}\" stroke=\"{}\" points=\"{}\"><title>{}</title></polyline>",
            escape(name),
            COLOURS[r % COLOURS.len()],
            points.join(" "),
            escape(name)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn short(key: &str) -> &str {
    key.rsplit(':').next().unwrap_or(key)
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /compare`.
pub(super) async fn page(
    State(ui): State<Arc<Ui>>,
    Query(ask): Query<Ask>,
) -> Result<Response, UiError> {
    let ids: Vec<String> = ask
        .runs
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Err(UiError::bad("no runs to compare").help("select runs on the runs page"));
    }
    if ids.len() > 100 {
        return Err(UiError::bad("at most 100 runs can be compared at once"));
    }
    let details = ui
        .with_store(move |s| {
            let mut out = Vec::new();
            for id in &ids {
                match s.detail(id)? {
                    Some(d) => out.push(d),
                    None => return Err(UiError::not_found(format!("no run `{id}` in the store"))),
                }
            }
            Ok(out)
        })
        .await?;
    let mut details = details;
    details.sort_by(|a, b| a.run.started.total_cmp(&b.run.started));
    let names: Vec<String> = details.iter().map(|d| d.run.name.clone()).collect();
    let all = series(&details);
    let lines: Vec<Line> = all
        .iter()
        .map(|s| Line {
            key: s.key.clone(),
            kind: if s.metric { "metric" } else { "param" },
            differs: s.values.iter().any(|v| v != &s.values[0]),
            values: s
                .values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "-".into()))
                .collect(),
        })
        .collect();
    let numeric_params: Vec<&str> = all
        .iter()
        .filter(|s| !s.metric && s.numbers.iter().any(Option::is_some))
        .map(|s| s.key.as_str())
        .collect();
    let metrics: Vec<&str> = all
        .iter()
        .filter(|s| s.metric)
        .map(|s| s.key.as_str())
        .collect();
    let x = ask
        .x
        .clone()
        .filter(|x| numeric_params.contains(&x.as_str()))
        .or_else(|| numeric_params.first().map(|s| s.to_string()));
    let y = ask
        .y
        .clone()
        .filter(|y| metrics.contains(&y.as_str()))
        .or_else(|| metrics.first().map(|s| s.to_string()));
    let scatter = match (&x, &y) {
        (Some(x), Some(y)) => {
            let xs = all.iter().find(|s| &s.key == x);
            let ys = all.iter().find(|s| &s.key == y);
            let values: Vec<serde_json::Value> = names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let (a, b) = (xs?.numbers[i]?, ys?.numbers[i]?);
                    (a.is_finite() && b.is_finite()).then(|| json!({"run": n, "x": a, "y": b}))
                })
                .collect();
            Some(script_json(&json!({
                "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                "width": 360, "height": 260,
                "data": {"values": values},
                "mark": {"type": "point", "filled": true, "size": 80},
                "encoding": {
                    "x": {"field": "x", "type": "quantitative", "title": x, "scale": {"zero": false}},
                    "y": {"field": "y", "type": "quantitative", "title": y, "scale": {"zero": false}},
                    "color": {"field": "run", "type": "nominal"},
                    "tooltip": [{"field": "run"}, {"field": "x"}, {"field": "y"}]
                }
            })))
        }
        _ => None,
    };
    let mut stepped: BTreeMap<String, Vec<(String, i64, f64)>> = BTreeMap::new();
    for d in &details {
        for (file, key, step, _, value) in &d.metrics {
            stepped.entry(join(file, key)).or_default().push((
                d.run.name.clone(),
                *step,
                value.unwrap_or(f64::NAN),
            ));
        }
    }
    let step_charts: Vec<serde_json::Value> = stepped
        .iter()
        .filter(|(_, points)| {
            let steps: BTreeSet<i64> = points.iter().map(|p| p.1).collect();
            steps.len() > 1
        })
        .enumerate()
        .map(|(i, (name, points))| {
            json!({"id": format!("steps-{i}"), "spec": script_json(&steps_chart(name, points))})
        })
        .collect();
    ui.pages.render(
        "compare.html",
        json!({
            "title": "Compare", "nav": "runs", "token": ui.access_token(), "charts": true,
            "runs": details.iter().map(|d| json!({"id": d.run.id, "name": d.run.name})).collect::<Vec<_>>(),
            "lines": lines,
            "parallel": parallel(&all, &names),
            "colours": names.iter().enumerate().map(|(i, n)| json!({"name": n, "colour": COLOURS[i % COLOURS.len()]})).collect::<Vec<_>>(),
            "scatter": scatter,
            "x": x, "y": y,
            "numeric_params": numeric_params, "metrics": metrics,
            "ids": details.iter().map(|d| d.run.id.clone()).collect::<Vec<_>>().join(","),
            "step_charts": step_charts,
        }),
    )
}
