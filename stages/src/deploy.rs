//! `deploy`: champion/challenger registration of candidate models into a model registry.

use serde::Deserialize;

use crate::{Builtin, Error, Io, parse_with};

/// One model offered for deployment, with the metrics `evaluate` wrote for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The folder written by `train`.
    pub model: String,
    /// The metrics file written by `evaluate`.
    pub metrics: String,
}

/// Whether a larger or a smaller metric is better.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger is better (accuracy, F1).
    #[default]
    Max,
    /// Smaller is better (loss, error rate).
    Min,
}

/// The `with:` of `uses: deploy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployWith {
    /// The models to register.
    pub candidates: Vec<Candidate>,
    /// The metric deciding who is champion, a key of the metrics files.
    pub metric: String,
    /// Whether larger or smaller wins.
    #[serde(default)]
    pub direction: Direction,
    /// The registry folder (numbered versions and aliases).
    pub registry: String,
}

/// The `deploy` stage.
pub struct Deploy;

impl Builtin for Deploy {
    fn name(&self) -> &'static str {
        "deploy"
    }

    fn version(&self) -> u32 {
        1
    }

    fn io(&self, with: &serde_json::Value) -> Result<Io, Error> {
        let w: DeployWith = parse_with(self.name(), with)?;
        let deps = w
            .candidates
            .into_iter()
            .flat_map(|c| [c.model, c.metrics])
            .collect();
        Ok(Io {
            deps,
            persist: vec![w.registry],
            ..Io::default()
        })
    }
}
