//! `GET /runs/{id}`: one run in full (params, metrics and their steps, tags, its stages on a
//! timeline with their output, its MLflow runs and artifacts), and the download of an
//! artifact.

use std::collections::BTreeMap;
use std::path::{Component, Path as FsPath};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::error::UiError;
use super::page::{number, when};
use super::server::Ui;
use crate::store::{MlflowRun, RunDetail};

#[derive(Serialize)]
struct Chart {
    id: String,
    title: String,
    /// The Vega-Lite specification, safe inside a `<script>` element.
    spec: String,
}

#[derive(Serialize)]
struct StageView {
    stage: String,
    outcome: String,
    executor: String,
    seconds: String,
    reasons: Vec<String>,
    record: String,
    output: String,
}

#[derive(Serialize)]
struct Child {
    id: String,
    name: String,
    stage: String,
    status: String,
    params: BTreeMap<String, String>,
    metrics: Vec<(String, String)>,
    artifacts: Vec<String>,
}

/// A chart specification as text that cannot close the script element holding it.
pub(super) fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

/// A line chart of `points` (step, value) per series.
pub(super) fn steps_chart(title: &str, points: &[(String, i64, f64)]) -> serde_json::Value {
    let values: Vec<serde_json::Value> = points
        .iter()
        .filter(|(_, _, v)| v.is_finite())
        .map(|(series, step, value)| json!({"series": series, "step": step, "value": value}))
        .collect();
    json!({
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "width": 420, "height": 220,
        "data": {"values": values},
        "mark": {"type": "line", "point": true},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": "step"},
            "y": {"field": "value", "type": "quantitative", "title": title, "scale": {"zero": false}},
            "color": {"field": "series", "type": "nominal", "title": null}
        }
    })
}

fn timeline(d: &RunDetail) -> Option<serde_json::Value> {
    let start = d.run.started;
    let values: Vec<serde_json::Value> = d
        .stages
        .iter()
        .filter_map(|s| {
            let begun = s.started? - start;
            Some(json!({
                "stage": s.stage, "outcome": s.outcome,
                "from": begun, "to": begun + s.seconds, "seconds": s.seconds,
            }))
        })
        .collect();
    (!values.is_empty()).then(|| {
        json!({
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "width": 560,
            "height": {"step": 22},
            "data": {"values": values},
            "mark": {"type": "bar", "cornerRadius": 2},
            "encoding": {
                "y": {"field": "stage", "type": "nominal", "sort": null, "title": null},
                "x": {"field": "from", "type": "quantitative", "title": "seconds from the start"},
                "x2": {"field": "to"},
                "color": {"field": "outcome", "type": "nominal"},
                "tooltip": [{"field": "stage"}, {"field": "outcome"}, {"field": "seconds", "format": ".2f"}]
            }
        })
    })
}

/// `GET /runs/{id}`.
pub(super) async fn page(
    State(ui): State<Arc<Ui>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let lookup = id.clone();
    let (detail, children, locks) = ui
        .with_store(move |s| {
            let detail = s.detail(&lookup)?;
            let (children, files) = match &detail {
                Some(_) => (s.children(&lookup)?, s.files(&lookup)?),
                None => (Vec::new(), Vec::new()),
            };
            let locks = files.iter().any(|(_, role, _)| role == "lock");
            Ok((detail, children, locks))
        })
        .await?;
    let d = detail.ok_or_else(|| {
        UiError::not_found(format!("no run `{id}` in the store"))
            .help("the runs page lists the runs there are")
    })?;
    let mut charts = Vec::new();
    let mut by_metric: BTreeMap<String, Vec<(String, i64, f64)>> = BTreeMap::new();
    for (file, key, step, _, value) in &d.metrics {
        let name = if file.is_empty() {
            key.clone()
        } else {
            format!("{file}:{key}")
        };
        by_metric.entry(name.clone()).or_default().push((
            d.run.name.clone(),
            *step,
            value.unwrap_or(f64::NAN),
        ));
    }
    for child in &children {
        for (key, points) in &child.metrics {
            by_metric
                .entry(key.clone())
                .or_default()
                .extend(points.iter().map(|p| (child.name.clone(), p.step, p.value)));
        }
    }
    for (name, points) in &by_metric {
        if points.len() > 1 {
            charts.push(Chart {
                id: format!("chart-{}", charts.len()),
                title: name.clone(),
                spec: script_json(&steps_chart(name, points)),
            });
        }
    }
    let timeline = timeline(&d).map(|spec| Chart {
        id: "timeline".into(),
        title: "Stages".into(),
        spec: script_json(&spec),
    });
    let stages: Vec<StageView> = d
        .stages
        .iter()
        .map(|s| {
            let record: serde_json::Value =
                serde_json::from_str(&s.record).unwrap_or(serde_json::Value::Null);
            StageView {
                stage: s.stage.clone(),
                outcome: s.outcome.clone(),
                executor: s.executor.clone(),
                seconds: format!("{:.2}", s.seconds),
                reasons: record["reasons"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                record: serde_json::to_string_pretty(&record).unwrap_or_default(),
                output: s.output.clone(),
            }
        })
        .collect();
    let children: Vec<Child> = children.into_iter().map(child_view).collect();
    let latest: BTreeMap<(String, String), String> = d
        .metrics
        .iter()
        .map(|(f, k, _, _, v)| ((f.clone(), k.clone()), v.map_or("NaN".into(), number)))
        .collect();
    let r = &d.run;
    ui.pages.render(
        "run.html",
        json!({
            "title": r.name, "nav": "runs", "token": ui.access_token(), "charts": true,
            "run": r,
            "started": when(r.started),
            "ended": r.ended.map(when),
            "seconds": r.ended.map(|e| format!("{:.1}", e - r.started)),
            "params": d.params,
            "metrics": latest.into_iter().map(|((f, k), v)| (f, k, v)).collect::<Vec<_>>(),
            "tags": d.tags,
            "artifacts": d.artifacts,
            "stages": stages,
            "children": children,
            "step_charts": charts,
            "timeline": timeline,
            "has_plots": locks,
        }),
    )
}

fn child_view(c: MlflowRun) -> Child {
    Child {
        metrics: c
            .metrics
            .iter()
            .filter_map(|(k, points)| Some((k.clone(), number(points.last()?.value))))
            .collect(),
        stage: c.stage.unwrap_or_default(),
        id: c.id,
        name: c.name,
        status: c.status,
        params: c.params,
        artifacts: c.artifacts,
    }
}

/// Whether `path` stays inside the folder it is joined to: relative, no `..`, no NUL.
pub(super) fn contained(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && !path.contains('\\')
        && FsPath::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// `GET /runs/{id}/artifacts/{path}`: the file, as a download.
pub(super) async fn artifact(
    State(ui): State<Arc<Ui>>,
    Path((id, path)): Path<(String, String)>,
) -> Result<Response, UiError> {
    if !id.chars().all(|c| c.is_ascii_hexdigit()) || !contained(&path) {
        return Err(UiError::bad(format!(
            "`{path}` is not a path inside run `{id}`'s artifacts"
        ))
        .help("artifact paths are relative and have no `..`"));
    }
    let dir = ui.with_store(move |s| Ok(s.artifact_dir(&id))).await?;
    let missing = || UiError::not_found(format!("no artifact `{path}`"));
    let (dir, file) = match (dir.canonicalize(), dir.join(&path).canonicalize()) {
        (Ok(d), Ok(f)) => (d, f),
        _ => return Err(missing()),
    };
    // A link inside the folder pointing out of it is refused like `..`.
    if !file.starts_with(&dir) || !file.is_file() {
        return Err(missing());
    }
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|e| UiError::internal(format!("cannot read `{}`: {e}", file.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', "_"))
        .unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_stay_inside() {
        assert!(contained("model/weights.bin"));
        assert!(contained("a.txt"));
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\..\\b",
            "a\0b",
            "..",
        ] {
            assert!(!contained(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_value_cannot_close_the_script_element() {
        let v = json!({"title": "</script><script>alert(1)</script>"});
        assert!(!script_json(&v).contains("</"));
    }
}
