//! `GET /models`: the registries of the pipeline's `deploy` stages (versions, aliases, metrics,
//! the champions so far), and `POST /models/promote` and `/models/rollback`, which do what
//! `wf model promote|rollback` do (the buttons ask first).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use wf_stages::registry::Registry;

use super::error::UiError;
use super::server::Ui;
use crate::registry::{self, DeployStage};
use crate::spec::Pipeline;

/// The deploy stages of the repository's pipeline.
fn deploys(ui: &Ui) -> Result<Vec<DeployStage>, UiError> {
    let pipeline = Pipeline::load(&ui.root, &ui.cwd, &[])
        .map_err(|e| UiError::bad(format!("cannot read the pipeline: {e}")))?;
    Ok(registry::deploys(&pipeline))
}

/// `GET /models`.
pub(super) async fn page(State(ui): State<Arc<Ui>>) -> Result<Response, UiError> {
    let (registries, error) = ui
        .blocking(|ui| {
            let deploys = match deploys(ui) {
                Ok(d) => d,
                Err(e) => return Ok((Vec::new(), Some(e.message))),
            };
            let mut out = Vec::new();
            for d in deploys {
                let shown = d
                    .dir
                    .strip_prefix(&ui.root)
                    .unwrap_or(&d.dir)
                    .display()
                    .to_string();
                let listed = Registry::open(&d.dir)
                    .and_then(|r| Ok((r.list()?, r.history()?, r.champion()?)));
                out.push(match listed {
                    Ok((versions, history, champion)) => json!({
                        "promote_body": versions
                            .iter()
                            .map(|v| json!({"stage": d.stage, "version": v.version}).to_string())
                            .collect::<Vec<_>>(),
                        "rollback_body": json!({"stage": d.stage}).to_string(),
                        "stage": d.stage, "dir": shown, "versions": versions,
                        "history": history.iter().rev().collect::<Vec<_>>(),
                        "champion": champion,
                        "can_roll_back": history.len() > 1,
                    }),
                    Err(e) => json!({"stage": d.stage, "dir": shown, "error": e.to_string()}),
                });
            }
            Ok((out, None))
        })
        .await?;
    ui.pages.render(
        "models.html",
        json!({
            "title": "Models", "nav": "models", "token": ui.access_token(),
            "registries": registries, "error": error,
        }),
    )
}

/// The body of `POST /models/promote` and `/models/rollback`.
#[derive(Debug, Deserialize)]
pub(super) struct Change {
    /// The deploy stage whose registry changes.
    stage: String,
    /// The version to promote.
    version: Option<u32>,
}

fn registry_of(ui: &Ui, stage: &str) -> Result<Registry, UiError> {
    let deploys = deploys(ui)?;
    let d = deploys.iter().find(|d| d.stage == stage).ok_or_else(|| {
        UiError::bad(format!("no deploy stage `{stage}`")).help(format!(
            "the deploy stages are: {}",
            deploys
                .iter()
                .map(|d| d.stage.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Registry::open(&d.dir).map_err(|e| UiError::bad(e.to_string()))
}

fn body(body: Result<Json<Change>, JsonRejection>) -> Result<Change, UiError> {
    body.map(|Json(c)| c).map_err(|e| {
        UiError::bad(format!(
            "the request's body is not what was expected: {}",
            e.body_text()
        ))
        .help("send JSON: {\"stage\": \"deploy\", \"version\": 2}")
    })
}

/// `POST /models/promote` `{"stage": …, "version": N}`.
pub(super) async fn promote(
    State(ui): State<Arc<Ui>>,
    change: Result<Json<Change>, JsonRejection>,
) -> Result<Json<serde_json::Value>, UiError> {
    let change = body(change)?;
    let version = change
        .version
        .ok_or_else(|| UiError::bad("no version to promote").help("add \"version\": N"))?;
    ui.blocking(move |ui| {
        registry_of(ui, &change.stage)?
            .promote(version)
            .map_err(|e| UiError::bad(e.to_string()))?;
        Ok(Json(json!({
            "message": format!("version {version} is now the champion"),
            "champion": version,
        })))
    })
    .await
}

/// `POST /models/rollback` `{"stage": …}`.
pub(super) async fn rollback(
    State(ui): State<Arc<Ui>>,
    change: Result<Json<Change>, JsonRejection>,
) -> Result<Json<serde_json::Value>, UiError> {
    let change = body(change)?;
    ui.blocking(move |ui| {
        let v = registry_of(ui, &change.stage)?
            .rollback()
            .map_err(|e| UiError::bad(e.to_string()))?;
        Ok(Json(json!({
            "message": format!("rolled back: version {v} is the champion again"),
            "champion": v,
        })))
    })
    .await
}
