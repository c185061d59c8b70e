//! `wf ui`: the local web app over runs, the pipeline, models, plots and studies.

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::ui::{Options, Stopped};

/// Serve a web app over what wf keeps: runs (a table, a run, comparisons), the pipeline (live
/// while a `wf repro`, `wf exp run` or `wf watch` runs it), models (promote, rollback), plots
/// and studies; and MLflow's tracking API, so that `MLFLOW_TRACKING_URI=http://127.0.0.1:5000`
/// (with `MLFLOW_TRACKING_TOKEN`) logs into the same store.
///
/// Reads are open on loopback; anything that changes state needs the server's token (in
/// `.wf/ui-PORT.token` while it runs, or `WF_UI_TOKEN`) and must come from its own pages. On
/// another address (`--host 0.0.0.0`) every request needs the token: open `/?token=TOKEN` once.
/// Nothing is fetched from the internet. SIGTERM and Ctrl-C stop it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on; anything but loopback exposes the app to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: any free one; the address is printed).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Open the app in a browser.
    #[arg(long)]
    pub open: bool,
}

/// Runs `wf ui`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let options = Options {
        root: ctx.root.clone(),
        cwd: ctx.cwd.clone(),
        host: args.host.clone(),
        port: args.port,
        token: std::env::var("WF_UI_TOKEN").ok(),
        open: args.open,
        quiet: ctx.quiet,
    };
    let code = match crate::ui::run(options)? {
        Stopped::Terminated => exit_code::OK,
        Stopped::Interrupted => exit_code::INTERRUPTED,
    };
    Ok(Report {
        stdout: String::new(),
        stderr: String::new(),
        code,
    })
}
