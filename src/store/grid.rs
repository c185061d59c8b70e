//! The runs of the store with every param and metric as a column: what `wf exp show`
//! tabulates, read in one pass over each table. A store of 10 000 experiments holds half a
//! million values; each is placed by borrowed names, with no copy of a name already seen.

use std::collections::HashMap;

use super::error::StoreError;
use super::runs::{RUN_COLUMNS, Store, StoredRun, stored_run};

/// A column: a metric or a param of one file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GridColumn {
    /// A metric (else a param).
    pub metric: bool,
    /// Its file (`mlflow:STAGE` for what a stage's script logged through MLflow).
    pub file: String,
    /// Its dotted key.
    pub key: String,
}

/// Runs and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// The runs, oldest first.
    pub runs: Vec<StoredRun>,
    /// Every column some run has a value in, in the order first read.
    pub columns: Vec<GridColumn>,
    /// Each run's values: column, value, in the order read (a later value of a column wins).
    pub cells: Vec<Vec<(usize, serde_json::Value)>>,
}

/// Columns by kind, file and key, found by borrowed names. Runs mostly have the same columns
/// in the same order: the next column of the run before is tried first, which spares hashing.
#[derive(Default)]
struct Columns {
    by_name: [HashMap<String, HashMap<String, usize>>; 2],
    list: Vec<GridColumn>,
    /// The columns of the run before, in order, and of this one so far.
    before: Vec<usize>,
    now: Vec<usize>,
}

impl Columns {
    /// A new run's values follow.
    fn next_run(&mut self) {
        self.before = std::mem::take(&mut self.now);
    }

    fn of(&mut self, metric: bool, file: &str, key: &str) -> usize {
        if let Some(&i) = self.before.get(self.now.len()) {
            let c = &self.list[i];
            if c.metric == metric && c.key == key && c.file == file {
                self.now.push(i);
                return i;
            }
        }
        let i = self.find(metric, file, key);
        self.now.push(i);
        i
    }

    fn find(&mut self, metric: bool, file: &str, key: &str) -> usize {
        let files = &mut self.by_name[usize::from(metric)];
        if let Some(&i) = files.get(file).and_then(|keys| keys.get(key)) {
            return i;
        }
        let i = self.list.len();
        self.list.push(GridColumn {
            metric,
            file: file.to_string(),
            key: key.to_string(),
        });
        match files.get_mut(file) {
            Some(keys) => {
                keys.insert(key.to_string(), i);
            }
            None => {
                files.insert(file.to_string(), HashMap::from([(key.to_string(), i)]));
            }
        }
        i
    }
}

/// Finds a run's row by id, quickly when rows come run by run.
struct Rows<'a> {
    index: HashMap<&'a str, usize>,
    last: Option<(String, Option<usize>)>,
}

impl Rows<'_> {
    fn of(&mut self, id: &str) -> Option<usize> {
        if let Some((last, i)) = &self.last
            && last == id
        {
            return *i;
        }
        let i = self.index.get(id).copied();
        self.last = Some((id.to_string(), i));
        i
    }
}

impl Store {
    /// Every experiment (with `all`, every run) with its params, the numbers in its metrics files
    /// after it, and what its stages' scripts logged through MLflow (as `mlflow:STAGE`: the
    /// params, and each metric's latest value: highest step, then latest).
    pub fn grid(&self, all: bool) -> Result<Grid, StoreError> {
        let read = |e: rusqlite::Error| StoreError::Unreadable {
            path: self.file().to_path_buf(),
            message: e.to_string(),
        };
        let conn = self.reader();
        let filter = if all { "" } else { "WHERE kind = 'experiment'" };
        let mut q = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs {filter} ORDER BY seq"
            ))
            .map_err(read)?;
        let runs: Vec<StoredRun> = q
            .query_map([], stored_run)
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)?;
        let mut cells: Vec<Vec<(usize, serde_json::Value)>> = vec![Vec::new(); runs.len()];
        let mut columns = Columns::default();
        let mut rows = Rows {
            index: runs
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id.as_str(), i))
                .collect(),
            last: None,
        };
        // Every row is read and those of other runs skipped: a join costs a lookup per row.
        // A metrics file's numbers have one row each (step 0): no order is needed. What MLflow
        // logged (`file = ''`) comes below, under the run whose stage logged it.
        let sources = [
            ("SELECT run, file, key, value FROM params", false),
            (
                "SELECT run, file, key, value FROM metrics WHERE file != ''",
                true,
            ),
            (
                "SELECT c.parent, 'mlflow:' || COALESCE(s.value, ''), x.key, x.value
                 FROM runs c JOIN params x ON x.run = c.id
                 LEFT JOIN tags s ON s.run = c.id AND s.key = 'wf.stage'
                 WHERE c.kind = 'mlflow'",
                false,
            ),
            (
                "SELECT c.parent, 'mlflow:' || COALESCE(s.value, ''), x.key, x.value
                 FROM runs c JOIN metrics x ON x.run = c.id
                 LEFT JOIN tags s ON s.run = c.id AND s.key = 'wf.stage'
                 WHERE c.kind = 'mlflow' ORDER BY x.step, x.timestamp",
                true,
            ),
        ];
        for (sql, metric) in sources {
            let mut q = conn.prepare(sql).map_err(read)?;
            let mut found = q.query([]).map_err(read)?;
            while let Some(r) = found.next().map_err(read)? {
                let Some(run) = r
                    .get_ref(0)
                    .map_err(read)?
                    .as_str_or_null()
                    .map_err(|e| read(e.into()))?
                else {
                    continue;
                };
                if rows.last.as_ref().is_none_or(|(last, _)| last != run) {
                    columns.next_run();
                }
                let Some(i) = rows.of(run) else {
                    continue;
                };
                let file = text(r, 1).map_err(read)?;
                let file = file.strip_suffix(':').unwrap_or(file);
                let column = columns.of(metric, file, text(r, 2).map_err(read)?);
                let value = if metric {
                    let v: Option<f64> = r.get(3).map_err(read)?;
                    serde_json::Number::from_f64(v.unwrap_or(f64::NAN))
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                } else if file.starts_with("mlflow") {
                    serde_json::Value::String(text(r, 3).map_err(read)?.to_string())
                } else {
                    let v = text(r, 3).map_err(read)?;
                    serde_json::from_str(v)
                        .unwrap_or_else(|_| serde_json::Value::String(v.to_string()))
                };
                cells[i].push((column, value));
            }
        }
        Ok(Grid {
            runs,
            columns: columns.list,
            cells,
        })
    }
}

/// Column `i` as text, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(Into::into)
}
