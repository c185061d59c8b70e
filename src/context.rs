//! `Context`: the command line's global flags turned once into validated facts (repository
//! root, the folder the user is in, colours), so command code never reads the environment.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Color};
use crate::error::Error;
use crate::repo_path::RepoPath;

/// What every command knows about where and how it runs.
#[derive(Debug)]
pub struct Context {
    /// The repository root: the nearest folder up from the working folder holding `.wf` or
    /// `.dvc`, else the nearest holding `.git`, else the working folder itself.
    pub root: PathBuf,
    /// The working folder, relative to the root: its spec holds bare stage names.
    pub cwd: RepoPath,
    /// Colours on stderr.
    pub color: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-v`.
    pub verbose: bool,
}

impl Context {
    /// Validates the global flags.
    pub fn new(cli: &Cli) -> Result<Context, Error> {
        let here = std::env::current_dir().map_err(|e| Error::Usage {
            message: format!("cannot read the current folder: {e}"),
            help: None,
        })?;
        let dir = match &cli.dir {
            Some(d) => here.join(d),
            None => here,
        };
        let dir = dir.canonicalize().map_err(|e| Error::Usage {
            message: format!("cannot use `{}` as the working folder: {e}", dir.display()),
            help: Some("`-C DIR` must name an existing folder".into()),
        })?;
        let root = find_root(&dir);
        let rel = dir
            .strip_prefix(&root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let cwd = RepoPath::root().join(&rel).unwrap_or_default();
        let color = match cli.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Ok(Context {
            root,
            cwd,
            color,
            quiet: cli.quiet,
            verbose: cli.verbose,
        })
    }
}

fn find_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".wf").is_dir() || d.join(".dvc").is_dir())
        .or_else(|| dir.ancestors().find(|d| d.join(".git").exists()))
        .unwrap_or(dir)
        .to_path_buf()
}
