//! `wf verify`: prove the lock reproduces. The targeted stages run again, forced, in a scratch
//! copy of the repository, and every out they write is compared with the lock's hash.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::cmd::Report;
use crate::context::Context;
use crate::dag::Dag;
use crate::error::Error;
use crate::exit_code;
use crate::hash::Hasher;
use crate::lock::{Lock, LockSet};
use crate::params::Params;
use crate::repo_path::RepoPath;
use crate::select::{self, Reach};
use crate::spec::Pipeline;
use crate::status;
use crate::target;
use crate::workspace;

/// Check that the lock reproduces: re-run the stages in a scratch copy and compare outputs.
///
/// Every targeted stage (all by default) and its upstream run again, forced, in a temporary
/// copy of the repository, from the same inputs as recorded in the lock. Stages whose outputs
/// differ from the lock byte for byte are listed, and the exit code is 1.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (default: every stage).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many stages may run at once.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Runs `wf verify`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let usage = |message: String, help: Option<&str>| Error::Usage {
        message,
        help: help.map(str::to_string),
    };
    let extra = target::named_specs(&ctx.root, &ctx.cwd, &args.targets);
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &extra)?;
    let dag = Dag::build(&pipeline)?;
    let targets: Vec<usize> = if args.targets.is_empty() {
        (0..pipeline.stages.len()).collect()
    } else {
        target::resolve(&pipeline, &ctx.cwd, &args.targets, false)?
    };
    let stages: BTreeSet<usize> = select::stages(&pipeline, &dag, &targets, Reach::Upstream);
    let locks = LockSet::read(&ctx.root, &pipeline, &stages);
    // The recorded inputs must be the workspace's: otherwise the run would prove nothing.
    let hasher =
        Hasher::open(&ctx.root, &workspace::state_path(&ctx.root)).with_progress(!ctx.quiet);
    let mut params = Params::default();
    for &i in &stages {
        let stage = &pipeline.stages[i];
        if stage.frozen {
            continue;
        }
        let Some(entry) = locks.entry(stage) else {
            return Err(usage(
                format!(
                    "stage `{}` has never run, so there is nothing to verify",
                    stage.address()
                ),
                Some("run `wf repro` first"),
            ));
        };
        let cur = status::current(stage, &ctx.root, &hasher, &mut params)
            .map_err(|e| usage(e.to_string(), None))?;
        if !status::changes(stage, &cur, Some(entry)).is_empty() {
            return Err(usage(
                format!("stage `{}` is not as the lock records it", stage.address()),
                Some(
                    "`wf status` says why; run `wf repro` (or `wf checkout`) first, so that the workspace is what the lock records",
                ),
            ));
        }
    }
    let outs: BTreeSet<RepoPath> = stages
        .iter()
        .filter(|&&i| !pipeline.stages[i].frozen)
        .flat_map(|&i| pipeline.stages[i].outs.iter().map(|o| o.entry.path.clone()))
        .collect();
    let scratch = tempfile::Builder::new()
        .prefix("wf-verify-")
        .tempdir()
        .map_err(|e| usage(format!("cannot create a scratch folder: {e}"), None))?;
    copy_tree(&ctx.root, scratch.path(), &RepoPath::root(), &outs)
        .map_err(|e| usage(format!("cannot copy the repository: {e}"), None))?;
    // The copy is a repository of its own, with no cache: every stage really runs.
    std::fs::create_dir_all(scratch.path().join(workspace::DIR))
        .map_err(|e| usage(e.to_string(), None))?;
    let exe = std::env::current_exe()
        .map_err(|e| usage(format!("cannot find the wf binary: {e}"), None))?;
    let mut cmd = Command::new(exe);
    cmd.arg("-C")
        .arg(scratch.path().join(ctx.cwd.as_str()))
        .args(["-q", "repro", "-f", "--no-run-cache"]);
    if let Some(j) = args.jobs {
        cmd.args(["-j", &j.to_string()]);
    }
    cmd.args(&args.targets);
    let ran = cmd
        .output()
        .map_err(|e| usage(format!("cannot run the stages: {e}"), None))?;
    if !ran.status.success() {
        return Ok(Report {
            stdout: String::new(),
            stderr: format!(
                "{}error: the stages failed in the scratch copy, so the lock does not reproduce\n",
                String::from_utf8_lossy(&ran.stderr)
            ),
            code: exit_code::FAILED,
        });
    }
    let mut differ = Vec::new();
    let mut same = 0;
    for &i in &stages {
        let stage = &pipeline.stages[i];
        if stage.frozen {
            continue;
        }
        let Some(locked) = locks.entry(stage) else {
            continue;
        };
        let again = Lock::read(&Lock::path_for(&stage.spec.dir.to_path(scratch.path())))
            .map_err(|e| usage(e.to_string(), None))?;
        let Some(fresh) = again.stages.get(&stage.name) else {
            continue;
        };
        let changed: Vec<String> = locked
            .outs
            .iter()
            .filter(|o| {
                fresh
                    .outs
                    .iter()
                    .find(|f| f.path == o.path)
                    .is_none_or(|f| f.blake3 != o.blake3)
            })
            .map(|o| o.path.clone())
            .collect();
        if changed.is_empty() {
            same += 1;
        } else {
            differ.push(format!("{}: {}", stage.address(), changed.join(", ")));
        }
    }
    if differ.is_empty() {
        return Ok(Report {
            stdout: String::new(),
            stderr: format!("all {same} stages reproduce byte for byte\n"),
            code: exit_code::OK,
        });
    }
    let mut err = String::from(
        "error: these stages wrote different outputs from the same inputs (not deterministic):\n",
    );
    for d in &differ {
        err.push_str(&format!("  {d}\n"));
    }
    Ok(Report {
        stdout: String::new(),
        stderr: err,
        code: exit_code::FAILED,
    })
}

/// Copies the repository's files, leaving out `.git`, `.wf` and the outs the stages will write.
fn copy_tree(
    root: &Path,
    to: &Path,
    dir: &RepoPath,
    skip: &BTreeSet<RepoPath>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir.to_path(root))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rel) = dir.join(&name) else { continue };
        if (dir.as_str().is_empty() && (name == ".git" || name == workspace::DIR))
            || skip.contains(&rel)
        {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(rel.to_path(to))?;
            copy_tree(root, to, &rel, skip)?;
        } else if kind.is_file() {
            // A reflink where the file system has one: a copy costs no space until written.
            reflink_copy::reflink_or_copy(entry.path(), rel.to_path(to))?;
        }
    }
    Ok(())
}
