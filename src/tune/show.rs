//! A study's trials as a table, best first (what `wf tune` prints at its end and `wf tune show`
//! prints).

use super::space::Direction;
use super::study::assigned;
use crate::store::{StoredTrial, StudyRow};
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
