//! `tree`: a CART decision tree (grown by `cart.rs`).

use ndarray::ArrayView1;
use serde_json::{Map, Value};

use crate::Error;
use crate::cart::{self, Criterion, Growth};
use crate::kind::{Fitted, Hyper, Kind, Limit, ParamSpec, Range, Training};
use crate::params::{Given, sorted_map};

/// The `tree` kind.
pub(crate) struct Tree;

impl Kind for Tree {
    fn name(&self) -> &'static str {
        "tree"
    }

    fn space(&self) -> Vec<ParamSpec> {
        let int = |name, default: Value, (lo, hi), min: f64| ParamSpec {
            name,
            default,
            range: Range::Int { lo, hi, step: 1 },
            limit: Limit::AtLeast(min),
            when: None,
        };
        vec![
            // `null` (the default): grow until the leaves are pure.
            int("max_depth", Value::Null, (1, 20), 1.0),
            int("min_samples_split", 2.into(), (2, 20), 2.0),
            int("min_samples_leaf", 1.into(), (1, 20), 1.0),
            ParamSpec {
                name: "criterion",
                default: "gini".into(),
                range: Range::Choice(vec!["gini", "entropy"]),
                limit: Limit::Any,
                when: None,
            },
        ]
    }

    fn parse(&self, params: &Map<String, Value>, _: usize) -> Result<Box<dyn Hyper>, Error> {
        let g = Given::new(self.name(), params, self.space())?;
        let max_depth = g.optional_int("max_depth")?.map(|d| d as usize);
        let criterion = match g.choice("criterion")? {
            "entropy" => Criterion::Entropy,
            _ => Criterion::Gini,
        };
        Ok(Box::new(Growth {
            max_depth,
            min_samples_split: g.int("min_samples_split")? as usize,
            min_samples_leaf: g.int("min_samples_leaf")? as usize,
            criterion,
        }))
    }

    fn load(&self, state: Value) -> Result<Box<dyn Fitted>, serde_json::Error> {
        Ok(Box::new(serde_json::from_value::<cart::Tree>(state)?))
    }
}

impl Hyper for Growth {
    fn to_map(&self) -> Map<String, Value> {
        let criterion = match self.criterion {
            Criterion::Gini => "gini",
            Criterion::Entropy => "entropy",
        };
        sorted_map(vec![
            ("max_depth", self.max_depth.map_or(Value::Null, Value::from)),
            ("min_samples_split", self.min_samples_split.into()),
            ("min_samples_leaf", self.min_samples_leaf.into()),
            ("criterion", criterion.into()),
        ])
    }

    fn fit(&self, data: &Training<'_>) -> Result<Box<dyn Fitted>, Error> {
        let tree = cart::Tree::fit(data.x, data.y, data.n_classes, self, data.cancel)?;
        Ok(Box::new(tree))
    }
}

impl Fitted for cart::Tree {
    fn kind(&self) -> &'static str {
        Tree.name()
    }

    fn predict(&self, row: ArrayView1<'_, f64>) -> usize {
        cart::Tree::predict(self, row)
    }

    /// A leaf keeps its class, not its training rows' counts: the leaf's class gets 1. (Grown
    /// to purity, the default, a leaf's rows are all of its class, as scikit-learn counts.)
    fn probabilities(&self, row: ArrayView1<'_, f64>, n_classes: usize) -> Vec<f64> {
        let mut p = vec![0.0; n_classes];
        if let Some(c) = p.get_mut(cart::Tree::predict(self, row)) {
            *c = 1.0;
        }
        p
    }

    fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        cart::Tree::is_well_formed(self, n_features, n_classes)
    }

    fn state(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}
