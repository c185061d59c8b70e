//! `RunOptions`: what a run selects and how it runs it, whichever command starts it.

use crate::spec::ExecutorName;

pub use crate::select::Reach;

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
}

/// Who started a run, as the run store records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `repro`, `watch`, `experiment`.
    pub kind: String,
    /// The command line.
    pub command: String,
}
