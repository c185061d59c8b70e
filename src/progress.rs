//! `Progress`: how far a long piece of work (hashing, a transfer) has got, as the code doing it
//! reports it; `report` alone draws it. Its own file so that the hasher and the run's events can
//! both name it.

use std::sync::Arc;

/// How far a long piece of work has got: shown as a bar while it goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What kind of work (`hashing`, `pushing`): one bar per kind.
    pub kind: &'static str,
    /// What it is doing now (`hashing data/images and 3 more`).
    pub message: String,
    /// Done so far.
    pub done: u64,
    /// Done in all, as far as known.
    pub total: u64,
    /// Whether `done` and `total` count bytes (else items).
    pub bytes: bool,
    /// The work is over: its bar goes away.
    pub finished: bool,
}

/// Where progress goes: during a run, into the run's events.
pub type Sink = Arc<dyn Fn(Progress) + Send + Sync>;
