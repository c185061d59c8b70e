//! The commands, one file each, each with its clap `Args` and `run`.

pub mod dag;
pub mod stage;
