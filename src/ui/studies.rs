//! `GET /studies`: each `wf tune` study with its best value so far, trial by trial, and its
//! trials table, best first (as `wf tune show`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::error::UiError;
use super::run_page::script_json;
use super::server::Ui;
use crate::tune::show::{history, json as study_json, objective};

/// `GET /studies`.
pub(super) async fn page(State(ui): State<Arc<Ui>>) -> Result<Response, UiError> {
    let studies = ui
        .with_store(|s| {
            let mut out = Vec::new();
            for (i, study) in s.studies()?.into_iter().enumerate() {
                let (file, key, direction) = objective(&study);
                let trials = s.trials(&study.name, file, key)?;
                let points: Vec<serde_json::Value> = history(&trials, direction)
                    .into_iter()
                    .map(|(n, state, value, best)| {
                        json!({"trial": n, "state": state, "value": value, "best": best})
                    })
                    .collect();
                let chart = json!({
                    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                    "width": 480, "height": 220,
                    "data": {"values": points},
                    "layer": [
                        {"mark": {"type": "point", "filled": true, "opacity": 0.6},
                         "encoding": {
                             "x": {"field": "trial", "type": "quantitative",
                                   "axis": {"tickMinStep": 1, "format": "d"}},
                             "y": {"field": "value", "type": "quantitative", "title": study.objective, "scale": {"zero": false}},
                             "color": {"field": "state", "type": "nominal"}}},
                        {"mark": {"type": "line", "interpolate": "step-after", "color": "#1d2330"},
                         "encoding": {
                             "x": {"field": "trial", "type": "quantitative"},
                             "y": {"field": "best", "type": "quantitative"}}}
                    ]
                });
                let table = study_json(&study, &trials, direction);
                let params: Vec<String> = table["trials"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|t| {
                        t["params"]
                            .as_object()
                            .into_iter()
                            .flat_map(|p| p.keys().cloned())
                    })
                    .fold(Vec::new(), |mut acc, k| {
                        if !acc.contains(&k) {
                            acc.push(k);
                        }
                        acc
                    });
                out.push(json!({
                    "id": format!("study-{i}"),
                    "name": study.name,
                    "objective": study.objective,
                    "direction": study.direction,
                    "chart": script_json(&chart),
                    "params": params,
                    "trials": table["trials"],
                }));
            }
            Ok(out)
        })
        .await?;
    ui.pages.render(
        "studies.html",
        json!({
            "title": "Studies", "nav": "studies", "token": ui.access_token(), "charts": true,
            "studies": studies,
        }),
    )
}
