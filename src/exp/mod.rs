//! Experiments: variants of the pipeline with params set on the command line (`wf exp run -S`,
//! in Hydra's override grammar), run in the workspace or, for sweeps, in scratch copies sharing
//! the cache; each is a run of the store, listed, compared and applied from there.

pub mod apply;
mod error;
pub mod hydra;
mod launch;
pub mod rewrite;
mod scratch;
pub mod share;
pub mod show;
mod variant;

pub use apply::{Applied, apply};
pub use error::ExpError;
pub use launch::{
    Ended, Launch, Queued, queue, queue_tagged, queued, run_copies, run_here, run_pool,
};
pub use variant::{DEFAULT_FILE, Variant, expand};
