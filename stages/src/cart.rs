//! `Tree`: a CART decision tree, written here rather than taken from linfa-trees 0.8.1 (the
//! `tree` kind in `kinds/tree.rs` reads its parameters and stores it).
//!
//! linfa-trees counts classes in a `std::collections::HashMap`, whose iteration order changes
//! from one process to the next; the Gini sums (and the recorded impurity decreases) then differ
//! in their last bits and a tie between classes is broken differently, so the same data could
//! give a different model file. Here every sum runs in class order and every tie goes to the
//! lowest feature, threshold or class index.

use ndarray::{Array2, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::{Cancel, Error};

/// Split quality of a decision tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Criterion {
    Gini,
    Entropy,
}

/// One node of a fitted tree; children are indices into [`Tree::nodes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Node {
    /// Predicts `class`.
    Leaf { class: usize },
    /// Goes `left` when `x[feature] <= threshold`, else `right`.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

/// A fitted tree: `nodes[0]` is the root. A flat list (not nested objects) keeps the JSON model
/// file readable by serde_json, whose recursion limit a deep tree would pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

/// How a tree is grown.
pub(crate) struct Growth {
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) criterion: Criterion,
}

impl Tree {
    /// Grows a tree on `x` (rows are samples) and class indices `y` in `0..n_classes`; stops
    /// with `Error::Cancelled` once `cancel` is raised (checked per node and per feature).
    pub(crate) fn fit(
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        growth: &Growth,
        cancel: &Cancel,
    ) -> Result<Tree, Error> {
        let mut nodes = vec![Node::Leaf { class: 0 }];
        // An explicit stack instead of recursion: a deep tree cannot overflow the thread stack.
        let mut work = vec![(0usize, (0..y.len()).collect::<Vec<usize>>(), 0usize)];
        while let Some((at, rows, depth)) = work.pop() {
            cancel.check()?;
            let counts = class_counts(&rows, y, n_classes);
            let class = majority(&counts);
            let can_split = growth.max_depth.is_none_or(|d| depth < d)
                && rows.len() >= growth.min_samples_split
                && counts.iter().filter(|&&c| c > 0).count() > 1;
            let best = if can_split {
                best_split(x, y, &rows, &counts, growth, cancel)?
            } else {
                None
            };
            let Some((feature, threshold)) = best else {
                nodes[at] = Node::Leaf { class };
                continue;
            };
            let (left_rows, right_rows): (Vec<usize>, Vec<usize>) =
                rows.iter().partition(|&&r| x[[r, feature]] <= threshold);
            let left = nodes.len();
            let right = left + 1;
            nodes.push(Node::Leaf { class });
            nodes.push(Node::Leaf { class });
            nodes[at] = Node::Split {
                feature,
                threshold,
                left,
                right,
            };
            work.push((right, right_rows, depth + 1));
            work.push((left, left_rows, depth + 1));
        }
        Ok(Tree { nodes })
    }

    /// The class of one sample.
    pub(crate) fn predict(&self, x: ArrayView1<'_, f64>) -> usize {
        let mut at = 0;
        loop {
            match self.nodes.get(at) {
                Some(Node::Leaf { class }) => return *class,
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    at = if x.get(*feature).is_some_and(|v| v <= threshold) {
                        *left
                    } else {
                        *right
                    };
                }
                // A malformed file (checked on load); predict class 0 rather than loop.
                None => return 0,
            }
        }
    }

    /// Whether every child index points inside the node list, past its parent (no cycles).
    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        !self.nodes.is_empty()
            && self.nodes.iter().enumerate().all(|(i, n)| match *n {
                Node::Leaf { class } => class < n_classes,
                Node::Split {
                    feature,
                    left,
                    right,
                    ..
                } => {
                    feature < n_features
                        && left > i
                        && right > i
                        && left < self.nodes.len()
                        && right < self.nodes.len()
                }
            })
    }
}

fn class_counts(rows: &[usize], y: &[usize], n_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; n_classes];
    for &r in rows {
        counts[y[r]] += 1;
    }
    counts
}

/// The most frequent class; the lowest index on a tie.
pub(crate) fn majority(counts: &[usize]) -> usize {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = i;
        }
    }
    best
}

fn impurity(counts: &[usize], n: usize, criterion: Criterion) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    match criterion {
        Criterion::Gini => {
            1.0 - counts
                .iter()
                .map(|&c| {
                    let p = c as f64 / n;
                    p * p
                })
                .sum::<f64>()
        }
        Criterion::Entropy => counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum(),
    }
}

/// The split with the lowest weighted child impurity that lowers the node's impurity; ties go
/// to the first feature and the lowest threshold.
fn best_split(
    x: &Array2<f64>,
    y: &[usize],
    rows: &[usize],
    counts: &[usize],
    growth: &Growth,
    cancel: &Cancel,
) -> Result<Option<(usize, f64)>, Error> {
    let n = rows.len();
    let parent = impurity(counts, n, growth.criterion);
    let mut best: Option<(f64, usize, f64)> = None;
    let mut sorted = rows.to_vec();
    for feature in 0..x.ncols() {
        cancel.check()?;
        // Stable sort by value, so equal values keep row order.
        sorted.sort_by(|&a, &b| x[[a, feature]].total_cmp(&x[[b, feature]]));
        let mut left = vec![0usize; counts.len()];
        let mut right = counts.to_vec();
        for i in 0..n - 1 {
            let r = sorted[i];
            left[y[r]] += 1;
            right[y[r]] -= 1;
            let (here, next) = (x[[r, feature]], x[[sorted[i + 1], feature]]);
            let (n_left, n_right) = (i + 1, n - i - 1);
            if here >= next || n_left < growth.min_samples_leaf || n_right < growth.min_samples_leaf
            {
                continue;
            }
            let score = (n_left as f64 * impurity(&left, n_left, growth.criterion)
                + n_right as f64 * impurity(&right, n_right, growth.criterion))
                / n as f64;
            if best.is_none_or(|(s, _, _)| score < s) {
                best = Some((score, feature, here + (next - here) / 2.0));
            }
        }
    }
    Ok(best
        .filter(|&(score, _, _)| score < parent)
        .map(|(_, feature, threshold)| (feature, threshold)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn growth() -> Growth {
        Growth {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            criterion: Criterion::Gini,
        }
    }

    #[test]
    fn separates_two_blobs() {
        let x = array![[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [10.0, 5.0], [11.0, 5.0]];
        let y = [0, 0, 0, 1, 1];
        let tree = Tree::fit(&x, &y, 2, &growth(), &Cancel::new()).unwrap();
        assert_eq!(
            tree.nodes[0],
            Node::Split {
                feature: 0,
                threshold: 6.0,
                left: 1,
                right: 2
            }
        );
        assert!(tree.is_well_formed(2, 2));
        let pred: Vec<usize> = x.rows().into_iter().map(|r| tree.predict(r)).collect();
        assert_eq!(pred, y);
    }

    #[test]
    fn depth_limit_makes_a_majority_leaf() {
        let x = array![[0.0], [1.0], [2.0]];
        let tree = Tree::fit(
            &x,
            &[1, 0, 1],
            2,
            &Growth {
                max_depth: Some(0),
                ..growth()
            },
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(tree.nodes, [Node::Leaf { class: 1 }]);
    }
}
