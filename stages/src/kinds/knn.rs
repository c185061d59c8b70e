//! `knn`: k nearest neighbours, Euclidean on standardised features, majority vote.

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;
use crate::cart::majority;
use crate::kind::{Fitted, Hyper, Kind, Limit, ParamSpec, Range, Training, fractions};
use crate::params::{Given, sorted_map};

/// The `knn` kind.
pub(crate) struct Knn;

impl Kind for Knn {
    fn name(&self) -> &'static str {
        "knn"
    }

    fn space(&self) -> Vec<ParamSpec> {
        vec![ParamSpec {
            name: "k",
            default: 5.into(),
            range: Range::Int {
                lo: 1,
                hi: 50,
                step: 1,
            },
            limit: Limit::AtLeast(1.0),
            when: None,
        }]
    }

    fn parse(&self, params: &Map<String, Value>, _: usize) -> Result<Box<dyn Hyper>, Error> {
        let g = Given::new(self.name(), params, self.space())?;
        Ok(Box::new(Params {
            k: g.int("k")? as usize,
        }))
    }

    fn load(&self, state: Value) -> Result<Box<dyn Fitted>, serde_json::Error> {
        Ok(Box::new(serde_json::from_value::<State>(state)?))
    }
}

struct Params {
    k: usize,
}

impl Hyper for Params {
    fn to_map(&self) -> Map<String, Value> {
        sorted_map(vec![("k", self.k.into())])
    }

    fn fit(&self, data: &Training<'_>) -> Result<Box<dyn Fitted>, Error> {
        let k = self.k;
        if k > data.y.len() {
            return Err(Error::Param {
                model: "knn",
                name: "k".into(),
                message: format!(
                    "must be at most the {} training rows, got {k}",
                    data.y.len()
                ),
            });
        }
        data.cancel.check()?;
        Ok(Box::new(State {
            k,
            points: data.x.rows().into_iter().map(|r| r.to_vec()).collect(),
            classes: data.y.to_vec(),
        }))
    }
}

/// The standardised training rows and their classes.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    k: usize,
    points: Vec<Vec<f64>>,
    classes: Vec<usize>,
}

impl Fitted for State {
    fn kind(&self) -> &'static str {
        Knn.name()
    }

    fn predict(&self, row: ArrayView1<'_, f64>) -> usize {
        let n_classes = self.classes.iter().max().map_or(0, |m| m + 1);
        majority(&self.votes(row, n_classes))
    }

    fn probabilities(&self, row: ArrayView1<'_, f64>, n_classes: usize) -> Vec<f64> {
        fractions(&self.votes(row, n_classes))
    }

    fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        self.k >= 1
            && self.k <= self.points.len()
            && self.points.len() == self.classes.len()
            && self.points.iter().all(|p| p.len() == n_features)
            && self.classes.iter().all(|&c| c < n_classes)
    }

    fn state(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

impl State {
    /// The classes of the `k` nearest training rows, counted: one count per class.
    fn votes(&self, row: ArrayView1<'_, f64>, n_classes: usize) -> Vec<usize> {
        let mut near: Vec<(f64, usize)> = self
            .points
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
        let mut votes = vec![0; n_classes];
        for &(_, i) in near.iter().take(self.k) {
            if let Some(v) = votes.get_mut(self.classes[i]) {
                *v += 1;
            }
        }
        votes
    }
}
