//! `wf gc`: remove cache objects that no lock or pointer refers to.

use std::collections::BTreeSet;

use crate::cache::refs;
use crate::cmd::Report;
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::git::{Git, Purpose};
use crate::hash::HashInfo;
use crate::lock::{LOCK_NAME, Lock};
use crate::pointer::{self, Pointer};
use crate::remote::Remote;
use crate::repo_path::RepoPath;
use crate::spec::Pipeline;
use crate::workspace;

/// Remove cache objects that nothing refers to.
///
/// Kept: what the locks and `wf add` pointers of the workspace refer to, and with `--rev` or
/// `--all-commits` what they referred to in those git revisions.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also keep what these git revisions refer to.
    #[arg(long, value_name = "REV", num_args = 1..)]
    pub rev: Vec<String>,
    /// Also keep what every commit refers to.
    #[arg(long)]
    pub all_commits: bool,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry: bool,
    /// Also remove unreferenced objects from the remote.
    #[arg(short, long)]
    pub cloud: bool,
    /// The remote for `--cloud`.
    #[arg(short, long, value_name = "NAME")]
    pub remote: Option<String>,
}

/// Runs `wf gc`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let _lock = crate::repo_lock::RepoLock::acquire(&ctx.root)?;
    let config = Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    let mut infos = workspace_refs(ctx)?;
    if args.all_commits || !args.rev.is_empty() {
        let first = args.rev.first().map_or("HEAD", String::as_str);
        let git = Git::open(&ctx.root, first, Purpose::Keep)?;
        let mut revs = args.rev.clone();
        if args.all_commits {
            revs.extend(git.commits()?);
        }
        for rev in &revs {
            infos.extend(rev_refs(&git, rev)?);
        }
    }
    let keep = refs::object_keys(&cache, &infos);
    let mut present: BTreeSet<String> = BTreeSet::new();
    for e in walkdir::WalkDir::new(cache.dir())
        .min_depth(2)
        .into_iter()
        .flatten()
    {
        let Ok(rel) = e.path().strip_prefix(cache.dir()) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if e.file_type().is_file() && !rel.starts_with("runs/") {
            present.insert(rel);
        }
    }
    let doomed: Vec<&String> = present.iter().filter(|k| !keep.contains(*k)).collect();
    let mut out = String::new();
    for k in &doomed {
        if args.dry {
            out.push_str(&format!("would remove {k}\n"));
        } else {
            crate::cache::remove(&cache.dir().join(k))?;
        }
    }
    // Run-cache entries whose outs are gone can never be restored.
    let mut runs_removed = 0;
    if !args.dry {
        for key in crate::transfer::local_runs(cache.dir()) {
            let path = cache.dir().join(&key);
            let usable = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::lock::Entry>(&b).ok())
                .is_some_and(|e| e.outs.iter().all(|o| cache.contains(&o.info())));
            if !usable {
                crate::cache::remove(&path)?;
                runs_removed += 1;
            }
        }
    }
    let verb = if args.dry { "would remove" } else { "removed" };
    let mut err = format!("{verb} {} of {} cache objects", doomed.len(), present.len());
    if runs_removed > 0 {
        err.push_str(&format!(" and {runs_removed} run-cache entries"));
    }
    err.push('\n');
    if args.cloud {
        let remote = Remote::open(&ctx.root, &config, args.remote.as_deref())?;
        let rt = crate::exec::runtime()?;
        let listed = rt.block_on(remote.list())?;
        let gone: Vec<&String> = listed
            .iter()
            .filter(|k| !k.starts_with("runs/") && !keep.contains(*k))
            .collect();
        for k in &gone {
            if args.dry {
                out.push_str(&format!("would remove {k} from remote `{}`\n", remote.name));
            } else {
                rt.block_on(remote.delete(k))?;
            }
        }
        err.push_str(&format!(
            "{verb} {} of {} objects on remote `{}`\n",
            gone.len(),
            listed.len(),
            remote.name
        ));
    }
    Ok(Report {
        stdout: out,
        stderr: if ctx.quiet { String::new() } else { err },
        code: 0,
    })
}

/// Every content the workspace's locks (all entries) and pointers record.
fn workspace_refs(ctx: &Context) -> Result<Vec<HashInfo>, Error> {
    let mut infos = Vec::new();
    if let Ok(p) = Pipeline::load(&ctx.root, &ctx.cwd, &[]) {
        for spec in &p.specs {
            let lock = Lock::read(&Lock::path_for(&spec.dir.to_path(&ctx.root))).map_err(|e| {
                Error::Usage {
                    message: e.to_string(),
                    help: None,
                }
            })?;
            infos.extend(
                lock.stages
                    .values()
                    .flat_map(|e| e.outs.iter().map(|o| o.info())),
            );
        }
    }
    for file in pointer::discover(&ctx.root) {
        let p = Pointer::read(&file.to_path(&ctx.root)).map_err(|message| Error::Usage {
            message,
            help: None,
        })?;
        infos.extend(p.outs.iter().map(|o| o.info()));
    }
    Ok(infos)
}

/// What a git revision's locks and pointers record.
fn rev_refs(git: &Git, rev: &str) -> Result<Vec<HashInfo>, Error> {
    let mut infos = Vec::new();
    for file in git.ls_tree(rev, &RepoPath::root())? {
        let name = file.as_str().rsplit('/').next().unwrap_or_default();
        if name != LOCK_NAME && !name.ends_with(pointer::SUFFIX) {
            continue;
        }
        let Some(bytes) = git.show(rev, &file)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if name == LOCK_NAME {
            if let Ok(lock) = serde_saphyr::from_str::<Lock>(&text) {
                infos.extend(
                    lock.stages
                        .values()
                        .flat_map(|e| e.outs.iter().map(|o| o.info())),
                );
            }
        } else if let Ok(p) = serde_saphyr::from_str::<Pointer>(&text) {
            infos.extend(p.outs.iter().map(|o| o.info()));
        }
    }
    Ok(infos)
}
