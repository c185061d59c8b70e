//! MLflow's tracking REST API, served on loopback while a run runs, so that unmodified scripts
//! calling `mlflow.log_param`, `log_metric`, … log into the run store (the "shell stage → run
//! store" arrow of DESIGN.md's flow). Each stage gets its own token; every MLflow run made with
//! it is a child of the wf run, tagged `wf.stage` with the stage's name.

mod error;
mod experiments;
mod filter;
mod runs;
mod search;
mod server;
mod wire;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod refusal_tests;
#[cfg(test)]
mod search_tests;

pub use error::TrackingError;
pub use server::{ApiState, Auth, Server, Tokens, router};
