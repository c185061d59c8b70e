//! `Git`: the git repository around a wf repository, read by shelling out to `git` — files and
//! trees at a revision, revisions, merge bases, the commit a run starts from. The wf root's
//! place inside git's top level (a sub-folder project) is worked out once, here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::repo_path::RepoPath;

/// What a git revision was wanted for, so that "not a git repository" says what cannot be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `params diff`, `metrics diff`, `report`.
    Compare,
    /// `gc --rev`, `gc --all-commits`.
    Keep,
    /// `plots diff`.
    Plots,
}

/// Git could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The `git` program could not be started.
    #[error("cannot run git: {source}")]
    Spawn {
        /// Why.
        source: std::io::Error,
    },
    /// A revision was asked for outside any git repository.
    #[error("{}", not_a_repository(dir, rev, *purpose))]
    NotARepository {
        /// The wf repository root.
        dir: PathBuf,
        /// The revision asked for.
        rev: String,
        /// What for.
        purpose: Purpose,
    },
    /// A revision git does not know.
    #[error("unknown revision `{rev}`")]
    UnknownRevision {
        /// As the user wrote it.
        rev: String,
    },
    /// A git command failed.
    #[error("`git {command}` failed: {stderr}")]
    Failed {
        /// The command's arguments.
        command: String,
        /// What git said.
        stderr: String,
    },
}

impl GitError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            GitError::Spawn { .. } => Some("install git and make sure it is on `PATH`".into()),
            GitError::NotARepository {
                purpose: Purpose::Compare,
                ..
            } => Some(
                "run `git init` and commit, or use `wf metrics show` for the workspace's values"
                    .into(),
            ),
            GitError::NotARepository {
                purpose: Purpose::Plots,
                ..
            } => Some(
                "run `git init` and commit, or use `wf plots show` for the workspace's plots"
                    .into(),
            ),
            GitError::NotARepository {
                purpose: Purpose::Keep,
                ..
            } => Some(
                "run `git init` and commit, or leave out `--rev` and `--all-commits`".into(),
            ),
            GitError::UnknownRevision { .. } => Some(
                "name a commit, branch or tag of the git repository (`git log --oneline` lists commits)"
                    .into(),
            ),
            GitError::Failed { .. } => None,
        }
    }

    /// The exit code: a revision or repository the user named is bad input; git failing on
    /// its own is a failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            GitError::NotARepository { .. } | GitError::UnknownRevision { .. } => {
                crate::exit_code::BAD_INPUT
            }
            GitError::Spawn { .. } | GitError::Failed { .. } => crate::exit_code::FAILED,
        }
    }
}

/// The git repository holding a wf repository.
#[derive(Debug, Clone)]
pub struct Git {
    /// git's top level, where every command runs.
    top: PathBuf,
    /// The wf root relative to the top level, `/`-terminated (empty at the top level).
    prefix: String,
}

impl Git {
    /// The repository around `root`, or `None` when `root` is in none.
    pub fn find(root: &Path) -> Result<Option<Git>, GitError> {
        let args = ["rev-parse", "--show-toplevel", "--show-prefix"];
        let out = run(root, &args)?;
        if !out.status.success() {
            // Anything else (an unsafe directory, a broken `.git`) is worth showing.
            if String::from_utf8_lossy(&out.stderr).contains("not a git repository") {
                return Ok(None);
            }
            return Err(failed(&args, &out));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let top = PathBuf::from(lines.next().unwrap_or_default());
        let prefix = lines.next().unwrap_or_default().to_string();
        Ok(Some(Git { top, prefix }))
    }

    /// The repository around `root`, which must exist because `rev` is wanted for `purpose`.
    pub fn open(root: &Path, rev: &str, purpose: Purpose) -> Result<Git, GitError> {
        Git::find(root)?.ok_or_else(|| GitError::NotARepository {
            dir: root.to_path_buf(),
            rev: rev.to_string(),
            purpose,
        })
    }

    /// The commit a revision names.
    pub fn rev_parse(&self, rev: &str) -> Result<String, GitError> {
        self.commit(rev)?
            .ok_or_else(|| GitError::UnknownRevision { rev: rev.into() })
    }

    /// The commit a revision names, or `None` when it names none.
    fn commit(&self, rev: &str) -> Result<Option<String>, GitError> {
        // A leading dash would be read as an option.
        if rev.starts_with('-') {
            return Ok(None);
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self.git(&["rev-parse", "--verify", "--quiet", &spec])?;
        Ok(out.status.success().then(|| stdout_line(&out)))
    }

    /// A file of the wf repository as it is at `rev`, or `None` when that revision has no such
    /// file.
    pub fn show(&self, rev: &str, path: &RepoPath) -> Result<Option<Vec<u8>>, GitError> {
        let spec = format!("{rev}:{}{}", self.prefix, path.as_str());
        let out = self.git(&["cat-file", "blob", &spec])?;
        if out.status.success() {
            return Ok(Some(out.stdout));
        }
        // Either the revision or the file is missing: only the first is an error.
        self.rev_parse(rev)?;
        Ok(None)
    }

    /// Every file under `dir` of the wf repository at `rev`, recursively.
    pub fn ls_tree(&self, rev: &str, dir: &RepoPath) -> Result<Vec<RepoPath>, GitError> {
        let under = format!("{}{}", self.prefix, dir.as_str());
        let mut args = vec!["ls-tree", "-r", "-z", "--name-only", rev];
        if !under.is_empty() {
            args.extend(["--", &under]);
        }
        let out = self.git(&args)?;
        if !out.status.success() {
            self.rev_parse(rev)?;
            return Err(failed(&args, &out));
        }
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter_map(|name| {
                let name = String::from_utf8_lossy(name);
                RepoPath::root().join(name.strip_prefix(&self.prefix)?)
            })
            .filter(|p| !p.as_str().is_empty())
            .collect())
    }

    /// The best common ancestor of two revisions, or `None` when their histories are unrelated.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>, GitError> {
        let (a, b) = (self.rev_parse(a)?, self.rev_parse(b)?);
        let out = self.git(&["merge-base", &a, &b])?;
        match out.status.code() {
            Some(0) => Ok(Some(stdout_line(&out))),
            // As git: 1 without a message means no common ancestor.
            Some(1) if out.stderr.is_empty() => Ok(None),
            _ => Err(failed(&["merge-base", &a, &b], &out)),
        }
    }

    /// The branch pull requests go into: `origin`'s default, else the first of `origin/main`,
    /// `origin/master`, `main`, `master` that exists.
    pub fn default_branch(&self) -> Result<Option<String>, GitError> {
        let out = self.git(&[
            "symbolic-ref",
            "--quiet",
            "--short",
            "refs/remotes/origin/HEAD",
        ])?;
        if out.status.success() {
            return Ok(Some(stdout_line(&out)));
        }
        for b in ["origin/main", "origin/master", "main", "master"] {
            if self.commit(b)?.is_some() {
                return Ok(Some(b.to_string()));
            }
        }
        Ok(None)
    }

    /// Every commit reachable from a ref, for `gc --all-commits`.
    pub fn commits(&self) -> Result<Vec<String>, GitError> {
        let out = self.checked(&["rev-list", "--all"])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// The commit checked out, or `None` before the first commit.
    pub fn head(&self) -> Result<Option<String>, GitError> {
        self.commit("HEAD")
    }

    /// Whether tracked files differ from the commit checked out.
    pub fn dirty(&self) -> Result<bool, GitError> {
        let out = self.checked(&["status", "--porcelain", "--untracked-files=no"])?;
        Ok(!out.stdout.is_empty())
    }

    fn git(&self, args: &[&str]) -> Result<Output, GitError> {
        run(&self.top, args)
    }

    /// Runs git and fails when it does.
    fn checked(&self, args: &[&str]) -> Result<Output, GitError> {
        let out = self.git(args)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(failed(args, &out))
        }
    }
}

fn not_a_repository(dir: &Path, rev: &str, purpose: Purpose) -> String {
    match purpose {
        Purpose::Compare | Purpose::Plots => format!(
            "`{}` is not in a git repository, so there is no revision `{rev}` to compare with",
            dir.display()
        ),
        Purpose::Keep => format!(
            "`{}` is not in a git repository, so there are no commits to keep the objects of",
            dir.display()
        ),
    }
}

fn run(dir: &Path, args: &[&str]) -> Result<Output, GitError> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        // Messages in English, as wf's own, and as `find` reads them.
        .env("LC_ALL", "C")
        .output()
        .map_err(|source| GitError::Spawn { source })
}

fn failed(args: &[&str], out: &Output) -> GitError {
    GitError::Failed {
        command: args.join(" "),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

fn stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
