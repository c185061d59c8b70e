//! The run store: every run that ran or restored a stage, kept in an embedded SQLite database
//! under `.wf/` (the "run store (.wf, SQLite)" of DESIGN.md's flow). The run API writes it;
//! commands that compare runs read it.

mod error;
mod runs;
mod schema;

pub use error::StoreError;
pub use runs::{FILE, NewRun, Outcome, Store, StoredRun};
