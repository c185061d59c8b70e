//! The run store: every run that ran or restored a stage, and every experiment, kept in an
//! embedded SQLite database under `.wf/` (the "run store (.wf, SQLite)" of DESIGN.md's flow).
//! The run API writes it; commands that compare runs read it.

mod detail;
mod error;
mod experiments;
mod grid;
mod grid_cache;
#[cfg(test)]
mod grid_tests;
mod grid_value;
mod live;
mod mlflow;
mod mlflow_runs;
#[cfg(test)]
mod mlflow_tests;
mod names;
mod runs;
mod schema;
mod share;
mod study;

pub use detail::{RunDetail, StageRow, StageRun};
pub use error::StoreError;
pub use experiments::Experiment;
pub use grid::{Cells, Grid, GridColumn, GridValue};
pub use live::LiveEvent;
pub(crate) use mlflow::{Batch, Experiment as MlflowExperiment, NewMlflowRun, Refusal, RunRow};
pub use mlflow::{MlflowRun, Point, STAGE_TAG};
pub use runs::{FILE, NewRun, Outcome, Store, StoredRun};
pub use share::{Artifact, Document};
pub use study::{
    DIRECTION_TAG, OBJECTIVE_TAG, PRUNED_TAG, STUDY_TAG, StudyRow, TRIAL_TAG, Trial as StoredTrial,
};

/// The kind of an experiment's run.
pub const EXPERIMENT: &str = "experiment";
