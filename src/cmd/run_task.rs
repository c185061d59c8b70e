//! `wf run-task` (hidden): what a batch job runs on its node. It reads a job spec (JSON) on
//! stdin, runs the one stage it describes exactly as the local executor would, prints the
//! stage's output as it comes, and exits with the failing command's exit code, so that the
//! cluster reports it. Without a shared file system it first fetches the stage's inputs from the
//! remote into a scratch folder and afterwards pushes its outputs back.

use std::io::{Read, Write};

use tokio::sync::{mpsc, watch};

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exec::event::{Event, Outcome};
use crate::exec::executor::{Executor, Local, Work};
use crate::exec::shell;
use crate::exec::ship::{JobResult, Node};
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
    let runtime = crate::exec::runtime()?;
    let (code, message) = runtime.block_on(run_job(spec));
    Ok(Report {
        stdout: String::new(),
        stderr: message.map(|m| format!("error: {m}\n")).unwrap_or_default(),
        code,
    })
}

fn usage(message: String) -> Error {
    Error::Usage {
        message,
        help: Some("`wf run-task` is started by `wf repro --executor slurm`, not by hand".into()),
    }
}

/// Runs the job; its exit code and error.
async fn run_job(spec: JobSpec) -> (u8, Option<String>) {
    let JobSpec { mut task, ship } = spec;
    let node = match &ship {
        None => None,
        Some(job) => match Node::prepare(job, &task).await {
            Ok(node) => {
                task.root = node.root.clone();
                Some(node)
            }
            Err(e) => return (1, Some(e)),
        },
    };
    let keep_log = node.is_some();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Lines go to this job's stdout and stderr as they come (the cluster's output files), and
    // are kept for the result when the data travels through the remote.
    let printer = tokio::spawn(async move {
        let mut log = Vec::new();
        while let Some(event) = rx.recv().await {
            if let Event::Output { line, stderr, .. } = event {
                if stderr {
                    let _ = writeln!(std::io::stderr(), "{line}");
                } else {
                    let _ = writeln!(std::io::stdout(), "{line}");
                }
                if keep_log {
                    log.push((stderr, line));
                }
            }
        }
        log
    });
    let (_cancel_tx, cancel) = watch::channel(false);
    let local = Local::from_env();
    let (code, error) = match &task.work {
        Work::Shell(commands) => {
            let job = shell::Job {
                stage: task.stage.clone(),
                cwd: task.wdir.to_path(&task.root),
                root: task.root.clone(),
                env: task.env.clone(),
            };
            match shell::run_commands(&job, commands, &local.shell, &tx, cancel).await {
                shell::Ended::Ok => (0, None),
                shell::Ended::Failed(m, code) => (u8::try_from(code).unwrap_or(1).max(1), Some(m)),
                shell::Ended::Interrupted => (130, Some("interrupted".into())),
            }
        }
        Work::Builtin { .. } => match local.run(&task, &tx, cancel).await {
            Outcome::Ok => (0, None),
            Outcome::Failed(m) => (1, Some(m)),
            Outcome::Interrupted => (130, Some("interrupted".into())),
        },
    };
    drop(tx);
    let log = printer.await.unwrap_or_default();
    let (Some(node), Some(job)) = (node, ship) else {
        return (code, error);
    };
    let result = JobResult {
        error: error.clone(),
        outs: Vec::new(),
        log,
    };
    let finished = node.finish(&job, &task, result).await;
    node.clean(code == 0 && finished.is_ok());
    match finished {
        Ok(()) => (code, error),
        Err(e) => (code.max(1), Some(error.unwrap_or(e))),
    }
}
