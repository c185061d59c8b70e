//! `train`: fits a classifier on a prepared training split and writes a portable model file.

use serde::{Deserialize, Serialize};

use crate::model::fit;
use crate::model_kind::ModelKind;
use crate::prepare::Summary;
use crate::table::Table;
use crate::{Builtin, Error, Io, RunContext, atomic, parse_with};

/// The `with:` of `uses: train`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainWith {
    /// Which model to fit.
    pub model: ModelKind,
    /// The folder written by `prepare` (reads its `train.csv`).
    pub data: String,
    /// The label column; defaults to the `target` recorded in the data folder's `summary.json`.
    #[serde(default)]
    pub target: Option<String>,
    /// The model's hyper-parameters, checked by the model.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Output folder: `model.json` and `metrics.json` (training accuracy and counts).
    pub out: String,
}

/// `metrics.json` of `train`. Deliberately without the fit time: outputs must be byte-identical
/// for identical inputs, or every re-run would look like a change downstream.
#[derive(Debug, Serialize)]
struct TrainMetrics {
    classes: usize,
    features: usize,
    model: ModelKind,
    train_accuracy: f64,
    train_rows: usize,
}

/// The `train` stage.
pub struct Train;

impl Builtin for Train {
    fn name(&self) -> &'static str {
        "train"
    }

    fn version(&self) -> u32 {
        1
    }

    fn io(&self, with: &serde_json::Value) -> Result<Io, Error> {
        let w: TrainWith = parse_with(self.name(), with)?;
        Ok(Io {
            deps: vec![w.data],
            outs: vec![w.out],
            ..Io::default()
        })
    }

    fn run(&self, with: &serde_json::Value, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let w: TrainWith = parse_with(self.name(), with)?;
        let dir = ctx.dir;
        let data = dir.join(&w.data);
        let target = match w.target {
            Some(t) => t,
            None => {
                let path = data.join("summary.json");
                let summary: Summary =
                    atomic::read_json(&path).map_err(|_| Error::NoTarget { path })?;
                summary.target
            }
        };
        let table = Table::read(&data.join("train.csv"))?;
        let trained = fit(w.model, &w.params, &table, &target, ctx.cancel, ctx.cpus)?;
        let model = &trained.model;
        (ctx.log)(format!(
            "fit {} on {} rows × {} features, {} classes, in {:.1} ms",
            w.model,
            model.train_rows,
            model.features.len(),
            model.classes.len(),
            trained.elapsed.as_secs_f64() * 1e3
        ));
        (ctx.log)(format!("train accuracy {:.4}", trained.train_accuracy));

        let out = dir.join(&w.out);
        model.save(&out.join("model.json"))?;
        atomic::write_json(
            &out.join("metrics.json"),
            &TrainMetrics {
                classes: model.classes.len(),
                features: model.features.len(),
                model: w.model,
                train_accuracy: atomic::round6(trained.train_accuracy),
                train_rows: model.train_rows,
            },
        )?;
        Ok(())
    }
}
