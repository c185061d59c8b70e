//! Running a study: each trial is an experiment of the run store (tagged with the study, its
//! number and the objective) in its own scratch copy, through the same pool as a sweep, so the
//! trials share the `-j` slots, the cache and the stages that do not depend on the tuned params.
//! As each trial ends the next is sampled, without waiting for the others. A study run again
//! continues from the store.

use std::collections::BTreeMap;

use super::sampler;
use super::space::{Direction, SamplerKind, Seen, Study};
use crate::error::Error;
use crate::exec::{Event, Events};
use crate::exp::{self, Ended, Launch, Queued, Variant};
use crate::repo::Repo;
use crate::spec::ExecutorName;
use crate::spec::value::Value;
use crate::store::{
    DIRECTION_TAG, OBJECTIVE_TAG, PRUNED_TAG, STUDY_TAG, Store, StoredTrial, TRIAL_TAG,
};

/// Trials in a study that does not say how many.
pub const DEFAULT_TRIALS: usize = 20;

/// How `wf tune` runs a study.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The study's name in the store.
    pub name: String,
    /// Trials to run now (`None`: up to the study's number in all).
    pub more: Option<usize>,
    /// Slots for the stages of all trials (`None`: the cores); as many trials run at once.
    pub jobs: Option<usize>,
    /// Overrides the study's sampler.
    pub sampler: Option<SamplerKind>,
    /// Overrides the study's seed.
    pub seed: Option<u64>,
    /// Where stages run.
    pub executor: Option<ExecutorName>,
    /// The command line, as the store records it.
    pub command: String,
}

/// How a study went.
#[derive(Debug)]
pub struct Outcome {
    /// The trials this run started, in order, as they ended.
    pub ended: Vec<Ended>,
    /// Every trial of the study, this run's included.
    pub trials: Vec<StoredTrial>,
    /// The best finished trial.
    pub best: Option<StoredTrial>,
    /// The ids of the trials this run pruned.
    pub pruned: Vec<String>,
}

/// Runs `opts.more` trials, or those the study lacks.
pub fn run(repo: &Repo, study: &Study, opts: &Options, events: &Events) -> Result<Outcome, Error> {
    let file = study.file.to_string();
    let mut store = Store::open(&repo.root)?;
    let mut before = store.trials(&opts.name, &file, &study.key)?;
    // A study killed outright left its running trials so: they are cancelled, as by Ctrl-C.
    let running: Vec<&str> = (before.iter())
        .filter(|t| t.status == "running")
        .map(|t| t.id.as_str())
        .collect();
    if !running.is_empty() && store.cancel_orphans(&running)? > 0 {
        before = store.trials(&opts.name, &file, &study.key)?;
    }
    let sampler = opts.sampler.unwrap_or(study.sampler);
    let seed = opts.seed.or(study.seed).unwrap_or(0);
    let mut seen: Vec<Seen> = before
        .iter()
        .filter(|t| ended(&t.status))
        .filter_map(seen_of)
        .collect();
    let done = seen.len();
    let total = study.trials.unwrap_or(match sampler {
        SamplerKind::Grid => sampler::grid_size(&study.space).unwrap_or(DEFAULT_TRIALS),
        _ => DEFAULT_TRIALS,
    });
    let mut todo = opts.more.unwrap_or(total.saturating_sub(done));
    let mut number = before.iter().map(|t| t.number + 1).max().unwrap_or(0);
    let parallel = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let launch = Launch {
        command: opts.command.clone(),
        jobs: opts.jobs,
        executor: opts.executor,
        ..Launch::default()
    };
    let tags = |n: u64| {
        vec![
            (STUDY_TAG, opts.name.clone()),
            (TRIAL_TAG, n.to_string()),
            (OBJECTIVE_TAG, format!("{file}:{}", study.key)),
            (DIRECTION_TAG, study.direction.as_str().to_string()),
        ]
    };
    // Samples and records the next trial; `None` when none is left (or the grid is done).
    let mut next = |seen: &mut Vec<Seen>, todo: &mut usize| -> Result<Option<Queued>, Error> {
        if *todo == 0 {
            return Ok(None);
        }
        let Some(params) =
            sampler::sample(sampler, &study.space, seen, study.direction, number, seed)
        else {
            return Ok(None);
        };
        let variant = Variant::setting(study.space.iter().filter_map(|d| {
            Some((
                d.file.clone(),
                d.key.clone(),
                d.add,
                params.get(&d.name())?.clone(),
            ))
        }));
        variant.rewritten(&repo.root, &repo.cwd)?;
        let q = exp::queue_tagged(repo, &launch, variant, &tags(number))?;
        // Running trials count for the grid (no point twice), not for the densities.
        seen.push(Seen {
            params,
            value: None,
        });
        number += 1;
        *todo -= 1;
        Ok(Some(q))
    };
    let mut first = Vec::new();
    while first.len() < parallel {
        match next(&mut seen, &mut todo)? {
            Some(q) => first.push(q),
            None => break,
        }
    }
    let mut best: Option<f64> = before
        .iter()
        .filter(|t| t.status == "finished")
        .filter_map(|t| t.value)
        .reduce(|a, b| if study.direction.better(b, a) { b } else { a });
    let mut error = None;
    // Each ended trial's step-wise values (what pruning compares with), and those pruned now.
    let mut steps: Vec<Vec<(i64, f64)>> = Vec::new();
    if study.prune.is_some() {
        for t in before.iter().filter(|t| ended(&t.status)) {
            steps.push(store.steps(&t.id, &study.key)?);
        }
    }
    let steps = std::cell::RefCell::new(steps);
    // The trials pruned now, with the step they were pruned at.
    let pruned = std::cell::RefCell::new(BTreeMap::<String, i64>::new());
    let running = std::cell::RefCell::new(BTreeMap::<String, u64>::new());
    for q in &first {
        running.borrow_mut().insert(q.id.clone(), 0);
    }
    let first_ids: Vec<String> = first.iter().map(|q| q.id.clone()).collect();
    let ended = exp::run_pool(
        repo,
        &launch,
        first,
        events,
        |ended| {
            running.borrow_mut().remove(&ended.id);
            let value = store
                .trials(&opts.name, &file, &study.key)
                .ok()
                .and_then(|all| all.into_iter().find(|t| t.id == ended.id));
            if let Some(p) = pruned.borrow().get(&ended.id)
                && let Ok(mut store) = Store::open(&repo.root)
            {
                let _ = store.abandon(&ended.id, "pruned");
                let _ = store.tag(&ended.id, &[(PRUNED_TAG, p.to_string())]);
            }
            if study.prune.is_some()
                && let Ok(s) = store.steps(&ended.id, &study.key)
            {
                steps.borrow_mut().push(s);
            }
            if let Some(t) = value
                .as_ref()
                .filter(|_| !pruned.borrow().contains_key(&ended.id))
            {
                // The running trial's entry takes its value.
                let params = assigned(&t.overrides);
                if let Some(s) = seen
                    .iter_mut()
                    .find(|s| s.params == params && s.value.is_none())
                {
                    s.value = if t.status == "finished" {
                        t.value
                    } else {
                        None
                    };
                }
                let _ = events.send(Event::Note {
                    message: note(study, t, &mut best),
                });
            }
            if error.is_some() {
                return Vec::new();
            }
            match next(&mut seen, &mut todo) {
                Ok(q) => {
                    if let Some(q) = &q {
                        running.borrow_mut().insert(q.id.clone(), 0);
                    }
                    q.into_iter().collect()
                }
                Err(e) => {
                    error = Some(e);
                    Vec::new()
                }
            }
        },
        || {
            let Some(prune) = study.prune else {
                return Vec::new();
            };
            let steps = steps.borrow();
            if steps.len() < prune.warmup_trials.max(1) {
                return Vec::new();
            }
            let mut stop = Vec::new();
            for id in running.borrow().keys() {
                if pruned.borrow().contains_key(id) {
                    continue;
                }
                let Some((step, value)) = store
                    .steps(id, &study.key)
                    .ok()
                    .and_then(|s| s.last().copied())
                else {
                    continue;
                };
                if step < prune.warmup_steps {
                    continue;
                }
                let Some(median) = median_at(&steps, step) else {
                    continue;
                };
                if study.direction.better(median, value) {
                    // Said now, before its stage says it was stopped.
                    let trial = (store.trials(&opts.name, &file, &study.key).ok())
                        .and_then(|all| all.into_iter().find(|t| &t.id == id));
                    let _ = events.send(Event::Note {
                        message: format!(
                            "Trial {} '{}' pruned at step {step}: {} = {} is worse than the median {} of the ended trials there",
                            trial.as_ref().map_or(String::new(), |t| t.number.to_string()),
                            trial.as_ref().map_or("", |t| t.name.as_str()),
                            study.key,
                            crate::spec::value::python_float(value),
                            crate::spec::value::python_float(median)
                        ),
                    });
                    // The trial's id and the step it was pruned at.
                    pruned.borrow_mut().insert(id.clone(), step);
                    stop.push(id.clone());
                }
            }
            stop
        },
    );
    let ended = match ended {
        Ok(ended) => ended,
        Err(e) => {
            // The pool did not start (the repository is locked by another run): the trials
            // recorded for it will never run.
            let mut store = Store::open(&repo.root)?;
            for id in &first_ids {
                store.abandon(id, "cancelled")?;
            }
            return Err(e);
        }
    };
    if let Some(e) = error {
        return Err(e);
    }
    let trials = store.trials(&opts.name, &file, &study.key)?;
    let best = best_of(&trials, study.direction);
    Ok(Outcome {
        ended,
        trials,
        best,
        pruned: pruned.into_inner().into_keys().collect(),
    })
}

/// Whether a trial with this status counts as done: it will not run again.
fn ended(status: &str) -> bool {
    matches!(status, "finished" | "failed" | "pruned")
}

/// The median of the trials' values at `step`, among those that reached it.
fn median_at(steps: &[Vec<(i64, f64)>], step: i64) -> Option<f64> {
    let mut at: Vec<f64> = steps
        .iter()
        .filter_map(|s| s.iter().find(|(k, _)| *k == step).map(|(_, v)| *v))
        .filter(|v| v.is_finite())
        .collect();
    if at.is_empty() {
        return None;
    }
    at.sort_by(f64::total_cmp);
    let n = at.len();
    Some(if n % 2 == 1 {
        at[n / 2]
    } else {
        (at[n / 2 - 1] + at[n / 2]) / 2.0
    })
}

/// The trial's line as it ends: its value, and whether it is the best so far.
fn note(study: &Study, t: &StoredTrial, best: &mut Option<f64>) -> String {
    let params = assigned(&t.overrides)
        .iter()
        .map(|(k, v)| format!("{k}={}", v.to_text()))
        .collect::<Vec<_>>()
        .join(", ");
    match (t.status.as_str(), t.value) {
        ("finished", Some(v)) => {
            let new_best = best.is_none_or(|b| study.direction.better(v, b));
            if new_best {
                *best = Some(v);
            }
            format!(
                "Trial {} '{}': {} = {} with {params}{}",
                t.number,
                t.name,
                study.key,
                crate::spec::value::python_float(v),
                if new_best { " (best so far)" } else { "" }
            )
        }
        ("finished", None) => format!(
            "Trial {} '{}' finished without `{}` in `{}`",
            t.number, t.name, study.key, study.file
        ),
        (status, _) => format!("Trial {} '{}' {status} with {params}", t.number, t.name),
    }
}

/// The best finished trial with a value.
pub fn best_of(trials: &[StoredTrial], direction: Direction) -> Option<StoredTrial> {
    trials
        .iter()
        .filter(|t| t.status == "finished" && t.value.is_some_and(f64::is_finite))
        .reduce(|a, b| match (a.value, b.value) {
            (Some(x), Some(y)) if direction.better(y, x) => b,
            _ => a,
        })
        .cloned()
}

/// The params a trial's overrides set.
pub fn assigned(overrides: &[String]) -> BTreeMap<String, Value> {
    Variant::recorded(overrides)
        .map(|v| v.assigned())
        .unwrap_or_default()
}

fn seen_of(t: &StoredTrial) -> Option<Seen> {
    Some(Seen {
        params: assigned(&t.overrides),
        value: if t.status == "finished" {
            t.value
        } else {
            None
        },
    })
}
