//! Runs as documents that travel through a remote (`wf exp push|pull`): an experiment, every row
//! the store keeps of it (stages, params, metrics, tags, files) and the MLflow runs its stages
//! logged, as one JSON document. A document never changes once made; adding one that the store
//! holds already changes nothing.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::mlflow::{KIND as MLFLOW, file_uri, now};
use super::runs::{Store, write_err};

/// The document format; a newer one is refused.
pub(super) const FORMAT: u32 = 1;

/// The tables holding rows of a run, keyed by its id in column `run`.
const TABLES: &[&str] = &["stages", "params", "metrics", "tags", "files"];

/// Columns of `runs` that only mean something in the store that made them: the order, the
/// process, the MLflow experiment's number and the artifact folder's place.
const LOCAL: &[&str] = &["seq", "pid", "experiment", "artifact_uri"];

/// One value of a row, with its SQLite type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// Bytes, as hex.
    Blob(String),
}

impl From<Value> for Cell {
    fn from(v: Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Integer(i) => Cell::Int(i),
            Value::Real(f) => Cell::Real(f),
            Value::Text(t) => Cell::Text(t),
            Value::Blob(b) => Cell::Blob(b.iter().map(|x| format!("{x:02x}")).collect()),
        }
    }
}

impl Cell {
    fn value(&self) -> Option<Value> {
        Some(match self {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::Integer(*i),
            Cell::Real(f) => Value::Real(*f),
            Cell::Text(t) => Value::Text(t.clone()),
            Cell::Blob(hex) => Value::Blob(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?,
            ),
        })
    }
}

/// Rows of one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

/// A run as it travels: its rows and its MLflow runs', and the artifact files those logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// [`FORMAT`].
    pub format: u32,
    /// The run's id.
    pub id: String,
    /// Rows by table (`runs` first: the run and its MLflow runs).
    tables: BTreeMap<String, Rows>,
    /// The MLflow experiment of each MLflow run, by its name.
    experiments: BTreeMap<String, String>,
    /// Artifact files of its MLflow runs.
    pub artifacts: Vec<Artifact>,
    /// The cache objects its outs are made of (what `exp apply` checks out).
    pub objects: Vec<String>,
}

/// An artifact file of an MLflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// The MLflow run.
    pub run: String,
    /// Its path in the run's artifact folder, `/`-separated.
    pub path: String,
    /// Its blake3.
    pub hash: String,
}

impl Document {
    /// The document as JSON text.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A document from JSON text.
    pub fn from_bytes(bytes: &[u8]) -> Result<Document, String> {
        let doc: Document = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if doc.format > FORMAT {
            return Err(format!(
                "format {} is newer than this wf's {FORMAT}: use a newer wf",
                doc.format
            ));
        }
        Ok(doc)
    }

    /// The run's name, as its row has it.
    pub fn name(&self) -> Option<&str> {
        match self.cell("name")? {
            Cell::Text(n) => Some(n.as_str()),
            _ => None,
        }
    }

    /// Where the run stood among the runs of the store that made it.
    pub fn seq(&self) -> i64 {
        match self.cell("seq") {
            Some(Cell::Int(n)) => *n,
            _ => 0,
        }
    }

    /// A column of the run's row.
    fn cell(&self, name: &str) -> Option<&Cell> {
        let runs = self.tables.get("runs")?;
        let (id, at) = (column(runs, "id")?, column(runs, name)?);
        runs.rows
            .iter()
            .find(|r| r.get(id) == Some(&Cell::Text(self.id.clone())))
            .and_then(|r| r.get(at))
    }
}

fn column(rows: &Rows, name: &str) -> Option<usize> {
    rows.columns.iter().position(|c| c == name)
}

impl Store {
    /// Run `id` as a document, with every MLflow run its stages logged; `objects` are the cache
    /// keys its outs are made of. Artifact files are listed with their hashes, not included.
    pub fn export(&self, id: &str, objects: Vec<String>) -> Result<Document, StoreError> {
        let ids = {
            let mut ids = vec![id.to_string()];
            ids.extend(self.read(|c| {
                let mut q =
                    c.prepare("SELECT id FROM runs WHERE parent = ?1 AND kind = ?2 ORDER BY seq")?;
                let rows = q.query_map([id, MLFLOW], |r| r.get::<_, String>(0))?;
                rows.collect::<Result<Vec<_>, _>>()
            })?);
            ids
        };
        let marks = vec!["?"; ids.len()].join(", ");
        let (tables, experiments) = self.read(|c| {
            let mut tables = BTreeMap::new();
            tables.insert(
                "runs".to_string(),
                select(
                    c,
                    &format!("SELECT * FROM runs WHERE id IN ({marks}) ORDER BY seq"),
                    &ids,
                )?,
            );
            for table in TABLES {
                let sql = format!("SELECT * FROM {table} WHERE run IN ({marks})");
                tables.insert(table.to_string(), select(c, &sql, &ids)?);
            }
            let mut q = c.prepare(&format!(
                "SELECT r.id, e.name FROM runs r JOIN experiments e ON e.id = r.experiment
                 WHERE r.id IN ({marks})"
            ))?;
            let experiments = q
                .query_map(params_from_iter(&ids), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<BTreeMap<String, String>, _>>()?;
            Ok((tables, experiments))
        })?;
        let mut artifacts = Vec::new();
        for run in &ids[1..] {
            let dir = self.artifact_dir(run);
            for entry in walkdir::WalkDir::new(&dir).into_iter().flatten() {
                if !entry.file_type().is_file() {
                    continue;
                }
                let Ok(rel) = entry.path().strip_prefix(&dir) else {
                    continue;
                };
                let bytes = std::fs::read(entry.path()).map_err(|e| StoreError::Unreadable {
                    path: entry.path().to_path_buf(),
                    message: e.to_string(),
                })?;
                artifacts.push(Artifact {
                    run: run.clone(),
                    path: rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                    hash: blake3::hash(&bytes).to_hex().to_string(),
                });
            }
        }
        artifacts.sort_by(|a, b| (&a.run, &a.path).cmp(&(&b.run, &b.path)));
        Ok(Document {
            format: FORMAT,
            id: id.to_string(),
            tables,
            experiments,
            artifacts,
            objects,
        })
    }

    /// Whether the store holds run `id`.
    pub fn has_run(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            c.query_row("SELECT COUNT(*) FROM runs WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|n| n > 0)
    }

    /// Adds a document's runs, in one transaction; `false` (and nothing written) when the store
    /// holds the run already. A name taken by another run gets a suffix.
    pub fn import(&mut self, doc: &Document) -> Result<bool, StoreError> {
        let path = self.file().to_path_buf();
        let err = |e: rusqlite::Error| write_err(&path, &e);
        let bad = |message: String| StoreError::Write {
            path: path.clone(),
            message: format!("run `{}` cannot be added: {message}", doc.id),
        };
        if self.has_run(&doc.id)? {
            return Ok(false);
        }
        let runs_dir = self.runs_dir();
        let tx = self.conn().transaction().map_err(err)?;
        let runs = doc
            .tables
            .get("runs")
            .ok_or_else(|| bad("it has no run".into()))?;
        let id_at = column(runs, "id").ok_or_else(|| bad("its runs have no id".into()))?;
        for row in &runs.rows {
            let Some(Cell::Text(id)) = row.get(id_at) else {
                return Err(bad("a run's id is not text".into()));
            };
            let mut columns = Vec::new();
            let mut values = Vec::new();
            for (c, cell) in runs.columns.iter().zip(row) {
                if LOCAL.contains(&c.as_str()) {
                    continue;
                }
                let mut value = cell
                    .value()
                    .ok_or_else(|| bad(format!("bad bytes in `{c}`")))?;
                if c == "name"
                    && let Value::Text(name) = &value
                {
                    value = Value::Text(free_name(&tx, name).map_err(err)?);
                }
                columns.push(c.clone());
                values.push(value);
            }
            let seq: i64 = tx
                .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs", [], |r| {
                    r.get(0)
                })
                .map_err(err)?;
            columns.push("seq".into());
            values.push(Value::Integer(seq));
            if let Some(name) = doc.experiments.get(id) {
                columns.push("experiment".into());
                values.push(Value::Integer(
                    experiment(&tx, name, &runs_dir).map_err(err)?,
                ));
                columns.push("artifact_uri".into());
                values.push(Value::Text(file_uri(&runs_dir.join(id).join("artifacts"))));
            }
            insert(&tx, "runs", &columns, &values).map_err(err)?;
        }
        for table in TABLES {
            let Some(rows) = doc.tables.get(*table) else {
                continue;
            };
            for row in &rows.rows {
                let values = row
                    .iter()
                    .map(Cell::value)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(format!("bad bytes in `{table}`")))?;
                insert(&tx, table, &rows.columns, &values).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(true)
    }

    /// Where an MLflow run's artifact file goes (its path checked to stay inside the folder).
    pub fn artifact_path(&self, artifact: &Artifact) -> Option<std::path::PathBuf> {
        let rel = crate::repo_path::RepoPath::root().join(&artifact.path)?;
        if artifact.run.len() != 32 || !artifact.run.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(rel.to_path(&self.artifact_dir(&artifact.run)))
    }
}

fn select(c: &Connection, sql: &str, ids: &[String]) -> Result<Rows, rusqlite::Error> {
    let mut q = c.prepare(sql)?;
    let columns: Vec<String> = q.column_names().map(String::from).collect();
    let n = columns.len();
    let rows = q
        .query_map(params_from_iter(ids), |r| {
            (0..n)
                .map(|i| r.get::<_, Value>(i).map(Cell::from))
                .collect::<Result<Vec<_>, _>>()
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rows { columns, rows })
}

fn insert(
    c: &Connection,
    table: &str,
    columns: &[String],
    values: &[Value],
) -> Result<(), rusqlite::Error> {
    // Column names come from a document: each is quoted, and one this store lacks is an error.
    let names: Vec<String> = columns
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    let marks = vec!["?"; values.len()].join(", ");
    c.execute(
        &format!(
            "INSERT OR IGNORE INTO {table} ({}) VALUES ({marks})",
            names.join(", ")
        ),
        params_from_iter(values),
    )
    .map(drop)
}

/// `name`, or with a suffix when another run has it.
fn free_name(c: &Connection, name: &str) -> Result<String, rusqlite::Error> {
    let taken = |n: &str| {
        c.query_row("SELECT COUNT(*) FROM runs WHERE name = ?1", [n], |r| {
            r.get::<_, i64>(0)
        })
        .map(|k| k > 0)
    };
    if !taken(name)? {
        return Ok(name.to_string());
    }
    for i in 2.. {
        let candidate = format!("{name}-{i}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    Ok(name.to_string())
}

/// The id of the MLflow experiment `name`, made when the store has none (`Default` as 0, as
/// MLflow has it).
fn experiment(
    c: &Connection,
    name: &str,
    runs_dir: &std::path::Path,
) -> Result<i64, rusqlite::Error> {
    if let Some(e) = super::mlflow::experiment(c, "name = ?1", name)? {
        return Ok(e.id);
    }
    let id = (name == "Default").then_some(0);
    c.execute(
        "INSERT INTO experiments (id, name, artifact_location, lifecycle_stage, created, updated)
         VALUES (?1, ?2, ?3, 'active', ?4, ?4)",
        rusqlite::params![id, name, file_uri(runs_dir), now()],
    )?;
    Ok(c.last_insert_rowid())
}
