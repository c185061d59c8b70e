//! Choosing a trial's params: a grid in order, uniformly at random, or by TPE (`tpe.rs`). Every
//! choice is a function of the seed, the trial's number and the trials that ended before it, so
//! a study run again with its seed gives the same trials.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::space::{Dim, Direction, SamplerKind, Seen, random};
use crate::spec::value::Value;

/// Params for trial `number`, given the trials known so far (those still running too: a grid
/// point is not given twice); `None` when a grid is exhausted.
pub fn sample(
    kind: SamplerKind,
    space: &[Dim],
    seen: &[Seen],
    direction: Direction,
    number: u64,
    seed: u64,
) -> Option<BTreeMap<String, Value>> {
    let mut rng = rng(seed, number);
    match kind {
        SamplerKind::Grid => grid(space, seen),
        SamplerKind::Random => Some(random(space, &mut rng)),
        SamplerKind::Tpe => Some(super::tpe::sample(space, seen, direction, &mut rng)),
    }
}

/// The generator of trial `number` of a study seeded `seed`.
fn rng(seed: u64, number: u64) -> Xoshiro256PlusPlus {
    let mut h = blake3::Hasher::new();
    h.update(b"wf tune");
    h.update(&seed.to_le_bytes());
    h.update(&number.to_le_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(h.finalize().as_bytes());
    Xoshiro256PlusPlus::from_seed(bytes)
}

/// The size of the grid over `space`.
pub fn grid_size(space: &[Dim]) -> Option<usize> {
    space
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(d.domain.grid()?.len()))
}

/// The first grid point, in the order of the space, that no trial has.
fn grid(space: &[Dim], seen: &[Seen]) -> Option<BTreeMap<String, Value>> {
    let axes: Vec<Vec<Value>> = space
        .iter()
        .map(|d| d.domain.grid())
        .collect::<Option<_>>()?;
    let total = grid_size(space)?;
    (0..total).find_map(|mut index| {
        // Mixed radix, the last dim fastest.
        let mut point = BTreeMap::new();
        for (d, axis) in space.iter().zip(&axes).rev() {
            point.insert(d.name(), axis[index % axis.len()].clone());
            index /= axis.len();
        }
        (!seen.iter().any(|s| s.params == point)).then_some(point)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::space::Domain;

    fn dim(key: &str, domain: Domain) -> Dim {
        Dim {
            file: None,
            key: key.into(),
            add: false,
            domain,
        }
    }

    #[test]
    fn a_grid_gives_every_point_once_then_nothing() {
        let space = [
            dim(
                "a",
                Domain::Choice(vec![Value::Str("x".into()), Value::Str("y".into())]),
            ),
            dim(
                "b",
                Domain::Float {
                    lo: 0.1,
                    hi: 0.3,
                    log: false,
                    step: Some(0.1),
                },
            ),
        ];
        assert_eq!(grid_size(&space), Some(6));
        let mut seen = Vec::new();
        while let Some(p) = sample(SamplerKind::Grid, &space, &seen, Direction::Max, 0, 0) {
            seen.push(Seen {
                params: p,
                value: None,
            });
        }
        assert_eq!(seen.len(), 6);
        let bs: Vec<f64> = seen
            .iter()
            .map(|s| match s.params["b"] {
                Value::Float(f) => f,
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(bs, [0.1, 0.2, 0.3, 0.1, 0.2, 0.3]);
    }

    #[test]
    fn random_values_stay_in_their_domain_and_repeat_under_a_seed() {
        let space = [
            dim(
                "lr",
                Domain::Float {
                    lo: 1e-4,
                    hi: 1.0,
                    log: true,
                    step: None,
                },
            ),
            dim(
                "n",
                Domain::Int {
                    lo: 10,
                    hi: 100,
                    step: 10,
                    log: false,
                },
            ),
            dim(
                "k",
                Domain::Int {
                    lo: 1,
                    hi: 1000,
                    step: 1,
                    log: true,
                },
            ),
        ];
        for number in 0..200 {
            let p = sample(SamplerKind::Random, &space, &[], Direction::Min, number, 7).unwrap();
            let again =
                sample(SamplerKind::Random, &space, &[], Direction::Min, number, 7).unwrap();
            assert_eq!(p, again);
            let Value::Float(lr) = p["lr"] else { panic!() };
            assert!((1e-4..=1.0).contains(&lr), "{lr}");
            let Value::Int(n) = p["n"] else { panic!() };
            assert!((10..=100).contains(&n) && n % 10 == 0, "{n}");
            let Value::Int(k) = p["k"] else { panic!() };
            assert!((1..=1000).contains(&k), "{k}");
        }
        assert_ne!(
            sample(SamplerKind::Random, &space, &[], Direction::Min, 0, 7),
            sample(SamplerKind::Random, &space, &[], Direction::Min, 0, 8)
        );
    }
}
