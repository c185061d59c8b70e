//! What a batch job runs on its node (`wf run-task`): the one stage its job spec describes,
//! exactly as the local executor would, its output printed as it comes. Without a shared file
//! system it first fetches the stage's inputs from the remote into a scratch folder and
//! afterwards pushes its outputs back.

use std::io::Write;

use tokio::sync::watch;

use super::event::{Event, Events, Outcome};
use super::executor::{Executor, Local, Work};
use super::shell;
use super::ship::{JobResult, Node};
use super::slurm::JobSpec;

/// Runs the job: its stage, with its data fetched first and its outs pushed after when there is
/// no shared file system. Returns the exit code and what went wrong.
pub async fn run_job(spec: JobSpec) -> (u8, Option<String>) {
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
    let mut tx = Events::none();
    let mut rx = tx.subscribe();
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
