//! `wf serve` following the registry: promote and rollback under load with no failed request,
//! a version that fails to load, and stopping with requests in flight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::serve::{Server, client, iris, post};

const RECORD: &str =
    r#"{"sepal_length": 6.1, "sepal_width": 2.8, "petal_length": 4.7, "petal_width": 1.2}"#;

/// One answered request: when it started and ended (seconds since the start), its version.
struct Answer {
    start: f64,
    end: f64,
    version: u64,
}

/// Clients on their own connections, each sending `/predict` in a loop until `stop`.
fn load(
    url: &str,
    clients: usize,
    t0: Instant,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<Answer>>> {
    (0..clients)
        .map(|_| {
            let (url, stop) = (format!("{url}/predict"), Arc::clone(stop));
            std::thread::spawn(move || {
                let agent = client();
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = t0.elapsed().as_secs_f64();
                    let (status, body) = post(&agent, &url, "application/json", RECORD);
                    let end = t0.elapsed().as_secs_f64();
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["label"], "versicolor");
                    let version = body["version"].as_u64().unwrap();
                    answers.push(Answer {
                        start,
                        end,
                        version,
                    });
                }
                answers
            })
        })
        .collect()
}

/// Runs `wf model ARGS` and returns when it started and ended.
fn model(dir: &std::path::Path, args: &[&str], t0: Instant) -> (f64, f64) {
    let start = t0.elapsed().as_secs_f64();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["-C", "specs", "model"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (start, t0.elapsed().as_secs_f64())
}

#[test]
fn promote_and_rollback_under_load_fail_no_request_and_switch_within_a_second() {
    let out = iris();
    let following = Server::start(out.path(), &[], &[]);
    let pinned = Server::start(out.path(), &["--model", "1"], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let mut clients = load(&following.url, 4, t0, &stop);
    let pinned_clients = load(&pinned.url, 1, t0, &stop);
    std::thread::sleep(Duration::from_millis(1500));
    let promote = model(out.path(), &["promote", "2"], t0);
    std::thread::sleep(Duration::from_millis(2000));
    let rollback = model(out.path(), &["rollback"], t0);
    std::thread::sleep(Duration::from_secs_f64(
        (5.0 - t0.elapsed().as_secs_f64()).max(1.5),
    ));
    stop.store(true, Ordering::Relaxed);
    let answers: Vec<Answer> = clients.drain(..).flat_map(|c| c.join().unwrap()).collect();
    let pinned_answers: Vec<Answer> = pinned_clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();

    assert!(answers.len() > 200, "only {} answers in 5 s", answers.len());
    for a in &answers {
        // Version 2 was champion from the promote to the rollback, version 1 around them; the
        // server follows the alias within a second (checked below), so a version may still
        // answer a request begun in that second.
        let v1 = a.start < promote.1 + 1.0 || a.end > rollback.0;
        let v2 = a.end > promote.0 && a.start < rollback.1 + 1.0;
        let was_champion = match a.version {
            1 => v1,
            2 => v2,
            _ => false,
        };
        assert!(
            was_champion,
            "version {} answered over {:.3}–{:.3} s; promote {promote:?}, rollback {rollback:?}",
            a.version, a.start, a.end
        );
        if a.start > promote.1 + 1.0 && a.end < rollback.0 {
            assert_eq!(
                a.version, 2,
                "still version 1 at {:.3} s, promoted at {:.3} s",
                a.start, promote.1
            );
        }
        if a.start > rollback.1 + 1.0 {
            assert_eq!(
                a.version, 1,
                "still version 2 at {:.3} s, rolled back at {:.3} s",
                a.start, rollback.1
            );
        }
    }
    let served: std::collections::BTreeSet<u64> = answers.iter().map(|a| a.version).collect();
    assert_eq!(served.into_iter().collect::<Vec<_>>(), [1, 2]);
    assert!(!pinned_answers.is_empty());
    assert!(
        pinned_answers.iter().all(|a| a.version == 1),
        "a pinned server stays on its version"
    );
    let log = following.stderr();
    assert!(
        log.contains("serving version 2 (svm) as `champion`, was version 1"),
        "{log}"
    );
    assert!(
        log.contains("serving version 1 (logreg) as `champion`, was version 2"),
        "{log}"
    );
}

/// `/health` once `done` holds of it, or the last one after 3 s.
fn health_until(url: &str, done: impl Fn(&Value) -> bool) -> Value {
    let agent = client();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut resp = agent.get(format!("{url}/health")).call().unwrap();
        let h: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        if done(&h) || Instant::now() > deadline {
            return h;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_version_that_fails_to_load_leaves_the_old_one_serving() {
    let out = iris();
    let server = Server::start(out.path(), &[], &[]);
    // Version 3: version 2's files with its model file cut short.
    let versions = out.path().join("out/registry/versions");
    crate::test::copy_tree(&versions.join("2"), &versions.join("3"));
    let meta = std::fs::read_to_string(versions.join("3/meta.json")).unwrap();
    std::fs::write(
        versions.join("3/meta.json"),
        meta.replace("\"version\": 2", "\"version\": 3"),
    )
    .unwrap();
    let model_file = versions.join("3/model.json");
    let bytes = std::fs::read(&model_file).unwrap();
    std::fs::write(&model_file, &bytes[..bytes.len() / 2]).unwrap();

    model(out.path(), &["promote", "3"], Instant::now());
    let h = health_until(&server.url, |h| !h["last_reload_error"].is_null());
    assert_eq!(
        (&h["status"], &h["version"]),
        (&"degraded".into(), &1.into()),
        "{h}"
    );
    assert_eq!(h["last_reload_error"]["version"], 3, "{h}");
    let message = h["last_reload_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("changed or damaged since it was registered"),
        "{message}"
    );
    let (status, answer) = post(
        &client(),
        &format!("{}/predict", server.url),
        "application/json",
        RECORD,
    );
    assert_eq!((status, &answer["version"]), (200, &1.into()), "{answer}");
    assert!(
        server.stderr().contains("cannot serve version 3"),
        "{}",
        server.stderr()
    );

    // The alias moves on to a good version: served, and the error is gone.
    model(out.path(), &["promote", "2"], Instant::now());
    let h = health_until(&server.url, |h| h["version"] == 2);
    assert_eq!(
        (&h["status"], &h["last_reload_error"]),
        (&"ok".into(), &Value::Null),
        "{h}"
    );
    let mut resp = client()
        .get(format!("{}/metrics", server.url))
        .call()
        .unwrap();
    let metrics = resp.body_mut().read_to_string().unwrap();
    assert!(
        metrics.contains("wf_serve_reload_failures_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("wf_serve_model_version 2"), "{metrics}");
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0_and_ctrl_c_exits_130() {
    let out = iris();
    let server = Server::start(out.path(), &[], &[]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        RECORD.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&RECORD.as_bytes()[..20]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&RECORD.as_bytes()[20..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"label\":\"versicolor\""), "{answer}");
    let stderr = server.stderr.clone();
    assert_eq!(server.wait(), Some(0));
    assert!(
        std::fs::read_to_string(stderr)
            .unwrap()
            .contains("stopping: finishing the requests in flight")
    );
    assert!(
        TcpStream::connect(&addr).is_err(),
        "nothing listens after the exit"
    );

    let server = Server::start(out.path(), &[], &[]);
    assert_eq!(server.stop(Signal::SIGINT), Some(130));
}
