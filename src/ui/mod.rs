//! `wf ui`: a local web app, on one port, over what wf keeps: the run store (runs, a run,
//! comparisons), the pipeline (drawn, live while another process runs it), the registry
//! (promote, rollback), plots and studies; and MLflow's tracking API, so that a notebook logs
//! into the same store. Pages are rendered on the server (minijinja) with a little JavaScript;
//! charts are drawn by the Vega libraries vendored in `assets/vega/`, served from the binary.

mod assets;
mod compare;
mod error;
mod events;
mod models;
mod page;
mod pipeline;
mod plots;
mod query;
mod run_page;
mod runs;
mod security;
mod server;
mod studies;

pub use error::UiError;
pub use server::{Options, Stopped, run};
