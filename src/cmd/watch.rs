//! `wf watch`: run the pipeline, then again whenever a dependency, a params file or a spec
//! changes (the loop is `crate::watch`'s); this file renders what it says.

use std::io::Write;
use std::time::Duration;

use crate::cmd::Report;
use crate::cmd::repro::RunArgs;
use crate::context::Context;
use crate::error::Error;
use crate::exit_code;
use crate::report::Reporter;
use crate::run::{RunRecord, StageOutcome};
use crate::watch::{Ended, Notice};

/// Watch the dependencies and re-run what changed, as `wf repro` would.
///
/// Runs the pipeline once, then watches every dependency of the targeted stages (files,
/// folders, params files) and the spec files. A change runs exactly what `wf repro` would run:
/// editing an untracked key of `params.yaml` runs nothing, editing a tracked one runs its stages
/// and what reads from them. The stages' own outputs and `.wf/` never start a run. A change
/// saved during a run is handled when the run ends, and a burst of saves makes one run. An
/// edited spec is reloaded; an error in it is shown and watching goes on. Each run ends with one
/// summary line on stderr. Ctrl-C stops the running stages (the lock keeps what finished) and
/// exits with 130.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which stages run and how.
    #[command(flatten)]
    pub run: RunArgs,
    /// How long to wait after the last change before running, in milliseconds: saves closer
    /// together than this make one run.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub debounce: u64,
}

/// Runs `wf watch` until Ctrl-C or SIGTERM.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let runtime = crate::exec::runtime()?;
    let opts = args.run.options(ctx, "watch");
    let events = || {
        let mut events = crate::exec::Events::none();
        let reporter = Reporter::spawn(&mut events, super::report_options(ctx));
        let done: Box<dyn FnOnce()> = Box::new(move || reporter.finish());
        (events, done)
    };
    let notice = |n: Notice| print(&render(ctx, n));
    let debounce = Duration::from_millis(args.debounce);
    let ended = runtime.block_on(crate::watch::watch(
        &ctx.repo(),
        &opts,
        debounce,
        events,
        notice,
    ))?;
    let (stderr, code) = match ended {
        Ended::Stopped => (String::new(), exit_code::INTERRUPTED),
        Ended::Interrupted => (
            "error: interrupted; the lock keeps every stage that finished\n".into(),
            exit_code::INTERRUPTED,
        ),
        Ended::Broken => (
            "error: the file watcher stopped\n".into(),
            exit_code::FAILED,
        ),
    };
    Ok(Report {
        stdout: String::new(),
        stderr,
        code,
    })
}

/// A notice as lines for stderr.
fn render(ctx: &Context, notice: Notice) -> String {
    match notice {
        Notice::Error(e) => e.render(ctx.color),
        Notice::Warning(w) => format!("warning: {w}\n"),
        _ if ctx.quiet => String::new(),
        Notice::Watching { paths } => format!("[watch] watching {paths} paths (Ctrl-C to stop)\n"),
        Notice::Locked { pid } => {
            format!("[watch] the repository is locked by another wf (pid {pid}); waiting for it\n")
        }
        Notice::Cycle {
            what,
            record,
            elapsed,
        } => {
            let line = match record {
                None => "not run, see the error above".to_string(),
                Some(r) => describe(&r),
            };
            format!("[watch] {what}: {line}; {:.2}s\n", elapsed.as_secs_f64())
        }
    }
}

/// `ran a, b; failed c; 2 skipped`.
fn describe(record: &RunRecord) -> String {
    let list = |pick: &dyn Fn(&StageOutcome) -> bool| record.stages_where(pick).join(", ");
    let count = |pick: &dyn Fn(&StageOutcome) -> bool| record.stages_where(pick).len();
    let ran = list(&|o| matches!(o, StageOutcome::Ran));
    let mut parts = vec![if ran.is_empty() {
        "ran nothing".to_string()
    } else {
        format!("ran {ran}")
    }];
    let restored = list(&|o| matches!(o, StageOutcome::Restored));
    if !restored.is_empty() {
        parts.push(format!("restored {restored}"));
    }
    let failed = list(&|o| matches!(o, StageOutcome::Failed { .. }));
    if !failed.is_empty() {
        parts.push(format!("failed {failed}"));
    }
    let blocked = count(&|o| matches!(o, StageOutcome::Blocked { .. }));
    if blocked > 0 {
        parts.push(format!("{blocked} blocked"));
    }
    parts.push(format!(
        "{} skipped",
        count(&|o| matches!(o, StageOutcome::Skipped))
    ));
    parts.join("; ")
}

fn print(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
