//! An S3 remote whose connection is cut in the middle of a `push` or a `pull` of 1 000 objects,
//! through a proxy in front of the S3-compatible server: for a moment (wf retries with backoff
//! and completes), or for good (wf stops after its retries with a clear report). Either way no
//! partial object is visible on the remote or in the cache, and the next run completes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::s3::{KEY, SECRET, Server};
use crate::test::{Output, Test};

const FILES: usize = 1000;
/// The files, `big`'s manifest and the stage's out.
const OBJECTS: usize = FILES + 2;

/// A TCP proxy that forwards to `upstream` until the bytes it has forwarded (both ways) reach
/// a threshold, then cuts every connection and drops new ones, for a while or until restored.
struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct State {
    up: AtomicBool,
    bytes: AtomicU64,
    cut_at: AtomicU64,
    /// How long a cut lasts, in milliseconds (0: until restored).
    down_ms: AtomicU64,
    cuts: AtomicU64,
    /// Bumped at each cut: live connections watch it and close.
    generation: tokio::sync::watch::Sender<u64>,
}

impl State {
    fn forwarded(self: &Arc<State>, n: usize) {
        let total = self.bytes.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if total >= self.cut_at.load(Ordering::SeqCst) && self.up.swap(false, Ordering::SeqCst) {
            self.cut_at.store(u64::MAX, Ordering::SeqCst);
            self.cuts.fetch_add(1, Ordering::SeqCst);
            self.generation.send_modify(|g| *g += 1);
            let down_ms = self.down_ms.load(Ordering::SeqCst);
            if down_ms > 0 {
                let state = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(down_ms)).await;
                    state.up.store(true, Ordering::SeqCst);
                });
            }
        }
    }
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            up: AtomicBool::new(true),
            bytes: AtomicU64::new(0),
            cut_at: AtomicU64::new(u64::MAX),
            down_ms: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            generation: tokio::sync::watch::channel(0).0,
        });
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                loop {
                    let (socket, _) = tokio::select! {
                        conn = listener.accept() => match conn { Ok(c) => c, Err(_) => continue },
                        _ = &mut stopped => break,
                    };
                    if !shared.up.load(Ordering::SeqCst) {
                        drop(socket);
                        continue;
                    }
                    tokio::spawn(pipe(socket, upstream, shared.clone()));
                }
            });
        });
        Proxy {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Cuts once `more` bytes have been forwarded from now, for `down` (`None`: until
    /// [`Proxy::restore`]).
    fn cut_after(&self, more: u64, down: Option<Duration>) {
        let s = &self.state;
        s.down_ms
            .store(down.map_or(0, |d| d.as_millis() as u64), Ordering::SeqCst);
        s.cut_at
            .store(s.bytes.load(Ordering::SeqCst) + more, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.state.cut_at.store(u64::MAX, Ordering::SeqCst);
        self.state.up.store(true, Ordering::SeqCst);
    }

    fn cuts(&self) -> u64 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Forwards one connection both ways, counting bytes, until either side closes or a cut.
async fn pipe(client: TcpStream, upstream: SocketAddr, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let mut cut = state.generation.subscribe();
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let both = async {
        let _ = tokio::join!(
            forward(cr, sw, state.clone()),
            forward(sr, cw, state.clone())
        );
    };
    tokio::select! {
        () = both => {}
        _ = cut.changed() => {}
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<State>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        state.forwarded(n);
        to.write_all(&buf[..n]).await?;
    }
}

/// A project with `FILES` files added under `big/` and a stage counting them, its remote `team`
/// behind `proxy` (`retries` for the remote's `retries`, else the default): `FILES + 2` objects.
fn project(proxy: &Proxy, retries: Option<&str>) -> Output {
    let mut t = Test::new()
        .write(".wf/.gitignore", "")
        .write("pipeline.yaml", SPEC);
    for i in 0..FILES {
        t = t.write(
            &format!("big/{i:04}.txt"),
            &format!("object {i}\n").repeat(100),
        );
    }
    let a = t.args(["add", "big"]).success();
    a.test().arg("repro").success();
    let endpoint = format!("http://{}", proxy.addr);
    for args in [
        vec!["remote", "add", "team", "s3://bucket/project", "-d"],
        vec!["remote", "modify", "team", "endpoint", &endpoint],
        vec!["remote", "modify", "team", "region", "us-east-1"],
        vec!["remote", "modify", "team", "access_key_id", KEY, "--local"],
        vec![
            "remote",
            "modify",
            "team",
            "secret_access_key",
            SECRET,
            "--local",
        ],
    ] {
        a.test().args(args).success();
    }
    if let Some(n) = retries {
        a.test()
            .args(["remote", "modify", "team", "retries", n])
            .success();
    }
    a
}

const SPEC: &str =
    "stages:\n  count:\n    cmd: ls big | wc -l > n.txt\n    deps: [big]\n    outs: [n.txt]\n";

/// A fresh copy of `a`'s committed files and config, without its cache or data.
fn clone_of(a: &Output) -> Output {
    let mut b = Test::new().write(".wf/.gitignore", "");
    for f in [
        ".wf/config",
        ".wf/config.local",
        "big.wf",
        "pipeline.yaml",
        "pipeline.lock",
    ] {
        let text = std::fs::read_to_string(a.path().join(f)).unwrap();
        b = b.write(f, &text);
    }
    b.args(["remote", "list"]).success()
}

/// Every object under `dir` hashes to its name (`ab/cdef` or `ab/cdef.dir`): none is partial.
/// Returns how many there are; names in `skip` (the server's own temporary files) are ignored.
pub(crate) fn whole_objects(dir: &Path, skip: &str) -> usize {
    let mut n = 0;
    for e in walk(dir) {
        let rel = e
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let name = rel.rsplit('/').next().unwrap();
        if !skip.is_empty() && name.starts_with(skip) {
            continue;
        }
        assert!(
            !name.starts_with('.'),
            "no temporary file is left in {}: {rel}",
            dir.display()
        );
        let expected = rel
            .replacen('/', "", 1)
            .trim_end_matches(".dir")
            .to_string();
        let actual = blake3::hash(&std::fs::read(&e).unwrap())
            .to_hex()
            .to_string();
        assert_eq!(actual, expected, "object {rel} is whole");
        n += 1;
    }
    n
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "runs") {
                continue;
            }
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `pushed 600 objects (401 already there)` → (600, 401).
fn moved(stderr: &str, verb: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(verb))
        .unwrap_or_else(|| panic!("a `{verb}` line in:\n{stderr}"));
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn a_connection_cut_for_a_moment_is_retried() {
    let server = Server::start();
    let proxy = Proxy::start(server.addr);
    let a = project(&proxy, None);
    // About a third of the way through the push, the connection drops for a second.
    proxy.cut_after(400 << 10, Some(Duration::from_secs(1)));
    a.test()
        .arg("push")
        .stderr_contains(&format!("pushed {} objects (0 already there)", OBJECTS))
        .success();
    assert_eq!(proxy.cuts(), 1, "the push was cut");
    let remote = server.root.path().join("bucket/project");
    assert_eq!(whole_objects(&remote, ".tmp."), OBJECTS);

    let b = clone_of(&a);
    proxy.cut_after(400 << 10, Some(Duration::from_secs(1)));
    b.test()
        .arg("pull")
        .stderr_contains(&format!("fetched {} objects", OBJECTS))
        .success();
    assert_eq!(proxy.cuts(), 2, "the pull was cut");
    assert_eq!(whole_objects(&b.path().join(".wf/cache"), ""), OBJECTS);
    assert_eq!(
        std::fs::read_to_string(b.path().join("big/0999.txt")).unwrap(),
        "object 999\n".repeat(100)
    );
    b.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
}

#[test]
fn a_remote_gone_for_good_stops_the_transfer_and_the_next_one_completes() {
    let server = Server::start();
    let proxy = Proxy::start(server.addr);
    let a = project(&proxy, Some("3"));
    proxy.cut_after(400 << 10, None);
    let started = Instant::now();
    let failed = a
        .test()
        .arg("push")
        .status(1)
        .stderr_contains("after 3 retries")
        .stderr_contains("objects were not tried; run the command again once it answers")
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gives up after its retries, not after one wait per object: {:?}",
        started.elapsed()
    );
    assert!(
        failed.stderr.lines().count() <= 10,
        "a short report:\n{}",
        failed.stderr
    );
    let remote = server.root.path().join("bucket/project");
    let before = whole_objects(&remote, ".tmp.");
    assert!(
        before > 0 && before < OBJECTS,
        "{before} objects went first"
    );

    proxy.restore();
    let done = a.test().arg("push").success();
    let (pushed, there) = moved(&done.stderr, "pushed");
    assert_eq!((pushed + there, there), (OBJECTS, before));
    assert_eq!(whole_objects(&remote, ".tmp."), OBJECTS);

    // The same for a pull cut for good midway.
    let b = clone_of(&a);
    proxy.cut_after(400 << 10, None);
    b.test()
        .arg("pull")
        .status(1)
        .stderr_contains("objects were not tried")
        .run();
    let cache = b.path().join(".wf/cache");
    let fetched = whole_objects(&cache, "");
    assert!(
        fetched > 0 && fetched < OBJECTS,
        "{fetched} objects came first"
    );
    assert!(
        !b.path().join("big/0000.txt").exists(),
        "nothing is checked out from a failed fetch"
    );
    proxy.restore();
    let done = b.test().arg("pull").success();
    let (got, there) = moved(&done.stderr, "fetched");
    assert_eq!((got + there, there), (OBJECTS, fetched));
    assert_eq!(whole_objects(&cache, ""), OBJECTS);
    b.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
}
