//! `Browser` and `Page`: headless Chromium driven over the DevTools protocol, for the tests of
//! what `wf` shows in a browser (the offline plots page, the web UI).
//!
//! Synchronous for callers: a small tokio runtime inside runs the protocol. The network is off
//! but for loopback: host names other than `localhost` resolve to nothing, and every request
//! not to loopback goes to a proxy on a port where nothing listens. Each page records what a
//! test must not see (console errors and warnings, uncaught exceptions, requests that left the
//! machine) whatever the network did with them.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::browser_protocol::network::EventRequestWillBeSent;
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EvaluateParams, EventConsoleApiCalled, EventExceptionThrown,
    ExceptionDetails, RemoteObject,
};
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::page::ScreenshotParams;
use futures::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// As the machine notes say: without the background-networking flags Chromium tries to reach
/// Google's hosts at every start.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--window-size=1280,900",
    // The network off but for loopback: every host, IP literals included, fails to resolve
    // but loopback's; and were one to get through, the proxy is a port (9, discard) where
    // nothing listens.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost;[::1]",
    "--remote-debugging-port=0",
];

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

/// A headless Chromium with its own empty profile, killed (its whole process group) on drop.
pub(crate) struct Browser {
    cdp: chromiumoxide::Browser,
    runtime: Arc<Runtime>,
    handler: tokio::task::JoinHandle<()>,
    process: Child,
    _profile: TempDir,
}

impl Browser {
    /// Starts Chromium (`/usr/bin/chromium`, or `WF_CHROMIUM`); `None`, after saying so, where
    /// it is not installed, unless `WF_BROWSER_REQUIRED=1`.
    pub(crate) fn launch() -> Option<Browser> {
        let exe = std::env::var_os("WF_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        if !exe.is_file() {
            assert!(
                std::env::var("WF_BROWSER_REQUIRED").as_deref() != Ok("1"),
                "WF_BROWSER_REQUIRED=1 but there is no chromium at {} \
                 (apt-get install chromium, or set WF_CHROMIUM)",
                exe.display()
            );
            eprintln!("skipped: chromium not installed");
            return None;
        }
        let profile = TempDir::with_prefix("wf-chromium-").unwrap();
        let mut process = Command::new(&exe)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own group, so that drop kills the renderers and helpers with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let ws = match devtools_url(&mut process) {
            Ok(ws) => ws,
            Err(said) => {
                kill_group(&mut process);
                panic!("chromium did not open its DevTools port:\n{said}");
            }
        };
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        );
        let config = HandlerConfig {
            viewport: Some(Viewport {
                width: WIDTH,
                height: HEIGHT,
                ..Viewport::default()
            }),
            ..HandlerConfig::default()
        };
        let connected = runtime.block_on(chromiumoxide::Browser::connect_with_config(ws, config));
        let (cdp, mut handler) = match connected {
            Ok(pair) => pair,
            Err(e) => {
                kill_group(&mut process);
                panic!("cannot connect to chromium: {e}");
            }
        };
        // The handler's errors are messages it could not parse; the connection goes on.
        let handler = runtime.spawn(async move { while handler.next().await.is_some() {} });
        Some(Browser {
            cdp,
            runtime,
            handler,
            process,
            _profile: profile,
        })
    }

    /// A new tab at `url`, returned once its load event has fired.
    pub(crate) fn open(&self, url: &str) -> Page {
        let rt = &self.runtime;
        let cdp = rt
            .block_on(self.cdp.new_page("about:blank"))
            .unwrap_or_else(|e| panic!("cannot open a tab: {e}"));
        // Listening before navigating, so that nothing the page does is missed.
        let events = rt.block_on(async {
            Ok::<_, chromiumoxide::error::CdpError>(Events {
                console: cdp.event_listener::<EventConsoleApiCalled>().await?,
                log: cdp.event_listener::<EventEntryAdded>().await?,
                exceptions: cdp.event_listener::<EventExceptionThrown>().await?,
                requests: cdp.event_listener::<EventRequestWillBeSent>().await?,
            })
        });
        let page = Page {
            cdp,
            runtime: rt.clone(),
            events: RefCell::new(events.unwrap_or_else(|e| panic!("cannot listen to a tab: {e}"))),
            seen: RefCell::new(Seen::default()),
        };
        if let Err(e) = rt.block_on(page.cdp.goto(url)) {
            panic!("cannot open {url}: {e}\n{}", page.report());
        }
        page.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        );
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.handler.abort();
        kill_group(&mut self.process);
    }
}

/// Reads Chromium's stderr until it says where its DevTools socket is, then leaves a thread
/// draining the rest (a full pipe would stall it). The error is what it said instead.
fn devtools_url(process: &mut Child) -> Result<String, String> {
    let stderr = process.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // The receiver is gone once the URL has been read; the rest is drained.
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut said = vec![];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => match line.strip_prefix("DevTools listening on ") {
                Some(url) => return Ok(url.trim().to_string()),
                None => said.push(line),
            },
            Err(_) => return Err(said.join("\n")),
        }
    }
}

/// SIGKILL to the browser's process group, then reaps it.
fn kill_group(process: &mut Child) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let pid = Pid::from_raw(i32::try_from(process.id()).unwrap());
    // Already gone is fine: the wait below reaps it.
    let _ = killpg(pid, Signal::SIGKILL);
    let _ = process.wait();
}

/// The page's event streams, drained into `Seen` whenever a test asks what happened.
struct Events {
    console: EventStream<EventConsoleApiCalled>,
    log: EventStream<EventEntryAdded>,
    exceptions: EventStream<EventExceptionThrown>,
    requests: EventStream<EventRequestWillBeSent>,
}

#[derive(Default)]
struct Seen {
    console: Vec<String>,
    exceptions: Vec<String>,
    outside: Vec<String>,
}

/// One tab.
pub(crate) struct Page {
    cdp: chromiumoxide::Page,
    runtime: Arc<Runtime>,
    events: RefCell<Events>,
    seen: RefCell<Seen>,
}

impl Page {
    /// The value of a JavaScript expression (a promise is awaited); panics if it throws.
    #[track_caller]
    pub(crate) fn eval<T: DeserializeOwned>(&self, js: &str) -> T {
        let value = self
            .try_eval(js)
            .unwrap_or_else(|e| panic!("`{js}` failed: {e}\n{}", self.report()));
        serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("`{js}` gave {value}, not the type asked for: {e}"))
    }

    fn try_eval(&self, js: &str) -> Result<Json, String> {
        let params = EvaluateParams::builder()
            .expression(js)
            .await_promise(true)
            .return_by_value(true)
            .build()?;
        let done = self
            .runtime
            .block_on(self.cdp.execute(params))
            .map_err(|e| e.to_string())?;
        match done.result.exception_details {
            Some(ex) => Err(describe_exception(&ex)),
            None => Ok(done.result.result.value.unwrap_or(Json::Null)),
        }
    }

    /// Polls the boolean expression `condition` until it is true; panics after `timeout` with
    /// the expression and what the page reported.
    #[track_caller]
    pub(crate) fn wait_for(&self, condition: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.try_eval(condition);
            if last == Ok(Json::Bool(true)) {
                return;
            }
            if Instant::now() >= deadline {
                let last = last.unwrap_or_else(Json::String);
                panic!(
                    "timed out after {timeout:?} waiting for `{condition}` (last: {last})\n{}",
                    self.report()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks, with the mouse, the middle of the first element `selector` matches.
    #[track_caller]
    pub(crate) fn click(&self, selector: &str) {
        let click = || {
            self.runtime.block_on(async {
                self.cdp.find_element(selector).await?.click().await?;
                Ok::<_, chromiumoxide::error::CdpError>(())
            })
        };
        // A node found can be gone by the time it is clicked when the page is still settling
        // (its ids are renumbered): found again, a few times.
        let mut clicked = click();
        for _ in 0..5 {
            if clicked.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            clicked = click();
        }
        if let Err(e) = clicked {
            panic!("cannot click `{selector}`: {e}\n{}", self.report());
        }
    }

    /// Saves the whole page as `target/browser/NAME.png` and returns its path.
    pub(crate) fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let params = ScreenshotParams::builder().full_page(true).build();
        let png = self
            .runtime
            .block_on(self.cdp.screenshot(params))
            .unwrap_or_else(|e| panic!("cannot take a screenshot: {e}"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The console's errors and warnings so far, from scripts and from the browser itself
    /// (a failed load, a refused script).
    pub(crate) fn console_errors(&self) -> Vec<String> {
        self.drain();
        self.seen.borrow().console.clone()
    }

    /// The exceptions no script caught, so far.
    pub(crate) fn exceptions(&self) -> Vec<String> {
        self.drain();
        self.seen.borrow().exceptions.clone()
    }

    /// The URLs asked for that are not local: not `file:`, `data:`, `blob:` or `about:`, nor to
    /// 127.0.0.1 or localhost.
    pub(crate) fn outside_requests(&self) -> Vec<String> {
        self.drain();
        self.seen.borrow().outside.clone()
    }

    /// Everything that makes the page not clean, one line each; empty if it is.
    pub(crate) fn problems(&self) -> Vec<String> {
        self.drain();
        let seen = self.seen.borrow();
        let console = seen.console.iter().map(|m| format!("console {m}"));
        let thrown = seen.exceptions.iter().map(|m| format!("uncaught {m}"));
        let outside = seen
            .outside
            .iter()
            .map(|u| format!("left the machine: {u}"));
        console.chain(thrown).chain(outside).collect()
    }

    /// Panics, listing them, if the page logged an error or a warning, threw, or asked for
    /// anything outside the machine.
    #[track_caller]
    pub(crate) fn assert_clean(&self) {
        let problems = self.problems();
        assert!(
            problems.is_empty(),
            "the page is not clean:\n  {}",
            problems.join("\n  ")
        );
    }

    /// What the page reported, for a failure message.
    fn report(&self) -> String {
        match self.problems() {
            p if p.is_empty() => "(the page reported nothing)".into(),
            p => format!("the page reported:\n  {}", p.join("\n  ")),
        }
    }

    /// Moves the events received so far into `seen`. A round trip first: Chromium sends an
    /// event before the answer to any later command.
    fn drain(&self) {
        let _ = self.try_eval("0");
        let mut events = self.events.borrow_mut();
        let mut seen = self.seen.borrow_mut();
        while let Some(Some(ev)) = events.console.next().now_or_never() {
            let level = match ev.r#type {
                ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert => "error",
                ConsoleApiCalledType::Warning => "warning",
                _ => continue,
            };
            let args: Vec<String> = ev.args.iter().map(describe).collect();
            seen.console.push(format!("{level}: {}", args.join(" ")));
        }
        while let Some(Some(ev)) = events.log.next().now_or_never() {
            let level = match ev.entry.level {
                LogEntryLevel::Error => "error",
                LogEntryLevel::Warning => "warning",
                _ => continue,
            };
            let url = ev.entry.url.as_deref().unwrap_or_default();
            // Chromium asks an http server for /favicon.ico on its own; a page without one is
            // not broken.
            if url.ends_with("/favicon.ico") && url.starts_with("http") {
                continue;
            }
            seen.console
                .push(format!("{level}: {} {url}", ev.entry.text));
        }
        while let Some(Some(ev)) = events.exceptions.next().now_or_never() {
            seen.exceptions
                .push(describe_exception(&ev.exception_details));
        }
        while let Some(Some(ev)) = events.requests.next().now_or_never() {
            if leaves_machine(&ev.request.url) {
                seen.outside.push(ev.request.url.clone());
            }
        }
    }
}

fn describe(object: &RemoteObject) -> String {
    match (&object.value, &object.description) {
        (Some(Json::String(s)), _) => s.clone(),
        (Some(v), _) => v.to_string(),
        (None, Some(d)) => d.clone(),
        (None, None) => format!("{:?}", object.r#type),
    }
}

fn describe_exception(ex: &ExceptionDetails) -> String {
    let what = ex.exception.as_ref().map_or(ex.text.clone(), describe);
    let url = ex.url.as_deref().unwrap_or("<page>");
    format!("{what} ({url}:{})", ex.line_number + 1)
}

/// Whether a request for `url` would leave the machine.
fn leaves_machine(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return true;
    };
    if ["file", "data", "blob", "about"].contains(&scheme) {
        return false;
    }
    let authority = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    !["127.0.0.1", "localhost", "::1"].contains(&host)
}

/// Answers the first request on 127.0.0.1 with `body` as HTML, from a thread; returns the port.
fn serve_once(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let _ = stream.read(&mut [0; 4096]);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    });
    port
}

#[test]
fn loopback_is_reachable_by_address_and_by_name() {
    let Some(browser) = Browser::launch() else {
        return;
    };
    for host in ["127.0.0.1", "localhost"] {
        let port = serve_once("<!DOCTYPE html><title>served</title><p>hi</p>");
        let page = browser.open(&format!("http://{host}:{port}/"));
        assert_eq!(page.eval::<String>("document.title"), "served", "{host}");
        page.assert_clean();
    }
}

#[test]
fn local_urls_stay_on_the_machine() {
    for url in [
        "file:///tmp/a.html",
        "data:image/png;base64,AA==",
        "blob:file:///0f1e",
        "about:blank",
        "http://127.0.0.1:8080/api",
        "http://localhost/",
        "ws://[::1]:9000/x",
    ] {
        assert!(!leaves_machine(url), "{url}");
    }
    for url in [
        "http://example.com/x.png",
        "https://127.0.0.1.example.com/",
        "http://10.0.0.1/",
        "http://user@example.com/",
    ] {
        assert!(leaves_machine(url), "{url}");
    }
}
