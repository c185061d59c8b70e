//! Following the registry: when the served alias moves (`wf model promote`, `rollback`, a
//! `deploy` stage), the new version is loaded and swapped in. The registry folder is watched
//! (its `aliases.json` is replaced by a rename) and, in case a filesystem sends no events
//! (some network and container mounts), also read every second.

use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::state::Shared;

/// How often the alias is read when no event came.
const POLL: Duration = Duration::from_secs(1);

/// Keeps the follower running; dropping it stops the watch (the poll stops with the runtime).
pub(crate) struct Follower {
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Starts following the alias of `shared`'s source; nothing to follow for a pinned version.
pub(crate) fn start(shared: &Arc<Shared>) -> Follower {
    if shared.source.target.alias().is_none() {
        return Follower { _watcher: None };
    }
    let (wake, mut woken) = tokio::sync::mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reading the aliases is an access event itself: only a change wakes the follower, or
        // each read would cause the next.
        if event.is_ok_and(|e| e.kind.is_access()) {
            return;
        }
        // A full channel already has a wake-up waiting: events of one rename coalesce.
        let _ = wake.try_send(());
    })
    .and_then(|mut w| {
        w.watch(shared.source.registry.dir(), RecursiveMode::NonRecursive)
            .map(|()| w)
    });
    let watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            shared.say(&format!(
                "cannot watch the registry ({e}); reading its aliases every second instead"
            ));
            None
        }
    };
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Without a watcher the channel is closed and this branch is disabled.
                Some(()) = woken.recv() => {}
                _ = tick.tick() => {}
            }
            // A failure is remembered and shown in /health; the next event or tick retries.
            let _ = shared.refresh().await;
        }
    });
    Follower { _watcher: watcher }
}
