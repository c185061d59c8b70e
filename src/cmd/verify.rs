//! `wf verify`: prove the lock reproduces (see `crate::verify`).

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::verify::{self, Verdict};

/// Check that the lock reproduces: re-run the stages in a scratch copy and compare outputs.
///
/// Every targeted stage (all by default) and its upstream run again, forced, in a temporary
/// copy of the repository, from the same inputs as recorded in the lock. Stages whose outputs
/// differ from the lock byte for byte are listed, and the exit code is 1.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (default: every stage).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many stages may run at once.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Runs `wf verify`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let verdict = verify::verify(&ctx.repo(), &args.targets, args.jobs)?;
    let (stderr, code) = match verdict {
        Verdict::Reproduces { stages } => (
            format!("all {stages} stages reproduce byte for byte\n"),
            exit_code::OK,
        ),
        Verdict::Failed(lines) => {
            let mut err: String = lines.iter().map(|l| format!("{l}\n")).collect();
            err.push_str(
                "error: the stages failed in the scratch copy, so the lock does not reproduce\n",
            );
            (err, exit_code::FAILED)
        }
        Verdict::Differs(stages) => {
            let mut err = String::from(
                "error: these stages wrote different outputs from the same inputs (not deterministic):\n",
            );
            for (stage, outs) in stages {
                err.push_str(&format!("  {stage}: {}\n", outs.join(", ")));
            }
            (err, exit_code::FAILED)
        }
    };
    Ok(Report {
        stdout: String::new(),
        stderr,
        code,
    })
}
