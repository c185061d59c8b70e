//! `wf plots show|diff`: DVC's plot definitions (`defs`), their data files (`data`) read from
//! the workspace or git revisions (`show`; a cached out through the revision's lock,
//! `cached`), DVC's templates as Vega-Lite (`template`), and one offline HTML page (`page`).

mod cached;
mod data;
mod defs;
mod error;
mod page;
mod show;
mod template;

pub use error::PlotsError;
pub use page::{page, write};
pub use show::{Body, Image, Plot, WORKSPACE, collect, collect_run, diff_revisions, to_json};
