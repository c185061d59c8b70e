//! The tree-structured Parzen estimator (Bergstra et al., 2011), independent per param as
//! Optuna's default: after a few random trials, the ended trials are split into the good ones
//! (the best γ) and the rest; each param gets a Parzen density of its good values, l(x), and of
//! the others', g(x) (truncated Gaussians in the param's scale, or smoothed counts of choices,
//! each with a prior); candidates are drawn from l and the one with the largest l(x)/g(x) — the
//! expected improvement's maximiser — is taken.

use std::collections::BTreeMap;

use rand::Rng;

use super::space::{Dim, Direction, Domain, Seen, random, snap_float, snap_int, uniform};
use crate::spec::value::Value;

/// Random trials before the densities take over (Optuna's default).
const STARTUP: usize = 10;
/// Candidates drawn from l(x) per param (Optuna's default).
const CANDIDATES: usize = 24;

/// Params for the next trial, from the trials that ended with a value.
pub(super) fn sample(
    space: &[Dim],
    seen: &[Seen],
    direction: Direction,
    rng: &mut impl Rng,
) -> BTreeMap<String, Value> {
    let mut ended: Vec<(&Seen, f64)> = seen
        .iter()
        .filter_map(|s| Some((s, direction.loss(s.value.filter(|v| v.is_finite())?))))
        .collect();
    if ended.len() < STARTUP {
        return random(space, rng);
    }
    ended.sort_by(|a, b| a.1.total_cmp(&b.1));
    let n_good = gamma(ended.len());
    let (good, bad) = ended.split_at(n_good);
    space
        .iter()
        .map(|d| {
            let name = d.name();
            let of = |trials: &[(&Seen, f64)]| -> Vec<Value> {
                trials
                    .iter()
                    .filter_map(|(s, _)| s.params.get(&name).cloned())
                    .collect()
            };
            let value = match &d.domain {
                Domain::Choice(choices) => categorical(choices, &of(good), &of(bad), rng),
                numeric => match (
                    numeric_scale(numeric),
                    numbers(&of(good)),
                    numbers(&of(bad)),
                ) {
                    (Some(scale), good, bad) => numeric_sample(numeric, &scale, &good, &bad, rng),
                    (None, ..) => uniform(numeric, rng),
                },
            };
            (name, value)
        })
        .collect()
}

/// How many of `n` ended trials are good: 10 %, at least 1, at most 25 (Optuna's default γ).
fn gamma(n: usize) -> usize {
    n.div_ceil(10).clamp(1, 25)
}

fn numbers(values: &[Value]) -> Vec<f64> {
    values
        .iter()
        .filter_map(|v| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        })
        .collect()
}

/// A numeric domain in the scale it is sampled in: its bounds and whether it is logarithmic.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Scale {
    fn to(&self, x: f64) -> f64 {
        if self.log {
            x.max(f64::MIN_POSITIVE).ln()
        } else {
            x
        }
    }
}

fn numeric_scale(d: &Domain) -> Option<Scale> {
    match d {
        Domain::Float { lo, hi, log, .. } => Some(Scale {
            lo: if *log { lo.ln() } else { *lo },
            hi: if *log { hi.ln() } else { *hi },
            log: *log,
        }),
        // Whole numbers are read as the interval around each one.
        Domain::Int { lo, hi, step, log } => {
            let half = *step as f64 / 2.0;
            let (a, b) = (*lo as f64 - half, *hi as f64 + half);
            Some(if *log {
                Scale {
                    lo: a.max(0.5).ln(),
                    hi: b.ln(),
                    log: true,
                }
            } else {
                Scale {
                    lo: a,
                    hi: b,
                    log: false,
                }
            })
        }
        Domain::Choice(_) => None,
    }
}

/// A mixture of Gaussians truncated to the scale's bounds, one at each observation and a wide
/// one (the prior) at the middle, with widths from the distances to the neighbours (Hyperopt's
/// rule), clipped to a sensible range.
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Parzen {
    fn new(observed: &[f64], lo: f64, hi: f64) -> Parzen {
        let width = hi - lo;
        // (centre, whether it is the prior), sorted.
        let mut all: Vec<(f64, bool)> = observed.iter().map(|x| (x.clamp(lo, hi), false)).collect();
        all.push(((lo + hi) / 2.0, true));
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let min = width / (1.0 + observed.len() as f64).min(100.0);
        let sigmas = (0..all.len())
            .map(|i| {
                if all[i].1 {
                    return width;
                }
                let left = if i > 0 {
                    all[i].0 - all[i - 1].0
                } else {
                    all[i].0 - lo
                };
                let right = if i + 1 < all.len() {
                    all[i + 1].0 - all[i].0
                } else {
                    hi - all[i].0
                };
                left.max(right).clamp(min, width)
            })
            .collect();
        Parzen {
            mus: all.iter().map(|m| m.0).collect(),
            sigmas,
            lo,
            hi,
        }
    }

    /// log of the mixture's density at `x`.
    fn log_pdf(&self, x: f64) -> f64 {
        let n = self.mus.len() as f64;
        let sum: f64 = self
            .mus
            .iter()
            .zip(&self.sigmas)
            .map(|(&mu, &s)| {
                let mass = phi((self.hi - mu) / s) - phi((self.lo - mu) / s);
                let z = (x - mu) / s;
                (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt() * mass.max(1e-12))
            })
            .sum();
        (sum / n).max(1e-300).ln()
    }

    /// One draw: a component at random, then its truncated Gaussian.
    fn draw(&self, rng: &mut impl Rng) -> f64 {
        let i = rng.gen_range(0..self.mus.len());
        let (mu, s) = (self.mus[i], self.sigmas[i]);
        for _ in 0..100 {
            let x = mu + s * normal(rng);
            if (self.lo..=self.hi).contains(&x) {
                return x;
            }
        }
        mu.clamp(self.lo, self.hi)
    }
}

fn numeric_sample(
    domain: &Domain,
    scale: &Scale,
    good: &[f64],
    bad: &[f64],
    rng: &mut impl Rng,
) -> Value {
    let to = |xs: &[f64]| xs.iter().map(|&x| scale.to(x)).collect::<Vec<_>>();
    let l = Parzen::new(&to(good), scale.lo, scale.hi);
    let g = Parzen::new(&to(bad), scale.lo, scale.hi);
    let best = (0..CANDIDATES)
        .map(|_| l.draw(rng))
        .map(|t| (l.log_pdf(t) - g.log_pdf(t), t))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or((scale.lo + scale.hi) / 2.0, |(_, t)| t);
    let x = if scale.log { best.exp() } else { best };
    match domain {
        Domain::Int { lo, hi, step, .. } => Value::Int(snap_int(x, *lo, *hi, *step)),
        Domain::Float { lo, hi, step, .. } => Value::Float(snap_float(x, *lo, *hi, *step)),
        Domain::Choice(_) => uniform(domain, rng),
    }
}

/// Choices weighted by how often the good (and the other) trials took them, plus a uniform
/// prior of weight 1; the candidate with the largest ratio wins.
fn categorical(choices: &[Value], good: &[Value], bad: &[Value], rng: &mut impl Rng) -> Value {
    let k = choices.len() as f64;
    let weights = |taken: &[Value]| -> Vec<f64> {
        choices
            .iter()
            .map(|c| {
                (taken.iter().filter(|t| *t == c).count() as f64 + 1.0 / k)
                    / (taken.len() as f64 + 1.0)
            })
            .collect()
    };
    let (l, g) = (weights(good), weights(bad));
    let total: f64 = l.iter().sum();
    let best = (0..CANDIDATES)
        .map(|_| {
            let mut r = rng.gen_range(0.0..total);
            let mut i = 0;
            while i + 1 < l.len() && r >= l[i] {
                r -= l[i];
                i += 1;
            }
            i
        })
        .max_by(|&a, &b| (l[a] / g[a]).total_cmp(&(l[b] / g[b])))
        .unwrap_or(0);
    choices[best].clone()
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let v: f64 = rng.r#gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The standard normal's distribution function.
fn phi(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// The error function (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x < 0.0 { -y } else { y }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn x_dim() -> Dim {
        Dim {
            file: None,
            key: "x".into(),
            add: false,
            domain: Domain::Float {
                lo: -10.0,
                hi: 10.0,
                log: false,
                step: None,
            },
        }
    }

    fn run(seed: u64, trials: u64) -> Vec<Seen> {
        let space = [x_dim()];
        let mut seen: Vec<Seen> = Vec::new();
        for n in 0..trials {
            let params = super::super::sampler::sample(
                super::super::space::SamplerKind::Tpe,
                &space,
                &seen,
                Direction::Min,
                n,
                seed,
            )
            .unwrap();
            let Value::Float(x) = params["x"] else {
                panic!()
            };
            seen.push(Seen {
                params,
                value: Some((x - 3.0).powi(2)),
            });
        }
        seen
    }

    #[test]
    fn the_error_function_is_close() {
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
        assert!((erf(-1.5) + 0.966_105_146_5).abs() < 2e-7);
        assert!((phi(0.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn tpe_finds_better_values_than_random_search_and_repeats_under_a_seed() {
        let best = |seen: &[Seen]| {
            seen.iter()
                .filter_map(|s| s.value)
                .fold(f64::INFINITY, f64::min)
        };
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let space = [x_dim()];
        let (mut tpe_best, mut random_best) = (Vec::new(), Vec::new());
        for seed in 0..10 {
            let tpe = run(seed, 40);
            assert_eq!(tpe, run(seed, 40), "the same seed gives the same trials");
            tpe_best.push(best(&tpe));
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed + 100);
            let random: Vec<Seen> = (0..40)
                .map(|_| {
                    let params = super::super::space::random(&space, &mut rng);
                    let Value::Float(x) = params["x"] else {
                        panic!()
                    };
                    Seen {
                        params,
                        value: Some((x - 3.0).powi(2)),
                    }
                })
                .collect();
            random_best.push(best(&random));
        }
        let (tpe, random) = (median(tpe_best), median(random_best));
        assert!(
            tpe < random / 2.0,
            "median best of 40 trials over 10 seeds: TPE {tpe}, random {random}"
        );
    }

    #[test]
    fn choices_follow_the_good_trials() {
        let choices = [
            Value::Str("a".into()),
            Value::Str("b".into()),
            Value::Str("c".into()),
        ];
        let good = vec![Value::Str("b".into()); 5];
        let bad = vec![Value::Str("a".into()), Value::Str("c".into())];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        for _ in 0..20 {
            assert_eq!(categorical(&choices, &good, &bad, &mut rng), choices[1]);
        }
    }
}
