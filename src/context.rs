//! `Context`: the command line's global flags turned once into validated facts (repository
//! root, the folder the user is in, colours), so command code never reads the environment.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::error::Error;
use crate::repo::Repo;
use crate::repo_path::RepoPath;

/// The flags every command takes.
#[derive(Debug, clap::Args)]
pub struct Globals {
    /// Run as if wf was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more about what happens.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colours on a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether to colour stderr.
    pub fn on_stderr(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

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
    /// Whether stderr is a terminal (progress bars).
    pub terminal: bool,
    /// The command line, as the run store records it.
    pub command: String,
}

impl Context {
    /// Validates the global flags.
    pub fn new(globals: &Globals, command: String) -> Result<Context, Error> {
        let here = std::env::current_dir().map_err(|e| Error::Usage {
            message: format!("cannot read the current folder: {e}"),
            help: None,
        })?;
        let dir = match &globals.dir {
            Some(d) => here.join(d),
            None => here,
        };
        let dir = dir.canonicalize().map_err(|e| Error::Usage {
            message: format!("cannot use `{}` as the working folder: {e}", dir.display()),
            help: Some("`-C DIR` must name an existing folder".into()),
        })?;
        let Repo { root, cwd } = Repo::find(&dir);
        Ok(Context {
            root,
            cwd,
            color: globals.color.on_stderr(),
            quiet: globals.quiet,
            verbose: globals.verbose,
            terminal: std::io::stderr().is_terminal(),
            command,
        })
    }

    /// The repository and folder the command works in.
    pub fn repo(&self) -> Repo {
        Repo {
            root: self.root.clone(),
            cwd: self.cwd.clone(),
        }
    }
}
