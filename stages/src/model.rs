//! `Model`: the portable model file `train` writes and `evaluate`, `deploy` and the registry
//! read — classes, features, the standardisation fitted on the training split, the resolved
//! hyper-parameters and the fitted state of its kind (`kinds/`) — with the fitting and
//! prediction every kind shares.

use std::path::Path;
use std::time::{Duration, Instant};

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::kind::Training;
use crate::model_kind::{FittedState, ModelKind};
use crate::table::Table;
use crate::{Cancel, Error};

/// The model file format this crate reads and writes. Bump it when a field changes meaning.
pub const MODEL_FORMAT: u32 = 1;

/// Z-score standardisation fitted on the training split: `(x - mean) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    /// Per-feature mean.
    pub mean: Vec<f64>,
    /// Per-feature population standard deviation (1 for a constant feature, as scikit-learn).
    pub scale: Vec<f64>,
}

impl Scaler {
    fn fit(x: &Array2<f64>) -> Scaler {
        let n = x.nrows().max(1) as f64;
        let mut mean = Vec::with_capacity(x.ncols());
        let mut scale = Vec::with_capacity(x.ncols());
        for col in x.columns() {
            // Plain sequential sums, so the stored numbers do not depend on ndarray's SIMD paths.
            let m = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
            let sd = var.sqrt();
            mean.push(m);
            scale.push(if sd > 0.0 { sd } else { 1.0 });
        }
        Scaler { mean, scale }
    }

    fn transform(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut out = x.clone();
        for (j, mut col) in out.columns_mut().into_iter().enumerate() {
            col.mapv_inplace(|v| (v - self.mean[j]) / self.scale[j]);
        }
        out
    }
}

/// A trained model, as stored in `model.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// [`MODEL_FORMAT`] when written.
    pub format: u32,
    /// Which model.
    pub model: ModelKind,
    /// The label column the model predicts.
    pub target: String,
    /// The labels, sorted; a prediction is an index into this list.
    pub classes: Vec<String>,
    /// The feature columns, in the order the model reads them.
    pub features: Vec<String>,
    /// Standardisation fitted on the training split.
    pub scaler: Scaler,
    /// Hyper-parameters with defaults filled in.
    pub params: Map<String, Value>,
    /// Rows the model was fitted on.
    pub train_rows: usize,
    pub(crate) fitted: FittedState,
}

/// The prediction for one row: the class the model picks and each class's probability, in the
/// order of [`Model::classes`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Index into [`Model::classes`].
    pub class: usize,
    /// One per class, summing to 1.
    pub probabilities: Vec<f64>,
}

/// A model fitted by [`fit`], with what `train` reports about it.
pub(crate) struct Trained {
    pub(crate) model: Model,
    pub(crate) train_accuracy: f64,
    pub(crate) elapsed: Duration,
}

/// Fits `kind` on the training table: labels mapped to sorted class indices, features
/// standardised, then the model fitted on the standardised matrix with up to `cpus` threads,
/// stopping with `Error::Cancelled` once `cancel` is raised.
pub(crate) fn fit(
    kind: ModelKind,
    params: &Map<String, Value>,
    table: &Table,
    target: &str,
    cancel: &Cancel,
    cpus: usize,
) -> Result<Trained, Error> {
    let labels = table.labels(target)?;
    let features: Vec<String> = table
        .columns()
        .into_iter()
        .filter(|c| c != target)
        .collect();
    let hyper = kind.kind().parse(params, features.len())?;
    let mut classes: Vec<String> = labels.clone();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(Error::TooFewClasses {
            path: table.path().into(),
            column: target.into(),
            found: classes.len(),
        });
    }
    let y: Vec<usize> = labels
        .iter()
        .map(|l| classes.binary_search(l).unwrap_or(0))
        .collect();
    cancel.check()?;
    let raw = table.matrix(&features)?;
    cancel.check()?;
    let scaler = Scaler::fit(&raw);
    let x = scaler.transform(&raw);

    let started = Instant::now();
    let fitted = hyper.fit(&Training {
        x: &x,
        y: &y,
        n_classes: classes.len(),
        cancel,
        cpus: cpus.max(1),
    })?;
    let elapsed = started.elapsed();

    let model = Model {
        format: MODEL_FORMAT,
        model: kind,
        target: target.into(),
        classes,
        features,
        scaler,
        params: hyper.to_map(),
        train_rows: y.len(),
        fitted: FittedState(fitted),
    };
    let predicted = model.predict_standardised(&x, cancel)?;
    let correct = predicted.iter().zip(&y).filter(|(p, t)| p == t).count();
    Ok(Trained {
        train_accuracy: correct as f64 / y.len() as f64,
        model,
        elapsed,
    })
}

impl Model {
    /// Writes the model file (fields in declaration order, pretty-printed, final newline).
    pub(crate) fn save(&self, path: &Path) -> Result<(), Error> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::json(path, e))?;
        bytes.push(b'\n');
        crate::atomic::write(path, &bytes)
    }

    /// Class indices for rows of standardised features, checking `cancel` every few thousand
    /// rows (a `knn` prediction compares each row with every training row).
    fn predict_standardised(&self, x: &Array2<f64>, cancel: &Cancel) -> Result<Vec<usize>, Error> {
        let mut out = Vec::with_capacity(x.nrows());
        for (i, row) in x.axis_iter(Axis(0)).enumerate() {
            if i % 4096 == 0 {
                cancel.check()?;
            }
            out.push(self.fitted.0.predict(row));
        }
        Ok(out)
    }

    /// Predicts one row of raw feature values in the order of [`Model::features`],
    /// standardised as at training time: the same class as [`predict`] on that row. `None`
    /// when the row does not have one value per feature.
    pub fn score(&self, raw: &[f64]) -> Option<Scored> {
        if raw.len() != self.features.len() {
            return None;
        }
        let x: ndarray::Array1<f64> = raw
            .iter()
            .enumerate()
            .map(|(j, v)| (v - self.scaler.mean[j]) / self.scaler.scale[j])
            .collect();
        Some(Scored {
            class: self.fitted.0.predict(x.view()),
            probabilities: self.fitted.0.probabilities(x.view(), self.classes.len()),
        })
    }

    /// Checks the parts of a loaded file against each other, so prediction cannot index out of
    /// bounds on a hand-edited or truncated file.
    fn check(&self) -> Result<(), String> {
        let (n_features, n_classes) = (self.features.len(), self.classes.len());
        if self.scaler.mean.len() != n_features || self.scaler.scale.len() != n_features {
            return Err(format!("`scaler` does not have {n_features} features"));
        }
        if n_classes < 2 {
            return Err("`classes` has fewer than 2 labels".into());
        }
        let kind = self.fitted.0.kind();
        let ok = self.fitted.0.is_well_formed(n_features, n_classes);
        if kind != self.model.as_str() {
            return Err(format!(
                "`model` is `{}` but `fitted` holds a `{kind}` model",
                self.model
            ));
        }
        if !ok {
            return Err(format!(
                "the fitted `{kind}` model does not match {n_features} features and {n_classes} classes"
            ));
        }
        Ok(())
    }
}

/// Reads a model file written by `train`, refusing another format version.
pub fn load_model(path: &Path) -> Result<Model, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    parse_model(path, &bytes)
}

/// Parses the bytes of a model file read from `path`.
pub(crate) fn parse_model(path: &Path, bytes: &[u8]) -> Result<Model, Error> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::json(path, e))?;
    let format = value.get("format");
    if format.and_then(Value::as_u64) != Some(u64::from(MODEL_FORMAT)) {
        return Err(Error::ModelFormat {
            path: path.into(),
            found: format.map_or_else(|| "null".into(), Value::to_string),
            expected: MODEL_FORMAT,
        });
    }
    let model: Model = serde_json::from_value(value).map_err(|e| Error::json(path, e))?;
    model.check().map_err(|m| Error::json(path, m))?;
    Ok(model)
}

/// Predicts a label for every row of `rows`, which must have the model's feature columns (other
/// columns, the target among them, are ignored).
pub fn predict(model: &Model, rows: &Table) -> Result<Vec<String>, Error> {
    predict_cancellable(model, rows, &Cancel::new())
}

/// [`predict`], stopping with `Error::Cancelled` once `cancel` is raised.
pub(crate) fn predict_cancellable(
    model: &Model,
    rows: &Table,
    cancel: &Cancel,
) -> Result<Vec<String>, Error> {
    let raw = rows.matrix(&model.features)?;
    let x = model.scaler.transform(&raw);
    Ok(model
        .predict_standardised(&x, cancel)?
        .into_iter()
        .map(|c| model.classes[c].clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::argmax;

    #[test]
    fn a_scored_row_picks_the_predicted_class_with_probabilities_that_sum_to_1() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/iris.csv");
        let table = Table::read(&path).unwrap();
        let raw = table.matrix(&table.columns()[..4]).unwrap();
        for kind in ModelKind::all() {
            let trained = fit(kind, &Map::new(), &table, "species", &Cancel::new(), 1).unwrap();
            let model = trained.model;
            let labels = predict(&model, &table).unwrap();
            for (i, row) in raw.rows().into_iter().enumerate() {
                let scored = model.score(&row.to_vec()).unwrap();
                assert_eq!(model.classes[scored.class], labels[i], "{kind} row {i}");
                let p = &scored.probabilities;
                assert_eq!(p.len(), 3);
                assert!(p.iter().all(|x| (0.0..=1.0).contains(x)), "{kind}: {p:?}");
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{kind}: {p:?}");
                if kind.as_str() != "knn" {
                    // knn breaks a tie of votes its own way; the others pick the top score.
                    assert_eq!(argmax(p.iter().copied()), scored.class, "{kind} row {i}");
                }
            }
            assert_eq!(model.score(&[1.0, 2.0]), None, "a row of the wrong width");
        }
    }
}
