//! `RepoLock`: only one `wf` writes a repository at a time. `.wf/lock` holds the writer's pid;
//! a second writer gets an error naming it, and a lock left by a process that died is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Held while a command writes the repository; removed on drop.
#[derive(Debug)]
pub struct RepoLock {
    path: PathBuf,
}

/// Why the repository could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum RepoLockError {
    /// Another live process holds it.
    #[error("the repository is locked by another wf (pid {pid}) writing it")]
    Held {
        /// The holder.
        pid: i32,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file cannot be created.
    #[error("cannot create `{path}`: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl RepoLock {
    /// Takes the lock of the repository at `root`.
    pub fn acquire(root: &Path) -> Result<RepoLock, RepoLockError> {
        let dir = crate::workspace::ensure_dir(root)
            .map_err(|(path, source)| RepoLockError::Io { path, source })?;
        let path = dir.join("lock");
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(RepoLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<i32>().ok());
                    match pid {
                        Some(pid) if alive(pid) => return Err(RepoLockError::Held { pid, path }),
                        // The holder died without cleaning up: take the lock over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(source) => return Err(RepoLockError::Io { path, source }),
            }
        }
        Err(RepoLockError::Io {
            path,
            source: std::io::Error::other("the lock file keeps reappearing"),
        })
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` exists.
pub(crate) fn alive(pid: i32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    pid > 0 && !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}
