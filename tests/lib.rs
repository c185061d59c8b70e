//! Integration tests: the real `wf` binary in temporary folders.
#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot read its own files should fail loudly"
)]

mod browser;
mod test;

mod builtin;
mod checkout;
mod completions;
mod dag;
mod diff;
mod dvc_fixtures;
mod errors;
mod examples;
mod exp;
mod external;
mod faults;
mod faults_disk;
mod gc;
mod interpolation;
mod iris;
mod layout;
mod lock;
mod mount;
mod plots;
mod plots_browser;
mod reflink;
mod remote;
mod report;
mod repro;
mod s3;
mod s3_faults;
mod serve;
mod serve_refusals;
mod serve_swap;
mod slurm;
mod stage_list;
mod status;
mod store;
mod tracking;
mod tune;
mod ui;
mod ui_browser;
mod verify;
mod watch;
