//! `wf exp`: experiments — run variants of the pipeline, list and compare them, apply one,
//! remove them, share them through a remote.

mod layout;
pub mod manage;
mod render;
pub mod run;
pub mod share;
pub mod show;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;

/// Run, compare and apply experiments: variants of the pipeline with params set on the command
/// line, each recorded in the run store with its params and metrics.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subcommand.
    #[command(subcommand)]
    pub command: ExpCommand,
}

/// `wf exp` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ExpCommand {
    /// Run an experiment (or a sweep of them) with params set by `-S`.
    Run(run::Args),
    /// Show experiments as a table of their metrics and params.
    Show(show::Args),
    /// Compare the params and metrics of two experiments.
    Diff(manage::DiffArgs),
    /// Put an experiment's params and outputs into the workspace.
    Apply(manage::ApplyArgs),
    /// Remove experiments from the run store.
    Remove(manage::RemoveArgs),
    /// Send experiments (and their outs and artifacts) to a remote.
    Push(share::Args),
    /// Bring experiments (and their outs and artifacts) from a remote into the run store.
    Pull(share::Args),
}

/// Runs `wf exp`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    match &args.command {
        ExpCommand::Run(a) => run::run(ctx, a),
        ExpCommand::Show(a) => show::run(ctx, a),
        ExpCommand::Diff(a) => manage::diff(ctx, a),
        ExpCommand::Apply(a) => manage::apply(ctx, a),
        ExpCommand::Remove(a) => manage::remove(ctx, a),
        ExpCommand::Push(a) => share::push(ctx, a),
        ExpCommand::Pull(a) => share::pull(ctx, a),
    }
}
