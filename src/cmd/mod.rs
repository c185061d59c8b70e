//! The commands, one file each, each with its clap `Args` and `run`.

pub mod add;
pub mod checkout;
pub mod completions;
pub mod dag;
pub mod exp;
pub mod gc;
pub mod metrics;
pub mod model;
pub mod plots;
pub mod push;
pub mod remote;
pub mod report;
pub mod repro;
pub mod run_task;
pub mod serve;
pub mod stage;
pub mod status;
pub mod tune;
pub mod ui;
pub mod verify;
pub mod watch;

/// What a finished command prints last and how the process exits.
#[derive(Debug)]
pub struct Report {
    /// Printed on stdout.
    pub stdout: String,
    /// Printed on stderr.
    pub stderr: String,
    /// The exit code.
    pub code: u8,
}

impl Report {
    /// Success with this output.
    pub fn ok(stdout: String) -> Report {
        Report {
            stdout,
            stderr: String::new(),
            code: crate::exit_code::OK,
        }
    }
}

/// How a run's events are shown, as the global flags say: prefixed lines, and a progress bar on
/// a terminal unless `-v`.
pub(crate) fn report_options(ctx: &crate::context::Context) -> crate::report::Options {
    crate::report::Options {
        quiet: ctx.quiet,
        verbose: ctx.verbose,
        progress: ctx.terminal && !ctx.verbose,
        prefix: true,
    }
}
