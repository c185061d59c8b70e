//! Starting and stopping `wf ui`: the token, the port, the routes, the live feed; serving until
//! SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast;

use super::error::UiError;
use super::security::{self, Access};
use super::{assets, compare, events, models, page, pipeline, plots, run_page, runs, studies};
use crate::store::{LiveEvent, Store};
use crate::tracking::{ApiState, Auth};

/// What `wf ui` serves, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository.
    pub root: PathBuf,
    /// The folder the pipeline is read from (`-C`), as stage addresses are written from it.
    pub cwd: crate::repo_path::RepoPath,
    /// The address to listen on.
    pub host: String,
    /// The port; 0 takes a free one.
    pub port: u16,
    /// The token (`WF_UI_TOKEN`); `None`: a fresh one, written to `.wf/ui-PORT.token`.
    pub token: Option<String>,
    /// Open the address in a browser once listening.
    pub open: bool,
    /// `-q`: no lines on stderr.
    pub quiet: bool,
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM.
    Terminated,
    /// Ctrl-C.
    Interrupted,
}

/// What every handler shares.
pub(super) struct Ui {
    /// The repository.
    pub(super) root: PathBuf,
    /// The folder the pipeline is read from.
    pub(super) cwd: crate::repo_path::RepoPath,
    /// Who may do what.
    pub(super) access: Access,
    /// The run store, for reading (writes go through the MLflow API's own connection).
    pub(super) store: Mutex<Store>,
    /// The templates.
    pub(super) pages: page::Pages,
    /// Stage changes of running runs, as the store's `live` table gets them.
    pub(super) live: broadcast::Sender<LiveEvent>,
    /// Set once the server is asked to stop: the live feeds end, so that no open page holds
    /// the server up.
    pub(super) stopping: tokio::sync::watch::Receiver<Option<Stopped>>,
}

impl Ui {
    /// The token, for the pages' buttons.
    pub(super) fn access_token(&self) -> String {
        self.access.token.clone()
    }

    /// Runs `f` on the store on a blocking thread.
    pub(super) async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        let ui = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = ui.store.lock().unwrap_or_else(|e| e.into_inner());
            f(&store)
        })
        .await
        .map_err(|e| UiError::internal(format!("a reader of the run store failed: {e}")))?
    }

    /// Runs `f` on a blocking thread (for work on files: the pipeline, the registry, plots).
    pub(super) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Ui) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        let ui = self.clone();
        tokio::task::spawn_blocking(move || f(&ui))
            .await
            .map_err(|e| UiError::internal(format!("a task of the server failed: {e}")))?
    }
}

/// Serves until SIGTERM or Ctrl-C.
pub fn run(options: Options) -> Result<Stopped, UiError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UiError::internal(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(serve(options))
}

/// The routes, over `ui`; MLflow's tracking API answers whatever they do not.
pub(super) fn router(ui: Arc<Ui>, api: ApiState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route("/runs", get(runs::page))
        .route("/runs/{id}", get(run_page::page))
        .route("/runs/{id}/artifacts/{*path}", get(run_page::artifact))
        .route("/runs/{id}/plots", get(plots::run))
        .route("/compare", get(compare::page))
        .route("/pipeline", get(pipeline::page))
        .route("/pipeline/stages/{*address}", get(pipeline::stage))
        .route("/models", get(models::page))
        .route("/models/promote", post(models::promote))
        .route("/models/rollback", post(models::rollback))
        .route("/plots", get(plots::page))
        .route("/studies", get(studies::page))
        .route("/events", get(events::stream))
        .route("/assets/{name}", get(assets::serve))
        .with_state(ui.clone())
        .fallback_service(crate::tracking::router(api))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .layer(middleware::from_fn_with_state(
            Arc::new(ui.access.clone()),
            security::guard,
        ))
}

async fn serve(options: Options) -> Result<Stopped, UiError> {
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| UiError::internal(format!("cannot listen for signals: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| UiError::internal(format!("cannot listen for signals: {e}")))?;
    let root = std::path::absolute(&options.root).unwrap_or(options.root.clone());
    let addr = format!("{}:{}", options.host, options.port);
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        UiError::bad(format!("cannot listen on {addr}: {e}"))
            .help("choose another port with --port (0 takes any free one)")
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| UiError::internal(format!("cannot read the address listened on: {e}")))?;
    let (token, token_file) = match options.token.clone().filter(|t| !t.is_empty()) {
        Some(t) => (t, None),
        None => {
            let token = fresh_token();
            let file = root.join(".wf").join(format!("ui-{}.token", local.port()));
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            crate::atomic::write(&file, token.as_bytes()).map_err(|e| {
                UiError::internal(format!("cannot write `{}`: {e}", file.display()))
            })?;
            (token, Some(file))
        }
    };
    let open_store = || Store::open(&root).map_err(UiError::from);
    let (live, _) = broadcast::channel(1024);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None::<Stopped>);
    let ui = Arc::new(Ui {
        root: root.clone(),
        cwd: options.cwd.clone(),
        access: Access::new(&options.host, local.port(), token.clone()),
        store: Mutex::new(open_store()?),
        pages: page::Pages::new(),
        live: live.clone(),
        stopping: stop_rx.clone(),
    });
    let api = ApiState::new(open_store()?, None, Auth::Server(token));
    let follower = tokio::spawn(events::follow(open_store()?, live));
    let shown_host = if options.host == "0.0.0.0" {
        "127.0.0.1".to_string()
    } else {
        options.host.clone()
    };
    let url = format!("http://{shown_host}:{}", local.port());
    if !options.quiet {
        let token_note = match &token_file {
            Some(f) => format!("the token is in {}", f.display()),
            None => "the token is WF_UI_TOKEN".to_string(),
        };
        println!("wf ui on {url} ({token_note}); Ctrl-C stops it");
        if !ui.access.open_reads {
            eprintln!(
                "listening on {}: every request needs the token; open {url}/?token=TOKEN once",
                options.host
            );
        }
    }
    if options.open {
        let url = url.clone();
        std::thread::spawn(move || crate::cmd::plots::open(std::ffi::OsStr::new(&url)));
    }
    let app = router(ui, api);
    let signals = tokio::spawn(async move {
        let stopped = tokio::select! {
            _ = term.recv() => Stopped::Terminated,
            _ = int.recv() => Stopped::Interrupted,
        };
        let _ = stop_tx.send(Some(stopped));
    });
    let shutdown = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(Option::is_some).await;
        }
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    follower.abort();
    signals.abort();
    if let Some(f) = token_file {
        let _ = std::fs::remove_file(f);
    }
    served.map_err(|e| UiError::internal(format!("the server failed: {e}")))?;
    let stopped = *stop_rx.borrow();
    Ok(stopped.unwrap_or(Stopped::Terminated))
}

/// 32 hex digits from the operating system's random source.
fn fresh_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
