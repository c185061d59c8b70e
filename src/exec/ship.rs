//! Running a task where the repository is not: the content-addressed cache is the data plane.
//! The submitting side puts the task's inputs in the cache and pushes them to a remote; the job
//! fetches them by hash into a scratch folder on its node, runs, saves and pushes its outputs,
//! and leaves a small result object (`jobs/TOKEN.json`: the outputs' hashes and the job's
//! log) on the remote; the submitting side reads it and checks the outputs out into the
//! workspace. Only the task's declared deps and params files travel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::event::{Event, Events, Outcome};
use super::executor::Task;
use crate::cache::refs;
use crate::cache::{Cache, LinkType};
use crate::config::{Config, RemoteConfig};
use crate::hash::{HashInfo, Hasher};
use crate::remote::Remote;
use crate::repo_path::RepoPath;
use crate::transfer;

/// Objects moved at once.
const TRANSFERS: usize = 8;

/// The submitting side: the workspace's cache and the remote jobs exchange data through.
pub struct Shipping {
    /// The repository root.
    pub root: PathBuf,
    /// The workspace's cache.
    pub cache: Cache,
    /// The run's hasher (folders' manifests).
    pub hasher: Arc<Hasher>,
    /// The remote.
    pub remote: Remote,
    /// The remote as the jobs open it (an absolute folder, or S3 without secrets).
    pub job_remote: RemoteConfig,
    /// The remote's credentials from the config, for the jobs' environment.
    pub job_env: Vec<(String, String)>,
}

/// What a job needs to know to ship its data (part of its job spec).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobShipping {
    /// The remote.
    pub remote: RemoteConfig,
    /// Where the job leaves its result.
    pub result_key: String,
    /// Where on the node it unpacks (default `/tmp`).
    pub scratch: Option<String>,
}

/// What a job leaves on the remote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobResult {
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Its outputs, with their hashes.
    pub outs: Vec<(RepoPath, HashInfo)>,
    /// What it printed: (stderr, line).
    pub log: Vec<(bool, String)>,
}

impl Shipping {
    /// The shipping of a repository through the remote `name` (default: the default remote).
    pub fn open(
        root: &Path,
        config: &Config,
        name: Option<&str>,
        hasher: Arc<Hasher>,
        cache: Cache,
    ) -> Result<Shipping, crate::remote::RemoteError> {
        let remote = Remote::open(root, config, name)?;
        let mut job_remote = name
            .or(config.core.remote.as_deref())
            .and_then(|n| config.remote.get(n).cloned())
            .unwrap_or_default();
        // The job cannot resolve a folder relative to a repository it does not have.
        job_remote.url = Some(
            if remote.url.contains("://") || Path::new(&remote.url).is_absolute() {
                remote.url.clone()
            } else {
                root.join(&remote.url).display().to_string()
            },
        );
        // Secrets stay out of the job script: jobs take credentials from their environment,
        // where sbatch passes on what the submitting side sets.
        let job_env = [
            ("AWS_ACCESS_KEY_ID", job_remote.access_key_id.take()),
            ("AWS_SECRET_ACCESS_KEY", job_remote.secret_access_key.take()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
        Ok(Shipping {
            root: root.to_path_buf(),
            cache,
            hasher,
            remote,
            job_remote,
            job_env,
        })
    }

    /// Caches and pushes the task's inputs; returns what the job needs to fetch them.
    pub async fn send_inputs(&self, task: &Task) -> Result<JobShipping, String> {
        let (root, cache, hasher, inputs) = (
            self.root.clone(),
            self.cache.clone(),
            self.hasher.clone(),
            task.inputs.clone(),
        );
        let keys = tokio::task::spawn_blocking(move || -> Result<BTreeSet<String>, String> {
            for input in &inputs {
                if cache.contains(&input.info) {
                    continue;
                }
                let manifest = hasher.manifest(&input.path).map_err(|e| e.to_string())?;
                cache
                    .save(&input.path.to_path(&root), &input.info, manifest.as_deref())
                    .map_err(|e| e.to_string())?;
            }
            let infos: Vec<HashInfo> = inputs.iter().map(|i| i.info.clone()).collect();
            Ok(refs::object_keys(&cache, &infos))
        })
        .await
        .map_err(|e| format!("internal error: {e}"))??;
        let pushed = transfer::push_few(&self.remote, self.cache.dir(), &keys, TRANSFERS)
            .await
            .map_err(|e| format!("cannot send the stage's inputs: {e}"))?;
        if let Some(first) = pushed.failed.first() {
            return Err(format!("cannot send the stage's inputs: {first}"));
        }
        let token = crate::hash::hash_bytes(
            format!(
                "{}\n{}\n{:?}",
                task.stage,
                std::process::id(),
                std::time::SystemTime::now()
            )
            .as_bytes(),
        );
        Ok(JobShipping {
            remote: self.job_remote.clone(),
            result_key: format!("jobs/{}.json", &token[..32]),
            scratch: None,
        })
    }

    /// After the job: prints its log, and on success brings its outputs into the workspace.
    pub async fn receive(
        &self,
        task: &Task,
        job: &JobShipping,
        id: &str,
        outcome: Outcome,
        events: &Events,
    ) -> Outcome {
        let result = match read_result(&self.remote, &job.result_key).await {
            Ok(r) => r,
            Err(e) => {
                let why = match outcome {
                    Outcome::Failed(m) => m,
                    Outcome::Interrupted => return Outcome::Interrupted,
                    Outcome::Ok => format!("Slurm job {id} completed"),
                };
                return Outcome::Failed(format!(
                    "{why}, and left no result on the remote ({e}); its log is on its node in the scratch folder, `wf-job-{id}.log`"
                ));
            }
        };
        let _ = self.remote.delete(&job.result_key).await;
        for (stderr, line) in result.log {
            let _ = events.send(Event::Output {
                stage: task.stage.clone(),
                line,
                stderr,
            });
        }
        if let Some(error) = result.error {
            return match outcome {
                Outcome::Failed(m) => Outcome::Failed(format!("{m}: {error}")),
                _ => Outcome::Failed(error),
            };
        }
        if outcome != Outcome::Ok {
            return outcome;
        }
        let infos: Vec<HashInfo> = result.outs.iter().map(|(_, i)| i.clone()).collect();
        if let Err(e) = fetch_objects(&self.remote, &self.cache, &infos).await {
            return Outcome::Failed(format!("cannot bring back the stage's outputs: {e}"));
        }
        let (root, cache, outs) = (self.root.clone(), self.cache.clone(), result.outs);
        let checked = tokio::task::spawn_blocking(move || -> Result<(), String> {
            for (path, info) in &outs {
                cache
                    .checkout(&path.to_path(&root), path.as_str(), info)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await;
        match checked {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(e)) => Outcome::Failed(format!("cannot check out the stage's outputs: {e}")),
            Err(e) => Outcome::Failed(format!("internal error: {e}")),
        }
    }
}

/// Downloads the objects of `infos` the cache lacks; the first failure is the error.
pub async fn fetch_objects(
    remote: &Remote,
    cache: &Cache,
    infos: &[HashInfo],
) -> Result<(), String> {
    let got = transfer::fetch_infos(remote, cache, infos, BTreeSet::new(), TRANSFERS, None)
        .await
        .map_err(|e| e.to_string())?;
    match got.failed.first() {
        Some(first) => Err(first.clone()),
        None => Ok(()),
    }
}

async fn read_result(remote: &Remote, key: &str) -> Result<JobResult, String> {
    let tmp = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    remote
        .download(key, tmp.path(), None)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = std::fs::read(tmp.path()).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("`{key}` is not a job result: {e}"))
}

/// The node's side: a scratch workspace with the task's inputs checked out.
pub struct Node {
    /// The scratch workspace (the task's root on the node).
    pub root: PathBuf,
    remote: Remote,
    cache: Cache,
}

impl Node {
    /// Makes the scratch workspace and fetches the task's inputs into it.
    pub async fn prepare(job: &JobShipping, task: &Task) -> Result<Node, String> {
        let scratch = job.scratch.clone().unwrap_or_else(|| "/tmp".into());
        let name =
            std::env::var("SLURM_JOB_ID").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
        let root = Path::new(&scratch).join(format!("wf-job-{name}"));
        let mkdir = |p: &Path| {
            std::fs::create_dir_all(p).map_err(|e| format!("cannot create `{}`: {e}", p.display()))
        };
        mkdir(&root)?;
        let mut config = Config::default();
        config.remote.insert("jobs".into(), job.remote.clone());
        let remote = Remote::open(&root, &config, Some("jobs")).map_err(|e| e.to_string())?;
        let cache = Cache::new(crate::workspace::cache_dir(&root), LinkType::Copy);
        let infos: Vec<HashInfo> = task.inputs.iter().map(|i| i.info.clone()).collect();
        fetch_objects(&remote, &cache, &infos)
            .await
            .map_err(|e| format!("cannot fetch the stage's inputs: {e}"))?;
        for input in &task.inputs {
            let abs = input.path.to_path(&root);
            if let Some(parent) = abs.parent() {
                mkdir(parent)?;
            }
            cache
                .checkout(&abs, input.path.as_str(), &input.info)
                .map_err(|e| e.to_string())?;
        }
        mkdir(&task.wdir.to_path(&root))?;
        for out in &task.outputs {
            if let Some(parent) = out.to_path(&root).parent() {
                mkdir(parent)?;
            }
        }
        Ok(Node {
            root,
            remote,
            cache,
        })
    }

    /// After the run: caches and pushes the outputs (when it succeeded), then leaves the result.
    pub async fn finish(
        &self,
        job: &JobShipping,
        task: &Task,
        mut result: JobResult,
    ) -> Result<(), String> {
        if result.error.is_none() {
            match self.save_outputs(task).await {
                Ok(outs) => result.outs = outs,
                Err(e) => result.error = Some(e),
            }
        }
        let bytes = serde_json::to_vec(&result).map_err(|e| e.to_string())?;
        let tmp = tempfile::NamedTempFile::new_in(&self.root).map_err(|e| e.to_string())?;
        std::fs::write(tmp.path(), bytes).map_err(|e| e.to_string())?;
        self.remote
            .upload(&job.result_key, tmp.path())
            .await
            .map_err(|e| e.to_string())
    }

    async fn save_outputs(&self, task: &Task) -> Result<Vec<(RepoPath, HashInfo)>, String> {
        let (root, cache, outputs) = (self.root.clone(), self.cache.clone(), task.outputs.clone());
        let outs = tokio::task::spawn_blocking(move || -> Result<_, String> {
            let hasher = Hasher::open(&root, &root.join(crate::workspace::DIR).join("state"));
            let mut outs = Vec::new();
            for path in outputs {
                let Some(info) = hasher.hash(&path).map_err(|e| e.to_string())? else {
                    return Err(format!("output '{path}' does not exist"));
                };
                let manifest = hasher.manifest(&path).map_err(|e| e.to_string())?;
                cache
                    .save(&path.to_path(&root), &info, manifest.as_deref())
                    .map_err(|e| e.to_string())?;
                outs.push((path, info));
            }
            Ok(outs)
        })
        .await
        .map_err(|e| format!("internal error: {e}"))??;
        let infos: Vec<HashInfo> = outs.iter().map(|(_, i)| i.clone()).collect();
        let keys = refs::object_keys(&self.cache, &infos);
        let pushed = transfer::push_few(&self.remote, self.cache.dir(), &keys, TRANSFERS)
            .await
            .map_err(|e| format!("cannot send the outputs: {e}"))?;
        if let Some(first) = pushed.failed.first() {
            return Err(format!("cannot send the outputs: {first}"));
        }
        Ok(outs)
    }

    /// Removes the scratch workspace, and after a success the job's own log beside it.
    pub fn clean(self, succeeded: bool) {
        let _ = crate::cache::remove(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
        if succeeded
            && let Some(name) = self.root.file_name().and_then(|n| n.to_str())
            && let Some(parent) = self.root.parent()
        {
            let _ = std::fs::remove_file(parent.join(format!("{name}.log")));
        }
    }
}
