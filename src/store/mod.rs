//! The run store: every run that ran or restored a stage, and every experiment, kept in an
//! embedded SQLite database under `.wf/` (the "run store (.wf, SQLite)" of DESIGN.md's flow).
//! The run API writes it; commands that compare runs read it.

mod error;
mod experiments;
mod names;
mod runs;
mod schema;

pub use error::StoreError;
pub use experiments::Experiment;
pub use runs::{FILE, NewRun, Outcome, Store, StoredRun};

/// The kind of an experiment's run.
pub const EXPERIMENT: &str = "experiment";
