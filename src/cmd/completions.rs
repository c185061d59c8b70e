//! `wf completions SHELL`: the shell completion script, written by clap_complete from the
//! command line's definition, as cargo and just print theirs.

use clap_complete::Shell;

use crate::cmd::Report;
use crate::error::Error;

/// Print a shell completion script.
///
/// Install it where the shell looks for completions, e.g. for bash
/// `wf completions bash > ~/.local/share/bash-completion/completions/wf`; the README lists
/// every shell.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Runs `wf completions` for `command`, the whole command line.
pub fn run(args: &Args, mut command: clap::Command) -> Result<Report, Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "wf", &mut script);
    Ok(Report::ok(String::from_utf8_lossy(&script).into_owned()))
}
