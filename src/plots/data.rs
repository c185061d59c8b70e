//! Plot data files read into records: CSV and TSV (values kept as text, as DVC keeps them),
//! JSON and YAML (a list of records, or an object holding one).

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::error::PlotsError;
use crate::error::Error;
use crate::spec::{Source, Value, yaml};

/// One row of plot data.
pub(crate) type Record = Map<String, Json>;

/// The records of a data file. `name` names it in messages (with its revision), `path` is its
/// path, whose extension says the format.
pub(crate) fn records(
    name: &str,
    path: &str,
    bytes: Vec<u8>,
    no_header: bool,
) -> Result<Vec<Record>, Error> {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let text = String::from_utf8(bytes).map_err(|e| PlotsError::Malformed {
        path: name.to_string(),
        line: None,
        column: None,
        reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })?;
    match ext.as_deref() {
        Some("csv") => Ok(delimited(name, &text, b',', no_header)?),
        Some("tsv") => Ok(delimited(name, &text, b'\t', no_header)?),
        Some("yaml" | "yml") => {
            let src = Arc::new(Source {
                name: name.to_string(),
                path: path.into(),
                text,
            });
            let node = yaml::parse(&src)?;
            Ok(from_json(name, Value::from_node(&node).to_json())?)
        }
        _ => {
            let json: Json = serde_json::from_str(&text).map_err(|e| PlotsError::Malformed {
                path: name.to_string(),
                line: Some(e.line() as u64),
                column: Some(e.column() as u64),
                reason: e
                    .to_string()
                    .split(" at line")
                    .next()
                    .unwrap_or("")
                    .to_string(),
            })?;
            Ok(from_json(name, json)?)
        }
    }
}

fn delimited(
    name: &str,
    text: &str,
    delimiter: u8,
    no_header: bool,
) -> Result<Vec<Record>, PlotsError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(!no_header)
        .from_reader(text.as_bytes());
    let malformed = |e: csv::Error| PlotsError::Malformed {
        path: name.to_string(),
        line: e.position().map(csv::Position::line),
        column: None,
        reason: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} fields where the header has {expected_len}"),
            _ => e.to_string(),
        },
    };
    let header: Vec<String> = if no_header {
        Vec::new()
    } else {
        reader
            .headers()
            .map_err(malformed)?
            .iter()
            .map(str::to_string)
            .collect()
    };
    let mut rows = Vec::new();
    for row in reader.records() {
        let row = row.map_err(malformed)?;
        let record = row.iter().enumerate().map(|(i, cell)| {
            // As DVC's `header: false`: columns named by their index.
            let key = header.get(i).cloned().unwrap_or_else(|| i.to_string());
            (key, Json::String(cell.to_string()))
        });
        rows.push(record.collect());
    }
    Ok(rows)
}

/// The records of a JSON value: a list of objects, or the first list of objects inside an
/// object (DVC's `find_first_list`); an object with none is one record.
fn from_json(name: &str, json: Json) -> Result<Vec<Record>, PlotsError> {
    let no_records = |reason: String| PlotsError::NoRecords {
        path: name.to_string(),
        reason,
    };
    let list = match json {
        Json::Array(items) => items,
        Json::Object(map) => match first_list(&map) {
            Some(items) => items.clone(),
            None => vec![Json::Object(map)],
        },
        other => return Err(no_records(format!("it is {}", kind(&other)))),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Json::Object(m) => Ok(m),
            other => Err(no_records(format!("item {i} is {}", kind(&other)))),
        })
        .collect()
}

fn first_list(map: &Map<String, Json>) -> Option<&Vec<Json>> {
    map.values().find_map(|v| match v {
        Json::Array(items) if items.iter().all(Json::is_object) => Some(items),
        Json::Object(inner) => first_list(inner),
        _ => None,
    })
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(path: &str, text: &str, expected: &str) {
        let got = records(path, path, text.as_bytes().to_vec(), false).unwrap();
        assert_eq!(serde_json::to_string(&got).unwrap(), expected);
    }

    #[test]
    fn reads_each_format() {
        case("a.csv", "x,y\n1,2\n", r#"[{"x":"1","y":"2"}]"#);
        case("a.tsv", "x\ty\n1\t2\n", r#"[{"x":"1","y":"2"}]"#);
        case("a.json", r#"[{"x": 1}]"#, r#"[{"x":1}]"#);
        case("a.json", r#"{"train": [{"x": 1}]}"#, r#"[{"x":1}]"#);
        case("a.json", r#"{"x": 1}"#, r#"[{"x":1}]"#);
        case("a.yaml", "- x: 1\n  y: a\n", r#"[{"x":1,"y":"a"}]"#);
    }

    #[test]
    fn malformed_data_names_its_line() {
        let e = records("a.csv", "a.csv", b"x,y\n1,2\n3\n".to_vec(), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot parse `a.csv` at line 3: 1 fields where the header has 2"
        );
        let e = records("a.json", "a.json", b"[{\"x\": 1,}]".to_vec(), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot parse `a.json` at line 1, column 10: trailing comma"
        );
    }
}
