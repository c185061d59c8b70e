//! `Hyper`: the hyper-parameters of each model, read from `train`'s free-form `params:` mapping
//! with an error for an unknown name, a wrong type or a value out of range.

use serde_json::{Map, Value};

use crate::{Error, ModelKind};

/// The SVM kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kernel {
    /// `<x, x'>`.
    Linear,
    /// `exp(-gamma |x - x'|²)`.
    Rbf { gamma: f64 },
    /// `(<x, x'> + coef0)^degree`.
    Poly { degree: f64, coef0: f64 },
}

/// Split quality of a decision tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Criterion {
    Gini,
    Entropy,
}

/// Validated hyper-parameters, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Hyper {
    Logreg {
        alpha: f64,
        max_iter: u64,
        tol: f64,
    },
    Svm {
        c: f64,
        kernel: Kernel,
        tol: f64,
    },
    Tree {
        max_depth: Option<usize>,
        min_samples_split: usize,
        min_samples_leaf: usize,
        criterion: Criterion,
    },
    Knn {
        k: usize,
    },
}

impl Hyper {
    /// Reads `params` for `kind`. `n_features` sets the default RBF `gamma` (`1 / n_features`,
    /// scikit-learn's `"scale"` on standardised data).
    pub(crate) fn parse(
        kind: ModelKind,
        params: &Map<String, Value>,
        n_features: usize,
    ) -> Result<Hyper, Error> {
        match kind {
            ModelKind::Logreg => {
                let r = Reader::new("logreg", params, &["alpha", "max_iter", "tol"])?;
                Ok(Hyper::Logreg {
                    alpha: r.number("alpha", 1.0, Bound::NonNegative)?,
                    max_iter: r.integer("max_iter", 100, 1)?,
                    tol: r.number("tol", 1e-4, Bound::Positive)?,
                })
            }
            ModelKind::Svm => {
                let r = Reader::new(
                    "svm",
                    params,
                    &["C", "kernel", "gamma", "degree", "coef0", "tol"],
                )?;
                let name = r.choice("kernel", "rbf", &["linear", "rbf", "poly"])?;
                r.only_with("gamma", &name, "rbf")?;
                r.only_with("degree", &name, "poly")?;
                r.only_with("coef0", &name, "poly")?;
                let kernel = match name.as_str() {
                    "linear" => Kernel::Linear,
                    "poly" => Kernel::Poly {
                        degree: r.integer("degree", 3, 1)? as f64,
                        coef0: r.number("coef0", 1.0, Bound::Any)?,
                    },
                    _ => Kernel::Rbf {
                        gamma: r.number(
                            "gamma",
                            1.0 / n_features.max(1) as f64,
                            Bound::Positive,
                        )?,
                    },
                };
                Ok(Hyper::Svm {
                    c: r.number("C", 1.0, Bound::Positive)?,
                    kernel,
                    tol: r.number("tol", 1e-3, Bound::Positive)?,
                })
            }
            ModelKind::Tree => {
                let r = Reader::new(
                    "tree",
                    params,
                    &[
                        "max_depth",
                        "min_samples_split",
                        "min_samples_leaf",
                        "criterion",
                    ],
                )?;
                let max_depth = match params.get("max_depth") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(r.integer("max_depth", 0, 1)? as usize),
                };
                let criterion = match r
                    .choice("criterion", "gini", &["gini", "entropy"])?
                    .as_str()
                {
                    "entropy" => Criterion::Entropy,
                    _ => Criterion::Gini,
                };
                Ok(Hyper::Tree {
                    max_depth,
                    min_samples_split: r.integer("min_samples_split", 2, 2)? as usize,
                    min_samples_leaf: r.integer("min_samples_leaf", 1, 1)? as usize,
                    criterion,
                })
            }
            ModelKind::Knn => {
                let r = Reader::new("knn", params, &["k"])?;
                Ok(Hyper::Knn {
                    k: r.integer("k", 5, 1)? as usize,
                })
            }
        }
    }

    /// The resolved parameters as they are recorded in the model file.
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        let entries: Vec<(&str, Value)> = match *self {
            Hyper::Logreg {
                alpha,
                max_iter,
                tol,
            } => vec![
                ("alpha", alpha.into()),
                ("max_iter", max_iter.into()),
                ("tol", tol.into()),
            ],
            Hyper::Svm { c, kernel, tol } => {
                let mut e = vec![("C", c.into()), ("tol", tol.into())];
                match kernel {
                    Kernel::Linear => e.push(("kernel", "linear".into())),
                    Kernel::Rbf { gamma } => {
                        e.push(("kernel", "rbf".into()));
                        e.push(("gamma", gamma.into()));
                    }
                    Kernel::Poly { degree, coef0 } => {
                        e.push(("kernel", "poly".into()));
                        e.push(("degree", degree.into()));
                        e.push(("coef0", coef0.into()));
                    }
                }
                e
            }
            Hyper::Tree {
                max_depth,
                min_samples_split,
                min_samples_leaf,
                criterion,
            } => vec![
                ("max_depth", max_depth.map_or(Value::Null, Value::from)),
                ("min_samples_split", min_samples_split.into()),
                ("min_samples_leaf", min_samples_leaf.into()),
                (
                    "criterion",
                    match criterion {
                        Criterion::Gini => "gini",
                        Criterion::Entropy => "entropy",
                    }
                    .into(),
                ),
            ],
            Hyper::Knn { k } => vec![("k", k.into())],
        };
        let mut entries: Vec<(String, Value)> = entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.into_iter().collect()
    }
}

/// Which numbers a parameter accepts.
#[derive(Clone, Copy)]
enum Bound {
    Any,
    Positive,
    NonNegative,
}

/// Reads typed parameters out of the mapping, after refusing names the model does not know.
struct Reader<'a> {
    model: &'static str,
    params: &'a Map<String, Value>,
}

impl<'a> Reader<'a> {
    fn new(
        model: &'static str,
        params: &'a Map<String, Value>,
        known: &[&str],
    ) -> Result<Reader<'a>, Error> {
        if let Some(name) = params.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::UnknownParam {
                model,
                name: name.clone(),
                expected: known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Reader { model, params })
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.params.get(name).filter(|v| !v.is_null())
    }

    fn error(&self, name: &str, message: String) -> Error {
        Error::Param {
            model: self.model,
            name: name.into(),
            message,
        }
    }

    fn number(&self, name: &str, default: f64, bound: Bound) -> Result<f64, Error> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let x = v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| self.error(name, format!("must be a number, got `{v}`")))?;
        match bound {
            Bound::Positive if x <= 0.0 => Err(self.error(name, format!("must be > 0, got {x}"))),
            Bound::NonNegative if x < 0.0 => {
                Err(self.error(name, format!("must be >= 0, got {x}")))
            }
            _ => Ok(x),
        }
    }

    fn integer(&self, name: &str, default: u64, min: u64) -> Result<u64, Error> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let n = v
            .as_u64()
            .ok_or_else(|| self.error(name, format!("must be a whole number, got `{v}`")))?;
        if n < min {
            return Err(self.error(name, format!("must be >= {min}, got {n}")));
        }
        Ok(n)
    }

    fn choice(&self, name: &str, default: &str, allowed: &[&str]) -> Result<String, Error> {
        let Some(v) = self.get(name) else {
            return Ok(default.into());
        };
        let list = || {
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Ok(s.into()),
            _ => Err(self.error(name, format!("must be one of {}, got `{v}`", list()))),
        }
    }

    /// Refuses a parameter that the chosen kernel would silently ignore.
    fn only_with(&self, name: &str, kernel: &str, needs: &str) -> Result<(), Error> {
        if self.get(name).is_some() && kernel != needs {
            return Err(self.error(
                name,
                format!("applies only to kernel `{needs}`, not `{kernel}`"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn parse(kind: ModelKind, params: Value) -> Result<Hyper, String> {
        let Value::Object(map) = params else {
            panic!("params must be a mapping")
        };
        Hyper::parse(kind, &map, 4).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            parse(ModelKind::Svm, json!({"C": 2, "gamma": 0.5})),
            Ok(Hyper::Svm {
                c: 2.0,
                kernel: Kernel::Rbf { gamma: 0.5 },
                tol: 1e-3
            })
        );
        assert_eq!(
            parse(ModelKind::Svm, json!({})),
            Ok(Hyper::Svm {
                c: 1.0,
                kernel: Kernel::Rbf { gamma: 0.25 },
                tol: 1e-3
            })
        );
        assert_eq!(
            parse(ModelKind::Tree, json!({"max_depth": null})),
            Ok(Hyper::Tree {
                max_depth: None,
                min_samples_split: 2,
                min_samples_leaf: 1,
                criterion: Criterion::Gini
            })
        );
    }

    #[test]
    fn errors_name_model_and_parameter() {
        let cases = [
            (
                ModelKind::Svm,
                json!({"c": 1}),
                "unknown parameter `c` for model `svm`, expected one of `C`, `kernel`, `gamma`, `degree`, `coef0`, `tol`",
            ),
            (
                ModelKind::Logreg,
                json!({"alpha": "high"}),
                "parameter `alpha` of model `logreg` must be a number, got `\"high\"`",
            ),
            (
                ModelKind::Logreg,
                json!({"max_iter": 2.5}),
                "parameter `max_iter` of model `logreg` must be a whole number, got `2.5`",
            ),
            (
                ModelKind::Svm,
                json!({"kernel": "sigmoid"}),
                "parameter `kernel` of model `svm` must be one of `linear`, `rbf`, `poly`, got `\"sigmoid\"`",
            ),
            (
                ModelKind::Svm,
                json!({"kernel": "linear", "gamma": 1}),
                "parameter `gamma` of model `svm` applies only to kernel `rbf`, not `linear`",
            ),
            (
                ModelKind::Svm,
                json!({"C": 0}),
                "parameter `C` of model `svm` must be > 0, got 0",
            ),
            (
                ModelKind::Knn,
                json!({"k": 0}),
                "parameter `k` of model `knn` must be >= 1, got 0",
            ),
        ];
        for (kind, params, expected) in cases {
            assert_eq!(parse(kind, params), Err(expected.to_string()));
        }
    }
}
