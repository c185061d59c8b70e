//! `wf run-task` (hidden): what a batch job runs on its node. It reads a job spec (JSON) on
//! stdin, runs the one stage it describes exactly as the local executor would, prints the
//! stage's output as it comes, and exits with the failing command's exit code, so that the
//! cluster reports it. Without a shared file system it first fetches the stage's inputs from the
//! remote into a scratch folder and afterwards pushes its outputs back.

use std::io::Read;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exec::slurm::JobSpec;

/// Run one resolved stage from a job spec on stdin (used by cluster executors).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `wf run-task`.
pub fn run(_ctx: &Context, _args: &Args) -> Result<Report, Error> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("cannot read the job spec on stdin: {e}")))?;
    let spec: JobSpec = serde_json::from_str(&text)
        .map_err(|e| usage(format!("the job spec on stdin is not valid: {e}")))?;
    let end = crate::run::run_task(spec)?;
    Ok(Report {
        stdout: String::new(),
        stderr: end
            .error
            .map(|m| format!("error: {m}\n"))
            .unwrap_or_default(),
        code: end.code,
    })
}

fn usage(message: String) -> Error {
    Error::Usage {
        message,
        help: Some("`wf run-task` is started by `wf repro --executor slurm`, not by hand".into()),
    }
}
