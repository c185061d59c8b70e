//! wf: a declarative workflow engine for machine-learning pipelines.
//!
//! `run` is the whole program: parse the command line, build the `Context`, dispatch to a
//! command, render any error once, and turn the outcome into an exit code.

pub mod atomic;
pub mod cache;
pub mod checkout;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod context;
pub mod dag;
mod dag_ascii;
pub mod dag_layout;
pub mod dag_render;
pub mod dag_svg;
pub mod dep_path;
pub mod diff;
pub mod error;
pub mod exec;
pub mod exit_code;
pub mod exp;
pub mod gc;
pub mod git;
pub mod hash;
pub mod lock;
pub mod overrides;
pub mod params;
pub mod plots;
pub mod pointer;
pub mod progress;
pub mod registry;
pub mod remote;
pub mod repo;
pub mod repo_lock;
pub mod repo_path;
pub mod report;
pub mod run;
pub mod select;
pub mod serve;
pub mod spec;
pub mod status;
pub mod store;
pub mod table;
pub mod target;
pub mod tracking;
pub mod transfer;
pub mod tune;
pub mod ui;
pub mod verify;
pub mod watch;
pub mod workspace;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::Error;

/// Runs wf with these arguments (the first is the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let command = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return exit_code::code(if e.use_stderr() {
                exit_code::BAD_INPUT
            } else {
                exit_code::OK
            });
        }
    };
    let color = cli.globals.color;
    match Context::new(&cli.globals, command).and_then(|ctx| dispatch(&ctx, &cli.command)) {
        Ok(done) => {
            let _ = std::io::stderr().write_all(done.stderr.as_bytes());
            match write_stdout(&done.stdout) {
                Ok(()) => exit_code::code(done.code),
                // As ripgrep: a closed pipe (`wf dag | head`) ends quietly.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    exit_code::code(exit_code::OK)
                }
                Err(e) => report(&Error::Output(e), color),
            }
        }
        Err(e) => report(&e, color),
    }
}

fn dispatch(ctx: &Context, command: &Command) -> Result<cmd::Report, Error> {
    match command {
        Command::Repro(args) => cmd::repro::run(ctx, args),
        Command::Status(args) => cmd::status::run(ctx, args),
        Command::Verify(args) => cmd::verify::run(ctx, args),
        Command::Report(args) => cmd::report::run(ctx, args),
        Command::Dag(args) => cmd::dag::run(ctx, args),
        Command::Stage(args) => cmd::stage::run(ctx, args),
        Command::Model(args) => cmd::model::run(ctx, args),
        Command::Params(args) => cmd::metrics::params(ctx, args),
        Command::Metrics(args) => cmd::metrics::metrics(ctx, args),
        Command::Plots(args) => cmd::plots::run(ctx, args),
        Command::Add(args) => cmd::add::run(ctx, args),
        Command::Checkout(args) => cmd::checkout::run(ctx, args),
        Command::Push(args) => cmd::push::push(ctx, args),
        Command::Fetch(args) => cmd::push::fetch(ctx, args),
        Command::Pull(args) => cmd::push::pull(ctx, args),
        Command::Remote(args) => cmd::remote::run(ctx, args),
        Command::Gc(args) => cmd::gc::run(ctx, args),
        Command::Serve(args) => cmd::serve::run(ctx, args),
        Command::Watch(args) => cmd::watch::run(ctx, args),
        Command::Exp(args) => cmd::exp::run(ctx, args),
        Command::Tune(args) => cmd::tune::run(ctx, args),
        Command::Ui(args) => cmd::ui::run(ctx, args),
        Command::RunTask(args) => cmd::run_task::run(ctx, args),
        Command::Completions(args) => {
            cmd::completions::run(args, <Cli as clap::CommandFactory>::command())
        }
    }
}

fn write_stdout(out: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()
}

fn report(e: &Error, color: context::Color) -> ExitCode {
    let _ = std::io::stderr().write_all(e.render(color.on_stderr()).as_bytes());
    exit_code::code(e.exit_code())
}
