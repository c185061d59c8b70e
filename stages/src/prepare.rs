//! `prepare`: a CSV in, rows with missing values dropped, a seeded stratified train/test split out.

use std::collections::BTreeMap;

use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::table::{Table, write_csv};
use crate::{Builtin, Error, Io, RunContext, atomic, parse_with};

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

/// Cells read as missing, as pandas' `read_csv` does by default (the common subset).
const MISSING: &[&str] = &[
    "", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "<NA>",
];

/// `summary.json`: what `prepare` read and how it split it. `train` reads `target` from it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// Rows per class in each split.
    pub(crate) classes: BTreeMap<String, ClassCount>,
    /// Rows dropped for a missing value.
    pub(crate) dropped: usize,
    /// The feature columns (every column but the target), in file order.
    pub(crate) features: Vec<String>,
    /// Data rows in the input.
    pub(crate) rows: usize,
    /// The seed of the split.
    pub(crate) seed: u64,
    /// The label column.
    pub(crate) target: String,
    /// Rows in `test.csv`.
    pub(crate) test_rows: usize,
    /// The `test_size` asked for.
    pub(crate) test_size: f64,
    /// Rows in `train.csv`.
    pub(crate) train_rows: usize,
}

/// Rows of one class in each split.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ClassCount {
    pub(crate) test: usize,
    pub(crate) train: usize,
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

    fn run(&self, with: &serde_json::Value, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let (dir, cancel) = (ctx.dir, ctx.cancel);
        let log = &mut *ctx.log;
        let w: PrepareWith = parse_with(self.name(), with)?;
        if !(w.test_size > 0.0 && w.test_size < 1.0) {
            return Err(Error::Range {
                stage: "prepare",
                field: "test_size",
                message: format!("must be between 0 and 1 (exclusive), got {}", w.test_size),
            });
        }
        let input = dir.join(&w.input);
        let table = Table::read(&input)?;
        let columns = table.columns();
        table.require(std::slice::from_ref(&w.target))?;
        let features: Vec<String> = columns
            .iter()
            .filter(|c| **c != w.target)
            .cloned()
            .collect();
        log(format!(
            "read {} rows × {} columns from {}",
            table.height(),
            columns.len(),
            w.input
        ));

        let cells: Vec<Vec<Option<String>>> = columns
            .iter()
            .map(|c| table.cells(c))
            .collect::<Result<_, _>>()?;
        let complete: Vec<usize> = (0..table.height())
            .filter(|&row| {
                cells
                    .iter()
                    .all(|col| col[row].as_deref().is_some_and(|v| !is_missing(v)))
            })
            .collect();
        let dropped = table.height() - complete.len();
        log(format!("dropped {dropped} rows with missing values"));
        if complete.is_empty() {
            return Err(Error::Empty { path: input });
        }

        // Refuse text features here, where the line number still points into the user's file.
        for (name, col) in columns.iter().zip(&cells) {
            if *name == w.target {
                continue;
            }
            cancel.check()?;
            for &row in &complete {
                table.number(row, name, col[row].as_deref())?;
            }
        }

        let target_index = columns.iter().position(|c| *c == w.target).unwrap_or(0);
        let mut by_class: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &row in &complete {
            let label = cells[target_index][row].clone().unwrap_or_default();
            by_class.entry(label).or_default().push(row);
        }
        if let Some((class, _)) = by_class.iter().find(|(_, rows)| rows.len() < 2) {
            return Err(Error::SingleRowClass {
                path: input,
                column: w.target,
                class: class.clone(),
            });
        }

        cancel.check()?;
        let split = stratified_split(&by_class, w.test_size, w.seed);
        let out = dir.join(&w.out);
        std::fs::create_dir_all(&out).map_err(|e| Error::write(&out, e))?;
        write_csv(&out.join("train.csv"), &mut table.take(&split.train)?)?;
        write_csv(&out.join("test.csv"), &mut table.take(&split.test)?)?;
        log(format!(
            "split {} train / {} test rows over {} classes (seed {})",
            split.train.len(),
            split.test.len(),
            by_class.len(),
            w.seed
        ));

        let summary = Summary {
            classes: split.counts,
            dropped,
            features,
            rows: table.height(),
            seed: w.seed,
            target: w.target,
            test_rows: split.test.len(),
            test_size: w.test_size,
            train_rows: split.train.len(),
        };
        atomic::write_json(&out.join("summary.json"), &summary)?;
        Ok(())
    }
}

fn is_missing(cell: &str) -> bool {
    MISSING.contains(&cell.trim())
}

/// Row indices of each split, in input order, and the per-class counts.
struct Split {
    train: Vec<usize>,
    test: Vec<usize>,
    counts: BTreeMap<String, ClassCount>,
}

/// Per class (in label order, one RNG for all): shuffle, hold out `round(test_size × n)` rows,
/// at least 1 and at most `n - 1`. Each split is then put back in input order, so the files
/// only change where the data did.
fn stratified_split(by_class: &BTreeMap<String, Vec<usize>>, test_size: f64, seed: u64) -> Split {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut train = Vec::new();
    let mut test = Vec::new();
    let mut counts = BTreeMap::new();
    for (label, rows) in by_class {
        let n = rows.len();
        let n_test = ((test_size * n as f64).round() as usize).clamp(1, n - 1);
        let mut rows = rows.clone();
        shuffle(&mut rows, &mut rng);
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
        counts.insert(
            label.clone(),
            ClassCount {
                test: n_test,
                train: n - n_test,
            },
        );
    }
    train.sort_unstable();
    test.sort_unstable();
    Split {
        train,
        test,
        counts,
    }
}

/// Fisher–Yates on our own bounded draw, so the split depends only on xoshiro's output stream
/// (fixed by its definition), not on how a `rand` release maps it to a range.
fn shuffle<T>(items: &mut [T], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// An unbiased draw in `0..n` by rejection.
fn below(rng: &mut Xoshiro256PlusPlus, n: u64) -> u64 {
    let limit = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < limit {
            return x % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_and_sorted() {
        let mut by_class = BTreeMap::new();
        by_class.insert("a".to_string(), (0..10).collect::<Vec<_>>());
        by_class.insert("b".to_string(), (10..12).collect::<Vec<_>>());
        let s = stratified_split(&by_class, 0.2, 7);
        assert_eq!(s.test.len(), 3);
        assert_eq!(s.counts["a"].test, 2);
        assert_eq!(s.counts["b"].test, 1);
        assert!(s.train.windows(2).all(|w| w[0] < w[1]));
        assert!(s.test.windows(2).all(|w| w[0] < w[1]));
        let again = stratified_split(&by_class, 0.2, 7);
        assert_eq!((s.train, s.test), (again.train, again.test));
    }

    #[test]
    fn xoshiro_stream_is_fixed() {
        // Pins the split's randomness: if this changes, every prepared split changes.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
        let mut v: Vec<u32> = (0..10).collect();
        shuffle(&mut v, &mut rng);
        assert_eq!(v, [6, 9, 7, 8, 0, 5, 3, 4, 2, 1]);
    }
}
