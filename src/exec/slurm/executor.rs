//! `Slurm`: the executor that runs each task as a batch job and waits for it through the run's
//! queue.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::job::{self, JobSpec, Settings};
use super::queue::{Queue, Tail, Watch, slurm_cli};
use crate::exec::event::{Events, Outcome};
use crate::exec::executor::{Executor, Running, Task};
use crate::exec::ship::Shipping;

/// How long wf waits for cancelled jobs to leave the queue after Ctrl-C.
const CANCEL_WAIT: Duration = Duration::from_secs(60);

/// The Slurm executor of one run.
pub struct Slurm {
    settings: Settings,
    shipping: Option<Shipping>,
    /// Started with the first job (it needs the runtime).
    queue: OnceLock<Queue>,
}

impl Slurm {
    /// The executor; `shipping` is set when the nodes do not share the repository's file system.
    pub fn new(settings: Settings, shipping: Option<Shipping>) -> Slurm {
        Slurm {
            settings,
            shipping,
            queue: OnceLock::new(),
        }
    }
}

impl Executor for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.settings.max_jobs)
    }

    fn reads_inputs(&self) -> bool {
        self.shipping.is_some()
    }

    fn run<'a>(
        &'a self,
        task: &'a Task,
        events: &'a Events,
        cancel: watch::Receiver<bool>,
    ) -> Running<'a> {
        Box::pin(self.run_task(task, events, cancel))
    }
}

impl Slurm {
    async fn run_task(
        &self,
        task: &Task,
        events: &Events,
        mut cancel: watch::Receiver<bool>,
    ) -> Outcome {
        let ship = match &self.shipping {
            None => None,
            Some(shipping) => match shipping.send_inputs(task).await {
                Ok(mut job) => {
                    job.scratch.clone_from(&self.settings.scratch);
                    Some(job)
                }
                Err(message) => return Outcome::Failed(message),
            },
        };
        let spec = JobSpec {
            task: task.clone(),
            ship: ship.clone(),
        };
        let env = self
            .shipping
            .as_ref()
            .map_or(&[][..], |s| s.job_env.as_slice());
        let id = match job::submit(&self.settings, &spec, env).await {
            Ok(id) => id,
            Err(message) => return Outcome::Failed(message),
        };
        let (done, mut ended) = oneshot::channel();
        let tails = if ship.is_some() {
            // The output files are on the node: the job's result carries its lines.
            Vec::new()
        } else {
            vec![
                Tail::new(self.settings.log_path(&id, "out"), false),
                Tail::new(self.settings.log_path(&id, "err"), true),
            ]
        };
        let queue = self.queue.get_or_init(|| Queue::start(self.settings.poll));
        let watched = queue.watch(Watch {
            id: id.clone(),
            stage: task.stage.clone(),
            events: events.clone(),
            tails,
            done,
        });
        if !watched {
            let _ = slurm_cli("scancel", &[id.as_str()]).await;
            return Outcome::Failed(format!("lost track of Slurm job {id}"));
        }
        let ended = tokio::select! {
            ended = &mut ended => ended,
            () = cancelled(&mut cancel) => {
                let _ = slurm_cli("scancel", &[id.as_str()]).await;
                // Interrupted only once Slurm says the job is gone.
                let _ = tokio::time::timeout(CANCEL_WAIT, ended).await;
                self.settings.remove_logs(&id);
                return Outcome::Interrupted;
            }
        };
        // Everything in them was printed already.
        self.settings.remove_logs(&id);
        let Ok(ended) = ended else {
            return Outcome::Failed(format!("lost track of Slurm job {id}"));
        };
        let outcome = job::describe(&id, &ended, task);
        match (&self.shipping, ship) {
            (Some(shipping), Some(job)) => shipping.receive(task, &job, &id, outcome, events).await,
            _ => outcome,
        }
    }
}

/// Resolves once the run is cancelled (the guard `wait_for` returns is dropped here, before
/// any await).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    let _ = cancel.wait_for(|c| *c).await;
}
