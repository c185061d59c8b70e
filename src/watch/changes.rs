//! What changed: the debounced batches of file events, filtered to the watched paths, settled
//! into one set of changes per cycle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::EventKind;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify_debouncer_full::DebounceEventResult;
use tokio::sync::mpsc;

use super::paths::Watched;
use crate::exec::signals::Signals;
use crate::repo_path::RepoPath;

/// The paths that changed since the last cycle.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pub(super) paths: BTreeSet<RepoPath>,
    /// The watcher lost events (its queue overflowed): anything may have changed.
    pub(super) lost: bool,
    /// Paths created, removed or renamed: a watched folder at or under one is watched anew.
    pub(super) moved: BTreeSet<PathBuf>,
    /// What the watcher reported going wrong.
    pub(super) warnings: Vec<String>,
}

impl Changes {
    /// `params.yaml changed`, `a, b, c and 2 more changed`.
    pub(super) fn describe(&self) -> String {
        const SHOWN: usize = 3;
        let mut names: Vec<String> = self
            .paths
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        if self.paths.len() > SHOWN {
            names.push(format!("{} more", self.paths.len() - SHOWN));
        }
        if self.lost {
            names.push("maybe other files".into());
        }
        if names.is_empty() {
            return "files changed".into();
        }
        let last = names.pop().unwrap_or_default();
        if names.is_empty() {
            format!("{last} changed")
        } else {
            format!("{} and {last} changed", names.join(", "))
        }
    }
}

/// Why `wait` returned.
pub(super) enum Wake {
    /// Something watched changed.
    Changed,
    /// Time to try the lock again.
    Retry,
    /// Ctrl-C or SIGTERM.
    Stop,
    /// The watcher's thread is gone: nothing will be seen to change again.
    Broken,
}

/// Waits for changes to watched paths to settle (no new one for `quiet`), or a signal, or the
/// retry delay; adds what changed to `changes`. Batches queued during a run count too: the
/// changes saved while it ran make one run after it.
pub(super) async fn wait(
    rx: &mut mpsc::UnboundedReceiver<DebounceEventResult>,
    signals: &mut Signals,
    (watched, root): (&Watched, &Path),
    quiet: Duration,
    retry: Option<Duration>,
    changes: &mut Changes,
) -> Wake {
    let retry_sleep = tokio::time::sleep(retry.unwrap_or_default());
    tokio::pin!(retry_sleep);
    // The notify debouncer delays each event by the same small amount; the quiet period is
    // measured here, from the last relevant batch, so a burst of saves makes one run.
    let mut settled_at: Option<tokio::time::Instant> = None;
    loop {
        let settle = async {
            match settled_at {
                Some(t) if retry.is_none() => tokio::time::sleep_until(t).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            batch = rx.recv() => {
                let Some(batch) = batch else { return Wake::Broken };
                if take(batch, watched, root, changes) {
                    settled_at = Some(tokio::time::Instant::now() + quiet);
                }
            }
            () = settle => return Wake::Changed,
            () = signals.recv() => return Wake::Stop,
            () = &mut retry_sleep, if retry.is_some() => return Wake::Retry,
        }
    }
}

/// Adds a debounced batch's relevant paths to `changes`; whether there was one.
fn take(batch: DebounceEventResult, watched: &Watched, root: &Path, changes: &mut Changes) -> bool {
    let events = match batch {
        Ok(events) => events,
        Err(errors) => {
            for e in errors {
                changes.warnings.push(format!("watching files: {e}"));
            }
            return false;
        }
    };
    let mut any = false;
    for event in events {
        if event.need_rescan() {
            changes.lost = true;
            any = true;
            continue;
        }
        // Opening or reading a file changes nothing (and wf itself reads every dep).
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => continue,
            _ => {}
        }
        let moved = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        );
        for path in &event.paths {
            if let Some(rel) = repo_path(root, path)
                && watched.relevant(&rel)
            {
                changes.paths.insert(rel);
                if moved {
                    changes.moved.insert(path.clone());
                }
                any = true;
            }
        }
    }
    any
}

/// An absolute path under the root as a `RepoPath`.
fn repo_path(root: &Path, path: &Path) -> Option<RepoPath> {
    let rel = path.strip_prefix(root).ok()?;
    RepoPath::root().join(&rel.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_descriptions() {
        let c = |paths: &[&str]| {
            Changes {
                paths: paths
                    .iter()
                    .map(|p| RepoPath::root().join(p).expect("a path"))
                    .collect(),
                ..Changes::default()
            }
            .describe()
        };
        assert_eq!(c(&["params.yaml"]), "params.yaml changed");
        assert_eq!(c(&["a", "b"]), "a and b changed");
        assert_eq!(c(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more changed");
        assert_eq!(c(&[]), "files changed");
    }
}
