//! A study's trials as a table, best first (what `wf tune` prints at its end and `wf tune show`
//! prints).

use super::space::Direction;
use super::study::assigned;
use crate::store::{Store, StoreError, StoredTrial, StudyRow};
use crate::table::Table;

/// Finished trials with a value, best first; then the others by number.
pub fn best_first(trials: &[StoredTrial], direction: Direction) -> Vec<&StoredTrial> {
    let mut sorted: Vec<&StoredTrial> = trials.iter().collect();
    let rank = |t: &StoredTrial| match (t.status.as_str(), t.value) {
        ("finished", Some(v)) if v.is_finite() => Some(direction.loss(v)),
        _ => None,
    };
    sorted.sort_by(|a, b| match (rank(a), rank(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.number.cmp(&b.number)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.number.cmp(&b.number),
    });
    sorted
}

/// Trial, name, state, value, each param, duration; best first.
pub fn trials_table(trials: &[StoredTrial], key: &str, direction: Direction) -> Table {
    let sorted = best_first(trials, direction);
    let params: Vec<String> = {
        let mut names: Vec<String> = Vec::new();
        for t in &sorted {
            for k in assigned(&t.overrides).into_keys() {
                if !names.contains(&k) {
                    names.push(k);
                }
            }
        }
        names
    };
    let mut header = vec![
        "Trial".to_string(),
        "Experiment".into(),
        "State".into(),
        key.to_string(),
    ];
    header.extend(params.iter().cloned());
    header.push("Duration".into());
    let mut table = Table::new(header);
    for t in sorted {
        let assigned = assigned(&t.overrides);
        let mut row = vec![
            t.number.to_string(),
            t.name.clone(),
            t.status.clone(),
            t.value.map_or("-".into(), |v| {
                crate::diff::py_str(&crate::spec::value::Value::Float(v), true)
            }),
        ];
        row.extend(params.iter().map(|p| {
            assigned
                .get(p)
                .map_or("-".into(), |v| crate::diff::py_str(v, true))
        }));
        row.push(
            t.ended
                .map_or("-".into(), |e| format!("{:.1}s", e - t.started)),
        );
        table.push(row);
    }
    table
}

/// The study and its trials, best first, as `wf tune show --json` prints them.
pub fn json(study: &StudyRow, trials: &[StoredTrial], direction: Direction) -> serde_json::Value {
    let list: Vec<serde_json::Value> = best_first(trials, direction)
        .iter()
        .map(|t| {
            let params: serde_json::Map<String, serde_json::Value> = assigned(&t.overrides)
                .into_iter()
                .map(|(k, v)| (k, v.to_json()))
                .collect();
            serde_json::json!({
                "trial": t.number,
                "name": t.name,
                "id": t.id,
                "state": t.status,
                "value": t.value,
                "params": params,
                "seconds": t.ended.map(|e| e - t.started),
            })
        })
        .collect();
    serde_json::json!({
        "study": study.name,
        "objective": study.objective,
        "direction": study.direction,
        "trials": list,
    })
}

/// Each trial in number order with its value and the best value so far (what a study's history
/// plots): number, state, value, best so far.
pub fn history(
    trials: &[StoredTrial],
    direction: Direction,
) -> Vec<(u64, &str, Option<f64>, Option<f64>)> {
    let mut sorted: Vec<&StoredTrial> = trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    let mut best: Option<f64> = None;
    sorted
        .into_iter()
        .map(|t| {
            let value = t.value.filter(|v| t.status == "finished" && v.is_finite());
            if let Some(v) = value
                && best.is_none_or(|b| direction.better(v, b))
            {
                best = Some(v);
            }
            (t.number, t.status.as_str(), value, best)
        })
        .collect()
}

/// A stored study's objective, as its file and its key, and its direction.
pub fn objective(study: &StudyRow) -> (&str, &str, Direction) {
    let (file, key) = study
        .objective
        .rsplit_once(':')
        .unwrap_or((&study.objective, ""));
    let direction = if study.direction == "min" {
        Direction::Min
    } else {
        Direction::Max
    };
    (file, key, direction)
}

/// Every study of the store in Markdown, for `wf report --md`: its best trial, and its history
/// (each trial's value and the best so far) folded away; empty without studies.
pub fn report_md(store: &Store) -> Result<String, StoreError> {
    let mut out = String::new();
    let number = |v: Option<f64>| v.map_or("-".into(), crate::spec::value::python_float);
    for study in store.studies()? {
        let (file, key, direction) = objective(&study);
        let trials = store.trials(&study.name, file, key)?;
        out.push_str(&format!(
            "#### Study `{}`: `{}` ({})\n\n",
            study.name, study.objective, study.direction
        ));
        match super::study::best_of(&trials, direction) {
            Some(best) => {
                let params = assigned(&best.overrides)
                    .iter()
                    .map(|(k, v)| format!("`{k}={}`", v.to_text()))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push_str(&format!(
                    "Best of {} trials: trial {} `{}`, {key} = {}, with {params}.\n\n",
                    trials.len(),
                    best.number,
                    best.name,
                    number(best.value)
                ));
            }
            None => out.push_str(&format!(
                "No trial of {} finished with `{key}`.\n\n",
                trials.len()
            )),
        }
        let mut table = Table::new(["Trial", "State", key, "Best so far"]);
        for (n, state, value, best) in history(&trials, direction) {
            table.push([
                n.to_string(),
                state.to_string(),
                number(value),
                number(best),
            ]);
        }
        out.push_str("<details><summary>History</summary>\n\n");
        out.push_str(table.markdown().trim_end());
        out.push_str("\n\n</details>\n\n");
    }
    Ok(out.trim_end().to_string())
}
