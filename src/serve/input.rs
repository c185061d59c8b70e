//! Request bodies to rows of feature values, whatever their form: named records, lists of
//! values in the model's feature order, columns, CSV. Every refusal names what was wrong,
//! where (record 2, row 3, feature `petal_width`) and what the model reads.

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::loaded::Loaded;

/// Rows of feature values, row-major, in the model's feature order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rows {
    pub(crate) values: Vec<f64>,
    pub(crate) count: usize,
}

/// What to do with a field or column the model does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    /// Refuse it, naming it (`/predict`: a misspelt feature must not pass unseen).
    Refuse,
    /// Ignore it, as MLflow's scoring server does (a table may carry its label column).
    Ignore,
}

/// The body's media type, lower-cased without parameters; `None` without a `Content-Type`.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Whether a media type is JSON (`application/json`, `application/*+json`).
pub(crate) fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// 415, naming what was sent and what is taken.
pub(crate) fn unsupported(media: Option<&str>, taken: &str) -> ApiError {
    let sent = media.map_or_else(
        || "no Content-Type".to_string(),
        |m| format!("Content-Type `{m}`"),
    );
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("the body was sent with {sent}; this endpoint takes {taken}"),
    )
}

/// Parses a JSON body; a malformed one is refused with the line and column of the mistake.
pub(crate) fn json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad("the body is empty: send a JSON document"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("malformed JSON: {e}")))
}

/// One record (`{"sepal_length": 5.1, ...}`) or a list of them. Also says whether it was one.
pub(crate) fn record_or_records(
    value: &Value,
    loaded: &Loaded,
    extra: Extra,
) -> Result<(Rows, bool), ApiError> {
    match value {
        Value::Object(fields) => {
            let mut values = Vec::with_capacity(loaded.features().len());
            record(None, fields, loaded, extra, &mut values)?;
            Ok((Rows { values, count: 1 }, true))
        }
        Value::Array(list) => Ok((records(list, loaded, extra)?, false)),
        other => Err(ApiError::bad(format!(
            "expected a record ({}) or a list of records, got {}",
            example(loaded),
            kind(other)
        ))),
    }
}

/// A list of records.
pub(crate) fn records(list: &[Value], loaded: &Loaded, extra: Extra) -> Result<Rows, ApiError> {
    if list.is_empty() {
        return Err(empty());
    }
    let mut values = Vec::with_capacity(list.len() * loaded.features().len());
    for (i, item) in list.iter().enumerate() {
        let Value::Object(fields) = item else {
            return Err(ApiError::bad(format!(
                "record {} is {}, not an object of features ({})",
                i + 1,
                kind(item),
                example(loaded)
            )));
        };
        record(Some(i + 1), fields, loaded, extra, &mut values)?;
    }
    Ok(Rows {
        values,
        count: list.len(),
    })
}

fn record(
    at: Option<usize>,
    fields: &Map<String, Value>,
    loaded: &Loaded,
    extra: Extra,
    out: &mut Vec<f64>,
) -> Result<(), ApiError> {
    let start = out.len();
    out.resize(start + loaded.features().len(), f64::NAN);
    let of = |name: &str| match at {
        Some(i) => format!("feature `{name}` of record {i}"),
        None => format!("feature `{name}`"),
    };
    for (name, v) in fields {
        match loaded.index.get(name) {
            Some(&j) => out[start + j] = number(v, || of(name))?,
            None if extra == Extra::Ignore => {}
            None => return Err(unknown(name, at, loaded)),
        }
    }
    // A JSON number is never NaN: a NaN left is a feature not given.
    let missing: Vec<&str> = loaded
        .features()
        .iter()
        .zip(&out[start..])
        .filter(|(_, v)| v.is_nan())
        .map(|(f, _)| f.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(lacks(&missing, at.map(|i| format!("record {i}")), loaded))
    }
}

/// Rows of values in the model's feature order (`[[5.1, 3.5, 1.4, 0.2], ...]`).
pub(crate) fn positional(list: &[Value], loaded: &Loaded) -> Result<Rows, ApiError> {
    if list.is_empty() {
        return Err(empty());
    }
    let n = loaded.features().len();
    let mut values = Vec::with_capacity(list.len() * n);
    for (i, row) in list.iter().enumerate() {
        let cells = match row {
            Value::Array(cells) if cells.len() == n => cells,
            _ => {
                return Err(ApiError::bad(format!(
                    "row {} must be a list of {n} numbers, one per feature in the order {}",
                    i + 1,
                    loaded.features().join(", ")
                )));
            }
        };
        for (cell, name) in cells.iter().zip(loaded.features()) {
            values.push(number(cell, || {
                format!("feature `{name}` of row {}", i + 1)
            })?);
        }
    }
    Ok(Rows {
        values,
        count: list.len(),
    })
}

/// Where each named column goes: its feature's position, or `None` for one the model does not
/// read (ignored). Every feature must be among the columns, once.
pub(crate) fn placement(
    columns: &[&str],
    loaded: &Loaded,
    extra: Extra,
) -> Result<Vec<Option<usize>>, ApiError> {
    let mut seen = vec![false; loaded.features().len()];
    let mut out = Vec::with_capacity(columns.len());
    for name in columns {
        match loaded.index.get(*name) {
            Some(&j) if seen[j] => {
                return Err(ApiError::bad(format!("column `{name}` is given twice")));
            }
            Some(&j) => {
                seen[j] = true;
                out.push(Some(j));
            }
            None if extra == Extra::Ignore => out.push(None),
            None => return Err(unknown(name, None, loaded)),
        }
    }
    let missing: Vec<&str> = loaded
        .features()
        .iter()
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|(f, _)| f.as_str())
        .collect();
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(lacks(&missing, None, loaded))
    }
}

/// Rows of a table whose columns are `columns` (see [`placement`]).
pub(crate) fn table(
    columns: &[&str],
    rows: &[Value],
    loaded: &Loaded,
    extra: Extra,
) -> Result<Rows, ApiError> {
    let place = placement(columns, loaded, extra)?;
    if rows.is_empty() {
        return Err(empty());
    }
    let n = loaded.features().len();
    let mut values = vec![f64::NAN; rows.len() * n];
    for (i, row) in rows.iter().enumerate() {
        let cells = match row {
            Value::Array(cells) if cells.len() == columns.len() => cells,
            _ => {
                return Err(ApiError::bad(format!(
                    "row {} must be a list of {} values, one per column",
                    i + 1,
                    columns.len()
                )));
            }
        };
        for ((cell, place), name) in cells.iter().zip(&place).zip(columns) {
            if let Some(j) = place {
                values[i * n + j] = number(cell, || format!("column `{name}` of row {}", i + 1))?;
            }
        }
    }
    Ok(Rows {
        values,
        count: rows.len(),
    })
}

/// A table as columns: `{"sepal_length": [5.1, 4.9], ...}`.
pub(crate) fn columnar(
    fields: &Map<String, Value>,
    loaded: &Loaded,
    extra: Extra,
) -> Result<Rows, ApiError> {
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    let place = placement(&names, loaded, extra)?;
    let mut count = None;
    let n = loaded.features().len();
    let mut values = Vec::new();
    for ((name, column), place) in fields.iter().zip(&place) {
        let Some(j) = place else { continue };
        let Value::Array(cells) = column else {
            return Err(ApiError::bad(format!(
                "column `{name}` must be a list of values, got {}",
                kind(column)
            )));
        };
        let rows = *count.get_or_insert(cells.len());
        if cells.len() != rows {
            return Err(ApiError::bad(format!(
                "column `{name}` has {} values where the others have {rows}",
                cells.len()
            )));
        }
        if values.is_empty() {
            values = vec![f64::NAN; rows * n];
        }
        for (i, cell) in cells.iter().enumerate() {
            values[i * n + j] = number(cell, || format!("column `{name}` of row {}", i + 1))?;
        }
    }
    match count {
        Some(count) if count > 0 => Ok(Rows { values, count }),
        _ => Err(empty()),
    }
}

/// A CSV table with a header row.
pub(crate) fn csv(body: &[u8], loaded: &Loaded) -> Result<Rows, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body);
    let bad = |e: csv::Error| ApiError::bad(format!("malformed CSV: {e}"));
    let header: Vec<String> = reader
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_string)
        .collect();
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    let place = placement(&names, loaded, Extra::Ignore)?;
    let n = loaded.features().len();
    let mut values = Vec::new();
    let mut count = 0;
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let line = record.position().map_or(count + 2, |p| p.line() as usize);
        let start = values.len();
        values.resize(start + n, f64::NAN);
        for ((cell, place), name) in record.iter().zip(&place).zip(&names) {
            if let Some(j) = place {
                values[start + j] = cell.parse::<f64>().map_err(|_| {
                    ApiError::bad(format!(
                        "line {line}, column `{name}`: `{}` is not a number",
                        clip(cell)
                    ))
                })?;
            }
        }
        count += 1;
    }
    if count == 0 {
        return Err(empty());
    }
    Ok(Rows { values, count })
}

/// A JSON number as f64; anything else is refused, naming `what`.
pub(crate) fn number(v: &Value, what: impl Fn() -> String) -> Result<f64, ApiError> {
    v.as_f64().ok_or_else(|| {
        ApiError::bad(format!(
            "{} must be a number, got {}",
            what(),
            clip(&v.to_string())
        ))
    })
}

/// No rows at all.
pub(crate) fn empty() -> ApiError {
    ApiError::bad("no rows to predict: send at least one")
}

fn unknown(name: &str, at: Option<usize>, loaded: &Loaded) -> ApiError {
    let hint = crate::spec::schema::suggest(name, loaded.features().iter().map(String::as_str))
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    let place = at.map(|i| format!(" in record {i}")).unwrap_or_default();
    ApiError::bad(format!(
        "unknown feature `{}`{place}{hint}; the model reads {}",
        clip(name),
        loaded.features().join(", ")
    ))
}

fn lacks(missing: &[&str], at: Option<String>, loaded: &Loaded) -> ApiError {
    let names = missing
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let place = at.map(|a| format!("{a} ")).unwrap_or_default();
    let noun = if missing.len() == 1 {
        "feature"
    } else {
        "features"
    };
    ApiError::bad(format!(
        "{place}lacks {noun} {names}; the model reads {}",
        loaded.features().join(", ")
    ))
}

/// `{"sepal_length": 1.0, ...}` with the model's features, for messages.
fn example(loaded: &Loaded) -> String {
    let fields: Vec<String> = loaded
        .features()
        .iter()
        .take(2)
        .map(|f| format!("\"{f}\": 1.0"))
        .collect();
    let more = if loaded.features().len() > 2 {
        ", ..."
    } else {
        ""
    };
    format!("{{{}{more}}}", fields.join(", "))
}

/// What kind of JSON value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// At most 60 characters of something a client sent.
fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
