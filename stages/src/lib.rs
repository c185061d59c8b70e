//! Built-in stages of `wf`: the `uses:` half of a spec.
//!
//! A built-in stage is a type implementing [`Builtin`]. It reads its own `with:` mapping into a
//! typed struct (unknown keys refused) and declares the deps, outs, metrics and plots it will
//! use, so a user never repeats them in the spec. This crate depends on no `wf` type: the engine
//! hands it plain data and gets plain data back.
//!
//! [`Builtin::run`] is blocking and CPU-bound (polars, linfa): the engine calls it off its async
//! threads, with a [`Cancel`] flag it raises on Ctrl-C and the stage's CPU budget
//! ([`RunContext`]). Each model kind `train` fits is a module of `kinds/`, and
//! [`ModelKind::space`] lists its hyper-parameters with their limits and tuning ranges. The model file, the metrics and the [`registry`] are public so `wf model` can read
//! them without running a stage.

mod atomic;
mod cancel;
mod cart;
mod deploy;
mod error;
mod evaluate;
mod kind;
mod kinds;
mod model;
mod model_kind;
mod params;
mod prepare;
pub mod registry;
mod scores;
mod table;
mod train;

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;

pub use atomic::now_utc;
pub use cancel::Cancel;
pub use deploy::{Candidate, Deploy, DeployWith, Direction};
pub use error::Error;
pub use evaluate::{Evaluate, EvaluateWith};
pub use kind::{Limit, ParamSpec, Range};
pub use model::{MODEL_FORMAT, Model, Scaler, Scored, load_model, predict};
pub use model_kind::ModelKind;
pub use prepare::{Prepare, PrepareWith};
pub use registry::Registry;
pub use scores::{ClassMetrics, Confusion, Report};
pub use table::Table;
pub use train::{Train, TrainWith};

/// The paths a built-in stage reads and writes, relative to the stage's working directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Io {
    /// Files or folders read.
    pub deps: Vec<String>,
    /// Files or folders written.
    pub outs: Vec<String>,
    /// Metrics files written (JSON).
    pub metrics: Vec<String>,
    /// Plot data files written (CSV).
    pub plots: Vec<String>,
    /// DVC's plot properties of a plot in `plots` (`template`, `x`, `y`, `title`, `x_label`,
    /// `y_label`), by its path; a plot not here is drawn with the defaults.
    pub plot_props: BTreeMap<String, BTreeMap<String, String>>,
    /// Outs that the stage updates in place and that survive a re-run (a model registry).
    pub persist: Vec<String>,
}

/// A built-in stage, named in a spec by `uses: NAME`.
pub trait Builtin: Send + Sync {
    /// The name used in `uses:`.
    fn name(&self) -> &'static str;
    /// Bumped whenever the stage's outputs for the same inputs change; part of its lock identity.
    fn version(&self) -> u32;
    /// Parses `with:` and returns the deps and outs it implies.
    fn io(&self, with: &serde_json::Value) -> Result<Io, Error>;
    /// Runs the stage to completion, or until `ctx.cancel` is raised (then `Error::Cancelled`,
    /// within well under a second). Paths in `with:` are relative to `ctx.dir`. Writes exactly
    /// the outs, metrics, plots and persisted paths [`Builtin::io`] declares, and the same
    /// bytes for the same inputs (the registry's timestamps aside).
    fn run(&self, with: &serde_json::Value, ctx: &mut RunContext<'_>) -> Result<(), Error>;
}

/// What a built-in stage runs with, besides its `with:`.
pub struct RunContext<'a> {
    /// The stage's working folder; paths in `with:` are relative to it.
    pub dir: &'a Path,
    /// Receives human-readable progress lines.
    pub log: &'a mut dyn FnMut(String),
    /// Raised by the engine on Ctrl-C; the stage then stops with `Error::Cancelled`.
    pub cancel: &'a Cancel,
    /// Threads the stage may use (`resources.cpus`, at least 1).
    pub cpus: usize,
}

/// Every built-in stage, in the order they usually run.
pub const ALL: &[&dyn Builtin] = &[&Prepare, &Train, &Evaluate, &Deploy];

/// The names accepted by `uses:`.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|b| b.name())
}

/// Finds a built-in stage by name.
pub fn lookup(name: &str) -> Option<&'static dyn Builtin> {
    ALL.iter().copied().find(|b| b.name() == name)
}

/// Deserializes a `with:` mapping into a stage's own struct.
fn parse_with<T: DeserializeOwned>(
    stage: &'static str,
    with: &serde_json::Value,
) -> Result<T, Error> {
    serde_json::from_value(with.clone()).map_err(|e| Error::With {
        stage,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_is_found() {
        for name in names() {
            assert_eq!(lookup(name).map(|b| b.name()), Some(name));
        }
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn unknown_with_key_is_refused() {
        let err = Prepare
            .io(&json!({"input": "a.csv", "target": "y", "out": "p", "bogus": 1}))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
    }
}
