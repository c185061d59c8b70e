//! `wf watch`: run the pipeline, then run it again whenever a dependency, a params file or a
//! spec changes. Each cycle is `wf repro`'s own: the same loading and selection, the same
//! just-in-time decisions, the same scheduler; this file only decides when to start one.
//!
//! Files are watched through notify and a debouncer. The folders holding the watched paths are
//! watched (an editor's atomic save replaces the file's inode), and events are filtered by path:
//! `.wf/`, `.git/`, lock files and every stage's outs never start a cycle, so a stage writing
//! its outs does not re-trigger itself.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use crate::cmd::Report;
use crate::cmd::repro;
use crate::context::Context;
use crate::error::Error;
use crate::exec::{Plan, Summary};
use crate::exit_code;
use crate::repo_lock::{RepoLock, RepoLockError};
use crate::repo_path::RepoPath;
use crate::spec::resolve::DEFAULT_PARAMS;
use crate::spec::schema::DefKind;
use crate::spec::yaml::Kind;
use crate::spec::{Pipeline, SPEC_NAMES, SpecFile};

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
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (default: the working folder's
    /// spec).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many stages may run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// After a failure, keep running every stage that does not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
    /// How long to wait after the last change before running, in milliseconds: saves closer
    /// together than this make one run.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub debounce: u64,
    /// Where stages that do not name an executor run: `local` or `slurm` (as `wf repro`).
    #[arg(long, value_name = "NAME", value_enum)]
    pub executor: Option<crate::spec::ExecutorName>,
}

/// The notify debouncer's own window (at most): short, as `--debounce` comes on top of it.
const NOTIFY_WINDOW: Duration = Duration::from_millis(20);

/// How often to try again while another `wf` holds the repository.
const LOCK_RETRY: Duration = Duration::from_millis(250);

/// Runs `wf watch` until Ctrl-C or SIGTERM.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let runtime = crate::exec::runtime()?;
    runtime.block_on(watch(ctx, args))
}

async fn watch(ctx: &Context, args: &Args) -> Result<Report, Error> {
    // Installed before anything runs and kept to the end, so a signal that arrives between two
    // runs (or while one is being prepared) is never lost.
    let mut signals = Signals::new().map_err(|e| Error::Usage {
        message: format!("cannot handle signals: {e}"),
        help: None,
    })?;
    let quiet = Duration::from_millis(args.debounce);
    let (tx, mut rx) = mpsc::unbounded_channel::<DebounceEventResult>();
    // The notify debouncer joins a rename's two halves and drops duplicate events within a short
    // window; the quiet period of `--debounce` is measured by `wait`.
    let debouncer = new_debouncer(
        quiet.min(NOTIFY_WINDOW),
        None,
        move |result: DebounceEventResult| {
            let _ = tx.send(result);
        },
    )
    .map_err(|e| Error::Usage {
        message: format!("cannot watch files: {e}"),
        help: None,
    })?;
    let mut folders = Folders {
        debouncer,
        watched: BTreeMap::new(),
    };
    let opts = repro::Options {
        targets: &args.targets,
        force: false,
        single_item: false,
        downstream: false,
        force_downstream: false,
        glob: false,
        jobs: args.jobs,
        keep_going: args.keep_going,
    };
    let mut watched = Watched::default();
    // What changed since the last cycle (nothing before the first).
    let mut changes = Changes::default();
    let mut first = true;
    let mut told_locked = false;
    let mut told_watching = false;
    loop {
        if signals.pending() {
            return Ok(stopped());
        }
        let started = Instant::now();
        let what = if first {
            "first run".to_string()
        } else {
            changes.describe()
        };
        let mut retry = None;
        let line = match repro::load(ctx, &opts) {
            Err(e) => {
                print(&e.render(ctx.color));
                // Keep watching what was watched, and the specs that may now be there, so that a
                // fix starts a run.
                watched.add_specs(ctx, &args.targets);
                folders.update(&ctx.root, &watched.folders(&ctx.root), &changes.moved);
                Some(format!("{what}: not run, see the error above"))
            }
            Ok((pipeline, dag, plan)) => {
                watched = Watched::of(&pipeline, &plan);
                folders.update(&ctx.root, &watched.folders(&ctx.root), &changes.moved);
                if !told_watching && !ctx.quiet {
                    told_watching = true;
                    print(&format!(
                        "[watch] watching {} paths (Ctrl-C to stop)\n",
                        watched.triggers.len()
                    ));
                }
                // The repository is locked only while a run writes it, so `wf status` works from
                // another terminal between runs.
                match RepoLock::acquire(&ctx.root) {
                    Err(RepoLockError::Held { pid, .. }) => {
                        if !told_locked && !ctx.quiet {
                            print(&format!(
                                "[watch] the repository is locked by another wf (pid {pid}); \
                                 waiting for it\n"
                            ));
                        }
                        told_locked = true;
                        retry = Some(LOCK_RETRY);
                        None
                    }
                    Err(e) => {
                        print(&Error::from(e).render(ctx.color));
                        Some(format!("{what}: not run, see the error above"))
                    }
                    Ok(lock) => {
                        told_locked = false;
                        match run_once(ctx, pipeline, dag, plan, args.executor).await {
                            Err(e) => {
                                print(&e.render(ctx.color));
                                Some(format!("{what}: not run, see the error above"))
                            }
                            Ok((summary, names)) => {
                                drop(lock);
                                if summary.interrupted {
                                    return Ok(Report {
                                        stdout: String::new(),
                                        stderr: "error: interrupted; the lock keeps every stage \
                                                 that finished\n"
                                            .into(),
                                        code: exit_code::INTERRUPTED,
                                    });
                                }
                                Some(format!("{what}: {}", describe(&summary, &names)))
                            }
                        }
                    }
                }
            }
        };
        if let Some(line) = line {
            if !ctx.quiet {
                print(&format!(
                    "[watch] {line}; {:.2}s\n",
                    started.elapsed().as_secs_f64()
                ));
            }
            first = false;
            changes = Changes::default();
        }
        // A retry keeps what changed so far and adds what changes meanwhile.
        let found = (&watched, ctx.root.as_path());
        match wait(&mut rx, &mut signals, found, quiet, retry, &mut changes).await {
            Wake::Stop => return Ok(stopped()),
            Wake::Broken => {
                return Ok(Report {
                    stdout: String::new(),
                    stderr: "error: the file watcher stopped\n".into(),
                    code: exit_code::FAILED,
                });
            }
            Wake::Changed | Wake::Retry => {}
        }
    }
}

/// One run with the repository lock held: what `wf repro` does after choosing the stages.
/// Returns the summary and the stages' addresses.
async fn run_once(
    ctx: &Context,
    pipeline: Pipeline,
    dag: crate::dag::Dag,
    plan: Plan,
    executor: Option<crate::spec::ExecutorName>,
) -> Result<(Summary, Vec<String>), Error> {
    let shared = Arc::new(repro::shared(ctx, pipeline, dag, true, executor)?);
    let summary = repro::execute(ctx, shared.clone(), plan).await;
    let names = shared.pipeline.stages.iter().map(|s| s.address()).collect();
    Ok((summary, names))
}

/// `ran a, b; failed c; 2 skipped`.
fn describe(summary: &Summary, names: &[String]) -> String {
    let list = |stages: &[usize]| {
        let mut stages = stages.to_vec();
        stages.sort_unstable();
        stages
            .iter()
            .filter_map(|&i| names.get(i).cloned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ran = summary.executed();
    let mut parts = vec![if ran.is_empty() {
        "ran nothing".to_string()
    } else {
        format!("ran {}", list(&ran))
    }];
    if !summary.restored.is_empty() {
        parts.push(format!("restored {}", list(&summary.restored)));
    }
    if !summary.failed.is_empty() {
        let failed: Vec<usize> = summary.failed.iter().map(|(i, _, _)| *i).collect();
        parts.push(format!("failed {}", list(&failed)));
    }
    if !summary.blocked.is_empty() {
        parts.push(format!("{} blocked", summary.blocked.len()));
    }
    parts.push(format!("{} skipped", summary.skipped.len()));
    parts.join("; ")
}

/// Ctrl-C or SIGTERM between runs: nothing runs, so nothing to clean up.
fn stopped() -> Report {
    Report {
        stdout: String::new(),
        stderr: String::new(),
        code: exit_code::INTERRUPTED,
    }
}

fn print(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The paths that changed since the last cycle.
#[derive(Debug, Default)]
struct Changes {
    paths: BTreeSet<RepoPath>,
    /// The watcher lost events (its queue overflowed): anything may have changed.
    lost: bool,
    /// Paths created, removed or renamed: a watched folder at or under one is watched anew.
    moved: BTreeSet<PathBuf>,
}

impl Changes {
    /// `params.yaml changed`, `a, b, c and 2 more changed`.
    fn describe(&self) -> String {
        const SHOWN: usize = 3;
        let mut names: Vec<String> = self
            .paths
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        if self.paths.len() > SHOWN {
            names.push(format!("{} more", self.paths.len() - SHOWN));
        }
        if self.lost {
            names.push("maybe other files".into());
        }
        if names.is_empty() {
            return "files changed".into();
        }
        let last = names.pop().unwrap_or_default();
        if names.is_empty() {
            format!("{last} changed")
        } else {
            format!("{} and {last} changed", names.join(", "))
        }
    }
}

/// Why `wait` returned.
enum Wake {
    /// Something watched changed.
    Changed,
    /// Time to try the lock again.
    Retry,
    /// Ctrl-C or SIGTERM.
    Stop,
    /// The watcher's thread is gone: nothing will be seen to change again.
    Broken,
}

/// Waits for changes to watched paths to settle (no new one for `quiet`), or a signal, or the
/// retry delay; adds what changed to `changes`. Batches queued during a run count too: the
/// changes saved while it ran make one run after it.
async fn wait(
    rx: &mut mpsc::UnboundedReceiver<DebounceEventResult>,
    signals: &mut Signals,
    (watched, root): (&Watched, &Path),
    quiet: Duration,
    retry: Option<Duration>,
    changes: &mut Changes,
) -> Wake {
    let retry_sleep = tokio::time::sleep(retry.unwrap_or_default());
    tokio::pin!(retry_sleep);
    // The notify debouncer delays each event by the same small amount; the quiet period is
    // measured here, from the last relevant batch, so a burst of saves makes one run.
    let mut settled_at: Option<tokio::time::Instant> = None;
    loop {
        let settle = async {
            match settled_at {
                Some(t) if retry.is_none() => tokio::time::sleep_until(t).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            batch = rx.recv() => {
                let Some(batch) = batch else { return Wake::Broken };
                if take(batch, watched, root, changes) {
                    settled_at = Some(tokio::time::Instant::now() + quiet);
                }
            }
            () = settle => return Wake::Changed,
            () = signals.recv() => return Wake::Stop,
            () = &mut retry_sleep, if retry.is_some() => return Wake::Retry,
        }
    }
}

/// Adds a debounced batch's relevant paths to `changes`; whether there was one.
fn take(batch: DebounceEventResult, watched: &Watched, root: &Path, changes: &mut Changes) -> bool {
    let events = match batch {
        Ok(events) => events,
        Err(errors) => {
            for e in errors {
                print(&format!("warning: watching files: {e}\n"));
            }
            return false;
        }
    };
    let mut any = false;
    for event in events {
        if event.need_rescan() {
            changes.lost = true;
            any = true;
            continue;
        }
        // Opening or reading a file changes nothing (and wf itself reads every dep).
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => continue,
            _ => {}
        }
        let moved = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        );
        for path in &event.paths {
            if let Some(rel) = repo_path(root, path)
                && watched.relevant(&rel)
            {
                changes.paths.insert(rel);
                if moved {
                    changes.moved.insert(path.clone());
                }
                any = true;
            }
        }
    }
    any
}

/// An absolute path under the root as a `RepoPath`.
fn repo_path(root: &Path, path: &Path) -> Option<RepoPath> {
    let rel = path.strip_prefix(root).ok()?;
    RepoPath::root().join(&rel.to_string_lossy())
}

/// The paths whose change starts a cycle, and those whose change never does.
#[derive(Debug, Default)]
struct Watched {
    /// Deps, params files, specs and the files their `vars:` name. A folder stands for
    /// everything in it.
    triggers: BTreeSet<RepoPath>,
    /// Every stage's outs and the lock files: written by wf itself.
    ignored: BTreeSet<RepoPath>,
}

impl Watched {
    /// The paths of this pipeline's run: the deps and params of the planned stages, every spec
    /// with its `params.yaml` and `vars:` files.
    fn of(p: &Pipeline, plan: &Plan) -> Watched {
        let mut w = Watched::default();
        for &i in &plan.stages {
            let stage = &p.stages[i];
            w.triggers.extend(stage.deps.iter().map(|d| d.path.clone()));
            w.triggers
                .extend(stage.params.iter().map(|d| d.file.clone()));
        }
        for spec in &p.specs {
            w.triggers.extend(RepoPath::root().join(&spec.src.name));
            w.triggers.extend(spec.dir.join(DEFAULT_PARAMS));
            w.triggers.extend(vars_files(spec));
            w.ignored.extend(spec.dir.join(crate::lock::LOCK_NAME));
        }
        for stage in &p.stages {
            w.ignored
                .extend(stage.outs.iter().map(|o| o.entry.path.clone()));
        }
        w
    }

    /// The spec files (and their `params.yaml`) of the working folder, the root and the targets,
    /// whether or not they exist or load.
    fn add_specs(&mut self, ctx: &Context, targets: &[String]) {
        for dir in [ctx.cwd.clone(), RepoPath::root()] {
            for name in SPEC_NAMES.iter().chain([&DEFAULT_PARAMS]) {
                self.triggers.extend(dir.join(name));
            }
        }
        for spec in crate::target::named_specs(&ctx.root, &ctx.cwd, targets) {
            self.triggers.extend(spec.parent().join(DEFAULT_PARAMS));
            self.triggers.insert(spec);
        }
    }

    /// Whether a change to `path` starts a cycle.
    fn relevant(&self, path: &RepoPath) -> bool {
        let first = path.parts().next().unwrap_or_default();
        if first == crate::workspace::DIR || first == ".git" {
            return false;
        }
        if self.ignored.iter().any(|i| path.is_within(i)) {
            return false;
        }
        // A watched path itself or something inside a watched folder; or a folder on the way to
        // a watched path (created, removed or renamed).
        self.triggers
            .iter()
            .any(|t| path.is_within(t) || (!path.as_str().is_empty() && t.is_within(path)))
    }

    /// The folders to watch: each watched folder with everything in it, and the nearest
    /// existing folder holding each watched path (a save that renames a temp file over the
    /// path replaces its inode; a path that does not exist yet appears there).
    fn folders(&self, root: &Path) -> BTreeMap<PathBuf, RecursiveMode> {
        let mut dirs: BTreeMap<PathBuf, RecursiveMode> = BTreeMap::new();
        for t in &self.triggers {
            let abs = t.to_path(root);
            if abs.is_dir() {
                dirs.insert(abs, RecursiveMode::Recursive);
            }
            let mut parent = t.parent();
            loop {
                let p = parent.to_path(root);
                if p.is_dir() || parent.as_str().is_empty() {
                    dirs.entry(p).or_insert(RecursiveMode::NonRecursive);
                    break;
                }
                parent = parent.parent();
            }
        }
        // A folder inside one watched with everything in it is watched already.
        let recursive: Vec<PathBuf> = dirs
            .iter()
            .filter(|(_, m)| **m == RecursiveMode::Recursive)
            .map(|(p, _)| p.clone())
            .collect();
        dirs.retain(|p, _| !recursive.iter().any(|r| p != r && p.starts_with(r)));
        dirs
    }
}

/// The files a spec's `vars:` load, at the top and in its stages (relative to its folder, as
/// `resolve` reads them).
fn vars_files(spec: &SpecFile) -> Vec<RepoPath> {
    let Ok(node) = crate::spec::yaml::parse(&spec.src) else {
        return vec![];
    };
    let Ok(raw) = crate::spec::schema::check(&node, &spec.src) else {
        return vec![];
    };
    let mut items: Vec<&crate::spec::yaml::Node> = raw.vars.iter().collect();
    for def in &raw.stages {
        let template = match &def.kind {
            DefKind::Plain(t) => t,
            DefKind::Foreach { template, .. } | DefKind::Matrix { template, .. } => template,
        };
        if let Some(Kind::Seq(vars)) = template.get("vars").map(|v| &v.kind) {
            items.extend(vars);
        }
    }
    items
        .into_iter()
        .filter_map(|item| item.as_str())
        .filter_map(|item| spec.dir.join(item.split_once(':').map_or(item, |(f, _)| f)))
        .collect()
}

/// The folders given to the watcher, with the inode each had then: a folder removed, renamed or
/// replaced since is watched again (its old watch died with it or follows the old folder).
/// Inodes alone are not enough: a folder removed and made again often gets the same number.
struct Folders {
    debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    watched: BTreeMap<PathBuf, (RecursiveMode, Option<(u64, u64)>)>,
}

impl Folders {
    fn update(
        &mut self,
        root: &Path,
        want: &BTreeMap<PathBuf, RecursiveMode>,
        moved: &BTreeSet<PathBuf>,
    ) {
        let inode = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(p, (mode, ino))| {
                want.get(*p) != Some(mode)
                    || inode(p) != *ino
                    || moved.iter().any(|m| p.starts_with(m))
            })
            .map(|(p, _)| p.clone())
            .collect();
        for p in stale {
            // An error means the watch is gone already (the folder was removed).
            let _ = self.debouncer.unwatch(&p);
            self.watched.remove(&p);
        }
        for (p, mode) in want {
            if self.watched.contains_key(p) {
                continue;
            }
            match self.debouncer.watch(p, *mode) {
                Ok(()) => {
                    self.watched.insert(p.clone(), (*mode, inode(p)));
                }
                Err(e) => {
                    let shown = p.strip_prefix(root).unwrap_or(p);
                    print(&format!(
                        "warning: cannot watch `{}`: {e}\n",
                        shown.display()
                    ));
                }
            }
        }
    }
}

/// SIGINT and SIGTERM, listened to for the whole watch.
struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    /// Whether a signal arrived that nobody handled yet (during a run the scheduler handles
    /// it; one that lands between its end and the next wait is caught here).
    fn pending(&mut self) -> bool {
        self.recv().now_or_never().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(s: &str) -> RepoPath {
        RepoPath::root().join(s).unwrap()
    }

    fn watched() -> Watched {
        Watched {
            triggers: [rp("params.yaml"), rp("data"), rp("sub/deep/in.txt")].into(),
            ignored: [rp("data/out"), rp("pipeline.lock")].into(),
        }
    }

    #[track_caller]
    fn case(path: &str, expected: bool) {
        assert_eq!(watched().relevant(&rp(path)), expected, "{path}");
    }

    #[test]
    fn relevance() {
        case("params.yaml", true);
        case("params.yaml.tmp", false);
        case("data", true);
        case("data/x/y.csv", true);
        case("data/out", false);
        case("data/out/model.bin", false);
        case("sub", true);
        case("sub/deep", true);
        case("sub/other.txt", false);
        case("", false);
        case("pipeline.lock", false);
        case(".wf/state", false);
        case(".git/index", false);
        case("ran.log", false);
    }

    #[test]
    fn change_descriptions() {
        let c = |paths: &[&str]| {
            Changes {
                paths: paths.iter().map(|p| rp(p)).collect(),
                lost: false,
                moved: BTreeSet::new(),
            }
            .describe()
        };
        assert_eq!(c(&["params.yaml"]), "params.yaml changed");
        assert_eq!(c(&["a", "b"]), "a and b changed");
        assert_eq!(c(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more changed");
        assert_eq!(c(&[]), "files changed");
    }
}
