//! `RunOptions`: what a run selects and how it runs it, whichever command starts it.

use crate::spec::ExecutorName;

pub use crate::select::Reach;

/// The reach `-s` (only the targets) and `--downstream` ask for; the targets' upstream if
/// neither.
pub fn reach(single_item: bool, downstream: bool) -> Reach {
    if single_item {
        Reach::Single
    } else if downstream {
        Reach::Downstream
    } else {
        Reach::Upstream
    }
}

/// What to run and how: the choices `wf repro`, `wf watch`, experiments and tuning share.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (empty: the working folder's
    /// spec).
    pub targets: Vec<String>,
    /// The targets' upstream (the default), only the targets, or their downstream.
    pub reach: Reach,
    /// Targets are shell-style wildcards.
    pub glob: bool,
    /// Run the selected stages even if nothing changed.
    pub force: bool,
    /// Once a stage runs, run everything downstream of it too.
    pub force_downstream: bool,
    /// How many stages may run at once (`None`: the number of cores).
    pub jobs: Option<usize>,
    /// After a failure, keep running every stage that does not depend on it.
    pub keep_going: bool,
    /// Where stages that do not name an executor run (`None`: `[executor] default`, else local).
    pub executor: Option<ExecutorName>,
    /// Restore stages from earlier runs with the same inputs.
    pub run_cache: bool,
    /// First fetch from the default remote what the stages need and check out what is missing.
    pub pull: bool,
    /// Params set in memory for this run only, as if the params files said so: `${}` and the
    /// stages' tracked params see them, the workspace's files stay as they are. Experiments run
    /// their variants this way.
    pub overrides: std::sync::Arc<crate::overrides::Overrides>,
    /// Hashing shows its progress (as events).
    pub progress: bool,
    /// Who started the run; `Some` keeps it in the run store (if it runs or restores a stage).
    pub origin: Option<Origin>,
    /// Stops the run as Ctrl-C does once it turns true (a study pruning a trial).
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// What runs started together (the experiments of a sweep) share; `None`: this run has its
    /// repository's own.
    pub sharing: Option<Sharing>,
}

/// What runs started together, each in its own copy of a repository, share: the object cache
/// (and its run-cache), the slots for local stages, and stages' runs, so that a stage all of
/// them need runs once and is restored in the others.
#[derive(Debug, Clone)]
pub struct Sharing {
    /// The `.wf/cache` folder every run uses.
    pub cache: std::path::PathBuf,
    /// The slots of local stages, `jobs` of them.
    pub slots: std::sync::Arc<tokio::sync::Semaphore>,
    /// How many slots there are.
    pub jobs: usize,
    /// Stages running now, by run-cache key.
    pub running: std::sync::Arc<crate::exec::InFlight>,
}

impl Sharing {
    /// Sharing the cache of `root` and `jobs` slots.
    pub fn new(root: &std::path::Path, jobs: usize) -> Sharing {
        Sharing {
            cache: crate::workspace::cache_dir(root),
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1))),
            jobs: jobs.max(1),
            running: std::sync::Arc::default(),
        }
    }
}

/// Who started a run, as the run store records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `repro`, `watch`, `experiment`.
    pub kind: String,
    /// The command line.
    pub command: String,
    /// The run is already in a store (an experiment, recorded when it was queued or launched):
    /// its row there is kept up to date, whatever the run does.
    pub recorded: Option<Recorded>,
}

/// A run already in a run store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The root of the repository whose store it is in (not the copy it may run in).
    pub root: std::path::PathBuf,
    /// Its id there.
    pub id: String,
    /// Params files to keep with the run (relative to the root it runs in), beside the locks.
    pub params: Vec<String>,
    /// Params the run sets (an experiment's overrides): file, dotted key, value. Recorded with
    /// its params even where no stage tracks them (a param used only through `${}`).
    pub set: Vec<(String, String, serde_json::Value)>,
}
