//! `WatchError`: why `wf watch` cannot start watching.

/// The file watcher could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch files: {source}")]
pub struct WatchError {
    /// notify's error.
    pub source: notify::Error,
}
