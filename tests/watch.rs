//! `wf watch`: the real binary in the background of a temporary folder; the test edits files
//! and reads what it printed. Each stage appends its name to `ran.log`, which nothing tracks.
//! Every wait is for a marker, with a timeout; no assertion rests on a fixed sleep.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::test::Test;

const TIMEOUT: Duration = Duration::from_secs(15);

/// A running `wf watch` whose stderr is gathered by a thread.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
    dir: PathBuf,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
            .arg("watch")
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("WF_JOBS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Watch {
            child,
            stderr,
            dir: dir.to_path_buf(),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The summary line of every cycle so far.
    fn cycles(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| l.starts_with("[watch] ") && !l.starts_with("[watch] watching "))
            .map(str::to_string)
            .collect()
    }

    /// Waits until `n` cycles have ended; returns the last one's summary line.
    #[track_caller]
    fn cycle(&self, n: usize) -> String {
        self.until(&format!("cycle {n}"), || self.cycles().len() >= n);
        let cycles = self.cycles();
        assert_eq!(cycles.len(), n, "one change, one cycle\n{}", self.stderr());
        cycles[n - 1].clone()
    }

    /// Polls `done` every 20 ms until it holds.
    #[track_caller]
    fn until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- stderr ---\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    #[track_caller]
    fn exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "wf watch did not exit\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.join(path), text).unwrap();
    }

    /// Reads and empties `ran.log`: the stages that ran since the last call, sorted.
    fn ran(&self) -> Vec<String> {
        let log = self.dir.join("ran.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        let mut v: Vec<String> = text.lines().map(str::to_string).collect();
        v.sort();
        v
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// a: in.txt + tracked param lr -> a.txt (holds lr); b: a.txt -> b.txt; c: no deps.
const CHAIN: &str = "stages:
  a:
    cmd: echo a >> ran.log && cat in.txt > a.txt && grep lr params.yaml >> a.txt
    deps: [in.txt]
    params: [lr]
    outs: [a.txt]
  b:
    cmd: echo b >> ran.log && cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: echo c >> ran.log && echo c > c.txt
    outs: [c.txt]
";

/// A folder with CHAIN and `wf watch` started in it, its first run done.
fn chain() -> (Test, Watch) {
    let t = Test::new()
        .write("pipeline.yaml", CHAIN)
        .write("params.yaml", "lr: 0.1\nunused: 1\n")
        .write("in.txt", "hello\n");
    let w = Watch::start(t.path(), &[]);
    assert!(
        w.cycle(1)
            .starts_with("[watch] first run: ran a, b, c; 0 skipped; "),
        "{}",
        w.stderr()
    );
    assert_eq!(w.ran(), ["a", "b", "c"]);
    assert!(
        !w.dir.join(".wf/lock").exists(),
        "between runs the repository is not locked"
    );
    (t, w)
}

#[test]
fn tracked_param_edit_runs_the_affected_stages_only() {
    let (_t, w) = chain();
    w.write("params.yaml", "lr: 0.2\nunused: 1\n");
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran a, b; 1 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["a", "b"]);
    // The run wrote a.txt and b.txt: had they been taken as changes, this cycle would name them.
    w.write("params.yaml", "lr: 0.2\nunused: 2\n");
    let line = w.cycle(3);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran nothing; 3 skipped; "),
        "{line}"
    );
}

#[test]
fn untracked_param_edit_runs_nothing() {
    let (_t, w) = chain();
    w.write("params.yaml", "lr: 0.10  # same value\nunused: 2\n");
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran nothing; 3 skipped; "),
        "{line}"
    );
    assert!(w.ran().is_empty());
}

#[test]
fn an_edited_dep_runs_its_stage_and_downstream() {
    let (_t, w) = chain();
    w.write("in.txt", "hello world\n");
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] in.txt changed: ran a, b; 1 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["a", "b"]);
}

#[test]
fn an_editors_atomic_save_triggers() {
    let (_t, w) = chain();
    w.write("params.yaml.tmp", "lr: 0.3\nunused: 1\n");
    std::fs::rename(w.dir.join("params.yaml.tmp"), w.dir.join("params.yaml")).unwrap();
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran a, b; 1 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["a", "b"]);
    // The inode changed; the new file is watched as well as the old one was.
    w.write("params.yaml", "lr: 0.4\nunused: 1\n");
    w.cycle(3);
    assert_eq!(w.ran(), ["a", "b"]);
}

#[test]
fn a_burst_of_saves_makes_one_run() {
    let (_t, w) = chain();
    for i in 0..10 {
        w.write("params.yaml", &format!("lr: 0.{i}5\nunused: 1\n"));
        std::thread::sleep(Duration::from_millis(5));
    }
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran a, b; 1 skipped; "),
        "{line}"
    );
    // Had the burst made two runs, the next line would be the second's.
    w.write("in.txt", "hello\n");
    let line = w.cycle(3);
    assert!(
        line.starts_with("[watch] in.txt changed: ran nothing; 3 skipped; "),
        "{line}"
    );
}

#[test]
fn a_change_during_a_run_is_handled_when_it_ends() {
    let spec = "stages:
  slow:
    cmd: echo slow >> ran.log && touch started && sleep 1 && cat in.txt > s.txt
    deps: [in.txt]
    outs: [s.txt]
  p:
    cmd: echo p >> ran.log && grep lr params.yaml > p.txt
    params: [lr]
    outs: [p.txt]
";
    let t = Test::new()
        .write("pipeline.yaml", spec)
        .write("params.yaml", "lr: 1\n")
        .write("in.txt", "1\n");
    let w = Watch::start(t.path(), &[]);
    w.cycle(1);
    assert_eq!(w.ran(), ["p", "slow"]);
    std::fs::remove_file(w.dir.join("started")).unwrap();
    w.write("in.txt", "2\n");
    w.until("the slow stage to start", || w.dir.join("started").exists());
    w.write("params.yaml", "lr: 2\n");
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] in.txt changed: ran slow; 1 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["slow"]);
    let line = w.cycle(3);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran p; 1 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["p"]);
}

#[test]
fn a_broken_spec_is_reported_and_a_fixed_one_runs() {
    let (_t, w) = chain();
    w.write(
        "pipeline.yaml",
        &CHAIN.replace("    deps: [in.txt]", "    dep: [in.txt]"),
    );
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] pipeline.yaml changed: not run, see the error above; "),
        "{line}"
    );
    assert!(
        w.stderr()
            .contains("error: unknown field `dep` in stage `a`"),
        "{}",
        w.stderr()
    );
    assert!(w.ran().is_empty());
    w.write(
        "pipeline.yaml",
        &CHAIN.replace("echo c > c.txt", "echo cc > c.txt"),
    );
    let line = w.cycle(3);
    assert!(
        line.starts_with("[watch] pipeline.yaml changed: ran c; 2 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["c"]);
}

#[test]
fn a_bad_config_is_reported_and_watch_goes_on() {
    // Regression: a run that could not start kept its events open, and the watch hung.
    let (_t, mut w) = chain();
    w.write(".wf/config", "[cache]\ntype = \"nope\"\n");
    w.write("in.txt", "again\n");
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] in.txt changed: not run, see the error above; "),
        "{line}"
    );
    assert!(w.stderr().contains("nope"), "{}", w.stderr());
    std::fs::remove_file(w.dir.join(".wf/config")).unwrap();
    w.write("in.txt", "once more\n");
    let line = w.cycle(3);
    assert!(line.contains("ran a, b"), "{line}");
    w.signal(Signal::SIGINT);
    assert_eq!(w.exit().code(), Some(130));
}

#[test]
fn a_failing_stage_is_reported_and_watch_goes_on() {
    let (_t, w) = chain();
    w.write(
        "pipeline.yaml",
        &CHAIN.replace("cat in.txt > a.txt", "exit 3"),
    );
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] pipeline.yaml changed: ran nothing; failed a; 1 skipped; "),
        "{line}"
    );
    assert!(
        w.stderr().contains("error: failed to reproduce 'a'"),
        "{}",
        w.stderr()
    );
    // Back to the locked command: `a`'s deleted out comes back from the cache.
    w.write("pipeline.yaml", CHAIN);
    let line = w.cycle(3);
    assert!(
        line.starts_with("[watch] pipeline.yaml changed: ran nothing; restored a; 2 skipped; "),
        "{line}"
    );
}

#[test]
fn sigint_during_a_run_stops_it_keeps_the_lock_and_exits_130() {
    let spec = "stages:
  q:
    cmd: cat trigger.txt > q.txt
    deps: [trigger.txt]
    outs: [q.txt]
  slow:
    cmd: if [ -e go ]; then touch started && sleep 30; fi; cat q.txt > s.txt
    deps: [q.txt]
    outs: [s.txt]
";
    let t = Test::new()
        .write("pipeline.yaml", spec)
        .write("trigger.txt", "1\n");
    let mut w = Watch::start(t.path(), &[]);
    w.cycle(1);
    w.write("go", "");
    w.write("trigger.txt", "2\n");
    w.until("the slow stage to start", || w.dir.join("started").exists());
    w.signal(Signal::SIGINT);
    assert_eq!(w.exit().code(), Some(130), "{}", w.stderr());
    assert!(
        w.stderr()
            .contains("error: interrupted; the lock keeps every stage that finished"),
        "{}",
        w.stderr()
    );
    assert!(
        !w.dir.join(".wf/lock").exists(),
        "the write lock is released"
    );
    // The lock parses, holds `q` as it ran in the interrupted cycle, and `slow` is stale.
    let out = t.arg("status").success();
    assert!(out.stdout.contains("slow:"), "{}", out.stdout);
    assert!(!out.stdout.contains("q:"), "{}", out.stdout);
}

#[test]
fn sigint_or_sigterm_between_runs_exits_130() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let (_t, mut w) = chain();
        w.signal(signal);
        assert_eq!(w.exit().code(), Some(130), "{signal}: {}", w.stderr());
        assert!(!w.dir.join(".wf/lock").exists());
    }
}

#[test]
fn only_the_targets_deps_are_watched() {
    let t = Test::new()
        .write("pipeline.yaml", CHAIN)
        .write("params.yaml", "lr: 0.1\nunused: 1\n")
        .write("in.txt", "hello\n");
    let w = Watch::start(t.path(), &["c"]);
    let line = w.cycle(1);
    assert!(
        line.starts_with("[watch] first run: ran c; 0 skipped; "),
        "{line}"
    );
    // `in.txt` is a dep of `a` only: not watched. Had it been, the next line would name it.
    w.write("in.txt", "other\n");
    w.write("params.yaml", "lr: 0.1\nunused: 2\n");
    let line = w.cycle(2);
    assert!(
        line.starts_with("[watch] params.yaml changed: ran nothing; 1 skipped; "),
        "{line}"
    );
    assert_eq!(w.ran(), ["c"]);
}
