//! `GET /plots`: the pipeline's plots, as `wf plots show` draws them (the same page, its
//! libraries inlined), for the workspace; `GET /runs/{id}/plots`: those of an experiment, read
//! from the cache through the locks it ended with.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::error::UiError;
use super::page::{SELF_CONTAINED, html_under};
use super::server::Ui;
use crate::plots::{WORKSPACE, collect, collect_run, page as plots_page};

/// `GET /plots`.
pub(super) async fn page(State(ui): State<Arc<Ui>>) -> Result<Response, UiError> {
    let html = ui
        .blocking(|ui| {
            let plots = collect(&ui.root, &ui.cwd, &[], &[WORKSPACE.to_string()])
                .map_err(|e| UiError::bad(format!("cannot collect the plots: {e}")))?;
            plots_page("wf ui · plots", &plots)
                .map_err(|e| UiError::internal(format!("cannot draw the plots: {e}")))
        })
        .await?;
    Ok(html_under(html, SELF_CONTAINED))
}

/// `GET /runs/{id}/plots`.
pub(super) async fn run(
    State(ui): State<Arc<Ui>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let lookup = id.clone();
    let (name, locks) = ui
        .with_store(move |s| {
            let Some(detail) = s.detail(&lookup)? else {
                return Err(UiError::not_found(format!(
                    "no run `{lookup}` in the store"
                )));
            };
            let locks: std::collections::BTreeMap<String, Vec<u8>> = s
                .files(&lookup)?
                .into_iter()
                .filter(|(_, role, _)| role == "lock")
                .map(|(path, _, text)| (path, text))
                .collect();
            Ok((detail.run.name, locks))
        })
        .await?;
    if locks.is_empty() {
        return Err(UiError::not_found(format!(
            "run `{name}` kept no locks to read its plots through"
        ))
        .help("experiments keep theirs (`wf exp run`); the workspace's plots are at /plots"));
    }
    let html = ui
        .blocking(move |ui| {
            let plots = collect_run(&ui.root, &ui.cwd, &name, &locks)
                .map_err(|e| UiError::bad(format!("cannot collect the plots: {e}")))?;
            plots_page(&format!("wf ui · plots of {name}"), &plots)
                .map_err(|e| UiError::internal(format!("cannot draw the plots: {e}")))
        })
        .await?;
    Ok(html_under(html, SELF_CONTAINED))
}
