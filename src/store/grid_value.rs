//! What the grid is made of: its columns and its values.

use serde::{Deserialize, Serialize};

/// A column: a metric or a param of one file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GridColumn {
    /// A metric (else a param).
    pub metric: bool,
    /// Its file (`mlflow:STAGE` for what a stage's script logged through MLflow).
    pub file: String,
    /// Its dotted key.
    pub key: String,
}

/// A value: a param's, as its JSON, or a metric's number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GridValue {
    /// JSON's `null`; also a metric that is not a number.
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A whole number above `i64::MAX`.
    Uint(u64),
    /// Any other number.
    Float(f64),
    /// A string.
    Text(String),
    /// A list or a map, as JSON text.
    Json(String),
}

impl GridValue {
    /// The value of a JSON value.
    pub fn of(v: &serde_json::Value) -> GridValue {
        use serde_json::Value as J;
        match v {
            J::Null => GridValue::Null,
            J::Bool(b) => GridValue::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => GridValue::Int(i),
                (None, Some(u)) => GridValue::Uint(u),
                _ => GridValue::float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => GridValue::Text(s.clone()),
            J::Array(_) | J::Object(_) => GridValue::Json(v.to_string()),
        }
    }

    /// A number; one that is not (NaN, infinite) is `Null`, as in JSON.
    pub fn float(f: f64) -> GridValue {
        if f.is_finite() {
            GridValue::Float(f)
        } else {
            GridValue::Null
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            GridValue::Null => J::Null,
            GridValue::Bool(b) => J::Bool(*b),
            GridValue::Int(i) => J::from(*i),
            GridValue::Uint(u) => J::from(*u),
            GridValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            GridValue::Text(s) => J::String(s.clone()),
            GridValue::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| J::String(s.clone())),
        }
    }

    /// The number it is, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            GridValue::Int(i) => Some(*i as f64),
            GridValue::Uint(u) => Some(*u as f64),
            GridValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Writes it as a table shows it: a string as it is, anything else as JSON.
    pub fn write(&self, s: &mut String) {
        use std::fmt::Write as _;
        let _ = match self {
            GridValue::Null => write!(s, "null"),
            GridValue::Bool(b) => write!(s, "{b}"),
            GridValue::Int(i) => write!(s, "{i}"),
            GridValue::Uint(u) => write!(s, "{u}"),
            GridValue::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => write!(s, "{n}"),
                None => write!(s, "null"),
            },
            GridValue::Text(t) | GridValue::Json(t) => write!(s, "{t}"),
        };
    }
}

/// The bytes of one number in [`Cells`]: its column (u32) and its value (f64), little endian.
const NUMBER: usize = 12;

/// A run's values: (column, value) pairs. Numbers (nearly all of them: every metric) are packed
/// in one block of bytes, which the grid's cache reads and writes at once; the rest are listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cells {
    #[serde(with = "serde_bytes")]
    numbers: Vec<u8>,
    others: Vec<(u32, GridValue)>,
}

impl Cells {
    /// Values in the order read: a later value of a column wins, and so it stays after an
    /// earlier one of the same column (a column holds only numbers, or none).
    pub fn new(cells: Vec<(u32, GridValue)>) -> Cells {
        let mut numbers = Vec::new();
        let mut others = Vec::new();
        for (c, v) in cells {
            match v {
                GridValue::Float(f) => {
                    numbers.extend_from_slice(&c.to_le_bytes());
                    numbers.extend_from_slice(&f.to_le_bytes());
                }
                v => others.push((c, v)),
            }
        }
        Cells { numbers, others }
    }

    /// The numbers' columns and values.
    fn numbers(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.numbers.chunks_exact(NUMBER).map(|n| {
            let c = u32::from_le_bytes([n[0], n[1], n[2], n[3]]);
            let mut f = [0; 8];
            f.copy_from_slice(&n[4..]);
            (c, f64::from_le_bytes(f))
        })
    }

    /// The columns it has values in.
    pub fn columns(&self) -> impl Iterator<Item = u32> + '_ {
        self.numbers()
            .map(|(c, _)| c)
            .chain(self.others.iter().map(|(c, _)| *c))
    }

    /// Whether it is whole (no number cut short) and refers to columns below `n` only.
    pub(super) fn fits(&self, n: usize) -> bool {
        self.numbers.len().is_multiple_of(NUMBER) && self.columns().all(|c| (c as usize) < n)
    }
}

impl IntoIterator for Cells {
    type Item = (u32, GridValue);
    type IntoIter = CellsIntoIter;

    fn into_iter(self) -> CellsIntoIter {
        CellsIntoIter {
            numbers: self.numbers,
            at: 0,
            others: self.others.into_iter(),
        }
    }
}

/// A run's values, taken: the numbers, then the rest.
pub struct CellsIntoIter {
    numbers: Vec<u8>,
    at: usize,
    others: std::vec::IntoIter<(u32, GridValue)>,
}

impl Iterator for CellsIntoIter {
    type Item = (u32, GridValue);

    fn next(&mut self) -> Option<(u32, GridValue)> {
        match self.numbers.get(self.at..self.at + NUMBER) {
            Some(n) => {
                self.at += NUMBER;
                let c = u32::from_le_bytes([n[0], n[1], n[2], n[3]]);
                let mut f = [0; 8];
                f.copy_from_slice(&n[4..]);
                Some((c, GridValue::Float(f64::from_le_bytes(f))))
            }
            None => self.others.next(),
        }
    }
}
