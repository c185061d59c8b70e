//! `wf add`: track a data file or folder that no stage produces, as `dvc add` does.

use crate::cache::CacheError;
use crate::cmd::Report;
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::hash::Hasher;
use crate::lock::PathHash;
use crate::pointer::{self, Pointer};
use crate::repo_path::RepoPath;
use crate::spec::Pipeline;
use crate::workspace;

/// Track data files or folders: store them in the cache and write a pointer file.
///
/// `wf add data/raw.csv` writes `data/raw.csv.wf` (its hash and size: commit it), puts the data
/// in the cache (`wf push` shares it) and adds it to `data/.gitignore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or folders to track.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// Runs `wf add`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let config = Config::load(&ctx.root)?;
    let cache = workspace::cache(&ctx.root, &config)?;
    workspace::ensure_dir(&ctx.root).map_err(|(path, source)| CacheError::Io {
        action: "create",
        path: path.display().to_string(),
        source,
    })?;
    let hasher = Hasher::open(&ctx.root, &workspace::state_path(&ctx.root))
        .with_progress(crate::report::progress_sink(ctx.terminal && !ctx.quiet));
    let outs: Vec<(RepoPath, String)> = match Pipeline::load(&ctx.root, &ctx.cwd, &[]) {
        Ok(p) => p
            .stages
            .iter()
            .flat_map(|s| {
                s.outs
                    .iter()
                    .map(move |o| (o.entry.path.clone(), s.address()))
            })
            .collect(),
        Err(_) => vec![],
    };
    let mut out = String::new();
    for written in &args.paths {
        let usage = |message: String, help: Option<String>| Error::Usage { message, help };
        let path = ctx
            .cwd
            .join(written)
            .ok_or_else(|| usage(format!("`{written}` is outside the repository"), None))?;
        if let Some((o, stage)) = outs
            .iter()
            .find(|(o, _)| path.is_within(o) || o.is_within(&path))
        {
            return Err(usage(
                format!("`{path}` overlaps output `{o}` of stage `{stage}`"),
                Some("stage outputs are tracked by the lock already; `wf add` is for data no stage writes".into()),
            ));
        }
        let info = hasher
            .hash(&path)?
            .ok_or_else(|| usage(format!("`{written}` does not exist"), None))?;
        let manifest = hasher.manifest(&path)?;
        let abs = path.to_path(&ctx.root);
        cache.save(&abs, &info, manifest.as_deref())?;
        let name = path.parts().last().unwrap_or_default().to_string();
        let ptr_path = RepoPath::root()
            .join(&format!("{}{}", path.as_str(), pointer::SUFFIX))
            .unwrap_or_default();
        Pointer {
            version: pointer::VERSION,
            outs: vec![PathHash::new(&name, &info)],
        }
        .write(&ptr_path.to_path(&ctx.root))
        .map_err(|m| usage(m, None))?;
        workspace::ignore_in_git(&path.parent().to_path(&ctx.root), &name)
            .map_err(|e| usage(format!("cannot update `.gitignore`: {e}"), None))?;
        let size = info.nfiles.map_or_else(
            || format!("{} bytes", info.size),
            |n| format!("{n} files, {} bytes", info.size),
        );
        out.push_str(&format!("Added {path} ({size})\n"));
        out.push_str(&format!(
            "To track it with git: git add {ptr_path} {}\n",
            path.parent().join(".gitignore").unwrap_or_default()
        ));
    }
    let _ = hasher.save();
    Ok(Report {
        stdout: String::new(),
        stderr: out,
        code: 0,
    })
}
