//! `Kind`: what a model kind of `kinds/` implements (its hyper-parameters with their limits and
//! tuning ranges as [`ParamSpec`]s, fit and predict); `model_kind.rs` lists the kinds.

use std::fmt;

use ndarray::{Array2, ArrayView1};
use serde_json::{Map, Value};

use crate::{Cancel, Error};

/// One model kind.
pub(crate) trait Kind: Send + Sync {
    /// The name used in `model:` and in the model file.
    fn name(&self) -> &'static str;
    /// Its hyper-parameters, in the order error messages list them.
    fn space(&self) -> Vec<ParamSpec>;
    /// Reads `params` (unknown names, types and limits refused, defaults filled in).
    /// `n_features` is there for defaults that depend on the data (the RBF `gamma`).
    fn parse(
        &self,
        params: &Map<String, Value>,
        n_features: usize,
    ) -> Result<Box<dyn Hyper>, Error>;
    /// Reads the fitted state stored in a model file under this kind's name.
    fn load(&self, state: Value) -> Result<Box<dyn Fitted>, serde_json::Error>;
}

/// Validated hyper-parameters of one kind, ready to fit.
pub(crate) trait Hyper {
    /// The parameters as the model file records them, keys sorted.
    fn to_map(&self) -> Map<String, Value>;
    /// Fits on standardised rows, checking `data.cancel` often enough to stop within well
    /// under a second.
    fn fit(&self, data: &Training<'_>) -> Result<Box<dyn Fitted>, Error>;
}

/// A fitted model of one kind.
pub(crate) trait Fitted: fmt::Debug + Send + Sync {
    /// The name of its kind.
    fn kind(&self) -> &'static str;
    /// The class index of one standardised row.
    fn predict(&self, row: ArrayView1<'_, f64>) -> usize;
    /// The probability of each class for one standardised row, summing to 1. For a kind with
    /// no probabilistic model (`svm`) it is a softmax of its class scores, so the most
    /// probable class is the one [`Fitted::predict`] picks, ties apart.
    fn probabilities(&self, row: ArrayView1<'_, f64>, n_classes: usize) -> Vec<f64>;
    /// Whether the state fits `n_features` features and `n_classes` classes, so prediction
    /// cannot index out of bounds on a hand-edited file.
    fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool;
    /// The state as the model file stores it.
    fn state(&self) -> Result<Value, serde_json::Error>;
}

/// What a fit gets: standardised rows, their class indices, and the run's limits.
pub(crate) struct Training<'a> {
    /// Rows are samples, standardised.
    pub(crate) x: &'a Array2<f64>,
    /// Class indices in `0..n_classes`, each occurring.
    pub(crate) y: &'a [usize],
    pub(crate) n_classes: usize,
    pub(crate) cancel: &'a Cancel,
    /// Threads the fit may use.
    pub(crate) cpus: usize,
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn backticked<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One hyper-parameter: its default, the values `train` accepts, and the range a tuner samples.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The name in `params:`.
    pub name: &'static str,
    /// The value used when the parameter is absent; `null` where it depends on the data (the
    /// RBF `gamma` defaults to `1 / features`) or means "none" (a tree's `max_depth`).
    pub default: Value,
    /// The values a tuner samples from; always inside [`ParamSpec::limit`].
    pub range: Range,
    /// The hard limit `train` checks a given value against.
    pub limit: Limit,
    /// Set when the parameter applies only with another parameter's value:
    /// `("kernel", "rbf")` for `gamma`.
    pub when: Option<(&'static str, &'static str)>,
}

/// The values a tuner samples a parameter from.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// A real number in `lo..=hi`, on a log scale when `log`.
    Float {
        /// Smallest value.
        lo: f64,
        /// Largest value.
        hi: f64,
        /// Sample the exponent rather than the value.
        log: bool,
    },
    /// A whole number in `lo..=hi`, in steps of `step` from `lo`.
    Int {
        /// Smallest value.
        lo: i64,
        /// Largest value.
        hi: i64,
        /// Distance between values.
        step: i64,
    },
    /// One of these names (also the only values `train` accepts).
    Choice(Vec<&'static str>),
}

/// The hard limit on a given value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Any finite number (or, for a [`Range::Choice`], one of its names).
    Any,
    /// Greater than this.
    Above(f64),
    /// This or greater.
    AtLeast(f64),
}

impl Limit {
    /// Whether `x` satisfies the limit.
    pub fn allows(self, x: f64) -> bool {
        match self {
            Limit::Any => x.is_finite(),
            Limit::Above(lo) => x > lo,
            Limit::AtLeast(lo) => x >= lo,
        }
    }
}

impl Range {
    /// Whether a value lies inside the range.
    pub fn contains(&self, v: &Value) -> bool {
        match self {
            Range::Float { lo, hi, .. } => v.as_f64().is_some_and(|x| *lo <= x && x <= *hi),
            Range::Int { lo, hi, step } => v
                .as_i64()
                .is_some_and(|n| *lo <= n && n <= *hi && (n - lo) % step.max(&1) == 0),
            Range::Choice(names) => v.as_str().is_some_and(|s| names.contains(&s)),
        }
    }
}

/// The index of the largest value; the first on a tie.
/// `exp(s - max) / sum`: scores to probabilities, without overflow.
pub(crate) fn probabilities_of(scores: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut p: Vec<f64> = scores.collect();
    let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let n = p.len().max(1) as f64;
        return vec![1.0 / n; p.len()];
    }
    p.iter_mut().for_each(|s| *s = (*s - max).exp());
    let sum: f64 = p.iter().sum();
    p.iter_mut().for_each(|s| *s /= sum);
    p
}

/// A count per class as fractions of their sum.
pub(crate) fn fractions(counts: &[usize]) -> Vec<f64> {
    let sum = counts.iter().sum::<usize>().max(1) as f64;
    counts.iter().map(|&c| c as f64 / sum).collect()
}

pub(crate) fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use ndarray::Array2;
    use serde_json::json;

    use super::*;
    use crate::ModelKind;

    #[track_caller]
    fn parse(kind: &str, params: Value) -> Result<Map<String, Value>, String> {
        let Value::Object(map) = params else {
            panic!("params must be a mapping")
        };
        let kind = ModelKind::from_name(kind).unwrap();
        kind.kind()
            .parse(&map, 4)
            .map(|h| h.to_map())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_default_lies_inside_its_range_and_limit() {
        for kind in ModelKind::all() {
            for spec in kind.space() {
                let at = format!("{kind}.{}", spec.name);
                if !spec.default.is_null() {
                    assert!(
                        spec.range.contains(&spec.default),
                        "{at}: default outside range"
                    );
                    if let Some(x) = spec.default.as_f64() {
                        assert!(spec.limit.allows(x), "{at}: default outside limit");
                    }
                }
                let ends = match spec.range {
                    Range::Float { lo, hi, log } => {
                        assert!(lo < hi && (!log || lo > 0.0), "{at}: bad range");
                        vec![lo, hi]
                    }
                    Range::Int { lo, hi, step } => {
                        assert!(lo < hi && step >= 1, "{at}: bad range");
                        vec![lo as f64, hi as f64]
                    }
                    Range::Choice(ref names) => {
                        assert!(!names.is_empty(), "{at}: no choices");
                        vec![]
                    }
                };
                for x in ends {
                    assert!(spec.limit.allows(x), "{at}: range end {x} outside limit");
                }
                // Every value of the range is accepted by `train`.
                let value = match spec.range {
                    Range::Float { hi, .. } => json!(hi),
                    Range::Int { hi, .. } => json!(hi),
                    Range::Choice(ref names) => json!(names[names.len() - 1]),
                };
                let mut params = serde_json::Map::new();
                if let Some((other, needs)) = spec.when {
                    params.insert(other.into(), needs.into());
                }
                params.insert(spec.name.into(), value);
                assert!(parse(kind.as_str(), Value::Object(params)).is_ok(), "{at}");
            }
        }
    }

    #[test]
    fn a_value_past_its_limit_is_refused_with_its_name() {
        for kind in ModelKind::all() {
            for spec in kind.space() {
                let bad = match spec.limit {
                    Limit::Above(lo) | Limit::AtLeast(lo) => json!(lo - 1.0),
                    Limit::Any => match spec.range {
                        Range::Choice(_) => json!("nope"),
                        _ => json!("text"),
                    },
                };
                let mut params = serde_json::Map::new();
                if let Some((other, needs)) = spec.when {
                    params.insert(other.into(), needs.into());
                }
                params.insert(spec.name.into(), bad);
                let err = parse(kind.as_str(), Value::Object(params)).unwrap_err();
                let named = format!("parameter `{}` of model `{kind}` ", spec.name);
                assert!(err.starts_with(&named), "{err}");
            }
        }
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            parse("svm", json!({"C": 2, "gamma": 0.5})),
            Ok(
                json!({"C": 2.0, "gamma": 0.5, "kernel": "rbf", "tol": 1e-3})
                    .as_object()
                    .cloned()
                    .unwrap()
            )
        );
        // The default gamma is 1 / features.
        assert_eq!(parse("svm", json!({})).unwrap()["gamma"], json!(0.25));
        assert_eq!(
            parse("tree", json!({"max_depth": null})),
            Ok(json!({"criterion": "gini", "max_depth": null, "min_samples_leaf": 1, "min_samples_split": 2})
                .as_object()
                .cloned()
                .unwrap())
        );
        assert_eq!(
            parse("svm", json!({"kernel": "poly"})).unwrap()["degree"],
            json!(3.0)
        );
    }

    #[test]
    fn errors_name_model_and_parameter() {
        let cases = [
            (
                "svm",
                json!({"c": 1}),
                "unknown parameter `c` for model `svm`, expected one of `C`, `kernel`, `gamma`, `degree`, `coef0`, `tol`",
            ),
            (
                "logreg",
                json!({"alpha": "high"}),
                "parameter `alpha` of model `logreg` must be a number, got `\"high\"`",
            ),
            (
                "logreg",
                json!({"max_iter": 2.5}),
                "parameter `max_iter` of model `logreg` must be a whole number, got `2.5`",
            ),
            (
                "svm",
                json!({"kernel": "sigmoid"}),
                "parameter `kernel` of model `svm` must be one of `linear`, `rbf`, `poly`, got `\"sigmoid\"`",
            ),
            (
                "svm",
                json!({"kernel": "linear", "gamma": 1}),
                "parameter `gamma` of model `svm` applies only to kernel `rbf`, not `linear`",
            ),
            (
                "svm",
                json!({"C": 0}),
                "parameter `C` of model `svm` must be > 0, got 0",
            ),
            (
                "knn",
                json!({"k": 0}),
                "parameter `k` of model `knn` must be >= 1, got 0",
            ),
            (
                "logreg",
                json!({"alpha": -1}),
                "parameter `alpha` of model `logreg` must be >= 0, got -1",
            ),
        ];
        for (kind, params, expected) in cases {
            assert_eq!(parse(kind, params), Err(expected.to_string()));
        }
    }

    /// Rows of `n_features` numbers in three classes. Separable: without regularisation the
    /// logistic loss has no minimum, so L-BFGS runs all of its iterations. Not separable
    /// (labels unrelated to the numbers): a tree grows until every leaf is pure.
    fn big(rows: usize, n_features: usize, separable: bool) -> (Array2<f64>, Vec<usize>) {
        let y: Vec<usize> = (0..rows)
            .map(|i| {
                if separable {
                    i % 3
                } else {
                    (i * 2_654_435_761) % 7 % 3
                }
            })
            .collect();
        let x = Array2::from_shape_fn((rows, n_features), |(i, j)| {
            let wobble = ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0;
            if separable {
                (y[i] as f64) * 3.0 + wobble
            } else {
                wobble
            }
        });
        (x, y)
    }

    /// Fits `kind` with the flag raised from another thread after 100 ms; returns the result
    /// and how long the fit took after the flag went up.
    fn cancelled_fit(kind: &str, params: Value) -> (Result<(), Error>, Duration) {
        let (x, y) = big(200_000, 8, kind == "logreg");
        let Value::Object(params) = params else {
            panic!("params must be a mapping")
        };
        let hyper = ModelKind::from_name(kind)
            .unwrap()
            .kind()
            .parse(&params, x.ncols())
            .unwrap();
        let cancel = Cancel::new();
        std::thread::scope(|s| {
            let flag = cancel.clone();
            let raiser = s.spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                flag.cancel();
                Instant::now()
            });
            let result = hyper.fit(&Training {
                x: &x,
                y: &y,
                n_classes: 3,
                cancel: &cancel,
                cpus: 1,
            });
            let done = Instant::now();
            let raised = raiser.join().unwrap();
            (result.map(|_| ()), done.saturating_duration_since(raised))
        })
    }

    #[test]
    fn a_cancelled_logreg_fit_stops_within_a_second() {
        let (result, after) = cancelled_fit(
            "logreg",
            json!({"alpha": 0, "max_iter": 1_000_000, "tol": 1e-300}),
        );
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(
            after < Duration::from_millis(1500),
            "took {after:?} after the flag"
        );
    }

    #[test]
    fn a_cancelled_tree_fit_stops_within_a_second() {
        let (result, after) = cancelled_fit("tree", json!({}));
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(
            after < Duration::from_millis(1500),
            "took {after:?} after the flag"
        );
    }
}
