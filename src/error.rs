//! `Error`: every way a command can fail, rendered once, in `lib.rs::run`, with the source
//! line and a caret where the error has a place in a file.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::exit_code;
use crate::spec::{Loc, SpecError};

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec, params, targets or graph are wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A command-line value that cannot be used.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do.
        help: Option<String>,
    },
    /// The model registry refused.
    #[error(transparent)]
    Model(#[from] wf_stages::Error),
    /// The cache refused.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// A remote refused.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// The config is unreadable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A dep, out or folder could not be hashed.
    #[error(transparent)]
    Hash(#[from] crate::hash::HashError),
    /// A lock file cannot be read, parsed or written.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// Git could not answer.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// Another wf is writing the repository.
    #[error(transparent)]
    Locked(#[from] crate::repo_lock::RepoLockError),
    /// A run could not start.
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    /// The run store refused.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// No one registry to use.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// `wf serve` cannot start.
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// `wf ui` cannot start.
    #[error(transparent)]
    Ui(#[from] crate::ui::UiError),
    /// Verification cannot start.
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    /// The file watcher could not start.
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
    /// A pointer file is unreadable.
    #[error(transparent)]
    Pointer(#[from] crate::pointer::PointerError),
    /// An experiment command refused.
    #[error(transparent)]
    Exp(crate::exp::ExpError),
    /// A plot cannot be drawn.
    #[error(transparent)]
    Plots(#[from] crate::plots::PlotsError),
    /// Writing to stdout failed (a closed pipe is not an error: see `lib.rs`).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<crate::exp::ExpError> for Error {
    /// A params file that does not parse is rendered as the spec's errors are.
    fn from(e: crate::exp::ExpError) -> Error {
        match e {
            crate::exp::ExpError::Rewrite(crate::exp::rewrite::RewriteError::Parse(e)) => {
                Error::Spec(e)
            }
            e => Error::Exp(e),
        }
    }
}

impl From<crate::status::CheckError> for Error {
    /// A stage that cannot be checked: a params file is bad input (rendered with its line and
    /// caret as the spec's errors are), a file that cannot be hashed is an I/O failure.
    fn from(e: crate::status::CheckError) -> Error {
        match e {
            crate::status::CheckError::Hash(e) => Error::Hash(e),
            crate::status::CheckError::Params(e) => Error::Spec(e),
        }
    }
}

impl Error {
    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Spec(_) | Error::Usage { .. } | Error::Locked(_) | Error::Model(_) => {
                exit_code::BAD_INPUT
            }
            // A socket or a name that is not UTF-8 is what the user gave; the rest is I/O.
            Error::Hash(
                crate::hash::HashError::NotRegular { .. } | crate::hash::HashError::NonUtf8 { .. },
            ) => exit_code::BAD_INPUT,
            Error::Output(_)
            | Error::Cache(_)
            | Error::Remote(_)
            | Error::Hash(_)
            | Error::Exec(_)
            | Error::Watch(_) => exit_code::FAILED,
            Error::Pointer(_) | Error::Registry(_) => exit_code::BAD_INPUT,
            Error::Serve(crate::serve::ServeError::Runtime(_)) => exit_code::FAILED,
            Error::Serve(_) => exit_code::BAD_INPUT,
            Error::Ui(e) if e.status.is_server_error() => exit_code::FAILED,
            Error::Ui(_) => exit_code::BAD_INPUT,
            Error::Store(crate::store::StoreError::Write { .. }) => exit_code::FAILED,
            Error::Store(_) => exit_code::BAD_INPUT,
            Error::Exp(crate::exp::ExpError::Write { .. }) => exit_code::FAILED,
            Error::Exp(_) => exit_code::BAD_INPUT,
            Error::Verify(crate::verify::VerifyError::Scratch { .. }) => exit_code::FAILED,
            Error::Verify(_) => exit_code::BAD_INPUT,
            Error::Config(_) => exit_code::BAD_INPUT,
            Error::Plots(crate::plots::PlotsError::Io { .. }) => exit_code::FAILED,
            Error::Plots(_) => exit_code::BAD_INPUT,
            // A lock that does not parse is bad input; one that cannot be read or written is not.
            Error::Lock(
                crate::lock::LockError::Parse { .. } | crate::lock::LockError::Conflict { .. },
            ) => exit_code::BAD_INPUT,
            Error::Lock(_) => exit_code::FAILED,
            Error::Git(e) => e.exit_code(),
        }
    }

    /// The full text shown on stderr.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let title = self.to_string();
        // An override is shown as a one-line source, with a caret at its mistake.
        let override_at = match self {
            Error::Exp(e) => e.at().map(|(text, column)| Loc {
                src: std::sync::Arc::new(crate::spec::Source {
                    name: "-S".into(),
                    path: std::path::PathBuf::from("-S"),
                    text: text.to_string(),
                }),
                span: crate::spec::Span::at(text, 1, column + 1, 1),
            }),
            _ => None,
        };
        let (primary, secondary, help) = match self {
            Error::Spec(e) => {
                let r = e.report();
                (r.primary, r.secondary, r.help)
            }
            Error::Usage { help, .. } => (None, vec![], help.clone()),
            Error::Git(e) => (None, vec![], e.help()),
            Error::Locked(crate::repo_lock::RepoLockError::Held { path, .. }) => (
                None,
                vec![],
                Some(format!(
                    "wait for it to finish; if no wf is running, delete `{}`",
                    path.display()
                )),
            ),
            Error::Config(e) => (e.loc().map(|l| (l, String::new())), vec![], e.help()),
            Error::Cache(e) => (None, vec![], e.help()),
            Error::Plots(e) => (e.loc().map(|l| (l, String::new())), vec![], e.help()),
            Error::Locked(_) | Error::Model(_) | Error::Remote(_) | Error::Hash(_) => {
                (None, vec![], None)
            }
            Error::Lock(e) => (e.loc().map(|l| (l, String::new())), vec![], e.help()),
            Error::Exec(e) => (None, vec![], e.help().map(str::to_string)),
            Error::Verify(e) => (None, vec![], e.help().map(str::to_string)),
            Error::Registry(e) => (None, vec![], Some(e.help().to_string())),
            Error::Serve(e) => (None, vec![], e.help().map(str::to_string)),
            Error::Ui(e) => (None, vec![], e.help.clone()),
            Error::Store(e) => (None, vec![], Some(e.help().to_string())),
            Error::Exp(e) => (
                override_at.as_ref().map(|l| (l, String::new())),
                vec![],
                e.help(),
            ),
            Error::Output(_) | Error::Pointer(_) | Error::Watch(_) => (None, vec![], None),
        };
        let mut group = Group::with_title(Level::ERROR.primary_title(title.as_str()));
        let mut places: Vec<(&Loc, &str, AnnotationKind)> = Vec::new();
        if let Some((loc, label)) = &primary {
            places.push((loc, label, AnnotationKind::Primary));
        }
        for (loc, label) in &secondary {
            places.push((loc, label, AnnotationKind::Context));
        }
        // One snippet per file, in the order the files first appear.
        let mut files: Vec<&Loc> = Vec::new();
        for (loc, _, _) in &places {
            if !files
                .iter()
                .any(|f| std::sync::Arc::ptr_eq(&f.src, &loc.src))
            {
                files.push(loc);
            }
        }
        for file in files {
            let text = file.src.text.as_str();
            let mut snippet = Snippet::source(text)
                .path(file.src.name.as_str())
                .line_start(1)
                .fold(true);
            for (loc, label, kind) in places
                .iter()
                .filter(|(l, _, _)| std::sync::Arc::ptr_eq(&l.src, &file.src))
            {
                let start = loc.span.offset.min(text.len());
                let mut end = (start + loc.span.len.max(1)).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                let ann = kind.span(start..end);
                snippet = snippet.annotation(if label.is_empty() {
                    ann
                } else {
                    ann.label(*label)
                });
            }
            group = group.element(snippet);
        }
        if places.is_empty() {
            // Without a snippet there is no gutter to hang a note on: plain lines.
            let (e, h, b, r) = if color {
                ("\x1b[1;91m", "\x1b[1m", "\x1b[1m", "\x1b[0m")
            } else {
                ("", "", "", "")
            };
            let mut out = format!("{e}error{r}{b}: {title}{r}\n");
            if let Some(help) = &help {
                out.push_str(&format!("{h}help{r}: {help}\n"));
            }
            return out;
        }
        if let Some(help) = &help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        format!("{}\n", renderer.render(&[group]))
    }
}
