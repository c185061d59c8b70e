//! The work of one stage around its executor: decide it (fresh, restorable, or to run, as DVC
//! decides), remove its outs before it runs, and afterwards hash, cache and record what it
//! wrote. The scheduler calls these on the blocking pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::event::Failure;
use super::executor::Executors;
use super::executor::Input;
use crate::cache::{Cache, run_cache::RunCache};
use crate::dag::Dag;
use crate::hash::Hasher;
use crate::lock::Entry;
use crate::params::Params;
use crate::spec::OutKind;
use crate::spec::Pipeline;
use crate::status;

/// What every stage task shares.
pub struct Shared {
    /// The repository root.
    pub root: PathBuf,
    /// The stages.
    pub pipeline: Pipeline,
    /// Their graph.
    pub dag: Dag,
    /// Content hashes with the state table.
    pub hasher: Arc<Hasher>,
    /// Params files read so far.
    pub params: Mutex<Params>,
    /// Who runs each stage.
    pub executors: Executors,
    /// The object cache.
    pub cache: Cache,
    /// The run-cache.
    pub run_cache: RunCache,
    /// Whether the repository is a git checkout (cached outs go to `.gitignore`).
    pub git: bool,
    /// Held while a `.gitignore` is rewritten: stages finishing together share folders.
    pub gitignore: Mutex<()>,
    /// Whether to restore from the run-cache (`--no-run-cache` turns it off; runs are recorded
    /// either way).
    pub use_run_cache: bool,
    /// Stages running now in the runs started with this one (a sweep's experiments), which a
    /// stage with the same run-cache key waits for and restores from instead of running.
    pub running: Option<Arc<super::InFlight>>,
    /// The MLflow tracking endpoint this run's local shell stages log to, once it is serving.
    pub tracking: std::sync::OnceLock<Tracking>,
}

/// What a run's shell stages are told of the MLflow tracking endpoint serving during the run.
pub struct Tracking {
    /// Its URI, for `MLFLOW_TRACKING_URI`.
    pub uri: String,
    /// Issues a stage (by its address) its own token, for `MLFLOW_TRACKING_TOKEN`.
    pub token_for: Box<dyn Fn(&str) -> String + Send + Sync>,
}

impl Tracking {
    /// The variable naming the endpoint.
    pub const URI_VAR: &'static str = "MLFLOW_TRACKING_URI";
    /// The variable holding the stage's token.
    pub const TOKEN_VAR: &'static str = "MLFLOW_TRACKING_TOKEN";

    /// Adds the endpoint to a stage's environment, unless the stage's `env:` names a tracking URI
    /// of its own (one in wf's own environment keeps the endpoint from starting at all).
    pub fn add_to(&self, stage: &str, env: &mut Vec<(String, String)>) {
        if env.iter().any(|(k, _)| k == Self::URI_VAR) {
            return;
        }
        env.push((Self::URI_VAR.into(), self.uri.clone()));
        env.push((Self::TOKEN_VAR.into(), (self.token_for)(stage)));
    }
}

impl std::fmt::Debug for Tracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are secrets: only the URI is shown.
        f.debug_struct("Tracking")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// What to do with a stage, decided just before it would run.
pub(super) enum Verdict {
    /// Nothing changed.
    Fresh,
    /// Its outs come back from the cache: this entry's outs, and it is the new lock entry.
    Restore(Box<Entry>),
    /// Run it: what it reads, hashed, if its executor ships data; and its run-cache key when
    /// runs started together share stages (see `Shared::running`).
    Run(Vec<Input>, Option<String>),
}

/// Decides stage `i`, as DVC: fresh, restorable from the cache, or to run, with the reasons it
/// is not fresh (its changes as `wf status` words them, or `forced`); or why it cannot run.
pub(super) fn decide(
    shared: &Shared,
    i: usize,
    entry: Option<&Entry>,
    forced: bool,
) -> Result<(Verdict, Vec<String>), Failure> {
    let stage = &shared.pipeline.stages[i];
    let cur = {
        let mut params = shared.params.lock().map_err(|_| Failure::Inputs {
            message: "internal error: params lock poisoned".into(),
        })?;
        status::current(stage, &shared.root, &shared.hasher, &mut params).map_err(|e| {
            Failure::Inputs {
                message: e.to_string(),
            }
        })?
    };
    if stage.frozen {
        // As DVC: a frozen stage never runs, and its outs must be there.
        if let Some((path, _)) = cur.outs.iter().find(|(_, h)| h.is_none()) {
            return Err(Failure::FrozenOutMissing { path: path.clone() });
        }
        return Ok((Verdict::Fresh, Vec::new()));
    }
    let changes = status::changes(stage, &cur, entry);
    if !forced && changes.is_empty() {
        return Ok((Verdict::Fresh, Vec::new()));
    }
    let mut reasons: Vec<String> = changes.iter().map(ToString::to_string).collect();
    if forced {
        reasons.push("forced".into());
    }
    if let Some((path, _)) = cur.deps.iter().find(|(_, h)| h.is_none()) {
        return Err(Failure::MissingDep { path: path.clone() });
    }
    if let Some((file, keys)) = status::missing_params(&cur).into_iter().next() {
        return Err(Failure::MissingParams {
            file: file.to_string(),
            keys: keys.iter().map(ToString::to_string).collect(),
        });
    }
    let run = |key: Option<String>| {
        let inputs = if shared.executors.of(i).reads_inputs() {
            inputs(shared, stage, &cur)
        } else {
            Vec::new()
        };
        Verdict::Run(inputs, key)
    };
    if forced
        || stage.always_changed
        || stage.outs.is_empty()
        || stage.outs.iter().any(|o| o.persist)
    {
        return Ok((run(None), reasons));
    }
    // As DVC (§6 step 1): only outs differ from the lock and the lock's outs are cached.
    if let Some(entry) = entry
        && !stage.deps.is_empty()
        && changes.iter().all(|c| matches!(c, status::Change::Out(..)))
        && entry.outs.iter().all(|o| shared.cache.contains(&o.info()))
        && entry.outs.len() == stage.outs.len()
    {
        return Ok((Verdict::Restore(Box::new(entry.clone())), reasons));
    }
    // As DVC (§6 step 2), and also for stages without deps: an earlier run with the same inputs.
    let probe = status::probe(stage, &cur);
    if shared.use_run_cache
        && let Some(hit) = shared.run_cache.lookup(&probe, &shared.cache)
    {
        return Ok((Verdict::Restore(Box::new(hit)), reasons));
    }
    let shareable = shared.use_run_cache
        && shared.running.is_some()
        && stage.outs.iter().all(|o| o.cache || o.kind != OutKind::Out);
    Ok((run(shareable.then(|| RunCache::key(&probe))), reasons))
}

/// What a stage reads, with its hashes: its deps, its params files and its `persist` outs.
fn inputs(shared: &Shared, stage: &crate::spec::Stage, cur: &status::Current) -> Vec<Input> {
    let mut inputs: Vec<Input> = stage
        .deps
        .iter()
        .zip(&cur.deps)
        // An external dep is read where it is: it never goes into the cache to travel.
        .filter_map(|(dep, (_, info))| {
            Some(Input {
                path: dep.path.repo()?.clone(),
                info: info.clone()?,
            })
        })
        .collect();
    for param in &stage.params {
        if inputs.iter().any(|i| i.path == param.file) {
            continue;
        }
        if let Ok(Some(info)) = shared.hasher.hash(&param.file) {
            inputs.push(Input {
                path: param.file.clone(),
                info,
            });
        }
    }
    // A `persist` out is read too: the stage starts from what it left last time.
    for (out, (_, info)) in stage.outs.iter().zip(&cur.outs) {
        if let (true, Some(info)) = (out.persist, info) {
            inputs.push(Input {
                path: out.entry.path.clone(),
                info: info.clone(),
            });
        }
    }
    inputs
}

/// Checks a stage's outs out of the cache; returns its lock entry.
pub(super) fn restore(shared: &Shared, i: usize, entry: Entry) -> Result<Entry, Failure> {
    let stage = &shared.pipeline.stages[i];
    for out in &stage.outs {
        let Some(locked) = entry.outs.iter().find(|o| o.path == out.entry.written) else {
            return Err(Failure::Record {
                message: format!("output '{}' is not in the cached run", out.entry.written),
            });
        };
        shared
            .cache
            .checkout(
                &out.entry.path.to_path(&shared.root),
                &out.entry.written,
                &locked.info(),
            )
            .map_err(record_failure)?;
    }
    // The restored outs are hashed now, so the lock records exactly what is in the workspace.
    record(shared, i, false)
}

/// Deletes the stage's outs before it runs, except `persist` ones (as DVC).
pub(super) fn remove_outs(shared: &Shared, i: usize) -> Result<(), Failure> {
    for out in &shared.pipeline.stages[i].outs {
        // Whatever the stage writes is hashed afresh.
        shared.hasher.forget(&out.entry.path);
        if out.persist {
            continue;
        }
        let path = out.entry.path.to_path(&shared.root);
        let result = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(_) => Ok(()),
        };
        result.map_err(|e| Failure::Record {
            message: format!(
                "cannot remove output '{}' before running: {e}",
                out.entry.written
            ),
        })?;
    }
    Ok(())
}

/// After a run (or a restore): every out must exist; hash everything for the lock. After a run
/// (`save`), cache the outs and remember the run in the run-cache.
pub(super) fn record(shared: &Shared, i: usize, save: bool) -> Result<Entry, Failure> {
    let stage = &shared.pipeline.stages[i];
    let cur = {
        let mut params = shared.params.lock().map_err(|_| Failure::Record {
            message: "internal error: params lock poisoned".into(),
        })?;
        status::current(stage, &shared.root, &shared.hasher, &mut params).map_err(record_failure)?
    };
    if let Some((path, _)) = cur.outs.iter().find(|(_, h)| h.is_none()) {
        return Err(Failure::MissingOut { path: path.clone() });
    }
    let entry = status::entry(stage, &cur);
    if save {
        for (out, (_, info)) in stage.outs.iter().zip(&cur.outs) {
            let Some(info) = info else { continue };
            // As DVC: uncached metrics and plots are still stored, for the run-cache.
            if !out.cache && out.kind == OutKind::Out {
                continue;
            }
            let abs = out.entry.path.to_path(&shared.root);
            let manifest = shared
                .hasher
                .manifest(&out.entry.path)
                .map_err(record_failure)?;
            shared
                .cache
                .save(&abs, info, manifest.as_deref())
                .map_err(record_failure)?;
            if out.cache {
                shared
                    .cache
                    .relink(&abs, &out.entry.written, info)
                    .map_err(record_failure)?;
            }
        }
        // As DVC: a run with an uncached plain out cannot be restored, so it is not remembered.
        if stage.outs.iter().all(|o| o.cache || o.kind != OutKind::Out) && !stage.always_changed {
            shared.run_cache.save(&entry).map_err(record_failure)?;
        }
    }
    Ok(entry)
}

/// A failure to hash, cache or record a stage's outs.
fn record_failure(e: impl std::fmt::Display) -> Failure {
    Failure::Record {
        message: e.to_string(),
    }
}
