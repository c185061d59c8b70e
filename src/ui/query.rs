//! The runs table's filter: words and comparisons, all of which a row must pass.
//!
//! `accuracy > 0.9 C=1 svm` keeps the runs whose `accuracy` is above 0.9, whose `C` is 1 and
//! whose name, state or command contains `svm`. A key is a column's header, its `file:key`, its
//! key, or `name`, `state`; operators are `=`, `!=`, `<`, `<=`, `>`, `>=` and `~` (contains).
//! Numbers compare as numbers, anything else as text.

use std::sync::LazyLock;

use regex::Regex;

use crate::exp::show::{Column, Row};
use crate::store::GridValue;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

/// What a comparison reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    State,
    Column(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// A word the name, state or command contains (any case).
    Word(String),
    /// A field compared with a value.
    Compare(Field, Op, String),
}

/// A parsed filter, its keys resolved against the table's columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Filter {
    conds: Vec<Cond>,
}

static CONDITION: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(clippy::unwrap_used, reason = "a constant pattern, checked by the tests")]
    Regex::new(
        r#"^\s*(?:([A-Za-z_][\w.:/@\-]*)\s*(>=|<=|!=|=|>|<|~)\s*("[^"]*"|'[^']*'|[^\s"']+)|("[^"]*"|'[^']*'|\S+))"#,
    )
    .unwrap()
});

impl Filter {
    /// Parses `text` against `columns`; the error names what is wrong.
    pub(super) fn parse(text: &str, columns: &[Column]) -> Result<Filter, String> {
        let mut rest = text.trim();
        let mut conds = Vec::new();
        while !rest.is_empty() {
            let Some(c) = CONDITION.captures(rest) else {
                return Err(format!("cannot read the filter at `{rest}`"));
            };
            let whole = c.get(0).map_or(rest.len(), |m| m.end());
            if let (Some(key), Some(op), Some(value)) = (c.get(1), c.get(2), c.get(3)) {
                let field = field(key.as_str(), columns)?;
                let op = match op.as_str() {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    _ => Op::Contains,
                };
                conds.push(Cond::Compare(field, op, unquote(value.as_str())));
            } else if let Some(word) = c.get(4) {
                let word = unquote(word.as_str());
                if !word.eq_ignore_ascii_case("and") {
                    conds.push(Cond::Word(word.to_lowercase()));
                }
            }
            rest = rest[whole..].trim_start();
        }
        Ok(Filter { conds })
    }

    /// Whether the row passes (`command` is its run's command line).
    pub(super) fn keeps(&self, row: &Row, command: &str) -> bool {
        self.conds.iter().all(|c| match c {
            Cond::Word(w) => [row.name.as_str(), row.state.as_str(), command]
                .iter()
                .any(|s| s.to_lowercase().contains(w)),
            Cond::Compare(field, op, value) => {
                let (text, number) = match field {
                    Field::Name => (row.name.clone(), None),
                    Field::State => (row.state.clone(), None),
                    Field::Column(i) => match row.values.get(*i).and_then(Option::as_ref) {
                        Some(v) => (text_of(v), v.as_f64()),
                        // A run without the column passes only `!=`.
                        None => return *op == Op::Ne,
                    },
                };
                compare(&text, number, *op, value)
            }
        })
    }

    /// Whether nothing is asked.
    pub(super) fn is_empty(&self) -> bool {
        self.conds.is_empty()
    }
}

fn unquote(s: &str) -> String {
    let quoted = s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')));
    if quoted {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// The field a key names.
fn field(key: &str, columns: &[Column]) -> Result<Field, String> {
    match key {
        "name" => return Ok(Field::Name),
        "state" | "status" => return Ok(Field::State),
        _ => {}
    }
    let full = |c: &Column| format!("{}:{}", c.file, c.key);
    if let Some(i) = columns
        .iter()
        .position(|c| c.header == key || full(c) == key)
    {
        return Ok(Field::Column(i));
    }
    let mut by_key: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].key == key)
        .collect();
    if by_key.is_empty() {
        // The last part of a dotted key (`C` for `train.C`).
        by_key = (0..columns.len())
            .filter(|&i| columns[i].key.rsplit('.').next() == Some(key))
            .collect();
    }
    match by_key.as_slice() {
        [i] => Ok(Field::Column(*i)),
        [] => {
            let closest = columns
                .iter()
                .map(|c| (strsim::jaro_winkler(key, &c.header), &c.header))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            Err(match closest {
                Some((_, h)) => format!("no column `{key}`; did you mean `{h}`?"),
                None => format!("no column `{key}`"),
            })
        }
        _ => Err(format!(
            "`{key}` is in several files; name one as `file:key`: {}",
            by_key
                .iter()
                .map(|&i| full(&columns[i]))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A value as the table shows it.
pub(super) fn text_of(v: &GridValue) -> String {
    match v {
        GridValue::Float(f) => super::page::number(*f),
        _ => {
            let mut s = String::new();
            v.write(&mut s);
            s
        }
    }
}

fn compare(text: &str, number: Option<f64>, op: Op, value: &str) -> bool {
    use std::cmp::Ordering;
    if op == Op::Contains {
        return text.to_lowercase().contains(&value.to_lowercase());
    }
    let order = match (number, value.parse::<f64>()) {
        (Some(x), Ok(y)) => x.partial_cmp(&y),
        _ => Some(text.cmp(value)),
    };
    match (op, order) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exp::show::Kind;

    fn columns() -> Vec<Column> {
        let col = |kind, file: &str, key: &str| Column {
            kind,
            file: file.into(),
            key: key.into(),
            header: key.into(),
        };
        vec![
            col(Kind::Metric, "m.json", "accuracy"),
            col(Kind::Param, "params.yaml", "train.C"),
            col(Kind::Param, "params.yaml", "train.kernel"),
        ]
    }

    fn row(name: &str, acc: Option<f64>, c: i64, kernel: &str) -> Row {
        Row {
            name: name.into(),
            id: name.into(),
            created: 0.0,
            state: "finished".into(),
            overrides: vec![],
            values: vec![
                acc.map(GridValue::Float),
                Some(GridValue::Int(c)),
                Some(GridValue::Text(kernel.into())),
            ],
        }
    }

    fn kept(filter: &str) -> Vec<String> {
        let f = Filter::parse(filter, &columns()).unwrap();
        [
            row("brave-lynx", Some(0.9), 1, "rbf"),
            row("calm-owl", Some(0.95), 10, "linear"),
            row("run-3", None, 2, "rbf"),
        ]
        .iter()
        .filter(|r| f.keeps(r, "wf exp run"))
        .map(|r| r.name.clone())
        .collect()
    }

    #[test]
    fn comparisons_words_and_quotes() {
        assert_eq!(kept("accuracy > 0.9"), ["calm-owl"]);
        assert_eq!(kept("accuracy>=0.9 and train.C<5"), ["brave-lynx"]);
        assert_eq!(kept("C=10"), ["calm-owl"]);
        assert_eq!(kept("kernel = 'rbf'"), ["brave-lynx", "run-3"]);
        assert_eq!(kept("params.yaml:train.kernel~LIN"), ["calm-owl"]);
        assert_eq!(kept("OWL"), ["calm-owl"]);
        assert_eq!(kept("accuracy != 0.9"), ["calm-owl", "run-3"]);
        assert_eq!(kept("name~run state=finished"), ["run-3"]);
        assert_eq!(kept("  "), ["brave-lynx", "calm-owl", "run-3"]);
    }

    #[test]
    fn unknown_columns_are_named() {
        let e = Filter::parse("acuracy > 1", &columns()).unwrap_err();
        assert_eq!(e, "no column `acuracy`; did you mean `accuracy`?");
    }
}
