//! The command line (clap derive): global flags and the commands. Doc comments are the help.

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::context::Globals;

/// A declarative workflow engine for machine-learning pipelines.
///
/// wf reads `pipeline.yaml` (or DVC's `dvc.yaml`) and `params.yaml`, builds the graph of
/// stages, and reproduces what changed.
#[derive(Debug, Parser)]
#[command(name = "wf", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The global flags.
    #[command(flatten)]
    pub globals: Globals,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reproduce the pipeline: run what changed, in parallel.
    Repro(cmd::repro::Args),
    /// Show which stages are stale and why.
    Status(cmd::status::Args),
    /// Check that the lock reproduces, in a scratch copy.
    Verify(cmd::verify::Args),
    /// Print a Markdown report for a pull request.
    Report(cmd::report::Args),
    /// Show the graph of stages.
    Dag(cmd::dag::Args),
    /// Track data files or folders no stage produces.
    Add(cmd::add::Args),
    /// Restore outputs and tracked data from the cache.
    Checkout(cmd::checkout::Args),
    /// Upload what the remote lacks.
    Push(cmd::push::Args),
    /// Download what the cache lacks.
    Fetch(cmd::push::Args),
    /// Download what the cache lacks and check it out.
    Pull(cmd::push::PullArgs),
    /// Configure remotes.
    Remote(cmd::remote::Args),
    /// Remove cache objects nothing refers to.
    Gc(cmd::gc::Args),
    /// List and inspect stages.
    Stage(cmd::stage::Args),
    /// Inspect and manage the model registry.
    Model(cmd::model::Args),
    /// Serve a registry model over HTTP, following the champion alias.
    Serve(cmd::serve::Args),
    /// Run the pipeline, then again whenever a dependency, a param or a spec changes.
    Watch(cmd::watch::Args),
    /// Run, compare and apply experiments.
    Exp(cmd::exp::Args),
    /// Tune params: run the study of the spec's `tune:` block, each trial an experiment.
    Tune(cmd::tune::Args),
    /// Compare params between git revisions.
    Params(cmd::metrics::ParamsArgs),
    /// Show and compare metrics.
    Metrics(cmd::metrics::MetricsArgs),
    /// Draw plots, as DVC's, into one offline HTML page.
    Plots(cmd::plots::Args),
    /// Serve a web app over runs, the pipeline, models, plots and studies.
    Ui(cmd::ui::Args),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Run one resolved stage from a job spec on stdin (what a cluster job runs).
    #[command(hide = true)]
    RunTask(cmd::run_task::Args),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
