//! The executor boundary: the scheduler decides what runs and hands each ready stage to an
//! executor as a [`Task`]; the executor runs it somewhere and reports [`Event`]s and an
//! [`Outcome`]. Nothing above this boundary knows where a stage ran. [`Local`] runs it in a
//! process group on this machine; `slurm::Slurm` submits it to a cluster. Hashing, the lock and
//! the cache stay with the scheduler, whatever the executor.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::event::{Event, Events, Outcome};
use super::shell;
use crate::hash::HashInfo;
use crate::repo_path::RepoPath;
use crate::spec::{Action, ExecutorName, Resources, Stage};

/// A stage ready to run, with everything resolved: an executor decides nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// The stage's address (output prefix, `WF_STAGE`).
    pub stage: String,
    /// The repository root.
    pub root: PathBuf,
    /// The working folder, relative to the root.
    pub wdir: RepoPath,
    /// The stage's extra environment.
    pub env: Vec<(String, String)>,
    /// What to run.
    pub work: Work,
    /// What the stage asked for (`resources:`).
    pub resources: TaskResources,
    /// The files the stage reads (deps, params files, `persist` outs), with their hashes, when
    /// the executor ships data ([`Executor::reads_inputs`]); empty otherwise.
    pub inputs: Vec<Input>,
    /// The paths the stage writes, relative to the root.
    pub outputs: Vec<RepoPath>,
}

/// What a task runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Work {
    /// Shell commands, one after another, each in its own shell (as DVC).
    Shell(Vec<String>),
    /// A built-in stage with its resolved `with:`.
    Builtin {
        /// Its name.
        name: String,
        /// Its `with:`, as JSON.
        with: serde_json::Value,
    },
}

/// `resources:` of a task.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskResources {
    /// CPUs.
    pub cpus: u32,
    /// Memory (`4G`).
    pub mem: Option<String>,
    /// GPUs.
    pub gpus: Option<u32>,
    /// Time limit (`1:00:00`).
    pub time: Option<String>,
}

/// A file or folder a task reads, with its content hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Input {
    /// Its path from the root.
    pub path: RepoPath,
    /// Its content.
    pub info: HashInfo,
}

impl Task {
    /// The task of a stage; `inputs` are the stage's deps and params files as hashed just now.
    pub fn new(stage: &Stage, root: PathBuf, inputs: Vec<Input>) -> Task {
        let work = match &stage.action {
            Action::Cmd(cmd) => {
                Work::Shell(cmd.commands().into_iter().map(str::to_string).collect())
            }
            Action::Builtin { name, with, .. } => Work::Builtin {
                name: name.clone(),
                with: with.to_json(),
            },
        };
        let Resources {
            cpus,
            mem,
            gpus,
            time,
        } = stage.resources.clone();
        Task {
            stage: stage.address(),
            root,
            wdir: stage.wdir.clone(),
            env: stage
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            work,
            resources: TaskResources {
                cpus,
                mem,
                gpus,
                time,
            },
            inputs,
            outputs: stage.outs.iter().map(|o| o.entry.path.clone()).collect(),
        }
    }

    /// What the task runs, as the start of a stage shows it.
    pub fn commands(&self) -> Vec<String> {
        match &self.work {
            Work::Shell(commands) => commands.clone(),
            Work::Builtin { name, .. } => vec![format!("uses: {name}")],
        }
    }
}

/// The executors of a run, and which one runs each stage.
pub struct Executors {
    /// Every executor the run uses, by name; the first is this machine's.
    pub all: Vec<(ExecutorName, std::sync::Arc<dyn Executor>)>,
    /// For each stage of the pipeline, its executor's index in `all`.
    of_stage: Vec<usize>,
}

impl Executors {
    /// Every stage on this machine.
    pub fn local() -> Executors {
        Executors {
            all: vec![(ExecutorName::Local, std::sync::Arc::new(Local::from_env()))],
            of_stage: Vec::new(),
        }
    }

    /// Adds the executor of stages that name `name`.
    pub fn add(&mut self, name: ExecutorName, executor: std::sync::Arc<dyn Executor>) {
        self.all.push((name, executor));
    }

    /// Gives each stage (by its index in the pipeline) the executor of its name; a name with no
    /// executor added falls back to this machine's.
    pub fn assign(&mut self, names: &[ExecutorName]) {
        self.of_stage = names
            .iter()
            .map(|n| self.all.iter().position(|(m, _)| m == n).unwrap_or(0))
            .collect();
    }

    /// The index of the executor of stage `i` (the default for a stage without one).
    pub fn index(&self, i: usize) -> usize {
        self.of_stage.get(i).copied().unwrap_or(0)
    }

    /// The name of stage `i`'s executor.
    pub fn name_of(&self, i: usize) -> ExecutorName {
        self.all[self.index(i)].0
    }

    /// The executor of stage `i`.
    pub fn of(&self, i: usize) -> &dyn Executor {
        self.all[self.index(i)].1.as_ref()
    }
}

/// The future an executor returns.
pub type Running<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// Something that runs tasks: on this machine, on a cluster, in a container.
pub trait Executor: Send + Sync {
    /// Its name, as `--executor` and `executor:` spell it.
    fn name(&self) -> &'static str;

    /// How many tasks may run at once through it, given `-j`; `None` when its tasks take `-j`'s
    /// slots (weighted by `resources.cpus`), as local processes do.
    fn capacity(&self) -> Option<usize> {
        None
    }

    /// Whether it needs [`Task::inputs`] (to ship them); left empty otherwise, sparing the
    /// hashing of params files on every run.
    fn reads_inputs(&self) -> bool {
        false
    }

    /// Runs one task to its end. Lines it prints go to `events` as `Output`; once `cancel` turns
    /// true it stops the task and returns `Outcome::Interrupted`.
    fn run<'a>(
        &'a self,
        task: &'a Task,
        events: &'a Events,
        cancel: watch::Receiver<bool>,
    ) -> Running<'a>;
}

/// Runs tasks on this machine: shell commands in their own process group, built-in stages on
/// the blocking pool.
#[derive(Debug, Clone)]
pub struct Local {
    /// The shell and its arguments before `-c`.
    pub shell: (String, Vec<&'static str>),
}

impl Local {
    /// The local executor with DVC's choice of shell (`$SHELL`, else `/bin/sh`).
    pub fn from_env() -> Local {
        Local {
            shell: shell::shell(std::env::var("SHELL").ok().as_deref()),
        }
    }
}

impl Executor for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn run<'a>(
        &'a self,
        task: &'a Task,
        events: &'a Events,
        cancel: watch::Receiver<bool>,
    ) -> Running<'a> {
        Box::pin(async move {
            let cwd = task.wdir.to_path(&task.root);
            match &task.work {
                Work::Shell(commands) => {
                    let job = shell::Job {
                        stage: task.stage.clone(),
                        cwd,
                        root: task.root.clone(),
                        env: task.env.clone(),
                    };
                    shell::run(&job, commands, &self.shell, events, cancel).await
                }
                Work::Builtin { name, with } => {
                    let (name, with) = (name.clone(), with.clone());
                    let (events, stage) = (events.clone(), task.stage.clone());
                    let cpus = usize::try_from(task.resources.cpus.max(1)).unwrap_or(1);
                    // The stage polls a flag; this task raises it when the run is cancelled.
                    let flag = wf_stages::Cancel::new();
                    let raise = {
                        let (flag, mut cancel) = (flag.clone(), cancel.clone());
                        tokio::spawn(async move {
                            if cancel.wait_for(|&c| c).await.is_ok() {
                                flag.cancel();
                            }
                        })
                    };
                    // A built-in stage is blocking Rust code: it runs on the blocking pool, in
                    // parallel with other stages like any process.
                    let ran = tokio::task::spawn_blocking(move || {
                        let Some(builtin) = wf_stages::lookup(&name) else {
                            return Outcome::Failed(format!("unknown built-in stage `{name}`"));
                        };
                        let mut log = |line: String| {
                            let _ = events.send(Event::Output {
                                stage: stage.clone(),
                                line,
                                stderr: false,
                            });
                        };
                        let mut ctx = wf_stages::RunContext {
                            dir: &cwd,
                            log: &mut log,
                            cancel: &flag,
                            cpus,
                        };
                        match builtin.run(&with, &mut ctx) {
                            Ok(()) => Outcome::Ok,
                            Err(wf_stages::Error::Cancelled) => Outcome::Interrupted,
                            Err(e) => Outcome::Failed(e.to_string()),
                        }
                    })
                    .await;
                    raise.abort();
                    ran.unwrap_or_else(|e| Outcome::Failed(format!("internal error: {e}")))
                }
            }
        })
    }
}
