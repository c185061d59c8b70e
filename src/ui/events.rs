//! The live feed: a task follows the run store's `live` table (written by `wf repro`, `wf exp
//! run` and `wf watch` in their own processes) and fans each stage change out to the pages
//! listening on `GET /events` (server-sent events, `event: stage`, the change as JSON).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;

use super::error::UiError;
use super::server::Ui;
use crate::store::{LiveEvent, Store};

/// How often the table is read.
const POLL: Duration = Duration::from_millis(150);

/// Reads the changes made after the server started, forever.
pub(super) async fn follow(store: Store, tx: broadcast::Sender<LiveEvent>) {
    let mut last = store.live_last().unwrap_or(0);
    let mut store = Some(store);
    loop {
        tokio::time::sleep(POLL).await;
        let Some(s) = store.take() else { return };
        let Ok((s, rows)) = tokio::task::spawn_blocking(move || {
            let rows = s.live_since(last, 1000).unwrap_or_default();
            (s, rows)
        })
        .await
        else {
            return;
        };
        store = Some(s);
        for row in rows {
            last = row.seq;
            let _ = tx.send(row);
        }
    }
}

/// `GET /events?after=SEQ`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct After {
    #[serde(default)]
    after: i64,
}

/// The changes after `after` (or the `Last-Event-ID` a reconnecting page sends), then each new
/// one as it comes.
pub(super) async fn stream(
    State(ui): State<Arc<Ui>>,
    Query(q): Query<After>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, UiError> {
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let after = q.after.max(resumed);
    // Subscribed before the backlog is read: nothing falls between the two.
    let rx = ui.live.subscribe();
    let backlog = ui
        .with_store(move |s| Ok(s.live_since(after, 10_000)?))
        .await?;
    let last = backlog.last().map_or(after, |e| e.seq);
    let mut stopping = ui.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(Option::is_some).await;
    };
    let new = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .filter(move |e| std::future::ready(e.seq > last));
    // The feed ends when the server stops: an open page does not keep it waiting.
    let events = futures::stream::iter(backlog)
        .chain(new)
        .take_until(stopped)
        .map(|e| {
            Ok(Event::default()
                .event("stage")
                .id(e.seq.to_string())
                .json_data(&e)
                .unwrap_or_default())
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
