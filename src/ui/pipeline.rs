//! `GET /pipeline`: the stage graph drawn as SVG (the layered layout of `wf dag --svg`), each
//! stage coloured by its status (fresh or stale, as `wf status` finds it; running, failed or
//! done while a run of another process goes on, followed live through `/events`); and
//! `GET /pipeline/stages/{address}`: a stage's command or built-in, deps, outs, params and
//! last runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::error::UiError;
use super::page::when;
use super::server::Ui;
use crate::dag::Dag;
use crate::dag_render::{self, ViewOptions};
use crate::hash::Hasher;
use crate::lock::LockSet;
use crate::spec::{Action, Pipeline};
use crate::store::LiveEvent;

/// `?collapse=1`: each foreach/matrix group as one node.
#[derive(Debug, Deserialize)]
pub(super) struct Ask {
    #[serde(default)]
    collapse: Option<String>,
}

/// The class of a stage in a live state.
fn live_class(state: &str) -> &'static str {
    match state {
        "running" => "running",
        "failed" => "failed",
        "blocked" => "blocked",
        "interrupted" => "stale",
        _ => "fresh",
    }
}

fn load(ui: &Ui) -> Result<(Pipeline, Dag), UiError> {
    let pipeline = Pipeline::load(&ui.root, &ui.cwd, &[])
        .map_err(|e| UiError::bad(format!("cannot read the pipeline: {e}")))?;
    let dag = Dag::build(&pipeline).map_err(|e| UiError::bad(format!("{e}")))?;
    Ok((pipeline, dag))
}

/// Each stage's status by address: `stale` for what `wf status` would run, else `fresh`.
fn statuses(ui: &Ui, pipeline: &Pipeline, dag: &Dag) -> Result<BTreeMap<String, String>, String> {
    let all: BTreeSet<usize> = (0..pipeline.stages.len()).collect();
    let locks = LockSet::read(&ui.root, pipeline, &all).map_err(|e| e.to_string())?;
    let hasher = Hasher::open(&ui.root, &crate::workspace::state_path(&ui.root));
    let stale = crate::status::stale(
        pipeline,
        dag,
        &dag.topo_order(),
        &all,
        &ui.root,
        &hasher,
        &locks,
    )
    .map_err(|e| e.to_string())?;
    let stale: BTreeSet<usize> = stale
        .changed
        .iter()
        .map(|(i, _)| *i)
        .chain(stale.upstream.iter().map(|(i, _)| *i))
        .collect();
    Ok(pipeline
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = if stale.contains(&i) { "stale" } else { "fresh" };
            (s.address(), status.to_string())
        })
        .collect())
}

/// `GET /pipeline`.
pub(super) async fn page(
    State(ui): State<Arc<Ui>>,
    Query(ask): Query<Ask>,
) -> Result<Response, UiError> {
    let collapse = ask.collapse.as_deref().is_some_and(|c| c == "1");
    let (live, seq) = ui
        .with_store(|s| Ok((s.live_running()?, s.live_last()?)))
        .await?;
    let (svg, stages, error) = ui
        .blocking(move |ui| {
            let (pipeline, dag) = match load(ui) {
                Ok(p) => p,
                Err(e) => return Ok((String::new(), 0, Some(e.message))),
            };
            let (mut status, error) = match statuses(ui, &pipeline, &dag) {
                Ok(s) => (s, None),
                Err(e) => (
                    BTreeMap::new(),
                    Some(format!("cannot tell which stages are stale: {e}")),
                ),
            };
            for LiveEvent { stage, state, .. } in &live {
                status.insert(stage.clone(), live_class(state).to_string());
            }
            let view = dag_render::view(
                &pipeline,
                &dag,
                &ViewOptions {
                    collapse,
                    ..ViewOptions::default()
                },
            );
            let layout = crate::dag_layout::layout(&view);
            let class_of = |i: usize| -> Option<String> {
                let label = &view.nodes[i];
                if let Some(s) = status.get(label) {
                    return Some(s.clone());
                }
                // A collapsed group: the worst of its members.
                let prefix = format!("{label}@");
                let members: Vec<&String> = status
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v)
                    .collect();
                ["failed", "running", "stale", "blocked", "fresh"]
                    .into_iter()
                    .find(|c| members.iter().any(|m| m == c))
                    .map(str::to_string)
            };
            let svg = crate::dag_svg::svg(&view, &layout, &class_of, false);
            Ok((svg, pipeline.stages.len(), error))
        })
        .await?;
    ui.pages.render(
        "pipeline.html",
        json!({
            "title": "Pipeline", "nav": "pipeline", "token": ui.access_token(),
            "svg": svg, "seq": seq, "stages": stages, "collapse": collapse, "error": error,
        }),
    )
}

/// `GET /pipeline/stages/{address}`.
pub(super) async fn stage(
    State(ui): State<Arc<Ui>>,
    Path(address): Path<String>,
) -> Result<Response, UiError> {
    let wanted = address.clone();
    let shown = ui
        .blocking(move |ui| {
            let (pipeline, _) = load(ui)?;
            let Some(s) = pipeline.stages.iter().find(|s| s.address() == wanted) else {
                return Err(UiError::not_found(format!("no stage `{wanted}` in the pipeline"))
                    .help("the pipeline page shows every stage"));
            };
            let (commands, uses) = match &s.action {
                Action::Cmd(cmd) => (cmd.commands().iter().map(|c| c.to_string()).collect(), None),
                Action::Builtin { name, with, .. } => (
                    Vec::new(),
                    Some(json!({"name": name, "with": serde_json::to_string_pretty(&with.to_json()).unwrap_or_default()})),
                ),
            };
            Ok(json!({
                "address": s.address(),
                "desc": s.desc,
                "wdir": s.wdir.to_string(),
                "commands": commands,
                "uses": uses,
                "deps": s.deps.iter().map(|d| d.written.clone()).collect::<Vec<_>>(),
                "outs": s.outs.iter().map(|o| json!({"path": o.entry.written, "kind": format!("{:?}", o.kind).to_lowercase(), "cache": o.cache})).collect::<Vec<_>>(),
                "params": s.params.iter().map(|p| json!({"file": p.written, "keys": p.keys})).collect::<Vec<_>>(),
                "frozen": s.frozen,
            }))
        })
        .await?;
    let lookup = address.clone();
    let runs = ui
        .with_store(move |s| Ok(s.stage_runs(&lookup, 20)?))
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "run": r.run, "name": r.name, "outcome": r.outcome,
                "started": r.started.map(when), "seconds": format!("{:.2}", r.seconds),
            })
        })
        .collect::<Vec<_>>();
    ui.pages.render(
        "stage.html",
        json!({
            "title": address, "nav": "pipeline", "token": ui.access_token(),
            "stage": shown, "runs": runs,
        }),
    )
}
