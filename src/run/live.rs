//! The stages of a stored run as they start and end, written to the run store's `live` table
//! while the run goes on, for `wf ui` to follow from its own process. Best effort: a store that
//! cannot be written costs the run nothing.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::exec::{Event, Events, Outcome};
use crate::store::Store;

/// Starts following the events of a stored run (the store, its id) on a thread of its own.
pub(super) fn start(events: &mut Events, stored: Option<&(Store, String)>) -> Option<Following> {
    let (store, id) = stored?;
    let (rx, root, id) = (events.subscribe(), store.root(), id.clone());
    Some(tokio::task::spawn_blocking(move || follow(rx, root, id)))
}

/// Waits until every change of the run is written.
pub(super) async fn done(following: Option<Following>) {
    if let Some(f) = following {
        let _ = f.await;
    }
}

/// The task following a run.
pub(super) type Following = tokio::task::JoinHandle<()>;

/// Follows the run's events until it finishes, writing each burst of changes in one
/// transaction. Blocking: run it on a thread of its own.
fn follow(mut rx: mpsc::UnboundedReceiver<Event>, root: PathBuf, run: String) {
    let mut store = Store::open(&root).ok();
    if let Some(s) = store.as_mut() {
        let _ = s.live_prune();
    }
    let mut batch: Vec<(String, &'static str, f64)> = Vec::new();
    let mut over = false;
    while !over {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        while let Some(event) = next {
            over |= matches!(event, Event::RunFinished);
            if let Some(change) = change(event) {
                batch.push(change);
            }
            next = rx.try_recv().ok();
        }
        if let Some(s) = store.as_mut()
            && !batch.is_empty()
            && s.live_record(&run, &batch).is_err()
        {
            // Written once and failed: the rest would fail alike.
            store = None;
        }
        batch.clear();
    }
}

/// The stage change an event tells of.
fn change(event: Event) -> Option<(String, &'static str, f64)> {
    let (stage, state) = match event {
        Event::StageStarted { stage, .. } => (stage, "running"),
        Event::StageRestored { stage } => (stage, "restored"),
        Event::StageBlocked { stage, .. } => (stage, "blocked"),
        Event::StageFinished { stage, outcome, .. } => match outcome {
            Outcome::Ok => (stage, "done"),
            Outcome::Failed(_) => (stage, "failed"),
            Outcome::Interrupted => (stage, "interrupted"),
        },
        _ => return None,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Some((stage, state, now))
}
