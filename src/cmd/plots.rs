//! `wf plots show` and `wf plots diff`: DVC's plots drawn into one offline HTML page, or
//! printed as JSON.

use std::path::PathBuf;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::plots::{self, WORKSPACE};

/// Draw the pipeline's plots.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subcommand.
    #[command(subcommand)]
    pub command: PlotsCommand,
}

/// `wf plots` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PlotsCommand {
    /// Draw the plots of the workspace into an HTML page.
    ///
    /// Plots are the top-level `plots:` of each spec and the stages' `plots:` outs, as DVC's:
    /// CSV, TSV, JSON and YAML data drawn with DVC's templates, and images. The page is one
    /// file that works offline (`dvc_plots/index.html` by default).
    Show(ShowArgs),
    /// Draw the plots of git revisions and the workspace over one another.
    ///
    /// The workspace against `HEAD` by default, the workspace against REV, or the revisions
    /// given; each row is tagged with its revision, as `dvc plots diff`.
    Diff(DiffArgs),
}

/// Options of `plots show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Plot ids or data files to draw (default: all).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Where to write the page and what to print.
    #[command(flatten)]
    pub output: Output,
}

/// Options of `plots diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Git revisions to compare (default: `HEAD` and the workspace).
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,
    /// Plot ids or data files to draw (default: all).
    #[arg(long, num_args = 1.., value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Where to write the page and what to print.
    #[command(flatten)]
    pub output: Output,
}

/// Output options shared by `show` and `diff`.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// The folder to write `index.html` into (default: `dvc_plots`, as DVC).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Open the page in the web browser.
    #[arg(long)]
    pub open: bool,
    /// Print each plot's Vega-Lite specification and data as JSON, as `dvc plots show --json`,
    /// instead of writing a page.
    #[arg(long, conflicts_with_all = ["out", "open"])]
    pub json: bool,
}

/// Runs `wf plots`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let (targets, revs, output) = match &args.command {
        PlotsCommand::Show(a) => (&a.targets, vec![WORKSPACE.to_string()], &a.output),
        PlotsCommand::Diff(a) => (&a.targets, plots::diff_revisions(&a.revs), &a.output),
    };
    let plots = plots::collect(&ctx.root, &ctx.cwd, targets, &revs)?;
    if output.json {
        return Ok(Report::ok(format!("{}\n", plots::to_json(&plots))));
    }
    let cwd = ctx.cwd.to_path(&ctx.root);
    let dir = match &output.out {
        Some(dir) => cwd.join(dir),
        None => cwd.join("dvc_plots"),
    };
    let path = plots::write(&dir, "wf plots", &plots)?;
    let path = std::path::absolute(&path).unwrap_or(path);
    let mut report = Report::ok(if ctx.quiet {
        String::new()
    } else {
        format!("file://{}\n", path.display())
    });
    if output.open
        && let Err(e) = open(path.as_os_str())
    {
        report.stderr = format!("warning: cannot open the page in a browser: {e}\n");
    }
    Ok(report)
}

/// Opens `path` with the desktop's handler for HTML files.
pub(crate) fn open(path: &std::ffi::OsStr) -> std::io::Result<()> {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let status = std::process::Command::new(program).arg(path).status()?;
    match status.success() {
        true => Ok(()),
        false => Err(std::io::Error::other(format!(
            "`{program}` failed: {status}"
        ))),
    }
}
