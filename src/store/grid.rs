//! The runs of the store with every param and metric as a column: what `wf exp show`
//! tabulates. A store of 10 000 experiments holds half a million values: they come from the
//! grid's cache (`grid_cache`), and only the runs that changed since it was written are read
//! from the database, each value placed by borrowed names, with no copy of a name already seen.

use std::collections::{HashMap, HashSet};

use super::error::StoreError;
use super::grid_cache::{self, Cache, Entry};
pub use super::grid_value::{Cells, GridColumn, GridValue};
use rusqlite::OptionalExtension;

use super::runs::{RUN_COLUMNS, Store, StoredRun, stored_run};

/// Above this many runs to read again, one pass over each table is quicker than a query a run.
const ONE_BY_ONE: usize = 64;

/// Runs and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// The runs, oldest first.
    pub runs: Vec<StoredRun>,
    /// The columns values refer to (some perhaps of no run listed).
    pub columns: Vec<GridColumn>,
    /// Each run's values: column, value (a later value of a column wins).
    pub cells: Vec<Cells>,
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
    /// Columns that start as `list`.
    fn seeded(list: Vec<GridColumn>) -> Columns {
        let mut columns = Columns::default();
        for (i, c) in list.iter().enumerate() {
            columns.by_name[usize::from(c.metric)]
                .entry(c.file.clone())
                .or_default()
                .insert(c.key.clone(), i);
        }
        columns.list = list;
        columns
    }

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
        // Runs and their keys first, the rest after: a run written in between is read again
        // next time, never kept with a key newer than what was read of it.
        let filter = if all { "" } else { "WHERE kind = 'experiment'" };
        let mut q = conn
            .prepare(&format!(
                "SELECT id, seq, version FROM runs {filter} ORDER BY seq"
            ))
            .map_err(read)?;
        let listed: Vec<(String, i64, i64)> = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)?;
        let mut children: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        let mut q = conn
            .prepare(
                "SELECT parent, id, version FROM runs
                 WHERE kind = 'mlflow' AND parent IS NOT NULL ORDER BY id",
            )
            .map_err(read)?;
        let mut found = q.query([]).map_err(read)?;
        while let Some(r) = found.next().map_err(read)? {
            children
                .entry(r.get(0).map_err(read)?)
                .or_default()
                .push((r.get(1).map_err(read)?, r.get(2).map_err(read)?));
        }
        let (ids, keys): (Vec<String>, Vec<u64>) = listed
            .into_iter()
            .map(|(id, seq, version)| {
                let key = key(seq, version, children.get(&id));
                (id, key)
            })
            .unzip();

        let cache_path = grid_cache::path(self.file());
        let mut cache = Cache::load(&cache_path);
        let mut at = cache.places();
        let stale: Vec<bool> = ids
            .iter()
            .zip(&keys)
            .map(|(id, k)| at.get(id).is_none_or(|&j| cache.runs[j].key != *k))
            .collect();
        let n_stale = stale.iter().filter(|s| **s).count();
        if n_stale > 0 {
            let mut columns = Columns::seeded(std::mem::take(&mut cache.columns));
            let mut cells: Vec<Vec<(u32, GridValue)>> = vec![Vec::new(); ids.len()];
            let mut rows: HashMap<String, StoredRun> = HashMap::new();
            if n_stale > ONE_BY_ONE {
                let mut q = conn
                    .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs {filter}"))
                    .map_err(read)?;
                let wanted: HashSet<&str> = (0..ids.len())
                    .filter(|&i| stale[i])
                    .map(|i| ids[i].as_str())
                    .collect();
                for run in q.query_map([], stored_run).map_err(read)? {
                    let run = run.map_err(read)?;
                    if wanted.contains(run.id.as_str()) {
                        rows.insert(run.id.clone(), run);
                    }
                }
                read_all(conn, &ids, &stale, &mut columns, &mut cells).map_err(read)?;
            } else {
                let mut q = conn
                    .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
                    .map_err(read)?;
                for i in (0..ids.len()).filter(|&i| stale[i]) {
                    if let Some(run) = q
                        .query_row([&ids[i]], stored_run)
                        .optional()
                        .map_err(read)?
                    {
                        rows.insert(ids[i].clone(), run);
                    }
                    cells[i] = read_one(conn, &ids[i], &mut columns).map_err(read)?;
                }
            }
            for (i, cells) in cells.into_iter().enumerate().filter(|(i, _)| stale[*i]) {
                // A run removed since it was listed has no row.
                let Some(run) = rows.remove(&ids[i]) else {
                    continue;
                };
                let entry = Entry {
                    key: keys[i],
                    run,
                    cells: Cells::new(cells),
                };
                match at.get(&ids[i]) {
                    Some(&j) => cache.runs[j] = entry,
                    None => {
                        at.insert(ids[i].clone(), cache.runs.len());
                        cache.runs.push(entry);
                    }
                }
            }
            cache.columns = columns.list;
            // Runs removed since are forgotten.
            let mut q = conn.prepare("SELECT id FROM runs").map_err(read)?;
            let all_ids: HashSet<String> = q
                .query_map([], |r| r.get(0))
                .map_err(read)?
                .collect::<Result<_, _>>()
                .map_err(read)?;
            cache.runs.retain(|e| all_ids.contains(&e.run.id));
            at = cache.places();
            cache.save(&cache_path);
        }

        let mut entries: Vec<Option<Entry>> = cache.runs.into_iter().map(Some).collect();
        let (runs, cells) = ids
            .iter()
            .filter_map(|id| at.get(id).and_then(|&j| entries[j].take()))
            .map(|e| (e.run, e.cells))
            .unzip();
        Ok(Grid {
            runs,
            columns: cache.columns,
            cells,
        })
    }
}

/// What a run's entry in the cache is valid for: its place, its version, and its MLflow runs'.
fn key(seq: i64, version: i64, children: Option<&Vec<(String, i64)>>) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(&version.to_le_bytes());
    for (id, version) in children.into_iter().flatten() {
        h.update(id.as_bytes());
        h.update(&version.to_le_bytes());
    }
    let mut first = [0; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The queries that read runs' values: run, file, key, value, and whether a metric. `one` reads
/// one run's (`?1`), else every run's. A metrics file's numbers have one row each (step 0): no
/// order is needed. What MLflow logged (`file = ''`) comes under the run whose stage logged it;
/// an MLflow run of no wf run (a notebook's) has its own metrics (the latest of each).
fn sources(one: bool) -> [(String, bool); 5] {
    let (params, metrics, child, own) = if one {
        (
            "WHERE run = ?1",
            "AND run = ?1",
            "AND c.parent = ?1",
            "AND x.run = ?1",
        )
    } else {
        ("", "", "", "")
    };
    [
        (
            format!("SELECT run, file, key, value FROM params {params}"),
            false,
        ),
        (
            format!("SELECT run, file, key, value FROM metrics WHERE file != '' {metrics}"),
            true,
        ),
        (
            format!(
                "SELECT c.parent, 'mlflow:' || COALESCE(s.value, ''), x.key, x.value
                 FROM runs c JOIN params x ON x.run = c.id
                 LEFT JOIN tags s ON s.run = c.id AND s.key = 'wf.stage'
                 WHERE c.kind = 'mlflow' {child}"
            ),
            false,
        ),
        (
            format!(
                "SELECT c.parent, 'mlflow:' || COALESCE(s.value, ''), x.key, x.value
                 FROM runs c JOIN metrics x ON x.run = c.id
                 LEFT JOIN tags s ON s.run = c.id AND s.key = 'wf.stage'
                 WHERE c.kind = 'mlflow' {child} ORDER BY x.step, x.timestamp"
            ),
            true,
        ),
        (
            format!(
                "SELECT x.run, x.file, x.key, x.value FROM metrics x JOIN runs r ON r.id = x.run
                 WHERE x.file = '' AND r.kind = 'mlflow' AND r.parent IS NULL {own}
                 ORDER BY x.step, x.timestamp"
            ),
            true,
        ),
    ]
}

/// The values of the runs marked `stale`, in one pass over each table: every row is read and
/// those of other runs skipped (a join would cost a lookup per row).
fn read_all(
    conn: &rusqlite::Connection,
    ids: &[String],
    stale: &[bool],
    columns: &mut Columns,
    cells: &mut [Vec<(u32, GridValue)>],
) -> rusqlite::Result<()> {
    let mut rows = Rows {
        index: ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect(),
        last: None,
    };
    for (sql, metric) in sources(false) {
        let mut q = conn.prepare(&sql)?;
        let mut found = q.query([])?;
        while let Some(r) = found.next()? {
            let Some(run) = r.get_ref(0)?.as_str_or_null()? else {
                continue;
            };
            if rows.last.as_ref().is_none_or(|(last, _)| last != run) {
                columns.next_run();
            }
            let Some(i) = rows.of(run).filter(|&i| stale[i]) else {
                continue;
            };
            cells[i].push(cell(r, metric, columns)?);
        }
    }
    Ok(())
}

/// The values of the run `id`.
fn read_one(
    conn: &rusqlite::Connection,
    id: &str,
    columns: &mut Columns,
) -> rusqlite::Result<Vec<(u32, GridValue)>> {
    let mut cells = Vec::new();
    for (sql, metric) in sources(true) {
        columns.next_run();
        let mut q = conn.prepare_cached(&sql)?;
        let mut found = q.query([id])?;
        while let Some(r) = found.next()? {
            cells.push(cell(r, metric, columns)?);
        }
    }
    Ok(cells)
}

/// A row's column and value.
fn cell(
    r: &rusqlite::Row<'_>,
    metric: bool,
    columns: &mut Columns,
) -> rusqlite::Result<(u32, GridValue)> {
    let file = text(r, 1)?;
    let file = file.strip_suffix(':').unwrap_or(file);
    let column = columns.of(metric, file, text(r, 2)?);
    let value = if metric {
        let v: Option<f64> = r.get(3)?;
        GridValue::float(v.unwrap_or(f64::NAN))
    } else if file.starts_with("mlflow") {
        GridValue::Text(text(r, 3)?.to_string())
    } else {
        let v = text(r, 3)?;
        serde_json::from_str(v)
            .map_or_else(|_| GridValue::Text(v.to_string()), |j| GridValue::of(&j))
    };
    Ok((u32::try_from(column).unwrap_or(u32::MAX), value))
}

/// Column `i` as text, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(Into::into)
}
