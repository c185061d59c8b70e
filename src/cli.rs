//! The command line (clap derive): global flags and the commands. Doc comments are the help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

/// A declarative workflow engine for machine-learning pipelines.
///
/// wf reads `pipeline.yaml` (or DVC's `dvc.yaml`) and `params.yaml`, builds the graph of
/// stages, and reproduces what changed.
#[derive(Debug, Parser)]
#[command(name = "wf", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Run as if wf was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more about what happens.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colours on a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
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
    /// Run the pipeline, then again whenever a dependency, a param or a spec changes.
    Watch(cmd::watch::Args),
    /// Compare params between git revisions.
    Params(cmd::metrics::ParamsArgs),
    /// Show and compare metrics.
    Metrics(cmd::metrics::MetricsArgs),
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
