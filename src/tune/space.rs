//! The search space: the params a study tunes and the values each takes, and what every
//! sampler needs of them: uniform draws, and values snapped into their domain.

use std::collections::BTreeMap;

use rand::Rng;

use crate::repo_path::RepoPath;
use crate::spec::value::Value;

/// Whether larger or smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Larger is better (accuracy).
    Max,
    /// Smaller is better (loss).
    Min,
}

impl Direction {
    /// Whether `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Max => a > b,
            Direction::Min => a < b,
        }
    }

    /// `a` as a loss: smaller is better either way.
    pub fn loss(self, a: f64) -> f64 {
        match self {
            Direction::Max => -a,
            Direction::Min => a,
        }
    }

    /// `max` or `min`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Max => "max",
            Direction::Min => "min",
        }
    }
}

/// How trials' params are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplerKind {
    /// A tree-structured Parzen estimator: random at first, then where good trials were.
    Tpe,
    /// Uniformly at random (log-uniformly for `log: true`).
    Random,
    /// Every point of the grid, in order.
    Grid,
}

/// The values a param takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A real number in `lo..=hi`; on a log scale with `log`; on a grid of `step` from `lo`.
    Float {
        /// Smallest.
        lo: f64,
        /// Largest.
        hi: f64,
        /// Sample the exponent.
        log: bool,
        /// Distance between values, if discrete.
        step: Option<f64>,
    },
    /// A whole number in `lo..=hi`, in steps of `step` from `lo`.
    Int {
        /// Smallest.
        lo: i64,
        /// Largest.
        hi: i64,
        /// Distance between values.
        step: i64,
        /// Sample the exponent.
        log: bool,
    },
    /// One of these.
    Choice(Vec<Value>),
}

impl Domain {
    /// The values of a grid over it, if it has finitely many.
    pub fn grid(&self) -> Option<Vec<Value>> {
        match self {
            Domain::Choice(values) => Some(values.clone()),
            Domain::Int { lo, hi, step, .. } => Some(
                (0..)
                    .map(|i| lo + i * step)
                    .take_while(|v| v <= hi)
                    .map(Value::Int)
                    .collect(),
            ),
            Domain::Float {
                lo,
                hi,
                step: Some(step),
                ..
            } => {
                let n = ((hi - lo) / step + 1e-9).floor() as usize;
                Some(
                    (0..=n)
                        .map(|i| Value::Float(round(lo + i as f64 * step)))
                        .collect(),
                )
            }
            Domain::Float { step: None, .. } => None,
        }
    }
}

/// A float without the noise of adding steps (`0.30000000000000004` is `0.3`).
pub fn round(x: f64) -> f64 {
    let r = (x * 1e12).round() / 1e12;
    if r.is_finite() { r } else { x }
}

/// One tuned param.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    /// Its params file as the override names it (`None`: `params.yaml` of the working folder).
    pub file: Option<String>,
    /// Its dotted key.
    pub key: String,
    /// Whether the key is new to the file (`auto` params the file does not set).
    pub add: bool,
    /// Its values.
    pub domain: Domain,
}

impl Dim {
    /// `[file:]key`, as the trials table shows it.
    pub fn name(&self) -> String {
        match &self.file {
            Some(f) => format!("{f}:{}", self.key),
            None => self.key.clone(),
        }
    }
}

/// A study as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    /// The metrics file, from the repository root.
    pub file: RepoPath,
    /// The dotted key in it.
    pub key: String,
    /// As written (`out/metrics/svm.json:accuracy`).
    pub objective: String,
    /// Better is larger or smaller.
    pub direction: Direction,
    /// Trials in all (`None`: 20, or the grid's size).
    pub trials: Option<usize>,
    /// The sampler.
    pub sampler: SamplerKind,
    /// The seed of the sampler.
    pub seed: Option<u64>,
    /// The tuned params.
    pub space: Vec<Dim>,
    /// Stopping trials whose step-wise values fall behind (`None`: never).
    pub prune: Option<Prune>,
}

/// The median pruner: a running trial whose latest step-wise value of the objective (logged
/// through MLflow under the objective's key) is worse than the median of the ended trials' values
/// at that step is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prune {
    /// Ended trials needed before any is pruned.
    pub warmup_trials: usize,
    /// Steps a trial runs before it can be pruned.
    pub warmup_steps: i64,
}

impl Default for Prune {
    /// Optuna's `MedianPruner` defaults.
    fn default() -> Prune {
        Prune {
            warmup_trials: 5,
            warmup_steps: 0,
        }
    }
}

/// A trial as the sampler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Its params, by [`Dim::name`].
    pub params: BTreeMap<String, Value>,
    /// Its objective, once it ended with one.
    pub value: Option<f64>,
}

/// Each param uniformly (log-uniformly with `log`) at random.
pub fn random(space: &[Dim], rng: &mut impl Rng) -> BTreeMap<String, Value> {
    space
        .iter()
        .map(|d| (d.name(), uniform(&d.domain, rng)))
        .collect()
}

/// One value of a domain, uniformly at random.
pub fn uniform(domain: &Domain, rng: &mut impl Rng) -> Value {
    match domain {
        Domain::Choice(values) => values[rng.gen_range(0..values.len())].clone(),
        Domain::Int { lo, hi, step, log } => {
            if *log {
                let (a, b) = ((*lo as f64 - 0.5).max(0.5).ln(), (*hi as f64 + 0.5).ln());
                Value::Int(snap_int(rng.gen_range(a..b).exp(), *lo, *hi, *step))
            } else {
                let n = (hi - lo) / step;
                Value::Int(lo + rng.gen_range(0..=n) * step)
            }
        }
        Domain::Float { lo, hi, log, step } => {
            let x = if *log {
                rng.gen_range(lo.ln()..=hi.ln()).exp()
            } else {
                rng.gen_range(*lo..=*hi)
            };
            Value::Float(snap_float(x, *lo, *hi, *step))
        }
    }
}

/// `x` on the grid of `step` from `lo`, inside `lo..=hi`.
pub fn snap_int(x: f64, lo: i64, hi: i64, step: i64) -> i64 {
    let k = ((x - lo as f64) / step as f64).round().max(0.0) as i64;
    (lo + k * step).min(hi - (hi - lo) % step).max(lo)
}

/// `x` inside `lo..=hi`, on the grid of `step` when there is one, else to 6 significant digits
/// (what a params file should show; finer than any model notices).
pub fn snap_float(x: f64, lo: f64, hi: f64, step: Option<f64>) -> f64 {
    let x = x.clamp(lo, hi);
    match step {
        Some(s) => {
            let k = ((x - lo) / s).round();
            let max = ((hi - lo) / s + 1e-9).floor();
            round(lo + k.min(max) * s)
        }
        None if x == 0.0 || !x.is_finite() => x,
        None => {
            let scale = 10f64.powi(5 - x.abs().log10().floor() as i32);
            ((x * scale).round() / scale).clamp(lo, hi)
        }
    }
}
