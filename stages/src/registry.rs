//! `Registry`: a folder of numbered model versions with MLflow-style aliases (`champion`,
//! `challenger`) and a champion history for rollback. `deploy` writes it; `wf model` reads it.
//!
//! ```text
//! REGISTRY/versions/N/model.json    the model file, byte for byte as `train` wrote it
//! REGISTRY/versions/N/metrics.json  the metrics file `evaluate` wrote for it
//! REGISTRY/versions/N/meta.json     model name, params, blake3 of model.json, metric, created
//! REGISTRY/aliases.json             {"champion": N, "challenger": M, "history": [...]}
//! ```
//!
//! A version folder is filled under a temporary name and renamed into place, and `aliases.json`
//! is replaced through a temp file and a rename, so a reader never sees half a version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Model, load_model, parse_model, predict};
use crate::table::Table;
use crate::{Direction, Error, atomic};

/// The alias of the version that serves.
pub const CHAMPION: &str = "champion";
/// The alias of the best newly registered version that did not beat the champion.
pub const CHALLENGER: &str = "challenger";

/// A metric of a version: the one `deploy` compared on when it registered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricValue {
    /// The metric's key in the metrics file, such as `f1_macro`.
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// `meta.json` of a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The version number.
    pub version: u32,
    /// The model kind, such as `svm`.
    pub model: String,
    /// The model folder it was registered from, as written in `deploy`'s `with:`.
    pub source: String,
    /// The hyper-parameters recorded in the model file.
    pub params: Map<String, Value>,
    /// blake3 of the registered `model.json`; a file with the same hash is not registered twice.
    pub blake3: String,
    /// The metric compared on at registration.
    pub metric: MetricValue,
    /// When it was registered (UTC, RFC 3339).
    pub created: String,
}

/// One change of champion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// The version that became champion.
    pub version: u32,
    /// Why: `deploy`, `promote`.
    pub reason: String,
    /// When (UTC, RFC 3339).
    pub at: String,
}

/// `aliases.json`: alias → version, and the champions so far, the current one last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Aliases {
    #[serde(default)]
    history: Vec<HistoryEntry>,
    #[serde(flatten)]
    aliases: BTreeMap<String, u32>,
}

/// A row of `wf model list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    /// The version number.
    pub version: u32,
    /// The model kind, such as `svm`.
    pub model: String,
    /// The metric compared on at registration.
    pub metric: MetricValue,
    /// The aliases pointing at this version, sorted.
    pub aliases: Vec<String>,
    /// When it was registered.
    pub created: String,
}

/// What `wf model show` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDetail {
    /// The summary row.
    #[serde(flatten)]
    pub info: VersionInfo,
    /// The model folder it was registered from.
    pub source: String,
    /// The hyper-parameters.
    pub params: Map<String, Value>,
    /// blake3 of `model.json`.
    pub blake3: String,
    /// The label column it predicts.
    pub target: String,
    /// Its labels.
    pub classes: Vec<String>,
    /// The feature columns it reads.
    pub features: Vec<String>,
    /// The full metrics file.
    pub metrics: Value,
    /// The model file.
    pub model_file: PathBuf,
}

/// What `wf model predict` prints: one label per input row, in input order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The version that predicted.
    pub version: u32,
    /// Its model kind.
    pub model: String,
    /// The label column it predicts.
    pub target: String,
    /// One label per input row.
    pub labels: Vec<String>,
    /// Per input row, each class's probability (see `wf serve`), classes in sorted order.
    pub probabilities: Vec<Map<String, Value>>,
}

/// A model registry folder.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// Opens an existing registry.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Registry, Error> {
        let dir = dir.into();
        if !dir.join("versions").is_dir() {
            return Err(Error::NotARegistry { path: dir });
        }
        Ok(Registry { dir })
    }

    /// Opens a registry, creating an empty one if the folder has none.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Registry, Error> {
        let dir = dir.into();
        let versions = dir.join("versions");
        std::fs::create_dir_all(&versions).map_err(|e| Error::write(&versions, e))?;
        Ok(Registry { dir })
    }

    /// The registry folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn version_dir(&self, version: u32) -> PathBuf {
        self.dir.join("versions").join(version.to_string())
    }

    /// The model file of a version.
    pub fn model_file(&self, version: u32) -> PathBuf {
        self.version_dir(version).join("model.json")
    }

    /// The metrics file of a version.
    pub fn metrics_file(&self, version: u32) -> PathBuf {
        self.version_dir(version).join("metrics.json")
    }

    /// The version numbers, ascending.
    pub fn versions(&self) -> Result<Vec<u32>, Error> {
        let path = self.dir.join("versions");
        let entries = std::fs::read_dir(&path).map_err(|e| Error::read(&path, e))?;
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(&path, e))?;
            // Skips the temporary folders of a registration in progress or interrupted.
            if let Some(v) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            {
                versions.push(v);
            }
        }
        versions.sort_unstable();
        Ok(versions)
    }

    /// The metadata of a version.
    pub fn meta(&self, version: u32) -> Result<Meta, Error> {
        atomic::read_json(&self.version_dir(version).join("meta.json"))
    }

    fn aliases(&self) -> Result<Aliases, Error> {
        let path = self.dir.join("aliases.json");
        if !path.exists() {
            return Ok(Aliases::default());
        }
        atomic::read_json(&path)
    }

    fn write_aliases(&self, aliases: &Aliases) -> Result<(), Error> {
        atomic::write_json(&self.dir.join("aliases.json"), aliases)
    }

    /// The champion's version, if there is one.
    pub fn champion(&self) -> Result<Option<u32>, Error> {
        Ok(self.aliases()?.aliases.get(CHAMPION).copied())
    }

    /// The champions so far, oldest first; the last is the current one.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, Error> {
        Ok(self.aliases()?.history)
    }

    /// Every version with its aliases, ascending.
    pub fn list(&self) -> Result<Vec<VersionInfo>, Error> {
        let aliases = self.aliases()?;
        self.versions()?
            .into_iter()
            .map(|v| self.info(v, &aliases))
            .collect()
    }

    fn info(&self, version: u32, aliases: &Aliases) -> Result<VersionInfo, Error> {
        let meta = self.meta(version)?;
        Ok(VersionInfo {
            version,
            model: meta.model,
            metric: meta.metric,
            aliases: aliases
                .aliases
                .iter()
                .filter(|(_, v)| **v == version)
                .map(|(a, _)| a.clone())
                .collect(),
            created: meta.created,
        })
    }

    /// The version a number (`3`) or an alias (`champion`) names.
    pub fn resolve(&self, version_or_alias: &str) -> Result<u32, Error> {
        let unknown = || Error::UnknownVersion {
            registry: self.dir.clone(),
            name: version_or_alias.into(),
        };
        let version = match version_or_alias.parse::<u32>() {
            Ok(v) => v,
            Err(_) => *self
                .aliases()?
                .aliases
                .get(version_or_alias)
                .ok_or_else(unknown)?,
        };
        if !self.version_dir(version).join("meta.json").is_file() {
            return Err(unknown());
        }
        Ok(version)
    }

    /// Everything about one version.
    pub fn show(&self, version_or_alias: &str) -> Result<VersionDetail, Error> {
        let version = self.resolve(version_or_alias)?;
        let meta = self.meta(version)?;
        let model_file = self.model_file(version);
        let model = load_model(&model_file)?;
        let metrics = atomic::read_json(&self.metrics_file(version))?;
        Ok(VersionDetail {
            info: self.info(version, &self.aliases()?)?,
            source: meta.source,
            params: meta.params,
            blake3: meta.blake3,
            target: model.target,
            classes: model.classes,
            features: model.features,
            metrics,
            model_file,
        })
    }

    /// The model of a version, checked against the hash recorded when it was registered, with
    /// that hash: what a server loads.
    pub fn load(&self, version: u32) -> Result<(Model, String), Error> {
        let meta = self.meta(version)?;
        let path = self.model_file(version);
        let bytes = std::fs::read(&path).map_err(|e| Error::read(&path, e))?;
        let found = blake3::hash(&bytes).to_hex().to_string();
        if found != meta.blake3 {
            return Err(Error::Damaged {
                path,
                recorded: meta.blake3,
                found,
            });
        }
        Ok((parse_model(&path, &bytes)?, found))
    }

    /// Makes `version` the champion (recorded in the history, so `rollback` can undo it).
    pub fn promote(&self, version: u32) -> Result<(), Error> {
        let version = self.resolve(&version.to_string())?;
        self.set_champion(version, "promote")
    }

    /// Puts the previous champion back and returns its version; an error when there is none.
    pub fn rollback(&self) -> Result<u32, Error> {
        let mut aliases = self.aliases()?;
        if aliases.history.len() < 2 {
            return Err(Error::NoRollback {
                registry: self.dir.clone(),
            });
        }
        aliases.history.pop();
        let version = aliases.history.last().map_or(0, |h| h.version);
        aliases.aliases.insert(CHAMPION.into(), version);
        self.write_aliases(&aliases)?;
        Ok(version)
    }

    /// Predicts with a version on a CSV that has its feature columns (the target may be absent).
    pub fn predict(&self, version_or_alias: &str, input_csv: &Path) -> Result<Prediction, Error> {
        let version = self.resolve(version_or_alias)?;
        let model = load_model(&self.model_file(version))?;
        let table = Table::read(input_csv)?;
        let labels = predict(&model, &table)?;
        let probabilities = table
            .matrix(&model.features)?
            .rows()
            .into_iter()
            .filter_map(|row| model.score(&row.to_vec()))
            .map(|s| {
                model
                    .classes
                    .iter()
                    .zip(s.probabilities)
                    .map(|(c, p)| (c.clone(), Value::from(p)))
                    .collect()
            })
            .collect();
        Ok(Prediction {
            version,
            model: model.model.to_string(),
            target: model.target,
            labels,
            probabilities,
        })
    }

    pub(crate) fn set_champion(&self, version: u32, reason: &str) -> Result<(), Error> {
        let mut aliases = self.aliases()?;
        if aliases.aliases.get(CHAMPION) == Some(&version) {
            return Ok(());
        }
        aliases.aliases.insert(CHAMPION.into(), version);
        if aliases.aliases.get(CHALLENGER) == Some(&version) {
            aliases.aliases.remove(CHALLENGER);
        }
        aliases.history.push(HistoryEntry {
            version,
            reason: reason.into(),
            at: atomic::now_utc(),
        });
        self.write_aliases(&aliases)
    }

    pub(crate) fn set_alias(&self, alias: &str, version: u32) -> Result<(), Error> {
        let mut aliases = self.aliases()?;
        aliases.aliases.insert(alias.into(), version);
        self.write_aliases(&aliases)
    }

    pub(crate) fn remove_alias(&self, alias: &str) -> Result<(), Error> {
        let mut aliases = self.aliases()?;
        if aliases.aliases.remove(alias).is_some() {
            self.write_aliases(&aliases)?;
        }
        Ok(())
    }

    /// The version whose `model.json` has this blake3, if any.
    pub(crate) fn find(&self, blake3: &str) -> Result<Option<u32>, Error> {
        for v in self.versions()? {
            if self.meta(v)?.blake3 == blake3 {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Adds a version holding these files and returns its number.
    pub(crate) fn register(
        &self,
        model_json: &[u8],
        metrics_json: &[u8],
        mut meta: Meta,
    ) -> Result<u32, Error> {
        let version = self.versions()?.last().map_or(1, |v| v + 1);
        meta.version = version;
        let versions = self.dir.join("versions");
        let tmp = atomic::temp_dir_in(&versions)?;
        atomic::write(&tmp.path().join("model.json"), model_json)?;
        atomic::write(&tmp.path().join("metrics.json"), metrics_json)?;
        atomic::write_json(&tmp.path().join("meta.json"), &meta)?;
        let target = self.version_dir(version);
        std::fs::rename(tmp.path(), &target).map_err(|e| Error::write(&target, e))?;
        Ok(version)
    }
}

/// Whether `a` strictly beats `b` in `direction` (a tie does not).
pub(crate) fn beats(a: f64, b: f64, direction: Direction) -> bool {
    match direction {
        Direction::Max => a > b,
        Direction::Min => a < b,
    }
}

/// Reads a metric out of a metrics file; `a.b` walks into nested objects.
pub(crate) fn metric_value(path: &Path, metrics: &Value, metric: &str) -> Result<f64, Error> {
    metric
        .split('.')
        .try_fold(metrics, |v, key| v.get(key))
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::MissingMetric {
            path: path.into(),
            metric: metric.into(),
        })
}
