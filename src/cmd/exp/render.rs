//! `wf exp show --csv` and `--json`.

use std::collections::BTreeMap;

use crate::exp::show::{Kind, Sheet};
use crate::store::{GridValue, MlflowRun};

pub(super) fn csv(sheet: &Sheet) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut header = vec!["Experiment", "rev", "Created", "State"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    header.extend(
        sheet
            .columns
            .iter()
            .map(|c| format!("{}:{}", c.file, c.key)),
    );
    let mut out = header
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for group in &sheet.groups {
        for row in &group.rows {
            let mut cells = vec![
                row.name.clone(),
                group.baseline.clone().unwrap_or_default(),
                created(row.created),
                row.state.clone(),
            ];
            cells.extend(row.values.iter().map(|v| match v {
                None => String::new(),
                v => cell(v),
            }));
            out.push_str(&cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
    }
    out
}

/// The table as JSON: a list of experiments, each with the MLflow runs its stages logged (from
/// `logged`, by experiment id).
pub(super) fn json(sheet: &Sheet, logged: &BTreeMap<String, Vec<MlflowRun>>) -> String {
    let mut list = Vec::new();
    for group in &sheet.groups {
        for row in &group.rows {
            let mut params = serde_json::Map::new();
            let mut metrics = serde_json::Map::new();
            for (c, v) in sheet.columns.iter().zip(&row.values) {
                let Some(v) = v else { continue };
                let into = if c.kind == Kind::Metric {
                    &mut metrics
                } else {
                    &mut params
                };
                let file = into
                    .entry(c.file.clone())
                    .or_insert_with(|| serde_json::json!({}));
                file[&c.key] = v.to_json();
            }
            list.push(serde_json::json!({
                "name": row.name,
                "id": row.id,
                "baseline": group.baseline,
                "created": row.created,
                "state": row.state,
                "overrides": row.overrides,
                "params": params,
                "metrics": metrics,
                "runs": logged.get(&row.id).map_or(&[][..], Vec::as_slice).iter().map(mlflow_run).collect::<Vec<_>>(),
            }));
        }
    }
    let mut out = serde_json::to_string_pretty(&list).unwrap_or_default();
    out.push('\n');
    out
}

/// An MLflow run: its params, each metric's history (step, value, time in seconds), tags and
/// artifact files.
fn mlflow_run(run: &MlflowRun) -> serde_json::Value {
    let number =
        |v: f64| serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into);
    let metrics: serde_json::Map<String, serde_json::Value> = run
        .metrics
        .iter()
        .map(|(key, points)| {
            let points = points
                .iter()
                .map(|p| serde_json::json!({"step": p.step, "value": number(p.value), "timestamp": p.timestamp}))
                .collect();
            (key.clone(), serde_json::Value::Array(points))
        })
        .collect();
    serde_json::json!({
        "id": run.id,
        "name": run.name,
        "stage": run.stage,
        "status": run.status,
        "params": run.params,
        "metrics": metrics,
        "tags": run.tags,
        "artifacts": run.artifacts,
    })
}

pub(super) fn cell(v: &Option<GridValue>) -> String {
    let mut s = String::new();
    write_cell(&mut s, v);
    s
}

/// A value as a cell shows it: `-` for none, a string as it is.
pub(super) fn write_cell(s: &mut String, v: &Option<GridValue>) {
    match v {
        None => s.push('-'),
        Some(v) => v.write(s),
    }
}

/// `2026-12-02 19:20` (UTC).
pub(super) fn created(at: f64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at as i64).map_or(String::new(), |t| {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    })
}
