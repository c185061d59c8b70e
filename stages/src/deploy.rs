//! `deploy`: champion/challenger registration of candidate models into a model registry.

use serde::Deserialize;

use crate::model::parse_model;
use crate::registry::{CHALLENGER, Meta, MetricValue, Registry, beats, metric_value};
use crate::{Builtin, Error, Io, RunContext, atomic, parse_with};

/// One model offered for deployment, with the metrics `evaluate` wrote for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The folder written by `train` (its `model.json` is registered).
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

    fn run(&self, with: &serde_json::Value, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (dir, cancel) = (ctx.dir, ctx.cancel);
        cancel.check()?;
        let log = &mut *ctx.log;
        let w: DeployWith = parse_with(self.name(), with)?;
        let registry = Registry::create(dir.join(&w.registry))?;

        // Registers new model files; a file already in the registry (same blake3) is skipped, so
        // re-running deploy on unchanged models adds nothing and changes no alias.
        let mut fresh: Vec<(u32, f64)> = Vec::new();
        let mut all: Vec<(u32, f64)> = Vec::new();
        for candidate in &w.candidates {
            let model_path = dir.join(&candidate.model).join("model.json");
            // Read once: the bytes hashed and registered are the bytes checked.
            let model_json = std::fs::read(&model_path).map_err(|e| Error::read(&model_path, e))?;
            let model = parse_model(&model_path, &model_json)?;
            let metrics_path = dir.join(&candidate.metrics);
            let metrics_json =
                std::fs::read(&metrics_path).map_err(|e| Error::read(&metrics_path, e))?;
            let metrics: serde_json::Value =
                serde_json::from_slice(&metrics_json).map_err(|e| Error::json(&metrics_path, e))?;
            let value = metric_value(&metrics_path, &metrics, &w.metric)?;
            let hash = blake3::hash(&model_json).to_hex().to_string();
            if let Some(v) = registry.find(&hash)? {
                log(format!("{} is already version {v}", candidate.model));
                all.push((v, value));
                continue;
            }
            let meta = Meta {
                version: 0,
                model: model.model.to_string(),
                source: candidate.model.clone(),
                params: model.params.clone(),
                blake3: hash,
                metric: MetricValue {
                    name: w.metric.clone(),
                    value,
                },
                created: atomic::now_utc(),
            };
            let v = registry.register(&model_json, &metrics_json, meta)?;
            log(format!(
                "registered {} ({}) as version {v}, {} {value}",
                candidate.model, model.model, w.metric
            ));
            fresh.push((v, value));
            all.push((v, value));
        }

        let best = |pool: &[(u32, f64)]| {
            // The first on a tie.
            pool.iter().fold(None::<(u32, f64)>, |best, &c| match best {
                Some(b) if !beats(c.1, b.1, w.direction) => Some(b),
                _ => Some(c),
            })
        };
        let Some(champion) = registry.champion()? else {
            // No champion yet (a first run, or one interrupted after registering): every
            // candidate competes, registered before or not.
            if let Some((first, value)) = best(&all) {
                registry.set_champion(first, "deploy")?;
                log(format!(
                    "version {first} is the first champion ({} {value})",
                    w.metric
                ));
            }
            return Ok(());
        };
        // The challenger: the best new version.
        let Some((challenger, value)) = best(&fresh) else {
            log(format!("no new model; champion version {champion} kept"));
            return Ok(());
        };
        let champion_metrics_path = registry.metrics_file(champion);
        let champion_metrics: serde_json::Value = atomic::read_json(&champion_metrics_path)?;
        match metric_value(&champion_metrics_path, &champion_metrics, &w.metric) {
            Ok(current) if !beats(value, current, w.direction) => {
                registry.set_alias(CHALLENGER, challenger)?;
                log(format!(
                    "champion version {champion} kept ({} {current}); challenger version {challenger} has {value}",
                    w.metric
                ));
            }
            Ok(current) => {
                registry.set_champion(challenger, "deploy")?;
                registry.remove_alias(CHALLENGER)?;
                log(format!(
                    "version {challenger} ({} {value}) beats champion version {champion} ({current}) and is now champion",
                    w.metric
                ));
            }
            // A champion scored on another metric cannot be compared: the new model takes over,
            // and `wf model rollback` brings the old one back.
            Err(_) => {
                registry.set_champion(challenger, "deploy")?;
                registry.remove_alias(CHALLENGER)?;
                log(format!(
                    "champion version {champion} has no `{}`; version {challenger} replaces it",
                    w.metric
                ));
            }
        }
        Ok(())
    }
}
