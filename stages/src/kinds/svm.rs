//! `svm`: a support vector machine per class (that class against the rest, linfa-svm), the
//! highest decision value wins. The machines are fitted in parallel on the stage's CPUs.

use linfa::prelude::*;
use ndarray::{Array1, ArrayView1};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;
use crate::kind::{
    Fitted, Hyper, Kind, Limit, ParamSpec, Range, Training, argmax, probabilities_of,
};
use crate::params::{Given, sorted_map};

/// The `svm` kind.
pub(crate) struct Svm;

/// The SVM kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    /// `<x, x'>`.
    Linear,
    /// `exp(-gamma |x - x'|²)`.
    Rbf { gamma: f64 },
    /// `(<x, x'> + coef0)^degree`.
    Poly { degree: f64, coef0: f64 },
}

impl Kind for Svm {
    fn name(&self) -> &'static str {
        "svm"
    }

    fn space(&self) -> Vec<ParamSpec> {
        let float = |name, default: Value, (lo, hi), limit, when| ParamSpec {
            name,
            default,
            range: Range::Float { lo, hi, log: true },
            limit,
            when,
        };
        vec![
            float("C", 1.0.into(), (1e-3, 1e3), Limit::Above(0.0), None),
            ParamSpec {
                name: "kernel",
                default: "rbf".into(),
                range: Range::Choice(vec!["linear", "rbf", "poly"]),
                limit: Limit::Any,
                when: None,
            },
            // Defaults to 1 / features: scikit-learn's "scale" on standardised data.
            float(
                "gamma",
                Value::Null,
                (1e-4, 10.0),
                Limit::Above(0.0),
                Some(("kernel", "rbf")),
            ),
            ParamSpec {
                name: "degree",
                default: 3.into(),
                range: Range::Int {
                    lo: 2,
                    hi: 5,
                    step: 1,
                },
                limit: Limit::AtLeast(1.0),
                when: Some(("kernel", "poly")),
            },
            ParamSpec {
                name: "coef0",
                default: 1.0.into(),
                range: Range::Float {
                    lo: 0.0,
                    hi: 10.0,
                    log: false,
                },
                limit: Limit::Any,
                when: Some(("kernel", "poly")),
            },
            float("tol", 1e-3.into(), (1e-5, 1e-1), Limit::Above(0.0), None),
        ]
    }

    fn parse(
        &self,
        params: &Map<String, Value>,
        n_features: usize,
    ) -> Result<Box<dyn Hyper>, Error> {
        let g = Given::new(self.name(), params, self.space())?;
        let kernel = match g.choice("kernel")? {
            "linear" => Kernel::Linear,
            "poly" => Kernel::Poly {
                degree: g.int("degree")? as f64,
                coef0: g.float("coef0")?,
            },
            _ => Kernel::Rbf {
                gamma: g.float_or("gamma", 1.0 / n_features.max(1) as f64)?,
            },
        };
        Ok(Box::new(Params {
            c: g.float("C")?,
            kernel,
            tol: g.float("tol")?,
        }))
    }

    fn load(&self, state: Value) -> Result<Box<dyn Fitted>, serde_json::Error> {
        Ok(Box::new(serde_json::from_value::<State>(state)?))
    }
}

struct Params {
    c: f64,
    kernel: Kernel,
    tol: f64,
}

impl Hyper for Params {
    fn to_map(&self) -> Map<String, Value> {
        let mut e = vec![("C", self.c.into()), ("tol", self.tol.into())];
        match self.kernel {
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
        sorted_map(e)
    }

    fn fit(&self, data: &Training<'_>) -> Result<Box<dyn Fitted>, Error> {
        let params = linfa_svm::Svm::<f64, bool>::params()
            .pos_neg_weights(self.c, self.c)
            .eps(self.tol);
        let params = match self.kernel {
            Kernel::Linear => params.linear_kernel(),
            // linfa's Gaussian kernel is exp(-|x - x'|² / eps), so eps = 1 / gamma.
            Kernel::Rbf { gamma } => params.gaussian_kernel(1.0 / gamma),
            Kernel::Poly { degree, coef0 } => params.polynomial_kernel(coef0, degree),
        };
        // linfa's solver has no hook: the flag is checked before each machine.
        let machine = |class: usize| {
            data.cancel.check()?;
            let is_class: Array1<bool> = data.y.iter().map(|&l| l == class).collect();
            params
                .fit(&Dataset::new(data.x.clone(), is_class))
                .map_err(|e| Error::Fit {
                    model: "svm",
                    message: e.to_string(),
                })
        };
        let machines = if data.cpus <= 1 {
            (0..data.n_classes).map(machine).collect::<Result<_, _>>()?
        } else {
            rayon::ThreadPoolBuilder::new()
                .num_threads(data.cpus)
                .build()
                .map_err(|e| Error::Fit {
                    model: "svm",
                    message: e.to_string(),
                })?
                .install(|| {
                    (0..data.n_classes)
                        .into_par_iter()
                        .map(machine)
                        .collect::<Result<_, _>>()
                })?
        };
        data.cancel.check()?;
        Ok(Box::new(State { machines }))
    }
}

/// One binary machine per class. Stored machine by machine because linfa's
/// `MultiClassModel` cannot be serialised.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    machines: Vec<linfa_svm::Svm<f64, bool>>,
}

impl Fitted for State {
    fn kind(&self) -> &'static str {
        Svm.name()
    }

    fn predict(&self, row: ArrayView1<'_, f64>) -> usize {
        argmax(self.machines.iter().map(|m| m.weighted_sum(&row) - m.rho))
    }

    fn probabilities(&self, row: ArrayView1<'_, f64>, _: usize) -> Vec<f64> {
        probabilities_of(self.machines.iter().map(|m| m.weighted_sum(&row) - m.rho))
    }

    fn is_well_formed(&self, _: usize, n_classes: usize) -> bool {
        self.machines.len() == n_classes
    }

    fn state(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}
