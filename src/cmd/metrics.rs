//! `wf params diff`, `wf metrics show` and `wf metrics diff`: params and metrics files read
//! from the workspace or from git revisions, flattened to dotted keys and compared, with DVC's
//! tables, rounding and JSON.

use crate::cmd::Report;
use crate::context::Context;
use crate::diff::{self, Kind};
use crate::error::Error;

/// Compare params between git revisions.
#[derive(Debug, clap::Args)]
pub struct ParamsArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: ParamsCommand,
}

/// `wf params` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ParamsCommand {
    /// Show the params that differ between two git revisions, or a revision and the workspace.
    ///
    /// Compares every params file a stage tracks (only the tracked keys) and the `params.yaml`
    /// of each spec's folder, as `dvc params diff`: the workspace against `HEAD` by default,
    /// the workspace against A, or A against B. Nested keys are joined with dots.
    Diff(DiffArgs),
}

/// Show and compare metrics.
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: MetricsCommand,
}

/// `wf metrics` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MetricsCommand {
    /// Print the metrics of the workspace.
    ///
    /// One row per metrics file (the `metrics:` of every stage), one column per key, nested
    /// keys joined with dots and floats rounded to 5 digits, as `dvc metrics show`.
    Show(ShowArgs),
    /// Show the metrics that differ between two git revisions, or a revision and the workspace.
    ///
    /// The workspace against `HEAD` by default, the workspace against A, or A against B, with
    /// the change of each number (new − old), as `dvc metrics diff`.
    Diff(DiffArgs),
}

/// Options of `params diff` and `metrics diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old git revision (default: `HEAD`).
    #[arg(value_name = "A")]
    pub a_rev: Option<String>,
    /// The new git revision (default: the workspace).
    #[arg(value_name = "B")]
    pub b_rev: Option<String>,
    /// Show unchanged keys too.
    #[arg(long)]
    pub all: bool,
    /// Print JSON, as DVC: `{"path": {"key": {"old": …, "new": …, "diff": …}}}`.
    #[arg(long, conflicts_with = "md")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub md: bool,
}

/// Options of `metrics show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Print JSON, as `dvc metrics show --json`.
    #[arg(long, conflicts_with = "md")]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub md: bool,
}

/// Runs `wf params`.
pub fn params(ctx: &Context, args: &ParamsArgs) -> Result<Report, Error> {
    match &args.command {
        ParamsCommand::Diff(d) => diff(ctx, d, Kind::Params),
    }
}

/// Runs `wf metrics`.
pub fn metrics(ctx: &Context, args: &MetricsArgs) -> Result<Report, Error> {
    match &args.command {
        MetricsCommand::Show(s) => show(ctx, s),
        MetricsCommand::Diff(d) => diff(ctx, d, Kind::Metrics),
    }
}

fn diff(ctx: &Context, args: &DiffArgs, kind: Kind) -> Result<Report, Error> {
    let d = diff::compare(
        &ctx.root,
        &ctx.cwd,
        kind,
        args.a_rev.as_deref(),
        args.b_rev.as_deref(),
        args.all,
    )?;
    let out = if ctx.quiet {
        String::new()
    } else if args.json {
        format!("{}\n", d.to_json())
    } else if d.is_empty() {
        // As DVC: nothing differs, nothing printed.
        String::new()
    } else if args.md {
        d.table().markdown()
    } else {
        d.table().text()
    };
    Ok(Report::ok(out))
}

fn show(ctx: &Context, args: &ShowArgs) -> Result<Report, Error> {
    let shown = diff::show(&ctx.root, &ctx.cwd)?;
    if ctx.quiet {
        return Ok(Report::ok(String::new()));
    }
    let stderr = shown
        .missing
        .iter()
        .map(|path| format!("warning: metrics file `{path}` does not exist\n"))
        .collect();
    let stdout = if args.json {
        format!("{}\n", shown.to_json())
    } else if shown.found.is_empty() {
        String::new()
    } else if args.md {
        shown.table().markdown()
    } else {
        shown.table().text()
    };
    Ok(Report {
        stdout,
        stderr,
        code: crate::exit_code::OK,
    })
}
