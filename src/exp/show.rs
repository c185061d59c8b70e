//! What `wf exp show` tabulates: experiments grouped under their baseline commit, with a column
//! per metric and per param, chosen, filtered and sorted as `dvc exp show` does.

use std::collections::BTreeMap;

use crate::store::{Grid, GridValue};

/// How the table is chosen.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every run of the store, not only experiments.
    pub all: bool,
    /// Sort by this column (`accuracy`, `params.yaml:train.C`, `name`, `created`).
    pub sort_by: Option<String>,
    /// Sort descending.
    pub descending: bool,
    /// Only the columns whose value differs between rows.
    pub only_changed: bool,
    /// Only the newest N rows.
    pub limit: Option<usize>,
    /// Only the columns matching (applied before `drop`).
    pub keep: Option<regex::Regex>,
    /// Not the columns matching.
    pub drop: Option<regex::Regex>,
}

/// A metric or a param.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// From a `metrics:` file.
    Metric,
    /// From a params file.
    Param,
}

/// A column of values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    /// Metric or param.
    pub kind: Kind,
    /// Its file.
    pub file: String,
    /// Its dotted key.
    pub key: String,
    /// The header: the key, or `file:key` where two files have the key.
    pub header: String,
}

/// One experiment's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// When it was created, in seconds since the Unix epoch.
    pub created: f64,
    /// `queued`, `running`, `finished`, `failed`, `cancelled`.
    pub state: String,
    /// Its overrides.
    pub overrides: Vec<String>,
    /// One value per column (`None`: it has none).
    pub values: Vec<Option<GridValue>>,
}

/// Rows under one baseline commit (`None`: not in git, or started outside it).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The commit.
    pub baseline: Option<String>,
    /// Its experiments, oldest first (unless sorted).
    pub rows: Vec<Row>,
}

/// The table.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// Metrics first, then params, each by file then key.
    pub columns: Vec<Column>,
    /// Groups, by the first appearance of their baseline.
    pub groups: Vec<Group>,
}

/// Tabulates the store's runs (oldest first) as `opts` asks.
pub fn sheet(mut grid: Grid, opts: &Options) -> Result<Sheet, String> {
    let first = opts.limit.map_or(0, |n| grid.runs.len().saturating_sub(n));
    let chosen = first..grid.runs.len();
    // The columns the chosen runs have: metrics first, then params, each by file then key.
    let mut used = vec![false; grid.columns.len()];
    for i in chosen.clone() {
        for c in grid.cells[i].columns() {
            used[c as usize] = true;
        }
    }
    let mut order: Vec<usize> = (0..grid.columns.len()).filter(|&c| used[c]).collect();
    let rank = |c: usize| {
        let col = &grid.columns[c];
        (!col.metric, &col.file, &col.key)
    };
    order.sort_by(|&a, &b| rank(a).cmp(&rank(b)));
    let mut files_of: BTreeMap<(bool, &str), usize> = BTreeMap::new();
    for &c in &order {
        let col = &grid.columns[c];
        *files_of.entry((col.metric, col.key.as_str())).or_default() += 1;
    }
    let mut columns: Vec<(usize, Column)> = order
        .iter()
        .map(|&c| {
            let col = &grid.columns[c];
            let column = Column {
                kind: if col.metric {
                    Kind::Metric
                } else {
                    Kind::Param
                },
                file: col.file.clone(),
                key: col.key.clone(),
                header: if files_of[&(col.metric, col.key.as_str())] > 1 {
                    format!("{}:{}", col.file, col.key)
                } else {
                    col.key.clone()
                },
            };
            (c, column)
        })
        .filter(|(_, c)| {
            let full = format!("{}:{}", c.file, c.key);
            let matches = |r: &regex::Regex| r.is_match(&full) || r.is_match(&c.key);
            opts.keep.as_ref().is_none_or(matches) && !opts.drop.as_ref().is_some_and(matches)
        })
        .collect();
    // Where each column of the grid is in the sheet.
    let mut at = vec![None; grid.columns.len()];
    for (p, (c, _)) in columns.iter().enumerate() {
        at[*c] = Some(p);
    }
    let mut values: Vec<Vec<Option<GridValue>>> = chosen
        .clone()
        .map(|i| {
            let mut values = vec![None; columns.len()];
            for (c, v) in std::mem::take(&mut grid.cells[i]) {
                if let Some(p) = at[c as usize] {
                    values[p] = Some(v);
                }
            }
            values
        })
        .collect();
    if opts.only_changed {
        let keep: Vec<bool> = (0..columns.len())
            .map(|p| values.iter().any(|v| v[p] != values[0][p]))
            .collect();
        let mut p = 0;
        columns.retain(|_| {
            p += 1;
            keep[p - 1]
        });
        for row in &mut values {
            let mut p = 0;
            row.retain(|_| {
                p += 1;
                keep[p - 1]
            });
        }
    }
    let columns: Vec<Column> = columns.into_iter().map(|(_, c)| c).collect();
    let mut rows: Vec<(Option<String>, Row)> = chosen
        .zip(values)
        .map(|(i, values)| {
            let run = std::mem::take(&mut grid.runs[i]);
            (
                run.parent,
                Row {
                    name: run.name,
                    id: run.id,
                    created: run.started,
                    state: run.status,
                    overrides: run.overrides,
                    values,
                },
            )
        })
        .collect();
    if let Some(by) = &opts.sort_by {
        let at = sort_column(&columns, by)?;
        rows.sort_by(|a, b| {
            let order = match at {
                SortBy::Name => a.1.name.cmp(&b.1.name),
                SortBy::Created => a.1.created.total_cmp(&b.1.created),
                SortBy::Column(i) => compare(a.1.values[i].as_ref(), b.1.values[i].as_ref()),
            };
            if opts.descending {
                order.reverse()
            } else {
                order
            }
        });
    }
    let mut groups: Vec<Group> = Vec::new();
    for (baseline, row) in rows {
        match groups.iter_mut().find(|g| g.baseline == baseline) {
            Some(g) => g.rows.push(row),
            None => groups.push(Group {
                baseline,
                rows: vec![row],
            }),
        }
    }
    Ok(Sheet { columns, groups })
}

enum SortBy {
    Name,
    Created,
    Column(usize),
}

/// The column `--sort-by` names: by header, by `file:key`, or by key.
fn sort_column(columns: &[Column], by: &str) -> Result<SortBy, String> {
    match by {
        "name" | "Experiment" => return Ok(SortBy::Name),
        "created" | "Created" => return Ok(SortBy::Created),
        _ => {}
    }
    let full = |c: &Column| format!("{}:{}", c.file, c.key);
    if let Some(i) = columns.iter().position(|c| full(c) == by || c.header == by) {
        return Ok(SortBy::Column(i));
    }
    let by_key: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].key == by)
        .collect();
    match by_key.as_slice() {
        [i] => Ok(SortBy::Column(*i)),
        [] => Err(format!("no column `{by}` to sort by")),
        _ => Err(format!(
            "`{by}` is in several files; name one: {}",
            by_key
                .iter()
                .map(|&i| format!("`{}`", full(&columns[i])))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Numbers by value, then the rest by their text; missing values last.
fn compare(a: Option<&GridValue>, b: Option<&GridValue>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Greater,
        (_, None) => Ordering::Less,
        (Some(a), Some(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => {
                let (mut x, mut y) = (String::new(), String::new());
                a.write(&mut x);
                b.write(&mut y);
                x.cmp(&y)
            }
        },
    }
}
