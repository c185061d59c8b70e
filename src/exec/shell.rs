//! Runs one stage's shell commands as DVC does: each line of a string `cmd` (or each item of a
//! list) in its own `$SHELL -c`, in the stage's `wdir`, stopping at the first failure; each stage
//! in its own process group so that Ctrl-C can stop all it started.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use super::event::{Event, Events, Outcome};

/// How long a stage gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// What a command needs besides its text.
#[derive(Debug, Clone)]
pub struct Job {
    /// The stage's address (for output lines and `WF_STAGE`).
    pub stage: String,
    /// The working folder.
    pub cwd: PathBuf,
    /// The repository root (`WF_ROOT`, `DVC_ROOT`).
    pub root: PathBuf,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// The shell and its arguments before `-c`, as DVC picks them: `$SHELL`, with bash and zsh told
/// not to read start-up files, else `/bin/sh`.
pub fn shell(shell_var: Option<&str>) -> (String, Vec<&'static str>) {
    let sh = shell_var
        .filter(|s| !s.is_empty())
        .unwrap_or("/bin/sh")
        .to_string();
    let name = Path::new(&sh)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args = match name.as_str() {
        "bash" => vec!["--noprofile", "--norc"],
        "zsh" => vec!["--no-rcs"],
        _ => vec![],
    };
    (sh, args)
}

/// How a stage's commands ended, with the failing command's exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every command succeeded.
    Ok,
    /// A command failed: why, and its exit code (128 + the signal when killed by one).
    Failed(String, i32),
    /// Stopped by Ctrl-C.
    Interrupted,
}

impl From<Ended> for Outcome {
    fn from(e: Ended) -> Outcome {
        match e {
            Ended::Ok => Outcome::Ok,
            Ended::Failed(message, _) => Outcome::Failed(message),
            Ended::Interrupted => Outcome::Interrupted,
        }
    }
}

/// Runs the commands one after another; returns how the stage ended.
pub async fn run(
    job: &Job,
    commands: &[String],
    shell: &(String, Vec<&'static str>),
    events: &Events,
    cancel: watch::Receiver<bool>,
) -> Outcome {
    run_commands(job, commands, shell, events, cancel)
        .await
        .into()
}

/// [`run`], keeping the exit code of a failing command.
pub async fn run_commands(
    job: &Job,
    commands: &[String],
    (sh, sh_args): &(String, Vec<&'static str>),
    events: &Events,
    mut cancel: watch::Receiver<bool>,
) -> Ended {
    for command in commands {
        let mut cmd = Command::new(sh);
        cmd.args(sh_args)
            .arg("-c")
            .arg(command)
            .current_dir(&job.cwd)
            .env("WF_ROOT", &job.root)
            .env("WF_STAGE", &job.stage)
            .env("DVC_ROOT", &job.root)
            .env("DVC_STAGE", &job.stage)
            .envs(job.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Ended::Failed(
                    format!("cannot start `{sh}` in `{}`: {e}", job.cwd.display()),
                    127,
                );
            }
        };
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        let out = child
            .stdout
            .take()
            .map(|s| forward(s, job.stage.clone(), false, events.clone()));
        let err = child
            .stderr
            .take()
            .map(|s| forward(s, job.stage.clone(), true, events.clone()));
        let status = tokio::select! {
            status = child.wait() => status,
            () = cancelled(&mut cancel) => {
                if let Some(pgid) = pgid {
                    stop_group(pgid, &mut child).await;
                }
                return Ended::Interrupted;
            }
        };
        for task in [out, err].into_iter().flatten() {
            let _ = task.await;
        }
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                let (how, code) =
                    match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                        (Some(code), _) => (format!("exit {code}"), code),
                        (None, Some(sig)) => (format!("killed by signal {sig}"), 128 + sig),
                        (None, None) => ("unknown status".into(), 1),
                    };
                return Ended::Failed(format!("failed to run: {command}: {how}"), code);
            }
            Err(e) => {
                return Ended::Failed(format!("failed to wait for `{command}`: {e}"), 1);
            }
        }
    }
    Ended::Ok
}

/// Resolves once the run is cancelled (the guard `wait_for` returns must not live across an
/// await, so it is dropped here).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    let _ = cancel.wait_for(|c| *c).await;
}

/// SIGTERM to the whole group, a grace period, then SIGKILL.
async fn stop_group(pgid: i32, child: &mut tokio::process::Child) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = Pid::from_raw(pgid);
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.wait().await;
    } else {
        // The leader is gone; anything left in its group goes too.
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// The longest line sent as one: a longer one (a progress bar redrawn with `\r`, a binary
/// dump) is sent in pieces of this size, so a stage's output costs bounded memory.
const MAX_LINE: usize = 1 << 20;

/// Sends each line of a child's stream as an `Output` event.
fn forward(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    stage: String,
    stderr: bool,
    events: Events,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let send = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            let _ = events.send(Event::Output {
                stage: stage.clone(),
                line: text.trim_end_matches('\r').to_string(),
                stderr,
            });
        };
        loop {
            let buf = match reader.fill_buf().await {
                Ok(buf) if !buf.is_empty() => buf,
                // The end, or a read error: what was read of the last line is sent.
                _ => {
                    if !line.is_empty() {
                        send(&line);
                    }
                    break;
                }
            };
            let room = &buf[..buf.len().min(MAX_LINE - line.len())];
            let (used, ended) = match room.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&room[..i]);
                    (i + 1, true)
                }
                None => {
                    line.extend_from_slice(room);
                    (room.len(), line.len() == MAX_LINE)
                }
            };
            reader.consume(used);
            if ended {
                send(&line);
                line.clear();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_as_dvc_picks_it() {
        assert_eq!(shell(None), ("/bin/sh".to_string(), vec![]));
        assert_eq!(
            shell(Some("/bin/bash")),
            ("/bin/bash".to_string(), vec!["--noprofile", "--norc"])
        );
        assert_eq!(shell(Some("/usr/bin/zsh")).1, vec!["--no-rcs"]);
    }
}
