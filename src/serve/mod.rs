//! `wf serve`: the registry's champion (or any alias or pinned version) behind HTTP.
//!
//! One axum server speaks three protocols over the same loaded model: wf's own `/predict`
//! (named features in, label and probabilities out), MLflow's scoring protocol
//! (`/invocations`, `/ping`, `/version`) and the Open Inference Protocol v2 that KServe,
//! Triton and MLServer clients speak (`/v2/...`), with `/health`, `/reload` and Prometheus'
//! `/metrics` beside them.
//!
//! The model served sits in an `ArcSwap`: a request takes the `Arc` of the model of the moment
//! and finishes on it, whatever happens meanwhile. A follower watches the registry folder and,
//! when the alias moves, loads the new version off the request path and swaps it in; a version
//! that fails to load leaves the old one serving and its error in `/health`.

mod error;
mod follow;
mod input;
mod loaded;
mod metrics;
mod mlflow;
mod routes;
mod server;
mod state;
mod v2;

pub use error::ServeError;
pub use loaded::Target;
pub use server::{Options, Stopped, run};
