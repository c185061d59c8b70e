//! `logreg`: multinomial logistic regression (L-BFGS on the softmax loss, as linfa-logistic).

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::softmax::{self, Settings};
use crate::Error;
use crate::kind::{
    Fitted, Hyper, Kind, Limit, ParamSpec, Range, Training, argmax, probabilities_of,
};
use crate::params::{Given, sorted_map};

/// The `logreg` kind.
pub(crate) struct Logreg;

impl Kind for Logreg {
    fn name(&self) -> &'static str {
        "logreg"
    }

    fn space(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec {
                name: "alpha",
                default: 1.0.into(),
                range: Range::Float {
                    lo: 1e-4,
                    hi: 100.0,
                    log: true,
                },
                limit: Limit::AtLeast(0.0),
                when: None,
            },
            ParamSpec {
                name: "max_iter",
                default: 100.into(),
                range: Range::Int {
                    lo: 50,
                    hi: 1000,
                    step: 50,
                },
                limit: Limit::AtLeast(1.0),
                when: None,
            },
            ParamSpec {
                name: "tol",
                default: 1e-4.into(),
                range: Range::Float {
                    lo: 1e-6,
                    hi: 1e-2,
                    log: true,
                },
                limit: Limit::Above(0.0),
                when: None,
            },
        ]
    }

    fn parse(&self, params: &Map<String, Value>, _: usize) -> Result<Box<dyn Hyper>, Error> {
        let g = Given::new(self.name(), params, self.space())?;
        Ok(Box::new(Params {
            alpha: g.float("alpha")?,
            max_iter: g.int("max_iter")?,
            tol: g.float("tol")?,
        }))
    }

    fn load(&self, state: Value) -> Result<Box<dyn Fitted>, serde_json::Error> {
        Ok(Box::new(serde_json::from_value::<State>(state)?))
    }
}

struct Params {
    alpha: f64,
    max_iter: u64,
    tol: f64,
}

impl Hyper for Params {
    fn to_map(&self) -> Map<String, Value> {
        sorted_map(vec![
            ("alpha", self.alpha.into()),
            ("max_iter", self.max_iter.into()),
            ("tol", self.tol.into()),
        ])
    }

    fn fit(&self, data: &Training<'_>) -> Result<Box<dyn Fitted>, Error> {
        let settings = Settings {
            alpha: self.alpha,
            max_iter: self.max_iter,
            tol: self.tol,
        };
        let solution = softmax::fit(data.x, data.y, data.n_classes, &settings, data.cancel)?;
        // Columns are class indices: every class in 0..n_classes occurs in `y`.
        Ok(Box::new(State {
            weights: (0..data.n_classes)
                .map(|c| solution.weights.column(c).to_vec())
                .collect(),
            intercept: solution.intercept.to_vec(),
        }))
    }
}

/// Class scores `intercept[c] + weights[c] · x`, highest wins.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    weights: Vec<Vec<f64>>,
    intercept: Vec<f64>,
}

impl State {
    fn scores<'a>(&'a self, row: &'a ArrayView1<'_, f64>) -> impl Iterator<Item = f64> + 'a {
        self.weights
            .iter()
            .zip(&self.intercept)
            .map(move |(w, b)| b + w.iter().zip(row.iter()).map(|(w, x)| w * x).sum::<f64>())
    }
}

impl Fitted for State {
    fn kind(&self) -> &'static str {
        Logreg.name()
    }

    fn predict(&self, row: ArrayView1<'_, f64>) -> usize {
        argmax(self.scores(&row))
    }

    fn probabilities(&self, row: ArrayView1<'_, f64>, _: usize) -> Vec<f64> {
        probabilities_of(self.scores(&row))
    }

    fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        self.weights.len() == n_classes
            && self.intercept.len() == n_classes
            && self.weights.iter().all(|w| w.len() == n_features)
    }

    fn state(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}
