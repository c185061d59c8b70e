//! Ctrl-C, SIGTERM and SIGHUP (the terminal closed), as one stream: how a run (and a watch
//! between runs) learns that it must stop.

use futures::FutureExt;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT, SIGTERM and SIGHUP. Installed before anything runs and kept to the end, so a signal that
/// arrives between two steps is never lost.
pub struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    /// Starts listening.
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next signal.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }

    /// Whether a signal arrived that nobody handled yet (during a run the scheduler handles
    /// it; one that lands between its end and the next wait is caught here).
    pub fn pending(&mut self) -> bool {
        self.recv().now_or_never().is_some()
    }
}
