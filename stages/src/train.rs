//! `train`: fits a classifier on a prepared training split and writes a portable model file.

use serde::Deserialize;

use crate::{Builtin, Error, Io, parse_with};

/// The models `train` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Multinomial logistic regression.
    Logreg,
    /// Support vector machine, one-vs-all.
    Svm,
    /// Decision tree.
    Tree,
}

/// The `with:` of `uses: train`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainWith {
    /// Which model to fit.
    pub model: Model,
    /// The folder written by `prepare` (reads its `train.csv`).
    pub data: String,
    /// The label column.
    #[serde(default)]
    pub target: Option<String>,
    /// The model's hyper-parameters, checked by the model.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Output folder: the model file and the training metrics.
    pub out: String,
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
}
