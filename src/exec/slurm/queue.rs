//! `Queue`: the one task of a run that watches its Slurm jobs. Stages hand it their job ids; it
//! owns them all, asks `squeue` about every one with a single call per tick, sends each job's
//! new output lines as they are written, and tells each stage how its job ended.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

use crate::exec::event::{Event, Events};

/// How long any one Slurm command may take before wf gives up on it.
pub(super) const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Polls in a row a job may be missing from `squeue` before wf asks `scontrol` about it.
const MISSING_POLLS: u32 = 3;

/// How a job ended, as Slurm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ended {
    /// Its final state (`COMPLETED`, `FAILED`, `TIMEOUT`, …), or `UNKNOWN`.
    pub(super) state: String,
    /// `ExitCode=` from `scontrol` (`3:0`), when known.
    pub(super) exit: Option<String>,
}

/// A job to watch, as a stage hands it over.
pub(super) struct Watch {
    /// Its id.
    pub(super) id: String,
    /// Its stage's address (the prefix of its lines).
    pub(super) stage: String,
    /// Where its lines go.
    pub(super) events: Events,
    /// Its output files (none when they are on another machine).
    pub(super) tails: Vec<Tail>,
    /// Told how it ended.
    pub(super) done: oneshot::Sender<Ended>,
}

/// A job being watched.
struct Watched {
    watch: Watch,
    /// Polls in a row it was missing from `squeue`.
    missing: u32,
    /// Why it waits, as last told to the user.
    reason: String,
}

/// The handle of a run's queue task.
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Watch>,
}

impl Queue {
    /// Starts the queue task (inside the runtime); it ends once this handle is dropped and
    /// every job it was given has ended.
    pub(super) fn start(poll: Duration) -> Queue {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, poll));
        Queue { tx }
    }

    /// Watches a job; `false` if the queue task is gone.
    pub(super) fn watch(&self, watch: Watch) -> bool {
        self.tx.send(watch).is_ok()
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Watch>, poll: Duration) {
    let mut jobs: HashMap<String, Watched> = HashMap::new();
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    while open || !jobs.is_empty() {
        tokio::select! {
            got = rx.recv(), if open => match got {
                Some(watch) => {
                    let id = watch.id.clone();
                    jobs.insert(id, Watched { watch, missing: 0, reason: String::new() });
                }
                None => open = false,
            },
            _ = tick.tick(), if !jobs.is_empty() => poll_once(&mut jobs).await,
        }
    }
}

/// One tick: every job's state in one `squeue` call, new output lines, and the ends.
async fn poll_once(jobs: &mut HashMap<String, Watched>) {
    let ids: Vec<String> = jobs.keys().cloned().collect();
    let states = squeue(&ids).await;
    let mut ended: Vec<(String, String)> = Vec::new();
    for (id, w) in jobs.iter_mut() {
        for tail in &mut w.watch.tails {
            tail.send_lines(&w.watch.stage, &w.watch.events, false);
        }
        match states.as_ref().map(|s| s.get(id)) {
            Ok(Some((state, _))) if is_final(state) => ended.push((id.clone(), state.clone())),
            Ok(Some((state, reason))) => {
                w.missing = 0;
                // A job held for a reason other than its turn is worth a line: it may never
                // start (`PartitionTimeLimit`, `ReqNodeNotAvail`, `JobHeldUser`, …).
                if state == "PENDING" && !ordinary_wait(reason) && *reason != w.reason {
                    let _ = w.watch.events.send(Event::Output {
                        stage: w.watch.stage.clone(),
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
            // squeue failed this tick (the controller is busy or restarting): try again.
            Err(_) => {}
        }
    }
    for (id, state) in ended {
        let (state, exit) = match state.as_str() {
            // Gone from squeue: scontrol may still know it, else accounting.
            "" => match scontrol(&id).await {
                Some(known) => known,
                None => sacct(&id)
                    .await
                    .unwrap_or_else(|| ("UNKNOWN".to_string(), None)),
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
        if let Some(mut w) = jobs.remove(&id) {
            for tail in &mut w.watch.tails {
                tail.send_lines(&w.watch.stage, &w.watch.events, true);
            }
            let _ = w.watch.done.send(Ended { state, exit });
        }
    }
}

/// The part of an output file not yet sent.
pub(super) struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    stderr: bool,
}

impl Tail {
    /// A file not read yet; its lines are stderr lines if `stderr`.
    pub(super) fn new(path: PathBuf, stderr: bool) -> Tail {
        Tail {
            path,
            offset: 0,
            partial: Vec::new(),
            stderr,
        }
    }

    /// Sends every complete new line; at the end (`last`) the rest too.
    fn send_lines(&mut self, stage: &str, events: &Events, last: bool) {
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
    Ok(parse_squeue(&text))
}

/// `squeue -h -o '%i|%T|%r'`: each job's state and reason.
fn parse_squeue(text: &str) -> HashMap<String, (String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut fields = l.trim().splitn(3, '|');
            let (id, state) = (fields.next()?, fields.next()?);
            let reason = fields.next().unwrap_or("").trim();
            let state = state.split_whitespace().next()?;
            Some((id.to_string(), (state.to_string(), reason.to_string())))
        })
        .collect()
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

/// `sacct -j ID`: the job's state and exit code from accounting, where the cluster keeps it.
async fn sacct(id: &str) -> Option<(String, Option<String>)> {
    let text = slurm_cli(
        "sacct",
        &["-n", "-P", "-X", "-j", id, "-o", "State,ExitCode"],
    )
    .await
    .ok()?;
    parse_sacct(&text)
}

/// The first line of `sacct -n -P -o State,ExitCode`.
fn parse_sacct(text: &str) -> Option<(String, Option<String>)> {
    let (state, exit) = text.lines().next()?.trim().split_once('|')?;
    // `CANCELLED by 0` is CANCELLED.
    let state = state.split_whitespace().next()?.to_string();
    Some((state, Some(exit.to_string()).filter(|e| !e.is_empty())))
}

/// Runs a Slurm command with a time limit; its stdout, or its stderr as the error.
pub(super) async fn slurm_cli(program: &str, args: &[&str]) -> Result<String, String> {
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

/// Why a Slurm command could not start.
pub(super) fn not_found(program: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!(
            "`{program}` is not on PATH: the Slurm executor needs Slurm's commands (run wf on a login node of the cluster, or use `--executor local`)"
        )
    } else {
        format!("cannot run `{program}`: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn squeue_and_sacct_lines_are_read() {
        let jobs = parse_squeue("12|RUNNING|None\n13|PENDING|JobHeldUser\n\ngarbage\n");
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs["13"], ("PENDING".into(), "JobHeldUser".into()));
        assert_eq!(
            parse_sacct("CANCELLED by 0|0:15\n"),
            Some(("CANCELLED".into(), Some("0:15".into())))
        );
        assert_eq!(
            parse_sacct("FAILED|3:0"),
            Some(("FAILED".into(), Some("3:0".into())))
        );
        assert_eq!(parse_sacct(""), None);
    }

    #[test]
    fn only_unusual_waits_are_told() {
        assert!(ordinary_wait("Priority") && ordinary_wait("Resources"));
        assert!(!ordinary_wait("JobHeldUser") && !ordinary_wait("PartitionTimeLimit"));
    }

    #[test]
    fn tails_send_whole_lines_then_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("1.out");
        std::fs::write(&path, "one\ntw").expect("write");
        let mut tx = Events::none();
        let mut rx = tx.subscribe();
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
}
