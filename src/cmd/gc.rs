//! `wf gc`: remove cache objects that no lock or pointer refers to (see `crate::gc`).

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::gc::{self, GcOptions};

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
    let opts = GcOptions {
        revs: args.rev.clone(),
        all_commits: args.all_commits,
        dry: args.dry,
        remote: args.cloud.then(|| args.remote.clone()),
    };
    let done = gc::collect(&ctx.repo(), &opts)?;
    let verb = if args.dry { "would remove" } else { "removed" };
    let mut out = String::new();
    if args.dry {
        for k in &done.removed {
            out.push_str(&format!("would remove {k}\n"));
        }
    }
    let mut err = format!(
        "{verb} {} of {} cache objects",
        done.removed.len(),
        done.present
    );
    if done.runs_removed > 0 {
        err.push_str(&format!(" and {} run-cache entries", done.runs_removed));
    }
    err.push('\n');
    if let Some((name, gone, listed)) = &done.remote {
        if args.dry {
            for k in gone {
                out.push_str(&format!("would remove {k} from remote `{name}`\n"));
            }
        }
        err.push_str(&format!(
            "{verb} {} of {listed} objects on remote `{name}`\n",
            gone.len()
        ));
    }
    Ok(Report {
        stdout: out,
        stderr: if ctx.quiet { String::new() } else { err },
        code: 0,
    })
}
