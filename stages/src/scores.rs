//! `Report`: classification scores of predicted against actual labels, as scikit-learn's
//! `classification_report` and `confusion_matrix` compute them (a class never predicted has
//! precision 0, as scikit-learn's `zero_division` default does after its warning).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::atomic::round6;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Of the rows predicted as this class, the share that are.
    pub precision: f64,
    /// Of the rows of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows of this class.
    pub support: usize,
}

/// Counts of actual (rows) against predicted (columns) labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    /// The labels of rows and columns, sorted.
    pub labels: Vec<String>,
    /// `matrix[actual][predicted]`.
    pub matrix: Vec<Vec<usize>>,
}

/// The metrics `evaluate` writes. Floats are rounded to 6 decimals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Share of rows predicted right.
    pub accuracy: f64,
    /// Unweighted mean of per-class F1.
    pub f1_macro: f64,
    /// Support-weighted mean of per-class F1.
    pub f1_weighted: f64,
    /// Unweighted mean of per-class precision.
    pub precision_macro: f64,
    /// Support-weighted mean of per-class precision.
    pub precision_weighted: f64,
    /// Unweighted mean of per-class recall.
    pub recall_macro: f64,
    /// Support-weighted mean of per-class recall.
    pub recall_weighted: f64,
    /// Rows scored.
    pub samples: usize,
    /// Metrics of each label.
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// The confusion matrix.
    pub confusion_matrix: Confusion,
}

impl Report {
    /// Scores `predicted` against `actual` over the union of `classes` and the labels seen.
    pub fn new(classes: &[String], actual: &[String], predicted: &[String]) -> Report {
        let mut labels: Vec<String> = classes
            .iter()
            .chain(actual)
            .chain(predicted)
            .cloned()
            .collect();
        labels.sort();
        labels.dedup();
        let index = |l: &String| labels.binary_search(l).unwrap_or(0);
        let mut matrix = vec![vec![0usize; labels.len()]; labels.len()];
        for (a, p) in actual.iter().zip(predicted) {
            matrix[index(a)][index(p)] += 1;
        }
        let n = actual.len();
        let correct: usize = (0..labels.len()).map(|i| matrix[i][i]).sum();
        let ratio = |num: usize, den: usize| {
            if den == 0 {
                0.0
            } else {
                num as f64 / den as f64
            }
        };

        let mut per_class = BTreeMap::new();
        let (mut p_sum, mut r_sum, mut f_sum) = (0.0, 0.0, 0.0);
        let (mut p_w, mut r_w, mut f_w) = (0.0, 0.0, 0.0);
        for (i, label) in labels.iter().enumerate() {
            let tp = matrix[i][i];
            let support: usize = matrix[i].iter().sum();
            let predicted_as: usize = matrix.iter().map(|row| row[i]).sum();
            let precision = ratio(tp, predicted_as);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            p_sum += precision;
            r_sum += recall;
            f_sum += f1;
            let w = support as f64;
            p_w += w * precision;
            r_w += w * recall;
            f_w += w * f1;
            per_class.insert(
                label.clone(),
                ClassMetrics {
                    precision: round6(precision),
                    recall: round6(recall),
                    f1: round6(f1),
                    support,
                },
            );
        }
        let k = labels.len().max(1) as f64;
        let total = n.max(1) as f64;
        Report {
            accuracy: round6(ratio(correct, n)),
            f1_macro: round6(f_sum / k),
            f1_weighted: round6(f_w / total),
            precision_macro: round6(p_sum / k),
            precision_weighted: round6(p_w / total),
            recall_macro: round6(r_sum / k),
            recall_weighted: round6(r_w / total),
            samples: n,
            per_class,
            confusion_matrix: Confusion { labels, matrix },
        }
    }

    /// The confusion matrix as plot data: `actual,predicted,count`, every pair, labels sorted.
    pub fn confusion_csv(&self) -> String {
        let c = &self.confusion_matrix;
        let mut out = String::from("actual,predicted,count\n");
        for (i, actual) in c.labels.iter().enumerate() {
            for (j, predicted) in c.labels.iter().enumerate() {
                out.push_str(&format!(
                    "{},{},{}\n",
                    csv_cell(actual),
                    csv_cell(predicted),
                    c.matrix[i][j]
                ));
            }
        }
        out
    }
}

/// Quotes a CSV cell only when it needs it (RFC 4180).
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn matches_scikit_learn() {
        // sklearn.metrics.classification_report(y, p) on the same lists gives these numbers.
        let y = strings(&["a", "a", "a", "b", "b", "c"]);
        let p = strings(&["a", "a", "b", "b", "c", "c"]);
        let r = Report::new(&strings(&["a", "b", "c"]), &y, &p);
        assert_eq!(r.accuracy, 0.666667);
        assert_eq!(r.per_class["a"].precision, 1.0);
        assert_eq!(r.per_class["a"].recall, 0.666667);
        assert_eq!(r.per_class["a"].f1, 0.8);
        assert_eq!(r.per_class["c"].precision, 0.5);
        assert_eq!(r.f1_macro, 0.655556);
        assert_eq!(r.f1_weighted, 0.677778);
        assert_eq!(r.precision_macro, 0.666667);
        assert_eq!(r.recall_weighted, 0.666667);
        assert_eq!(r.confusion_matrix.matrix, [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
        assert!(
            r.confusion_csv()
                .starts_with("actual,predicted,count\na,a,2\na,b,1\n")
        );
    }

    #[test]
    fn label_with_comma_is_quoted() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("x"), "x");
    }
}
