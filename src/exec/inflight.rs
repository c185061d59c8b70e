//! `InFlight`: the stages running now in runs started together (the experiments of a sweep), by
//! run-cache key. A run about to run a stage another run is already running waits for it, then
//! restores the outs it cached instead of running the same command again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// Stages running now, by run-cache key.
#[derive(Debug, Default)]
pub struct InFlight {
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A claimed key: held while the stage runs and is recorded.
pub(super) struct Claim {
    _guard: OwnedMutexGuard<()>,
    /// Whether another run held the key first (so the run-cache may now have the stage).
    pub(super) waited: bool,
}

impl InFlight {
    /// Claims `key`: at once if no run holds it, else once the run that does is done.
    pub(super) async fn claim(&self, key: &str) -> Claim {
        let lock = {
            let Ok(mut keys) = self.keys.lock() else {
                // A poisoned map only loses the sharing: the stage runs on its own.
                return Claim {
                    _guard: Arc::new(tokio::sync::Mutex::new(())).lock_owned().await,
                    waited: false,
                };
            };
            keys.entry(key.to_string()).or_default().clone()
        };
        match lock.clone().try_lock_owned() {
            Ok(guard) => Claim {
                _guard: guard,
                waited: false,
            },
            Err(_) => Claim {
                _guard: lock.lock_owned().await,
                waited: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_claim_waits_for_the_first() {
        let inflight = Arc::new(InFlight::default());
        let first = inflight.claim("k").await;
        assert!(!first.waited);
        let other = inflight.claim("other").await;
        assert!(!other.waited);
        let second = {
            let inflight = inflight.clone();
            tokio::spawn(async move { inflight.claim("k").await.waited })
        };
        tokio::task::yield_now().await;
        assert!(!second.is_finished());
        drop(first);
        assert!(second.await.unwrap());
    }
}
