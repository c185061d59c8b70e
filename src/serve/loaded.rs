//! `Loaded`: one registry version read and checked, ready to predict; `Source`: the registry
//! and the version or alias a server serves.

use std::collections::HashMap;

use prometheus_client::metrics::counter::Counter;
use wf_stages::{Model, Registry, Scored};

use super::metrics::Metrics;

/// What `--model` names: a version, served until the server stops, or an alias, followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A pinned version number.
    Version(u32),
    /// An alias such as `champion`, followed as it moves.
    Alias(String),
}

impl Target {
    /// `2` pins version 2; anything else is an alias.
    pub fn parse(s: &str) -> Target {
        match s.parse::<u32>() {
            Ok(v) => Target::Version(v),
            Err(_) => Target::Alias(s.to_string()),
        }
    }

    /// The alias followed, if any.
    pub(crate) fn alias(&self) -> Option<&str> {
        match self {
            Target::Version(_) => None,
            Target::Alias(a) => Some(a),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Version(v) => write!(f, "{v}"),
            Target::Alias(a) => f.write_str(a),
        }
    }
}

/// The registry and what of it is served.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) registry: Registry,
    pub(crate) target: Target,
}

impl Source {
    /// The version the target names now.
    pub(crate) fn resolve(&self) -> Result<u32, wf_stages::Error> {
        self.registry.resolve(&self.target.to_string())
    }

    /// Reads and checks a version (see `Registry::load`).
    pub(crate) fn load(&self, version: u32, metrics: &Metrics) -> Result<Loaded, wf_stages::Error> {
        let (model, hash) = self.registry.load(version)?;
        let index = model
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i))
            .collect();
        let counters = model
            .classes
            .iter()
            .map(|c| metrics.prediction_counter(c))
            .collect();
        Ok(Loaded {
            kind: model.model.to_string(),
            model,
            version,
            hash,
            alias: self.target.alias().map(str::to_string),
            loaded_at: wf_stages::now_utc(),
            index,
            counters,
        })
    }
}

/// A version ready to predict.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) model: Model,
    /// The registry version.
    pub(crate) version: u32,
    /// The model kind (`logreg`).
    pub(crate) kind: String,
    /// blake3 of its `model.json`.
    pub(crate) hash: String,
    /// The alias it was loaded for; `None` when pinned.
    pub(crate) alias: Option<String>,
    /// When it was loaded (UTC, RFC 3339).
    pub(crate) loaded_at: String,
    /// Feature name → position in a row.
    pub(crate) index: HashMap<String, usize>,
    /// Predictions by class, one counter per class.
    counters: Vec<Counter>,
}

impl Loaded {
    /// The feature columns, in the order a row holds them.
    pub(crate) fn features(&self) -> &[String] {
        &self.model.features
    }

    /// The labels, in the order probabilities are given.
    pub(crate) fn classes(&self) -> &[String] {
        &self.model.classes
    }

    /// Predicts every row of `rows` (row-major, one value per feature each).
    pub(crate) fn predict(&self, rows: &[f64]) -> Vec<Scored> {
        let n = self.model.features.len().max(1);
        rows.chunks_exact(n)
            .filter_map(|row| self.model.score(row))
            .inspect(|s| {
                if let Some(c) = self.counters.get(s.class) {
                    c.inc();
                }
            })
            .collect()
    }

    /// The label of a prediction.
    pub(crate) fn label(&self, s: &Scored) -> &str {
        self.model.classes.get(s.class).map_or("", String::as_str)
    }
}
