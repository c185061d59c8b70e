//! One module per model kind: its hyper-parameters with their limits and tuning ranges, its
//! fit and its prediction. `model_kind.rs` lists them.

mod knn;
mod logreg;
mod softmax;
mod svm;
mod tree;

pub(crate) use knn::Knn;
pub(crate) use logreg::Logreg;
pub(crate) use svm::Svm;
pub(crate) use tree::Tree;
