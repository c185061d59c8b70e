//! `Shared`: what every request handler and the follower see — the model served (swapped
//! atomically), where it comes from, the last reload error, the metrics and the token.

use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use serde::Serialize;

use super::loaded::{Loaded, Source};
use super::metrics::Metrics;

/// A version that failed to load; the one before it kept serving.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReloadError {
    /// The version that failed, if the target resolved to one.
    pub(crate) version: Option<u32>,
    /// Why.
    pub(crate) message: String,
    /// When (UTC, RFC 3339).
    pub(crate) at: String,
}

/// The server's state.
#[derive(Debug)]
pub(crate) struct Shared {
    served: ArcSwap<Loaded>,
    pub(crate) source: Source,
    /// The model's name in the Open Inference Protocol's paths.
    pub(crate) name: String,
    pub(crate) metrics: Metrics,
    /// The bearer token `POST /reload` needs; `None`: it is refused.
    pub(crate) token: Option<String>,
    /// Where the token can be read, for the refusal's message.
    pub(crate) token_hint: String,
    last_error: Mutex<Option<ReloadError>>,
    /// Held while a version loads, so two reloads never race.
    loading: tokio::sync::Mutex<()>,
    quiet: bool,
}

impl Shared {
    /// The state, serving `first`.
    pub(crate) fn new(
        first: Loaded,
        source: Source,
        name: String,
        metrics: Metrics,
        token: (Option<String>, String),
        quiet: bool,
    ) -> Shared {
        metrics.serving(first.version);
        Shared {
            served: ArcSwap::from_pointee(first),
            source,
            name,
            metrics,
            token: token.0,
            token_hint: token.1,
            last_error: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
            quiet,
        }
    }

    /// The model of the moment: a request keeps it to its end.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.served.load_full()
    }

    fn errors(&self) -> MutexGuard<'_, Option<ReloadError>> {
        // A handler that panicked holding the lock left a valid Option behind.
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last version that failed to load, unless a later load succeeded.
    pub(crate) fn last_error(&self) -> Option<ReloadError> {
        self.errors().clone()
    }

    /// Serves what the target names now, if it is not what is served: loads it off the async
    /// threads, then swaps it in (`true`). A failure keeps the current version and is
    /// remembered.
    pub(crate) async fn refresh(self: &Arc<Self>) -> Result<bool, ReloadError> {
        let _one_at_a_time = self.loading.lock().await;
        let me = Arc::clone(self);
        let current = self.current().version;
        let loaded = tokio::task::spawn_blocking(move || {
            let version = me.source.resolve().map_err(|e| (None, e))?;
            if version == current {
                return Ok(None);
            }
            me.source
                .load(version, &me.metrics)
                .map(Some)
                .map_err(|e| (Some(version), e))
        })
        .await;
        let failure = match loaded {
            Ok(Ok(None)) => {
                *self.errors() = None;
                return Ok(false);
            }
            Ok(Ok(Some(loaded))) => {
                let to = Arc::new(loaded);
                self.served.store(Arc::clone(&to));
                self.metrics.serving(to.version);
                *self.errors() = None;
                self.say(&format!(
                    "serving version {} ({}){}, was version {current}",
                    to.version,
                    to.kind,
                    to.alias
                        .as_deref()
                        .map(|a| format!(" as `{a}`"))
                        .unwrap_or_default()
                ));
                return Ok(true);
            }
            Ok(Err((version, e))) => ReloadError {
                version,
                message: e.to_string(),
                at: wf_stages::now_utc(),
            },
            Err(e) => ReloadError {
                version: None,
                message: format!("the load stopped: {e}"),
                at: wf_stages::now_utc(),
            },
        };
        let mut last = self.errors();
        let repeated = last
            .as_ref()
            .is_some_and(|l| l.version == failure.version && l.message == failure.message);
        if !repeated {
            self.metrics.reload_failed();
            self.say(&format!(
                "cannot serve {}: {}; still serving version {current}",
                failure.version.map_or_else(
                    || format!("`{}`", self.source.target),
                    |v| format!("version {v}")
                ),
                failure.message
            ));
            *last = Some(failure.clone());
        }
        Err(failure)
    }

    /// A line on stderr, unless `-q`.
    pub(crate) fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("wf serve: {line}");
        }
    }
}
