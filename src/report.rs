//! Turns run events into what the user sees: plain lines (stage output prefixed with its stage,
//! never interleaved mid-line), or, on a terminal, the same lines under a progress bar, with the
//! bars of hashing and transfers beside it. The only code that draws on the terminal.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::exec::{Event, Events, Outcome};

/// How much to say.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Only errors.
    pub quiet: bool,
    /// Also lock writes.
    pub verbose: bool,
    /// Draw a progress bar (stderr is a terminal).
    pub progress: bool,
    /// Prefix stage output with the stage's name.
    pub prefix: bool,
}

/// The terminal's subscriber to a run's events: a thread that renders them as they come.
pub struct Reporter {
    thread: std::thread::JoinHandle<()>,
}

impl Reporter {
    /// Subscribes to `events` and starts rendering.
    pub fn spawn(events: &mut Events, opts: Options) -> Reporter {
        let rx = events.subscribe();
        Reporter {
            thread: std::thread::spawn(move || render(rx, opts)),
        }
    }

    /// Waits until every event is rendered: the run must have dropped its `Events`.
    pub fn finish(self) {
        let _ = self.thread.join();
    }
}

/// A sink that draws progress as bars on stderr, for commands that run no stages; `None` unless
/// `on` (a terminal, and neither `-q` nor `--json`).
pub fn progress_sink(on: bool) -> Option<crate::progress::Sink> {
    if !on {
        return None;
    }
    let view = std::sync::Mutex::new(Bars::default());
    Some(std::sync::Arc::new(move |p| {
        if let Ok(mut view) = view.lock() {
            view.show(p);
        }
    }))
}

/// Prints events until every sender is gone.
fn render(mut rx: mpsc::UnboundedReceiver<Event>, opts: Options) {
    let mut progress = Bars::default();
    let bars = progress.bars.clone();
    let mut bar: Option<ProgressBar> = None;
    let mut running: BTreeSet<String> = BTreeSet::new();
    let mut done = 0u64;
    // Lines not yet written, in order, each with whether it goes to stderr: whatever arrives
    // together is written together (one write per stream change, not per line).
    let mut pending: Vec<(bool, String)> = Vec::new();
    loop {
        let event = match rx.try_recv() {
            Ok(event) => event,
            Err(mpsc::error::TryRecvError::Empty) => {
                flush(&bars, bar.as_ref(), &mut pending);
                if let Some(b) = &bar {
                    b.set_position(done);
                    b.set_message(running.iter().cloned().collect::<Vec<_>>().join(", "));
                }
                match rx.blocking_recv() {
                    Some(event) => event,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        let mut err_lines: Vec<String> = Vec::new();
        let mut out_lines: Vec<String> = Vec::new();
        match event {
            Event::RunStarted { total } => {
                if opts.progress && !opts.quiet {
                    let b = bars.add(ProgressBar::new(total as u64));
                    b.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{pos}/{len}] {elapsed} {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.enable_steady_tick(Duration::from_millis(120));
                    bar = Some(b);
                }
            }
            Event::StageSkipped { stage } => {
                done += 1;
                if !opts.quiet {
                    err_lines.push(format!("Stage '{stage}' didn't change, skipping"));
                }
            }
            Event::StageRestored { stage } => {
                done += 1;
                if !opts.quiet {
                    // DVC's words: its users and tools recognise them.
                    err_lines.push(format!(
                        "Stage '{stage}' is cached - skipping run, checking out outputs"
                    ));
                }
            }
            Event::StageBlocked { stage, failed } => {
                done += 1;
                if !opts.quiet {
                    err_lines.push(format!(
                        "Stage '{stage}' will be skipped because '{failed}' failed"
                    ));
                }
            }
            Event::StageStarted { stage, commands } => {
                running.insert(stage.clone());
                if !opts.quiet {
                    err_lines.push(format!("Running stage '{stage}':"));
                    err_lines.extend(commands.iter().map(|c| format!("> {c}")));
                }
            }
            Event::Output {
                stage,
                line,
                stderr,
            } => {
                let text = if opts.prefix {
                    format!("{stage} | {line}")
                } else {
                    line
                };
                if stderr {
                    err_lines.push(text)
                } else {
                    out_lines.push(text)
                }
            }
            Event::StageFinished {
                stage,
                outcome,
                elapsed,
            } => {
                running.remove(&stage);
                done += 1;
                match outcome {
                    Outcome::Ok => {
                        if opts.verbose {
                            err_lines.push(format!(
                                "Stage '{stage}' finished in {:.2}s",
                                elapsed.as_secs_f64()
                            ));
                        }
                    }
                    Outcome::Failed(message) => {
                        err_lines.push(format!("error: failed to reproduce '{stage}': {message}"))
                    }
                    Outcome::Interrupted => {
                        err_lines.push(format!("Stage '{stage}' was interrupted"))
                    }
                }
            }
            Event::LockWritten { path } => {
                if opts.verbose {
                    err_lines.push(format!("Updating lock file '{path}'"));
                }
            }
            Event::Note { message } => {
                if !opts.quiet {
                    err_lines.push(message);
                }
            }
            Event::Warning { message } => err_lines.push(format!("warning: {message}")),
            Event::Error { message } => err_lines.push(format!("error: {message}")),
            Event::RunFinished => {}
            Event::Progress(p) => {
                if opts.progress && !opts.quiet {
                    progress.show(p);
                }
                continue;
            }
        }
        for (to_err, lines) in [(false, out_lines), (true, err_lines)] {
            for line in lines {
                match pending.last_mut() {
                    Some((last, text)) if *last == to_err => {
                        text.push_str(&line);
                        text.push('\n');
                    }
                    _ => pending.push((to_err, format!("{line}\n"))),
                }
            }
        }
    }
    flush(&bars, bar.as_ref(), &mut pending);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// Writes the pending lines, in order, whole lines at a time so that concurrent stages never
/// interleave mid-line; above the bars when there are bars.
fn flush(bars: &MultiProgress, bar: Option<&ProgressBar>, pending: &mut Vec<(bool, String)>) {
    if pending.is_empty() {
        return;
    }
    let mut write = || {
        for (to_err, text) in pending.drain(..) {
            if to_err {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        }
    };
    match bar {
        Some(_) => bars.suspend(write),
        None => write(),
    }
}

/// The bars of long work (hashing, transfers), one per kind, among the run's own.
#[derive(Default)]
struct Bars {
    bars: MultiProgress,
    shown: std::collections::BTreeMap<&'static str, ProgressBar>,
}

impl Bars {
    /// Draws, moves or clears the bar of a piece of long work.
    fn show(&mut self, p: crate::progress::Progress) {
        if p.finished {
            if let Some(bar) = self.shown.remove(p.kind) {
                bar.finish_and_clear();
                self.bars.remove(&bar);
            }
            return;
        }
        let bars = &self.bars;
        let bar = self.shown.entry(p.kind).or_insert_with(|| {
            let template = if p.bytes {
                "{wide_msg} {bar:24} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})"
            } else {
                "{spinner} {msg} [{bar:30}] {pos}/{len} {per_sec} {eta}"
            };
            bars.add(
                ProgressBar::new(p.total).with_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
            )
        });
        if bar.length() != Some(p.total) {
            bar.set_length(p.total);
        }
        bar.set_position(p.done);
        bar.set_message(p.message);
    }
}
