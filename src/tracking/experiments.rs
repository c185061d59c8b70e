//! The `experiments/…` endpoints: get (by id or name), create, search.

use std::borrow::Cow;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::filter;
use super::search::{self, Field, Searchable};
use super::server::ApiState;
use super::wire::{self, ExperimentOut, KeyValue, Msg, View, int, list, text, texts, view};
use crate::store::MlflowExperiment as Experiment;

/// As MLflow: an experiment's name is at most this long.
const NAME_LIMIT: usize = 500;

/// `experiments/get-by-name`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct ByName {
    #[serde(default, deserialize_with = "text")]
    experiment_name: Option<String>,
}

/// `experiments/get`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct ById {
    #[serde(default, deserialize_with = "text")]
    experiment_id: Option<String>,
}

/// `experiments/create`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct Create {
    #[serde(default, deserialize_with = "text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    artifact_location: Option<String>,
    // Taken and not kept: wf's store has no experiment tags.
    #[serde(default, deserialize_with = "list")]
    #[expect(dead_code, reason = "accepted as MLflow's client sends it; not stored")]
    tags: Vec<KeyValue>,
}

/// `experiments/search`'s request.
#[derive(Debug, Deserialize)]
pub(crate) struct Search {
    #[serde(default, deserialize_with = "int")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "text")]
    page_token: Option<String>,
    #[serde(default, deserialize_with = "text")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "texts")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "view")]
    view_type: View,
}

/// An answer with one experiment.
#[derive(Debug, Serialize)]
pub(crate) struct One {
    experiment: ExperimentOut,
}

/// `experiments/create`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct Created {
    experiment_id: String,
}

/// `experiments/search`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct Found {
    experiments: Vec<ExperimentOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// An experiment id: digits.
pub(crate) fn parse_id(id: Option<String>, field: &str) -> Result<i64, ApiError> {
    let id = id.ok_or_else(|| ApiError::missing(field))?;
    id.trim()
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid {field} '{id}': expected digits")))
}

/// `GET experiments/get-by-name`.
pub(crate) async fn get_by_name(
    State(state): State<ApiState>,
    Msg(req): Msg<ByName>,
) -> Result<Json<One>, ApiError> {
    let name = req
        .experiment_name
        .ok_or_else(|| ApiError::missing("experiment_name"))?;
    let found = state
        .with_store({
            let name = name.clone();
            move |s| Ok(s.mlflow_experiment_named(&name)?)
        })
        .await?;
    let e = found.ok_or_else(|| {
        ApiError::not_found(format!("could not find experiment with name '{name}'"))
    })?;
    Ok(Json(One {
        experiment: ExperimentOut::from(&e),
    }))
}

/// `GET experiments/get`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Msg(req): Msg<ById>,
) -> Result<Json<One>, ApiError> {
    let id = parse_id(req.experiment_id, "experiment_id")?;
    let found = state
        .with_store(move |s| Ok(s.mlflow_experiment(id)?))
        .await?;
    let e =
        found.ok_or_else(|| ApiError::not_found(format!("no experiment with id={id} exists")))?;
    Ok(Json(One {
        experiment: ExperimentOut::from(&e),
    }))
}

/// `POST experiments/create`.
pub(crate) async fn create(
    State(state): State<ApiState>,
    Msg(req): Msg<Create>,
) -> Result<Json<Created>, ApiError> {
    let name = req.name.ok_or_else(|| ApiError::missing("name"))?;
    if name.trim().is_empty() {
        return Err(ApiError::invalid(format!(
            "invalid experiment name: '{name}'"
        )));
    }
    if name.chars().count() > NAME_LIMIT {
        return Err(ApiError::invalid(format!(
            "the experiment name is longer than {NAME_LIMIT} characters"
        )));
    }
    let location = req.artifact_location.filter(|l| !l.is_empty());
    let id = state
        .with_store(move |s| {
            Ok(s.mlflow_create_experiment(&name, location.as_deref(), wire::now())??)
        })
        .await?;
    Ok(Json(Created {
        experiment_id: id.to_string(),
    }))
}

impl Searchable for Experiment {
    fn metric(&self, _: &str) -> Option<f64> {
        None
    }

    fn param(&self, _: &str) -> Option<&str> {
        None
    }

    fn tag(&self, _: &str) -> Option<&str> {
        None
    }

    fn attribute(&self, key: &str) -> Option<Field<'_>> {
        match key {
            "name" => Some(Field::Text(Cow::Borrowed(&self.name))),
            // As MLflow's ids: text.
            "experiment_id" => Some(Field::Text(Cow::Owned(self.id.to_string()))),
            "creation_time" => Some(Field::Number(wire::millis(self.created) as f64)),
            "last_update_time" => Some(Field::Number(wire::millis(self.updated) as f64)),
            _ => None,
        }
    }

    fn sort_attribute(&self, key: &str) -> Option<Field<'_>> {
        match key {
            "experiment_id" => Some(Field::Number(self.id as f64)),
            _ => self.attribute(key),
        }
    }
}

/// `experiments/search`, by GET or POST.
pub(crate) async fn search(
    State(state): State<ApiState>,
    Msg(req): Msg<Search>,
) -> Result<Json<Found>, ApiError> {
    let clauses = filter::EXPERIMENTS
        .filter(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
    let mut orders = req
        .order_by
        .iter()
        .map(|o| {
            filter::EXPERIMENTS
                .order(o)
                .map_err(|e| ApiError::invalid(format!("invalid order_by clause '{o}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if orders.is_empty() {
        // As MLflow: newest first, then by id.
        orders = ["creation_time DESC", "experiment_id ASC"]
            .iter()
            .filter_map(|o| filter::EXPERIMENTS.order(o).ok())
            .collect();
    }
    let page = wire::Page::new(req.max_results, req.page_token.as_deref())?;
    let mut all = state.with_store(|s| Ok(s.mlflow_experiments()?)).await?;
    all.retain(|e| req.view_type.shows(&e.lifecycle) && search::matches(&clauses, e));
    // As MLflow's tie-breaker: the highest id first.
    all.sort_by_key(|e| std::cmp::Reverse(e.id));
    search::sort(&mut all, &orders);
    let (shown, next_page_token) = page.of(&all);
    Ok(Json(Found {
        experiments: shown.iter().map(ExperimentOut::from).collect(),
        next_page_token,
    }))
}
