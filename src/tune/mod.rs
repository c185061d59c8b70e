//! Hyper-parameter search (`wf tune`): a study declared in the spec's `tune:` block, its trials
//! run as experiments, their params chosen by a grid, at random, or by TPE.

pub mod sampler;
pub mod show;
pub mod space;
pub mod spec;
pub mod study;
mod tpe;

pub use space::{Dim, Direction, Domain, Prune, SamplerKind, Study};
pub use spec::load;
pub use study::{Options, Outcome, best_of, run};
