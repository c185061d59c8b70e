//! Starting and stopping: load the first version, bind, print the address, serve until
//! SIGTERM or Ctrl-C, then finish the requests in flight.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::signal::unix::{SignalKind, signal};
use wf_stages::Registry;

use super::error::ServeError;
use super::follow;
use super::loaded::{Source, Target};
use super::metrics::Metrics;
use super::state::Shared;
use super::{mlflow, routes, v2};

/// How long requests in flight get to finish once asked to stop.
const DRAIN: Duration = Duration::from_secs(30);

/// What `wf serve` was asked to serve, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The registry folder.
    pub registry: PathBuf,
    /// The version or alias.
    pub target: Target,
    /// The address to listen on.
    pub host: String,
    /// The port; 0 takes a free one.
    pub port: u16,
    /// Threads answering requests; `None`: one per CPU.
    pub workers: Option<usize>,
    /// The model's name in `/v2/models/{name}` (default: the target as given).
    pub name: Option<String>,
    /// `POST /reload`'s token, from `WF_SERVE_TOKEN`.
    pub token: Option<String>,
    /// Where to write a token of its own when none is given (the repository's `.wf`); `None`
    /// outside a repository, where `/reload` then needs `WF_SERVE_TOKEN`.
    pub token_dir: Option<PathBuf>,
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

/// Serves until SIGTERM or Ctrl-C.
pub fn run(options: Options) -> Result<Stopped, ServeError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = options.workers {
        builder.worker_threads(n);
    }
    let runtime = builder.enable_all().build().map_err(ServeError::Runtime)?;
    runtime.block_on(serve(options))
}

async fn serve(options: Options) -> Result<Stopped, ServeError> {
    // Installed first, so a signal during start-up is not lost.
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Runtime)?;
    let source = Source {
        registry: Registry::open(&options.registry)?,
        target: options.target.clone(),
    };
    let metrics = Metrics::new();
    let first = source.load(source.resolve()?, &metrics)?;
    let addr = format!("{}:{}", options.host, options.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| ServeError::Bind {
            addr: addr.clone(),
            message: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| ServeError::Bind {
        addr,
        message: e.to_string(),
    })?;
    let token = Token::new(&options, local.port())?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| options.target.to_string());
    let line = format!(
        "serving version {} ({}) of {}{} on http://{local}",
        first.version,
        first.kind,
        options.registry.display(),
        options
            .target
            .alias()
            .map(|a| format!(" as `{a}`"))
            .unwrap_or_default(),
    );
    let shared = Arc::new(Shared::new(
        first,
        source,
        name,
        metrics,
        (token.value.clone(), token.hint.clone()),
        options.quiet,
    ));
    let _follower = follow::start(&shared);
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    if let Some(file) = &token.file {
        shared.say(&format!(
            "POST /reload takes the token in {}",
            file.display()
        ));
    }

    let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(shared.clone())).with_graceful_shutdown(async {
        let _ = stopping.await;
    });
    let mut task = tokio::spawn(async move { server.await });
    let stopped = tokio::select! {
        _ = term.recv() => Stopped::Terminated,
        _ = int.recv() => Stopped::Interrupted,
        // The server ended by itself: it cannot accept any more.
        r = &mut task => {
            token.remove();
            return Err(ServeError::Runtime(match r {
                Ok(Err(e)) => e,
                Ok(Ok(())) => std::io::Error::other("the server stopped"),
                Err(e) => std::io::Error::other(e.to_string()),
            }));
        }
    };
    shared.say("stopping: finishing the requests in flight");
    let _ = stop.send(());
    if tokio::time::timeout(DRAIN, task).await.is_err() {
        shared.say(&format!(
            "requests still open after {} s were dropped",
            DRAIN.as_secs()
        ));
    }
    token.remove();
    Ok(stopped)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/predict", post(routes::predict))
        .route("/health", get(routes::health))
        .route("/reload", post(routes::reload))
        .route("/metrics", get(routes::metrics))
        .route("/invocations", post(mlflow::invocations))
        .route("/ping", get(mlflow::ping))
        .route("/version", get(mlflow::version))
        .route("/v2", get(v2::server))
        .route("/v2/health/live", get(v2::live))
        .route("/v2/health/ready", get(v2::ready))
        .route("/v2/models/{name}", get(v2::model))
        .route("/v2/models/{name}/ready", get(v2::model_ready))
        .route("/v2/models/{name}/infer", post(v2::infer))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(v2::model_version),
        )
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(v2::infer_version),
        )
        .fallback(routes::no_route)
        .method_not_allowed_fallback(routes::wrong_method)
        .layer(middleware::from_fn_with_state(shared.clone(), count))
        .layer(DefaultBodyLimit::max(routes::BODY_LIMIT))
        .with_state(shared)
}

/// Counts each answer by route and status, with its latency.
async fn count(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    shared.metrics.request(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `POST /reload`'s token: `WF_SERVE_TOKEN`, else a fresh one written to the repository's
/// `.wf/serve-PORT.token` (mode 0600) for the server's lifetime.
struct Token {
    value: Option<String>,
    hint: String,
    file: Option<PathBuf>,
}

impl Token {
    fn new(options: &Options, port: u16) -> Result<Token, ServeError> {
        if let Some(t) = options.token.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Token {
                value: Some(t.clone()),
                hint: "the token in WF_SERVE_TOKEN".into(),
                file: None,
            });
        }
        let Some(dir) = &options.token_dir else {
            return Ok(Token {
                value: None,
                hint: String::new(),
                file: None,
            });
        };
        let value = fresh_token();
        let path = dir.join(format!("serve-{port}.token"));
        write_private(&path, value.as_bytes()).map_err(|e| ServeError::Token {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Token {
            value: Some(value),
            hint: format!("the token in {}", path.display()),
            file: Some(path),
        })
    }

    fn remove(&self) {
        if let Some(f) = &self.file {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// 32 hex digits from the system's randomness.
fn fresh_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file only its owner can read, atomically.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    // A temp file is created 0600 and keeps that mode through the rename.
    let mut tmp = tempfile::Builder::new()
        .prefix(".serve-token.")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
