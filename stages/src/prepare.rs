//! `prepare`: a CSV in, rows with missing values dropped, a seeded stratified train/test split out.

use serde::Deserialize;

use crate::{Builtin, Error, Io, parse_with};

/// The `with:` of `uses: prepare`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareWith {
    /// The input CSV, with a header row.
    pub input: String,
    /// The label column.
    pub target: String,
    /// Fraction of each class held out for testing.
    #[serde(default = "default_test_size")]
    pub test_size: f64,
    /// Seed of the split.
    #[serde(default)]
    pub seed: u64,
    /// Output folder: `train.csv`, `test.csv`, `summary.json`.
    pub out: String,
}

fn default_test_size() -> f64 {
    0.2
}

/// The `prepare` stage.
pub struct Prepare;

impl Builtin for Prepare {
    fn name(&self) -> &'static str {
        "prepare"
    }

    fn version(&self) -> u32 {
        1
    }

    fn io(&self, with: &serde_json::Value) -> Result<Io, Error> {
        let w: PrepareWith = parse_with(self.name(), with)?;
        Ok(Io {
            deps: vec![w.input],
            outs: vec![w.out],
            ..Io::default()
        })
    }
}
