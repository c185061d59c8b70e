//! `GET /plots`: the pipeline's plots, as `wf plots show` draws them (the same page, its
//! libraries inlined), for the workspace.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::error::UiError;
use super::page::{SELF_CONTAINED, html_under};
use super::server::Ui;
use crate::plots::{WORKSPACE, collect, page as plots_page};

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
