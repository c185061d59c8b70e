//! `RunRecord`: what one run did, typed. For each stage: its decision and why, its outcome, when
//! it started, how long it took, where it ran, and the hashes of its deps, outs and params; for
//! the run: its start, end, git revision and status. The last arrow of DESIGN.md's flow (after
//! the lock); `wf report` reads it, and the run store will keep every one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::exec::{Failure, Summary};
use crate::lock::Entry;
use crate::spec::Pipeline;

/// The format of a saved record; bumped when a field changes meaning.
pub const VERSION: u32 = 2;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`VERSION`].
    pub version: u32,
    /// When the run started, in seconds since the Unix epoch.
    pub started: f64,
    /// When it ended, in seconds since the Unix epoch.
    pub ended: f64,
    /// The git commit the workspace was at, if it is a git checkout.
    pub revision: Option<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// Every stage the run considered, in run order.
    pub stages: Vec<StageRecord>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every stage is up to date now.
    Finished,
    /// A stage failed.
    Failed,
    /// Ctrl-C or SIGTERM stopped it.
    Interrupted,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Its address (`train@svm`, `sub/pipeline.yaml:prep`).
    pub stage: String,
    /// Why it was not fresh, as `wf status` words it (empty when it was fresh).
    pub reasons: Vec<String>,
    /// What happened to it.
    pub outcome: StageOutcome,
    /// Who ran it (`local`, `slurm`).
    pub executor: String,
    /// When its command started, in seconds since the Unix epoch.
    pub started: Option<f64>,
    /// How long it ran (or took to restore), in seconds.
    pub seconds: f64,
    /// Its deps' hashes, by path (from its lock entry).
    pub deps: BTreeMap<String, String>,
    /// Its outs' hashes, by path.
    pub outs: BTreeMap<String, String>,
    /// Its tracked params' values, by file then key.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// What happened to a stage in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StageOutcome {
    /// It ran and its outs were recorded.
    Ran,
    /// Its outs came back from the cache instead.
    Restored,
    /// It was fresh.
    Skipped,
    /// It failed.
    Failed {
        /// Why.
        cause: Failure,
    },
    /// It did not run because an upstream stage failed.
    Blocked {
        /// That stage.
        by: String,
    },
    /// Ctrl-C stopped it while it ran.
    Interrupted,
    /// It never started (the run stopped first).
    NotStarted,
}

impl RunRecord {
    /// The record of a finished run of `pipeline`.
    pub fn new(
        pipeline: &Pipeline,
        order: &[usize],
        executor_of: impl Fn(usize) -> &'static str,
        summary: &Summary,
        revision: Option<String>,
    ) -> RunRecord {
        let started = summary.started.unwrap_or_else(SystemTime::now);
        let set = |v: &[usize]| {
            v.iter()
                .copied()
                .collect::<std::collections::HashSet<usize>>()
        };
        let (executed, restored) = (set(&summary.executed()), set(&summary.restored));
        let (skipped, interrupted) = (set(&summary.skipped), set(&summary.interrupted_stages));
        let stages = order
            .iter()
            .filter_map(|&i| {
                let blocked = summary.blocked.iter().find(|(b, _)| *b == i);
                let run = summary.stages.get(&i);
                if run.is_none() && blocked.is_none() {
                    return None;
                }
                let outcome = if let Some((_, by)) = blocked {
                    StageOutcome::Blocked {
                        by: pipeline.stages[*by].address(),
                    }
                } else if let Some((_, cause)) = summary.failed.iter().find(|(f, _)| *f == i) {
                    StageOutcome::Failed {
                        cause: cause.clone(),
                    }
                } else if restored.contains(&i) {
                    StageOutcome::Restored
                } else if executed.contains(&i) {
                    StageOutcome::Ran
                } else if skipped.contains(&i) {
                    StageOutcome::Skipped
                } else if interrupted.contains(&i) {
                    StageOutcome::Interrupted
                } else {
                    StageOutcome::NotStarted
                };
                let (deps, outs, params) = hashes(run.and_then(|r| r.entry.as_ref()));
                Some(StageRecord {
                    stage: pipeline.stages[i].address(),
                    reasons: run.map(|r| r.reasons.clone()).unwrap_or_default(),
                    outcome,
                    executor: executor_of(i).to_string(),
                    started: run.and_then(|r| r.started).map(seconds),
                    seconds: run.map_or(0.0, |r| r.elapsed.as_secs_f64()),
                    deps,
                    outs,
                    params,
                })
            })
            .collect();
        let status = if summary.interrupted {
            RunStatus::Interrupted
        } else if summary.failed.is_empty() {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        RunRecord {
            version: VERSION,
            started: seconds(started),
            ended: seconds(started + summary.elapsed),
            revision,
            status,
            stages,
        }
    }

    /// The stages whose outcome is `pick`'s.
    pub fn stages_where(&self, pick: impl Fn(&StageOutcome) -> bool) -> Vec<&str> {
        self.stages
            .iter()
            .filter(|s| pick(&s.outcome))
            .map(|s| s.stage.as_str())
            .collect()
    }

    /// How long the run took, in seconds.
    pub fn seconds(&self) -> f64 {
        (self.ended - self.started).max(0.0)
    }

    /// Where the last run's record is kept.
    pub fn last_path(root: &Path) -> PathBuf {
        root.join(crate::workspace::DIR)
            .join("runs")
            .join("last.json")
    }

    /// Saves the record as the last run's.
    pub fn save_last(&self, root: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        crate::atomic::replace(&Self::last_path(root), format!("{text}\n").as_bytes())
    }

    /// The last run's record; `None` when there is none, or it is from an older wf.
    pub fn read_last(root: &Path) -> Option<RunRecord> {
        let bytes = std::fs::read(Self::last_path(root)).ok()?;
        serde_json::from_slice::<RunRecord>(&bytes)
            .ok()
            .filter(|r| r.version == VERSION)
    }
}

/// A lock entry's hashes by path, and its params.
type Hashes = (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, serde_json::Value>,
);

fn hashes(entry: Option<&Entry>) -> Hashes {
    let Some(entry) = entry else {
        return Hashes::default();
    };
    let by_path = |list: &[crate::lock::PathHash]| {
        list.iter()
            .map(|d| (d.path.clone(), d.blake3.clone()))
            .collect()
    };
    let params = entry
        .params
        .iter()
        .map(|(file, values)| {
            let values: serde_json::Map<String, serde_json::Value> =
                values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            (file.clone(), serde_json::Value::Object(values))
        })
        .collect();
    (by_path(&entry.deps), by_path(&entry.outs), params)
}

fn seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_record_reads_back_the_same_and_an_older_one_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let record = RunRecord {
            version: VERSION,
            started: 1.5,
            ended: 2.25,
            revision: Some("abc".into()),
            status: RunStatus::Failed,
            stages: vec![StageRecord {
                stage: "train@svm".into(),
                reasons: vec!["changed deps".into()],
                outcome: StageOutcome::Failed {
                    cause: Failure::MissingDep {
                        path: "data.csv".into(),
                    },
                },
                executor: "local".into(),
                started: Some(1.75),
                seconds: 0.5,
                deps: BTreeMap::from([("data.csv".into(), "ab12".into())]),
                outs: BTreeMap::new(),
                params: BTreeMap::from([(
                    "params.yaml".into(),
                    serde_json::json!({"train.C": 1.0}),
                )]),
            }],
        };
        record.save_last(tmp.path()).unwrap();
        assert_eq!(RunRecord::read_last(tmp.path()), Some(record));
        // The untyped record of earlier versions is not misread.
        std::fs::write(
            RunRecord::last_path(tmp.path()),
            r#"{"version": 1, "ran": ["a"], "seconds": 0.1}"#,
        )
        .unwrap();
        assert_eq!(RunRecord::read_last(tmp.path()), None);
    }
}
