//! `Server`: MLflow's tracking REST API on a loopback port while a run runs, each stage with its
//! own token; `router` serves the same API under any state (as `wf ui` will, with one token).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::{ApiError, TrackingError};
use super::wire::BODY_LIMIT;
use super::{experiments, runs};
use crate::store::Store;

/// The tokens of a run's stages, each naming its stage; cloned handles share them.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    issued: Arc<Mutex<Vec<(String, String)>>>,
}

impl Tokens {
    /// No token yet.
    pub fn new() -> Tokens {
        Tokens::default()
    }

    /// A fresh token (32 hex digits) for a stage.
    pub fn issue(&self, stage: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut h = blake3::Hasher::new();
        h.update(b"wf tracking token");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.update(&now.to_le_bytes());
        h.update(&std::process::id().to_le_bytes());
        h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.update(stage.as_bytes());
        let token = h.finalize().to_hex()[..32].to_string();
        self.lock().push((token.clone(), stage.to_string()));
        token
    }

    /// The stage a token was issued for.
    fn stage(&self, token: &str) -> Option<String> {
        // Every token is compared, each in constant time, so timing tells nothing of them.
        let mut found = None;
        for (t, stage) in self.lock().iter() {
            if same(t.as_bytes(), token.as_bytes()) {
                found = Some(stage.clone());
            }
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        // A panic elsewhere while holding it leaves the list whole: each push is one step.
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who may call the API.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Each stage of a run has its own token; a run made with it is the stage's (tag `wf.stage`).
    Stages(Tokens),
    /// One token for the whole server, as `wf ui` serves the API; runs made have no stage.
    Server(String),
}

/// What the API works on: the store, the wf run that MLflow runs belong to, who may call.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub(crate) store: Arc<tokio::sync::Mutex<Store>>,
    pub(crate) parent: Option<String>,
    auth: Arc<Auth>,
}

impl ApiState {
    /// The API over an open store; MLflow runs made become children of `parent`.
    pub fn new(store: Store, parent: Option<String>, auth: Auth) -> ApiState {
        ApiState {
            store: Arc::new(tokio::sync::Mutex::new(store)),
            parent,
            auth: Arc::new(auth),
        }
    }

    /// Runs `f` on the store on a blocking thread, one request at a time.
    pub(crate) async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let mut store = self.store.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut store))
            .await
            .map_err(|e| ApiError::internal(format!("the store's task failed: {e}")))?
    }
}

/// The stage whose token a request carries (`None` under a server token).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Option<String>);

/// Compares in time independent of where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let caller = match (token, state.auth.as_ref()) {
        (Some(t), Auth::Stages(tokens)) => tokens.stage(t).map(|s| Caller(Some(s))),
        (Some(t), Auth::Server(server)) => {
            same(t.as_bytes(), server.as_bytes()).then_some(Caller(None))
        }
        (None, _) => None,
    };
    match caller {
        Some(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        None => ApiError::unauthenticated().into_response(),
    }
}

async fn no_endpoint(uri: Uri) -> ApiError {
    ApiError::no_endpoint(uri.path())
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::wrong_method(method.as_str(), uri.path())
}

/// MLflow's tracking API under `/api/2.0/mlflow/` and `/ajax-api/2.0/mlflow/`, and `/health`.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route(
            "/experiments/search",
            get(experiments::search).post(experiments::search),
        )
        .route("/runs/create", post(runs::create))
        .route("/runs/get", get(runs::get))
        .route("/runs/update", post(runs::update))
        .route("/runs/delete", post(runs::delete))
        .route("/runs/restore", post(runs::restore))
        .route("/runs/search", post(runs::search))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-inputs", post(runs::ignore))
        .route("/runs/log-model", post(runs::ignore))
        .route("/metrics/get-history", get(runs::history))
        .fallback(no_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
        .route("/health", get(|| async { "OK" }))
        .fallback(no_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// MLflow's tracking API served on `127.0.0.1` while a run runs.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    tokens: Tokens,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Opens the repository's run store and serves the API on a free loopback port; MLflow runs
    /// made through it become children of `parent_run`.
    pub async fn start(root: &Path, parent_run: Option<String>) -> Result<Server, TrackingError> {
        let root = std::path::absolute(root).map_err(|e| TrackingError::Root {
            path: root.to_path_buf(),
            message: e.to_string(),
        })?;
        let store = Store::open(&root)?;
        let tokens = Tokens::new();
        let state = ApiState::new(store, parent_run, Auth::Stages(tokens.clone()));
        let bind = |e: std::io::Error| TrackingError::Bind {
            message: e.to_string(),
        };
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let (shutdown, stopped) = oneshot::channel();
        let serve = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { serve.await });
        Ok(Server {
            addr,
            tokens,
            shutdown,
            task,
        })
    }

    /// The tracking URI for `MLFLOW_TRACKING_URI`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tokens it takes: a handle that issues more.
    pub fn tokens(&self) -> Tokens {
        self.tokens.clone()
    }

    /// A fresh token for a stage, for `MLFLOW_TRACKING_TOKEN`.
    pub fn token_for(&mut self, stage: &str) -> String {
        self.tokens.issue(stage)
    }

    /// Stops taking connections and waits for the requests in flight.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
