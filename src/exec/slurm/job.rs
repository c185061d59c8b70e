//! A batch job: what it runs (`JobSpec`, read by `wf run-task` on the node), how it is
//! submitted (`Settings`, `submit`), and what its end means for the stage (`describe`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::queue::{CLI_TIMEOUT, Ended, not_found};
use crate::exec::event::Outcome;
use crate::exec::executor::Task;
use crate::exec::ship;

/// How jobs are submitted (`[executor.slurm]` of `.wf/config`, resolved).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `-p`.
    pub partition: Option<String>,
    /// `-A`.
    pub account: Option<String>,
    /// `-t` for tasks without `resources.time`.
    pub time: Option<String>,
    /// More sbatch flags.
    pub sbatch_args: Vec<String>,
    /// Time between two polls.
    pub poll: Duration,
    /// The `wf` binary the jobs run.
    pub wf: PathBuf,
    /// Where jobs' output files go (shared file system).
    pub log_dir: PathBuf,
    /// Jobs queued or running at once.
    pub max_jobs: usize,
    /// Where a job unpacks its inputs on the node, without a shared file system.
    pub scratch: Option<String>,
}

/// What a batch job runs: `wf run-task` reads it on stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSpec {
    /// The task.
    pub task: Task,
    /// Without a shared file system: how the job gets its inputs and returns its outputs.
    pub ship: Option<ship::JobShipping>,
}

impl Settings {
    /// Where a job's output file goes (shared file system).
    pub(super) fn log_path(&self, id: &str, ext: &str) -> PathBuf {
        self.log_dir.join(format!("{id}.{ext}"))
    }

    /// Removes a job's output files.
    pub(super) fn remove_logs(&self, id: &str) {
        for ext in ["out", "err"] {
            let _ = std::fs::remove_file(self.log_path(id, ext));
        }
    }
}

/// Submits the job; returns its id, or why Slurm refused it.
pub(super) async fn submit(
    s: &Settings,
    spec: &JobSpec,
    env: &[(String, String)],
) -> Result<String, String> {
    let task = &spec.task;
    let json = serde_json::to_string(spec).map_err(|e| format!("internal error: {e}"))?;
    let script = format!(
        "#!/bin/sh\n# {}\nexec {} run-task <<'WF_TASK_END'\n{json}\nWF_TASK_END\n",
        task.stage,
        quote(&s.wf.to_string_lossy())
    );
    let mut args: Vec<String> = vec!["--parsable".into(), format!("--job-name=wf:{}", task.stage)];
    if spec.ship.is_some() {
        // The repository is not there on the node: the job starts in its scratch folder.
        let scratch = s.scratch.clone().unwrap_or_else(|| "/tmp".into());
        args.push(format!("--chdir={scratch}"));
        args.push(format!("--output={scratch}/wf-job-%j.log"));
    } else {
        std::fs::create_dir_all(&s.log_dir).map_err(|e| {
            format!(
                "cannot create the job log folder `{}`: {e}",
                s.log_dir.display()
            )
        })?;
        args.push(format!(
            "--chdir={}",
            task.wdir.to_path(&task.root).display()
        ));
        args.push(format!("--output={}/%j.out", s.log_dir.display()));
        args.push(format!("--error={}/%j.err", s.log_dir.display()));
    }
    if let Some(p) = &s.partition {
        args.push(format!("--partition={p}"));
    }
    if let Some(a) = &s.account {
        args.push(format!("--account={a}"));
    }
    if let Some(t) = task.resources.time.as_ref().or(s.time.as_ref()) {
        args.push(format!("--time={t}"));
    }
    args.push(format!("--cpus-per-task={}", task.resources.cpus.max(1)));
    if let Some(m) = &task.resources.mem {
        args.push(format!("--mem={m}"));
    }
    if let Some(g) = task.resources.gpus.filter(|g| *g > 0) {
        args.push(format!("--gres=gpu:{g}"));
    }
    args.extend(s.sbatch_args.iter().cloned());
    let mut child = Command::new("sbatch")
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| not_found("sbatch", &e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| format!("cannot hand the job script to sbatch: {e}"))?;
    }
    let out = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("sbatch did not answer within {} s", CLI_TIMEOUT.as_secs()))?
        .map_err(|e| format!("sbatch failed: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let said = stderr
            .lines()
            .map(|l| l.trim_start_matches("sbatch: error: ").trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(format!(
            "Slurm refused the job: {said} (check `[executor.slurm]` in .wf/config and the stage's `resources:`)"
        ));
    }
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("sbatch printed no job id: `{}`", stdout.trim()));
    }
    Ok(id)
}

/// A stage's result from its job's end.
pub(super) fn describe(id: &str, ended: &Ended, task: &Task) -> Outcome {
    let exit = ended.exit.as_deref().and_then(|e| {
        let (code, signal) = e.split_once(':')?;
        Some((code.parse::<i32>().ok()?, signal.parse::<i32>().ok()?))
    });
    let message = match ended.state.as_str() {
        "COMPLETED" => return Outcome::Ok,
        "FAILED" => match exit {
            Some((0, signal)) if signal != 0 => {
                format!("failed on Slurm (job {id}): killed by signal {signal}")
            }
            Some((code, _)) => format!("failed on Slurm (job {id}): exit {code}"),
            None => format!("failed on Slurm (job {id})"),
        },
        "CANCELLED" => {
            format!("Slurm job {id} was cancelled (by `scancel` or an administrator), not by wf")
        }
        "TIMEOUT" => format!(
            "Slurm job {id} reached its time limit{} (TIMEOUT): raise the stage's `resources.time` or `time` in `[executor.slurm]`",
            task.resources
                .time
                .as_ref()
                .map(|t| format!(" of {t}"))
                .unwrap_or_default()
        ),
        "OUT_OF_MEMORY" => format!(
            "Slurm job {id} ran out of memory (OUT_OF_MEMORY): raise the stage's `resources.mem`"
        ),
        "NODE_FAIL" => {
            format!("Slurm job {id} failed because its node failed (NODE_FAIL): run again")
        }
        "UNKNOWN" => format!(
            "Slurm job {id} left the queue and Slurm no longer knows how it ended (raise MinJobAge, or lower `poll_interval`)"
        ),
        other => format!("Slurm job {id} ended in state {other}"),
    };
    Outcome::Failed(message)
}

/// `s` as one word for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The default folder of the jobs' output files.
pub fn log_dir(root: &Path) -> PathBuf {
    root.join(crate::workspace::DIR).join("tmp").join("slurm")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::executor::{TaskResources, Work};

    fn task(time: Option<&str>) -> Task {
        Task {
            stage: "train".into(),
            root: PathBuf::from("/r"),
            wdir: crate::repo_path::RepoPath::root(),
            env: vec![],
            work: Work::Shell(vec!["true".into()]),
            resources: TaskResources {
                cpus: 1,
                time: time.map(str::to_string),
                ..TaskResources::default()
            },
            inputs: vec![],
            outputs: vec![],
        }
    }

    fn ended(state: &str, exit: Option<&str>) -> Ended {
        Ended {
            state: state.into(),
            exit: exit.map(str::to_string),
        }
    }

    #[test]
    fn job_ends_become_stage_results() {
        let t = task(Some("0:01:00"));
        assert_eq!(describe("7", &ended("COMPLETED", None), &t), Outcome::Ok);
        assert_eq!(
            describe("7", &ended("FAILED", Some("3:0")), &t),
            Outcome::Failed("failed on Slurm (job 7): exit 3".into())
        );
        assert_eq!(
            describe("7", &ended("FAILED", Some("0:9")), &t),
            Outcome::Failed("failed on Slurm (job 7): killed by signal 9".into())
        );
        let Outcome::Failed(m) = describe("7", &ended("TIMEOUT", Some("0:15")), &t) else {
            panic!("a timeout is a failure");
        };
        assert!(m.contains("TIMEOUT") && m.contains("of 0:01:00"), "{m}");
        assert!(matches!(
            describe("7", &ended("NODE_FAIL", None), &t),
            Outcome::Failed(m) if m.contains("NODE_FAIL")
        ));
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
