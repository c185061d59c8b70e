//! `wf exp show --csv` and `--json`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exp::show::{Column, Kind, Sheet};
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
/// `logged`, by experiment id), to `w`. Written as it is walked, with no tree of values in
/// between.
pub(super) fn json(
    sheet: &Sheet,
    logged: &BTreeMap<String, Vec<MlflowRun>>,
    w: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let list: Vec<Experiment<'_>> = sheet
        .groups
        .iter()
        .flat_map(|group| group.rows.iter().map(move |row| (group, row)))
        .map(|(group, row)| {
            let files = |kind| Files {
                columns: &sheet.columns,
                values: &row.values,
                kind,
            };
            Experiment {
                name: &row.name,
                id: &row.id,
                baseline: group.baseline.as_deref(),
                created: row.created,
                state: &row.state,
                overrides: &row.overrides,
                params: files(Kind::Param),
                metrics: files(Kind::Metric),
                runs: logged
                    .get(&row.id)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .map(mlflow_run)
                    .collect(),
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *w, &list)?;
    w.write_all(b"\n")
}

/// An experiment as `--json` lists it.
#[derive(Serialize)]
struct Experiment<'a> {
    name: &'a str,
    id: &'a str,
    baseline: Option<&'a str>,
    created: f64,
    state: &'a str,
    overrides: &'a [String],
    params: Files<'a>,
    metrics: Files<'a>,
    runs: Vec<serde_json::Value>,
}

/// A row's values of one kind, by file then key (files with none left out).
struct Files<'a> {
    columns: &'a [Column],
    values: &'a [Option<GridValue>],
    kind: Kind,
}

impl Serialize for Files<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // The columns are sorted by kind, then file: each file's are together.
        let of_kind: Vec<(&Column, &GridValue)> = (self.columns.iter())
            .zip(self.values)
            .filter(|(c, _)| c.kind == self.kind)
            .filter_map(|(c, v)| Some((c, v.as_ref()?)))
            .collect();
        let mut map = s.serialize_map(None)?;
        for chunk in of_kind.chunk_by(|a, b| a.0.file == b.0.file) {
            map.serialize_entry(&chunk[0].0.file, &Keys(chunk))?;
        }
        map.end()
    }
}

/// One file's values, by key.
struct Keys<'a>(&'a [(&'a Column, &'a GridValue)]);

impl Serialize for Keys<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (c, v) in self.0 {
            map.serialize_entry(&c.key, &AsJson(v))?;
        }
        map.end()
    }
}

/// A value as JSON has it.
struct AsJson<'a>(&'a GridValue);

impl Serialize for AsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            GridValue::Null => s.serialize_unit(),
            GridValue::Bool(b) => s.serialize_bool(*b),
            GridValue::Int(i) => s.serialize_i64(*i),
            GridValue::Uint(u) => s.serialize_u64(*u),
            GridValue::Float(f) if f.is_finite() => s.serialize_f64(*f),
            GridValue::Float(_) => s.serialize_unit(),
            GridValue::Text(t) => s.serialize_str(t),
            GridValue::Json(_) => self.0.to_json().serialize(s),
        }
    }
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
