//! The progress of hashing: bytes hashed over bytes to hash, for hashing that takes more than a
//! moment, reported to a sink (`report` draws it).
//!
//! Hashing threads only add to atomic counters. About ten times a second, whichever of them
//! notices that it is time brings the report up to date (an `indicatif` bar that is never drawn
//! keeps the counts and the label); it is reported only once a run of hashing has gone on for
//! [`DELAY`] with bytes still to hash, so fast hashing never flickers a bar, and its end is
//! reported when the run ends. A run is one call into the `Hasher` (or several overlapping
//! calls, from several threads).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::Sink;

/// How long a run of hashing goes on before its bar appears.
const DELAY: Duration = Duration::from_millis(500);

/// How often the bar is brought up to date from the counters.
const TICK: Duration = Duration::from_millis(100);

/// `next_tick` outside a run: never.
const NEVER: u64 = u64::MAX;

const TEMPLATE: &str = "{wide_msg} {bar:24} {binary_bytes}/{binary_total_bytes} \
                        ({binary_bytes_per_sec}, {eta})";

/// Where a shown bar goes.
#[derive(Clone, Default)]
enum Draw {
    /// Counted, not shown: nobody is listening.
    #[default]
    Nowhere,
    /// Reported to a sink (a run's events, whose reporter draws it among the run's bars).
    Sink(Sink),
    /// Counted but never drawn: for tests.
    #[cfg(test)]
    Hidden,
}

impl std::fmt::Debug for Draw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Draw::Nowhere => "Nowhere",
            Draw::Sink(_) => "Sink",
            #[cfg(test)]
            Draw::Hidden => "Hidden",
        })
    }
}

/// Counts the bytes a `Hasher` hashes and draws them as a bar when that takes a while.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Off: nothing is counted or drawn.
    on: bool,
    /// The origin of the nanosecond clocks below.
    epoch: Instant,
    /// Bytes hashed in this run.
    done: AtomicU64,
    /// Bytes to hash in this run, as far as known.
    total: AtomicU64,
    /// When the bar is next due a look, in nanoseconds since `epoch`; [`NEVER`] outside a run.
    next_tick: AtomicU64,
    run: Mutex<Run>,
}

/// The state of the current run, changed a few times per file or folder, never per byte.
#[derive(Debug, Default)]
struct Run {
    /// `Hasher` calls in flight; the run ends when the last one returns.
    calls: usize,
    /// When the run began, in nanoseconds since `epoch`.
    start: u64,
    /// The files and folders being hashed, oldest first, each with its id.
    items: Vec<(u64, String)>,
    next_id: u64,
    /// Whether `items` changed since the bar's message was last set.
    relabel: bool,
    /// Made with the first item of the run, hidden until it is due.
    bar: Option<ProgressBar>,
    /// Where the bar is drawn once shown.
    draw: Draw,
    /// Where it was shown, if it was.
    shown: Option<Draw>,
}

impl Progress {
    /// A reporter drawing on stderr if `on` and stderr is a terminal.
    pub(crate) fn new(on: bool) -> Progress {
        Progress::with(on, Draw::Nowhere)
    }

    /// The same reporter, turned on (if stderr is a terminal) or off.
    pub(crate) fn switched(mut self, sink: Option<Sink>) -> Progress {
        self.on = sink.is_some();
        self.lock().draw = sink.map_or(Draw::Nowhere, Draw::Sink);
        self
    }

    /// A reporter that does nothing.
    #[cfg(test)]
    pub(crate) fn off() -> Progress {
        Progress::with(false, Draw::Nowhere)
    }

    /// From the next bar on, reports it to `sink`, or draws it alone on stderr if `None`.
    pub(crate) fn report_to(&self, sink: Option<Sink>) {
        self.lock().draw = sink.map_or(Draw::Nowhere, Draw::Sink);
    }

    /// A reporter that counts but never draws.
    #[cfg(test)]
    pub(crate) fn counting() -> Progress {
        Progress::with(true, Draw::Hidden)
    }

    fn with(on: bool, draw: Draw) -> Progress {
        Progress {
            on,
            epoch: Instant::now(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            next_tick: AtomicU64::new(NEVER),
            run: Mutex::new(Run {
                draw,
                ..Run::default()
            }),
        }
    }

    /// Whether anything is counted.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Joins the current run, or begins one; the run ends, and its bar is cleared, when the last
    /// guard is dropped.
    pub(crate) fn run(&self) -> RunGuard<'_> {
        if !self.on {
            return RunGuard(None);
        }
        let mut run = self.lock();
        run.calls += 1;
        if run.calls == 1 {
            let now = self.now();
            run.start = now;
            self.done.store(0, Ordering::Relaxed);
            self.total.store(0, Ordering::Relaxed);
            self.next_tick
                .store(now.saturating_add(nanos(DELAY)), Ordering::Relaxed);
        }
        RunGuard(Some(self))
    }

    /// Announces that `bytes` of `what` (a repository path) are about to be hashed; it is shown
    /// as being hashed until the guard is dropped.
    pub(crate) fn item(&self, what: &str, bytes: u64) -> ItemGuard<'_> {
        if !self.on {
            return ItemGuard(None);
        }
        self.total.fetch_add(bytes, Ordering::Relaxed);
        let mut run = self.lock();
        let id = run.next_id;
        run.next_id += 1;
        run.items.push((id, what.to_string()));
        run.relabel = true;
        if run.bar.is_none() {
            // Made now, hidden, so that its rate estimate has data by the time it is shown.
            let bar = ProgressBar::with_draw_target(
                Some(self.total.load(Ordering::Relaxed)),
                ProgressDrawTarget::hidden(),
            )
            .with_style(
                ProgressStyle::with_template(TEMPLATE)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            run.bar = Some(bar);
        }
        ItemGuard(Some((self, id)))
    }

    /// Adds `bytes` to what is left to hash, as when a file has to be read again.
    pub(crate) fn more(&self, bytes: u64) {
        if self.on {
            self.total.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Counts `bytes` as hashed. Cheap: two atomic operations and a clock read, and a lock
    /// attempt ten times a second.
    pub(crate) fn advance(&self, bytes: u64) {
        if !self.on {
            return;
        }
        self.done.fetch_add(bytes, Ordering::Relaxed);
        let now = self.now();
        if now >= self.next_tick.load(Ordering::Relaxed) {
            self.tick(now);
        }
    }

    /// Bytes hashed and bytes to hash in the current run.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    /// Brings the bar up to date, and shows it if it is due. Whoever holds the run's lock is
    /// already doing this: hashing threads never wait here.
    fn tick(&self, now: u64) {
        let mut run = match self.run.try_lock() {
            Ok(run) => run,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if now < self.next_tick.load(Ordering::Relaxed) {
            return; // another thread just did it
        }
        self.next_tick
            .store(now.saturating_add(nanos(TICK)), Ordering::Relaxed);
        let (done, total) = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        );
        let elapsed = Duration::from_nanos(now.saturating_sub(run.start));
        let Run {
            items,
            relabel,
            bar,
            draw,
            shown,
            ..
        } = &mut *run;
        let Some(bar) = bar else { return };
        // Each of these draws: only what changed.
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        bar.set_position(done);
        if *relabel {
            bar.set_message(label(items.iter().map(|(_, what)| what.as_str())));
            *relabel = false;
        }
        if let Some(Draw::Sink(sink)) = shown {
            sink(report(bar, false));
        }
        if shown.is_none() && due(elapsed, done, total) {
            match draw {
                Draw::Nowhere => {}
                Draw::Sink(sink) => sink(report(bar, false)),
                #[cfg(test)]
                Draw::Hidden => {}
            }
            *shown = Some(draw.clone());
            bar.tick();
        }
    }

    /// Ends the run when its last call returns: the bar is cleared and the counts reset.
    fn leave(&self) {
        let mut run = self.lock();
        run.calls = run.calls.saturating_sub(1);
        if run.calls > 0 {
            return;
        }
        self.next_tick.store(NEVER, Ordering::Relaxed);
        if let (Some(bar), Some(shown)) = (run.bar.take(), run.shown.take()) {
            bar.finish_and_clear();
            // Its end goes where its start went, even if the setting changed since.
            if let Draw::Sink(sink) = shown {
                sink(report(&bar, true));
            }
        }
        run.items.clear();
        run.relabel = false;
        self.done.store(0, Ordering::Relaxed);
        self.total.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Run> {
        // The run is only a display: after a panic elsewhere it is still good enough to clear.
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }
}

/// Keeps a run going; see [`Progress::run`].
#[must_use]
pub(crate) struct RunGuard<'a>(Option<&'a Progress>);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Some(progress) = self.0 {
            progress.leave();
        }
    }
}

/// Keeps an item on the bar; see [`Progress::item`].
#[must_use]
pub(crate) struct ItemGuard<'a>(Option<(&'a Progress, u64)>);

impl Drop for ItemGuard<'_> {
    fn drop(&mut self) {
        if let Some((progress, id)) = self.0 {
            let mut run = progress.lock();
            run.items.retain(|(i, _)| *i != id);
            run.relabel = true;
        }
    }
}

/// What the bar shows now, as a report.
fn report(bar: &ProgressBar, finished: bool) -> crate::progress::Progress {
    crate::progress::Progress {
        kind: "hashing",
        message: bar.message(),
        done: bar.position(),
        total: bar.length().unwrap_or(0),
        bytes: true,
        finished,
    }
}

/// Whether a run that began `elapsed` ago, with `done` of `total` bytes hashed, should show its
/// bar: only once it has gone on for a moment and still has bytes to hash.
fn due(elapsed: Duration, done: u64, total: u64) -> bool {
    elapsed >= DELAY && done < total
}

/// The bar's message for the paths being hashed, oldest first: the newest, and how many more.
fn label<'a>(mut items: impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator) -> String {
    let more = items.len().saturating_sub(1);
    let newest = match items.next_back() {
        Some("") => ".",
        Some(what) => what,
        None => return "hashing".to_string(),
    };
    match more {
        0 => format!("hashing {newest}"),
        n => format!("hashing {newest} and {n} more"),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case_due(elapsed_ms: u64, done: u64, total: u64, expected: bool) {
        assert_eq!(
            due(Duration::from_millis(elapsed_ms), done, total),
            expected,
            "after {elapsed_ms} ms, {done} of {total} bytes"
        );
    }

    #[test]
    fn the_bar_is_due_only_after_the_delay_with_work_left() {
        case_due(0, 0, 100, false);
        case_due(499, 10, 100, false);
        case_due(500, 10, 100, true);
        case_due(10_000, 99, 100, true);
        case_due(10_000, 100, 100, false);
        case_due(10_000, 0, 0, false); // only cached files: nothing to hash
        case_due(10_000, 120, 100, false); // a file read twice
    }

    #[track_caller]
    fn case_label(items: &[&str], expected: &str) {
        assert_eq!(label(items.iter().copied()), expected);
    }

    #[test]
    fn the_label_names_the_newest_item() {
        case_label(&[], "hashing");
        case_label(&["data/big.bin"], "hashing data/big.bin");
        case_label(&["a", "b", "c"], "hashing c and 2 more");
        case_label(&[""], "hashing .");
    }

    #[test]
    fn counts_add_up_over_a_run_and_reset_after_it() {
        let p = Progress::counting();
        let outer = p.run();
        let item = p.item("a", 10);
        p.advance(4);
        {
            let _inner = p.run();
            let _b = p.item("b", 5);
            p.advance(6);
            p.more(5);
        }
        // The inner call's end does not end the run.
        assert_eq!(p.counts(), (10, 20));
        assert_eq!(p.lock().items.len(), 1);
        drop(item);
        drop(outer);
        assert_eq!(p.counts(), (0, 0));
        let run = p.lock();
        assert!(run.bar.is_none() && run.items.is_empty() && run.calls == 0);
        assert_eq!(p.next_tick.load(Ordering::Relaxed), NEVER);
    }

    #[test]
    fn a_bar_is_made_only_for_bytes_to_hash() {
        let p = Progress::counting();
        let _run = p.run();
        assert!(p.lock().bar.is_none(), "a run of cached files needs no bar");
        let _item = p.item("a", 1);
        assert!(p.lock().bar.is_some());
    }

    #[test]
    fn a_tick_after_the_delay_shows_the_bar_and_labels_it() {
        let p = Progress::counting();
        let _run = p.run();
        let _item = p.item("data/big.bin", 100);
        p.done.store(30, Ordering::Relaxed);
        let start = p.lock().start;
        p.tick(start + nanos(DELAY) / 2);
        assert!(
            p.lock().shown.is_none(),
            "a tick before it is due does nothing"
        );
        p.tick(start + nanos(DELAY));
        let run = p.lock();
        assert!(run.shown.is_some());
        let bar = run.bar.as_ref().unwrap();
        assert_eq!((bar.position(), bar.length()), (30, Some(100)));
        assert_eq!(bar.message(), "hashing data/big.bin");
    }

    #[test]
    fn a_bar_reported_to_a_sink_ends_there_when_the_run_ends() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let p = Progress::counting();
        let into = seen.clone();
        p.report_to(Some(std::sync::Arc::new(move |r| {
            into.lock().unwrap().push(r);
        })));
        let run = p.run();
        let _item = p.item("a", 100);
        p.advance(40);
        let start = p.lock().start;
        p.tick(start + nanos(DELAY));
        assert!(matches!(p.lock().shown, Some(Draw::Sink(_))));
        // Changing the setting meanwhile does not lose track of where the bar went.
        p.report_to(None);
        drop(run);
        assert!(p.lock().shown.is_none() && p.lock().bar.is_none());
        assert!(matches!(p.lock().draw, Draw::Nowhere));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(
            (seen[0].kind, seen[0].done, seen[0].total),
            ("hashing", 40, 100)
        );
        assert_eq!(seen[0].message, "hashing a");
        assert!(seen[1].finished);
    }

    #[test]
    fn off_counts_nothing() {
        let p = Progress::off();
        let _run = p.run();
        let _item = p.item("a", 10);
        p.advance(10);
        assert_eq!(p.counts(), (0, 0));
        assert!(p.lock().bar.is_none());
    }
}
