//! The multinomial logistic loss and its gradient, handed to argmin's L-BFGS exactly as
//! linfa-logistic 0.8.1 does it (the same operations in the same order, so the same weights to
//! the last bit), with one difference: every evaluation first checks the cancel flag, the only
//! hook that lets a long fit stop; linfa runs argmin's executor with no way in.

use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use argmin_math::{
    ArgminAdd, ArgminDot, ArgminL1Norm, ArgminL2Norm, ArgminMinMax, ArgminMul, ArgminSignum,
    ArgminSub, ArgminZeroLike,
};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2, Slice, Zip};

use crate::{Cancel, Error};

/// Fitted weights (`n_features × n_classes`) and intercepts (`n_classes`).
pub(crate) struct Solution {
    pub(crate) weights: Array2<f64>,
    pub(crate) intercept: Array1<f64>,
}

/// The settings linfa-logistic's `MultiLogisticRegression` takes.
pub(crate) struct Settings {
    pub(crate) alpha: f64,
    pub(crate) max_iter: u64,
    pub(crate) tol: f64,
}

/// Minimises the loss for class indices `y` in `0..n_classes` (each occurring).
pub(crate) fn fit(
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
    settings: &Settings,
    cancel: &Cancel,
) -> Result<Solution, Error> {
    let fit_error = |message: String| Error::Fit {
        model: "logreg",
        message,
    };
    if x.iter().any(|v| !v.is_finite()) {
        return Err(fit_error(
            "Values must be finite and not `Inf`, `-Inf` or `NaN`".into(),
        ));
    }
    let mut target = Array2::<f64>::zeros((y.len(), n_classes));
    for (i, &class) in y.iter().enumerate() {
        target[[i, class]] = 1.0;
    }
    let problem = Problem {
        x,
        target,
        alpha: settings.alpha,
        cancel,
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(settings.tol)
        .map_err(|e| fit_error(e.to_string()))?;
    let init = Param(Array2::zeros((x.ncols() + 1, n_classes)));
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(init).max_iters(settings.max_iter))
        .run();
    cancel.check()?;
    let result = result.map_err(|e| fit_error(e.to_string()))?;
    let w = result
        .state
        .best_param
        .map_or_else(|| Array2::zeros((x.ncols() + 1, n_classes)), |p| p.0);
    let n = x.ncols();
    Ok(Solution {
        weights: w.slice_axis(Axis(0), Slice::from(..n)).to_owned(),
        intercept: w.row(n).to_owned(),
    })
}

struct Problem<'a> {
    x: &'a Array2<f64>,
    /// One-hot classes, `n_samples × n_classes`.
    target: Array2<f64>,
    alpha: f64,
    cancel: &'a Cancel,
}

impl Problem<'_> {
    fn stop_if_cancelled(&self) -> Result<(), argmin::core::Error> {
        if self.cancel.is_cancelled() {
            return Err(argmin::core::Error::msg("cancelled"));
        }
        Ok(())
    }
}

impl CostFunction for Problem<'_> {
    type Param = Param;
    type Output = f64;

    fn cost(&self, p: &Param) -> Result<f64, argmin::core::Error> {
        self.stop_if_cancelled()?;
        let (log_prob, params) = log_prob_params(self.x, &p.0);
        Ok(-elem_dot(&log_prob, &self.target) + 0.5 * self.alpha * elem_dot(&params, &params))
    }
}

impl Gradient for Problem<'_> {
    type Param = Param;
    type Gradient = Param;

    fn gradient(&self, p: &Param) -> Result<Param, argmin::core::Error> {
        self.stop_if_cancelled()?;
        let w = &p.0;
        let (log_prob, params) = log_prob_params(self.x, w);
        let (n_features, n_classes) = params.dim();
        let mut grad = Array2::zeros((n_features + 1, n_classes));
        let prob = log_prob.mapv_into(f64::exp);
        let diff = prob - &self.target;
        let dw = self.x.t().dot(&diff) + (&params * self.alpha);
        grad.slice_axis_mut(Axis(0), Slice::from(..n_features))
            .assign(&dw);
        grad.row_mut(n_features).assign(&diff.sum_axis(Axis(0)));
        Ok(Param(grad))
    }
}

/// `log(softmax(X · W + b))` and `W` without its intercept row.
fn log_prob_params<'w>(x: &Array2<f64>, w: &'w Array2<f64>) -> (Array2<f64>, ArrayView2<'w, f64>) {
    let n_features = x.ncols();
    let params = w.slice_axis(Axis(0), Slice::from(..n_features));
    let intercept = w.index_axis(Axis(0), n_features);
    let h = x.dot(&params) + intercept;
    let lse = log_sum_exp(&h);
    let rows = h.nrows();
    let log_prob = &h - lse.into_shape_with_order((rows, 1)).unwrap_or_default();
    (log_prob, params)
}

/// `max + ln(Σ exp(x - max))` per row, with linfa's floor of 1e-15 inside the log.
fn log_sum_exp(m: &Array2<f64>) -> Array1<f64> {
    let max = m.iter().copied().reduce(f64::max).unwrap_or(0.0);
    let reduced = m.fold_axis(Axis(1), 0.0, |acc, elem| *acc + (*elem - max).exp());
    reduced.mapv_into(|e| e.max(1e-15).ln() + max)
}

/// The sum of element-wise products.
fn elem_dot<A: Data<Elem = f64>, B: Data<Elem = f64>>(
    a: &ArrayBase<A, Ix2>,
    b: &ArrayBase<B, Ix2>,
) -> f64 {
    Zip::from(a).and(b).fold(0.0, |acc, &a, &b| acc + a * b)
}

/// The parameter matrix as argmin sees it: element-wise products and dot products over all
/// entries (argmin-math's own `Array2` impls would treat `dot` as a matrix product).
#[derive(Debug, Clone, PartialEq, Default)]
struct Param(Array2<f64>);

impl ArgminSub<f64, Param> for Param {
    fn sub(&self, other: &f64) -> Param {
        Param(&self.0 - *other)
    }
}

impl ArgminSub<Param, Param> for Param {
    fn sub(&self, other: &Param) -> Param {
        Param(&self.0 - &other.0)
    }
}

impl ArgminAdd<f64, Param> for Param {
    fn add(&self, other: &f64) -> Param {
        Param(&self.0 + *other)
    }
}

impl ArgminAdd<Param, Param> for Param {
    fn add(&self, other: &Param) -> Param {
        Param(&self.0 + &other.0)
    }
}

impl ArgminDot<Param, f64> for Param {
    fn dot(&self, other: &Param) -> f64 {
        elem_dot(&self.0, &other.0)
    }
}

impl ArgminL1Norm<f64> for Param {
    // As linfa-logistic (which uses the L2 norm here too).
    fn l1_norm(&self) -> f64 {
        elem_dot(&self.0, &self.0).sqrt()
    }
}

impl ArgminL2Norm<f64> for Param {
    fn l2_norm(&self) -> f64 {
        elem_dot(&self.0, &self.0).sqrt()
    }
}

impl ArgminMul<f64, Param> for Param {
    fn mul(&self, other: &f64) -> Param {
        Param(&self.0 * *other)
    }
}

impl ArgminMul<Param, Param> for Param {
    fn mul(&self, other: &Param) -> Param {
        Param(&self.0 * &other.0)
    }
}

impl ArgminMul<Param, Param> for f64 {
    fn mul(&self, other: &Param) -> Param {
        Param(&other.0 * *self)
    }
}

impl ArgminSignum for Param {
    fn signum(self) -> Param {
        self
    }
}

impl ArgminZeroLike for Param {
    fn zero_like(&self) -> Param {
        Param(Array2::zeros(self.0.raw_dim()))
    }
}

impl ArgminMinMax for Param {
    fn min(x: &Param, y: &Param) -> Param {
        Param(
            Zip::from(&x.0)
                .and(&y.0)
                .map_collect(|&a, &b| if a < b { a } else { b }),
        )
    }

    fn max(x: &Param, y: &Param) -> Param {
        Param(
            Zip::from(&x.0)
                .and(&y.0)
                .map_collect(|&a, &b| if a > b { a } else { b }),
        )
    }
}

#[cfg(test)]
mod tests {
    use linfa::prelude::*;
    use linfa_logistic::MultiLogisticRegression;

    use super::*;

    #[test]
    fn weights_equal_linfa_logistic_to_the_bit() {
        let x = Array2::from_shape_fn((60, 3), |(i, j)| ((i * 37 + j * 11) % 17) as f64 / 4.0);
        let y: Vec<usize> = (0..60).map(|i| (i * 7 % 11) % 3).collect();
        let settings = Settings {
            alpha: 0.1,
            max_iter: 200,
            tol: 1e-4,
        };
        let ours = fit(&x, &y, 3, &settings, &Cancel::new()).unwrap();
        let theirs = MultiLogisticRegression::<f64>::default()
            .alpha(0.1)
            .max_iterations(200)
            .gradient_tolerance(1e-4)
            .fit(&Dataset::new(x.clone(), Array1::from(y)))
            .unwrap();
        assert_eq!(&ours.weights, theirs.params());
        assert_eq!(&ours.intercept, theirs.intercept());
    }
}
