//! The Slurm executor: each task becomes one batch job (`sbatch --parsable`, the script on
//! stdin) that runs the task through this same binary on the node (`wf run-task`). One poller
//! per run asks for the state of every job of the run with a single `squeue` call per tick,
//! streams each job's output files into the run's events, and reports each job's end. Ctrl-C
//! cancels every job (`scancel`). Hashing, the lock and the cache stay with the submitting
//! process, as for a local stage; without a shared file system the task's inputs and outputs
//! travel through a remote (`ship`).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};

use super::event::{Event, Outcome};
use super::executor::{Executor, Running, Task};
use super::ship::{self, Shipping};

/// How long any one Slurm command may take before wf gives up on it.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long wf waits for cancelled jobs to leave the queue after Ctrl-C.
const CANCEL_WAIT: Duration = Duration::from_secs(60);
/// Polls in a row a job may be missing from `squeue` before wf asks `scontrol` about it.
const MISSING_POLLS: u32 = 3;

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

/// How a job ended, as Slurm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Its final state (`COMPLETED`, `FAILED`, `TIMEOUT`, …).
    pub state: String,
    /// `ExitCode=` from `scontrol` (`3:0`), when known.
    pub exit: Option<String>,
}

/// The Slurm executor of one run.
pub struct Slurm {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    shipping: Option<Shipping>,
    jobs: Mutex<HashMap<String, Watched>>,
    /// Whether the poller runs. It stops, under this lock, when no job is left; a job is
    /// registered before this lock is taken to start it, so none is ever left unwatched.
    polling: Mutex<bool>,
}

/// A job the poller watches.
struct Watched {
    stage: String,
    events: mpsc::UnboundedSender<Event>,
    tails: Vec<Tail>,
    missing: u32,
    /// Why it waits, as last told to the user.
    reason: String,
    done: Option<oneshot::Sender<Ended>>,
}

/// The part of an output file not yet sent.
struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    stderr: bool,
}

impl Slurm {
    /// The executor; `shipping` is set when the nodes do not share the repository's file system.
    pub fn new(settings: Settings, shipping: Option<Shipping>) -> Slurm {
        Slurm {
            inner: Arc::new(Inner {
                settings,
                shipping,
                jobs: Mutex::new(HashMap::new()),
                polling: Mutex::new(false),
            }),
        }
    }
}

impl Executor for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.inner.settings.max_jobs)
    }

    fn run<'a>(
        &'a self,
        task: &'a Task,
        events: &'a mpsc::UnboundedSender<Event>,
        cancel: watch::Receiver<bool>,
    ) -> Running<'a> {
        Box::pin(self.inner.clone().run(task, events, cancel))
    }
}

impl Inner {
    async fn run(
        self: Arc<Self>,
        task: &Task,
        events: &mpsc::UnboundedSender<Event>,
        mut cancel: watch::Receiver<bool>,
    ) -> Outcome {
        let ship = match &self.shipping {
            None => None,
            Some(shipping) => match shipping.send_inputs(task).await {
                Ok(mut job) => {
                    job.scratch.clone_from(&self.settings.scratch);
                    Some(job)
                }
                Err(message) => return Outcome::Failed(message),
            },
        };
        let spec = JobSpec {
            task: task.clone(),
            ship: ship.clone(),
        };
        let id = match self.submit(&spec).await {
            Ok(id) => id,
            Err(message) => return Outcome::Failed(message),
        };
        let (tx, rx) = oneshot::channel();
        let tails = if ship.is_some() {
            Vec::new()
        } else {
            vec![
                Tail::new(self.log_path(&id, "out"), false),
                Tail::new(self.log_path(&id, "err"), true),
            ]
        };
        lock(&self.jobs).insert(
            id.clone(),
            Watched {
                stage: task.stage.clone(),
                events: events.clone(),
                tails,
                missing: 0,
                reason: String::new(),
                done: Some(tx),
            },
        );
        self.start_poller();
        let mut rx = rx;
        let ended = tokio::select! {
            ended = &mut rx => ended,
            () = cancelled(&mut cancel) => {
                let _ = slurm_cli("scancel", &[id.as_str()]).await;
                let _ = tokio::time::timeout(CANCEL_WAIT, rx).await;
                self.remove_logs(&id);
                return Outcome::Interrupted;
            }
        };
        let Ok(ended) = ended else {
            return Outcome::Failed(format!("lost track of Slurm job {id}"));
        };
        let outcome = describe(&id, &ended, task);
        // Everything in them was printed already.
        self.remove_logs(&id);
        match (outcome, &self.shipping, ship) {
            (outcome, Some(shipping), Some(job)) => {
                shipping.receive(task, &job, &id, outcome, events).await
            }
            (outcome, _, _) => outcome,
        }
    }

    /// Submits the job; returns its id, or why Slurm refused it.
    async fn submit(&self, spec: &JobSpec) -> Result<String, String> {
        let s = &self.settings;
        let task = &spec.task;
        let json = serde_json::to_string(spec).map_err(|e| format!("internal error: {e}"))?;
        let script = format!(
            "#!/bin/sh\n# {}\nexec {} run-task <<'WF_TASK_END'\n{json}\nWF_TASK_END\n",
            task.stage,
            quote(&s.wf.to_string_lossy())
        );
        let mut args: Vec<String> =
            vec!["--parsable".into(), format!("--job-name=wf:{}", task.stage)];
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

    fn log_path(&self, id: &str, ext: &str) -> PathBuf {
        self.settings.log_dir.join(format!("{id}.{ext}"))
    }

    fn remove_logs(&self, id: &str) {
        for ext in ["out", "err"] {
            let _ = std::fs::remove_file(self.log_path(id, ext));
        }
    }

    fn start_poller(self: &Arc<Self>) {
        let mut polling = lock(&self.polling);
        if !*polling {
            *polling = true;
            tokio::spawn(self.clone().poll());
        }
    }

    /// Until no job is left: one `squeue` call per tick for every job of the run.
    async fn poll(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.settings.poll).await;
            let ids: Vec<String> = {
                let mut polling = lock(&self.polling);
                let ids: Vec<String> = lock(&self.jobs).keys().cloned().collect();
                if ids.is_empty() {
                    *polling = false;
                    return;
                }
                ids
            };
            let states = squeue(&ids).await;
            let mut ended: Vec<(String, String)> = Vec::new();
            {
                let mut jobs = lock(&self.jobs);
                for (id, w) in jobs.iter_mut() {
                    for tail in &mut w.tails {
                        tail.send_lines(&w.stage, &w.events, false);
                    }
                    match states.as_ref().map(|s| s.get(id)) {
                        Ok(Some((state, _))) if is_final(state) => {
                            ended.push((id.clone(), state.clone()));
                        }
                        Ok(Some((state, reason))) => {
                            w.missing = 0;
                            // A job held for a reason other than its turn is worth a line: it
                            // may never start (`PartitionTimeLimit`, `ReqNodeNotAvail`, …).
                            if state == "PENDING" && !ordinary_wait(reason) && *reason != w.reason {
                                let _ = w.events.send(Event::Output {
                                    stage: w.stage.clone(),
                                    line: format!("wf: Slurm job {id} is pending: {reason}"),
                                    stderr: true,
                                });
                            }
                            w.reason.clone_from(reason);
                        }
                        Ok(None) => {
                            w.missing += 1;
                            if w.missing >= MISSING_POLLS {
                                ended.push((id.clone(), String::new()));
                            }
                        }
                        // squeue failed this tick (the controller is busy): try again.
                        Err(_) => {}
                    }
                }
            }
            for (id, state) in ended {
                let (state, exit) = match state.as_str() {
                    // Gone from squeue: scontrol may still know it.
                    "" => match scontrol(&id).await {
                        Some((state, exit)) => (state, exit),
                        None => ("UNKNOWN".to_string(), None),
                    },
                    "COMPLETED" => (state, None),
                    _ => {
                        let exit = scontrol(&id).await.and_then(|(_, e)| e);
                        (state, exit)
                    }
                };
                if !is_final(&state) && state != "UNKNOWN" {
                    continue;
                }
                let watched = lock(&self.jobs).remove(&id);
                if let Some(mut w) = watched {
                    for tail in &mut w.tails {
                        tail.send_lines(&w.stage, &w.events, true);
                    }
                    if let Some(done) = w.done.take() {
                        let _ = done.send(Ended { state, exit });
                    }
                }
            }
        }
    }
}

impl Tail {
    fn new(path: PathBuf, stderr: bool) -> Tail {
        Tail {
            path,
            offset: 0,
            partial: Vec::new(),
            stderr,
        }
    }

    /// Sends every complete new line; at the end (`last`) the rest too.
    fn send_lines(&mut self, stage: &str, events: &mpsc::UnboundedSender<Event>, last: bool) {
        if let Ok(mut f) = std::fs::File::open(&self.path)
            && f.seek(SeekFrom::Start(self.offset)).is_ok()
        {
            let mut buf = Vec::new();
            if let Ok(n) = f.read_to_end(&mut buf) {
                self.offset += n as u64;
                self.partial.extend_from_slice(&buf);
            }
        }
        let send = |bytes: &[u8]| {
            let line = String::from_utf8_lossy(bytes)
                .trim_end_matches('\r')
                .to_string();
            let _ = events.send(Event::Output {
                stage: stage.to_string(),
                line,
                stderr: self.stderr,
            });
        };
        let mut start = 0;
        while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
            send(&self.partial[start..start + nl]);
            start += nl + 1;
        }
        self.partial.drain(..start);
        if last && !self.partial.is_empty() {
            send(&self.partial);
            self.partial.clear();
        }
    }
}

/// Whether a job state is final.
fn is_final(state: &str) -> bool {
    matches!(
        state,
        "COMPLETED"
            | "FAILED"
            | "CANCELLED"
            | "TIMEOUT"
            | "NODE_FAIL"
            | "OUT_OF_MEMORY"
            | "PREEMPTED"
            | "BOOT_FAIL"
            | "DEADLINE"
    )
}

/// A stage's result from its job's end.
fn describe(id: &str, ended: &Ended, task: &Task) -> Outcome {
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

/// Pending reasons that only mean "not yet".
fn ordinary_wait(reason: &str) -> bool {
    matches!(
        reason,
        "None" | "Priority" | "Resources" | "BeginTime" | "Dependency" | ""
    )
}

/// `squeue` for the given jobs: each job's state and reason. A job Slurm has forgotten is
/// absent.
async fn squeue(ids: &[String]) -> Result<HashMap<String, (String, String)>, String> {
    let list = ids.join(",");
    let out = slurm_cli(
        "squeue",
        &["-h", "-t", "all", "-j", &list, "-o", "%i|%T|%r"],
    )
    .await;
    let text = match out {
        Ok(text) => text,
        // Every job of the list is forgotten.
        Err(e) if e.contains("Invalid job id") => String::new(),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut fields = l.trim().splitn(3, '|');
            let (id, state) = (fields.next()?, fields.next()?);
            let reason = fields.next().unwrap_or("").trim();
            Some((
                id.to_string(),
                (
                    state.split_whitespace().next()?.to_string(),
                    reason.to_string(),
                ),
            ))
        })
        .collect())
}

/// `scontrol show job -o ID`: the job's state and exit code, if Slurm still knows it.
async fn scontrol(id: &str) -> Option<(String, Option<String>)> {
    let text = slurm_cli("scontrol", &["show", "job", "-o", id])
        .await
        .ok()?;
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map(str::to_string)
    };
    Some((field("JobState=")?, field("ExitCode=")))
}

/// Runs a Slurm command with a time limit; its stdout, or its stderr as the error.
async fn slurm_cli(program: &str, args: &[&str]) -> Result<String, String> {
    let run = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CLI_TIMEOUT, run)
        .await
        .map_err(|_| {
            format!(
                "{program} did not answer within {} s",
                CLI_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| not_found(program, &e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn not_found(program: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!(
            "`{program}` is not on PATH: the Slurm executor needs Slurm's commands (run wf on a login node of the cluster, or use `--executor local`)"
        )
    } else {
        format!("cannot run `{program}`: {e}")
    }
}

/// Resolves once the run is cancelled (the guard `wait_for` returns is dropped here, before
/// any await).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    let _ = cancel.wait_for(|c| *c).await;
}

/// `s` as one word for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
    fn final_states() {
        for s in ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"] {
            assert!(is_final(s), "{s}");
        }
        for s in [
            "PENDING",
            "RUNNING",
            "COMPLETING",
            "CONFIGURING",
            "SUSPENDED",
        ] {
            assert!(!is_final(s), "{s}");
        }
    }

    #[test]
    fn tails_send_whole_lines_then_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("1.out");
        std::fs::write(&path, "one\ntw").expect("write");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut tail = Tail::new(path.clone(), false);
        tail.send_lines("s", &tx, false);
        std::fs::write(&path, "one\ntwo\nthr").expect("write");
        tail.send_lines("s", &tx, false);
        tail.send_lines("s", &tx, true);
        drop(tx);
        let mut lines = Vec::new();
        while let Ok(Event::Output { line, .. }) = rx.try_recv() {
            lines.push(line);
        }
        assert_eq!(lines, ["one", "two", "thr"]);
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
