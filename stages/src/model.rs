//! `Model`: the portable model file `train` writes and `evaluate`, `deploy` and the registry
//! read — classes, features, the standardisation fitted on the training split, the resolved
//! hyper-parameters and the fitted state — with fitting and prediction for each model kind.

use std::path::Path;
use std::time::{Duration, Instant};

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;
use crate::hyper::{Hyper, Kernel};
use crate::table::Table;
use crate::tree::{Growth, Tree, majority};

/// The model file format this crate reads and writes. Bump it when a field changes meaning.
pub const MODEL_FORMAT: u32 = 1;

/// The models `train` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Multinomial logistic regression (linfa-logistic).
    Logreg,
    /// Support vector machine, one-vs-all over per-class binary machines (linfa-svm).
    Svm,
    /// CART decision tree.
    Tree,
    /// k nearest neighbours, Euclidean on standardised features.
    Knn,
}

impl ModelKind {
    /// The name used in `model:`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Logreg => "logreg",
            ModelKind::Svm => "svm",
            ModelKind::Tree => "tree",
            ModelKind::Knn => "knn",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// The fitted state of each model kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Fitted {
    /// Class scores `intercept[c] + weights[c] · x`, highest wins.
    Logreg {
        weights: Vec<Vec<f64>>,
        intercept: Vec<f64>,
    },
    /// One binary machine per class (that class against the rest), highest decision value wins.
    /// Stored machine by machine because linfa's `MultiClassModel` cannot be serialised.
    Svm { machines: Vec<Svm<f64, bool>> },
    /// A decision tree.
    Tree(Tree),
    /// The standardised training rows and their classes.
    Knn {
        k: usize,
        points: Vec<Vec<f64>>,
        classes: Vec<usize>,
    },
}

/// A trained model, as stored in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub(crate) fitted: Fitted,
}

/// A model fitted by [`fit`], with what `train` reports about it.
pub(crate) struct Trained {
    pub(crate) model: Model,
    pub(crate) train_accuracy: f64,
    pub(crate) elapsed: Duration,
}

/// Fits `kind` on the training table: labels mapped to sorted class indices, features
/// standardised, then the model fitted on the standardised matrix.
pub(crate) fn fit(
    kind: ModelKind,
    params: &Map<String, Value>,
    table: &Table,
    target: &str,
) -> Result<Trained, Error> {
    let labels = table.labels(target)?;
    let features: Vec<String> = table
        .columns()
        .into_iter()
        .filter(|c| c != target)
        .collect();
    let hyper = Hyper::parse(kind, params, features.len())?;
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
    let raw = table.matrix(&features)?;
    let scaler = Scaler::fit(&raw);
    let x = scaler.transform(&raw);

    let started = Instant::now();
    let fitted = fit_state(kind, &hyper, &x, &y, classes.len())?;
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
        fitted,
    };
    let predicted = model.predict_standardised(&x);
    let correct = predicted.iter().zip(&y).filter(|(p, t)| p == t).count();
    Ok(Trained {
        train_accuracy: correct as f64 / y.len() as f64,
        model,
        elapsed,
    })
}

fn fit_state(
    kind: ModelKind,
    hyper: &Hyper,
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
) -> Result<Fitted, Error> {
    let fit_error = |e: &dyn std::fmt::Display| Error::Fit {
        model: kind.as_str(),
        message: e.to_string(),
    };
    match *hyper {
        Hyper::Logreg {
            alpha,
            max_iter,
            tol,
        } => {
            let data = Dataset::new(x.clone(), Array1::from(y.to_vec()));
            let fitted = MultiLogisticRegression::<f64>::default()
                .alpha(alpha)
                .max_iterations(max_iter)
                .gradient_tolerance(tol)
                .fit(&data)
                .map_err(|e| fit_error(&e))?;
            // linfa orders its columns by class value; every class index occurs in `y`, so the
            // columns are exactly 0..n_classes.
            let mut weights = vec![vec![0.0; x.ncols()]; n_classes];
            let mut intercept = vec![0.0; n_classes];
            for (col, &class) in fitted.classes().iter().enumerate() {
                weights[class] = fitted.params().column(col).to_vec();
                intercept[class] = fitted.intercept()[col];
            }
            Ok(Fitted::Logreg { weights, intercept })
        }
        Hyper::Svm { c, kernel, tol } => {
            let params = Svm::<f64, bool>::params().pos_neg_weights(c, c).eps(tol);
            let params = match kernel {
                Kernel::Linear => params.linear_kernel(),
                // linfa's Gaussian kernel is exp(-|x - x'|² / eps), so eps = 1 / gamma.
                Kernel::Rbf { gamma } => params.gaussian_kernel(1.0 / gamma),
                Kernel::Poly { degree, coef0 } => params.polynomial_kernel(coef0, degree),
            };
            let machines = (0..n_classes)
                .map(|class| {
                    let is_class: Array1<bool> = y.iter().map(|&l| l == class).collect();
                    params
                        .fit(&Dataset::new(x.clone(), is_class))
                        .map_err(|e| fit_error(&e))
                })
                .collect::<Result<_, _>>()?;
            Ok(Fitted::Svm { machines })
        }
        Hyper::Tree {
            max_depth,
            min_samples_split,
            min_samples_leaf,
            criterion,
        } => Ok(Fitted::Tree(Tree::fit(
            x,
            y,
            n_classes,
            &Growth {
                max_depth,
                min_samples_split,
                min_samples_leaf,
                criterion,
            },
        ))),
        Hyper::Knn { k } => {
            if k > y.len() {
                return Err(Error::Param {
                    model: "knn",
                    name: "k".into(),
                    message: format!("must be at most the {} training rows, got {k}", y.len()),
                });
            }
            Ok(Fitted::Knn {
                k,
                points: x.rows().into_iter().map(|r| r.to_vec()).collect(),
                classes: y.to_vec(),
            })
        }
    }
}

impl Model {
    /// Writes the model file (fields in declaration order, pretty-printed, final newline).
    pub(crate) fn save(&self, path: &Path) -> Result<(), Error> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::json(path, e))?;
        bytes.push(b'\n');
        crate::atomic::write(path, &bytes)
    }

    /// Class indices for rows of standardised features.
    fn predict_standardised(&self, x: &Array2<f64>) -> Vec<usize> {
        x.axis_iter(Axis(0))
            .map(|row| self.predict_row(row))
            .collect()
    }

    fn predict_row(&self, row: ArrayView1<'_, f64>) -> usize {
        match &self.fitted {
            Fitted::Logreg { weights, intercept } => argmax(
                weights
                    .iter()
                    .zip(intercept)
                    .map(|(w, b)| b + w.iter().zip(row.iter()).map(|(w, x)| w * x).sum::<f64>()),
            ),
            Fitted::Svm { machines } => {
                argmax(machines.iter().map(|m| m.weighted_sum(&row) - m.rho))
            }
            Fitted::Tree(tree) => tree.predict(row),
            Fitted::Knn { k, points, classes } => {
                let mut near: Vec<(f64, usize)> = points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let d = p
                            .iter()
                            .zip(row.iter())
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum();
                        (d, i)
                    })
                    .collect();
                // Ties in distance go to the earlier training row.
                near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut votes = vec![0; self.classes.len()];
                for &(_, i) in near.iter().take(*k) {
                    votes[classes[i]] += 1;
                }
                majority(&votes)
            }
        }
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
        let (kind, ok) = match &self.fitted {
            Fitted::Logreg { weights, intercept } => (
                ModelKind::Logreg,
                weights.len() == n_classes
                    && intercept.len() == n_classes
                    && weights.iter().all(|w| w.len() == n_features),
            ),
            Fitted::Svm { machines } => (ModelKind::Svm, machines.len() == n_classes),
            Fitted::Tree(tree) => (ModelKind::Tree, tree.is_well_formed(n_features, n_classes)),
            Fitted::Knn { k, points, classes } => (
                ModelKind::Knn,
                *k >= 1
                    && *k <= points.len()
                    && points.len() == classes.len()
                    && points.iter().all(|p| p.len() == n_features)
                    && classes.iter().all(|&c| c < n_classes),
            ),
        };
        if kind != self.model {
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

/// The index of the largest value; the first on a tie.
fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
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
    let raw = rows.matrix(&model.features)?;
    let x = model.scaler.transform(&raw);
    Ok(model
        .predict_standardised(&x)
        .into_iter()
        .map(|c| model.classes[c].clone())
        .collect())
}
