//! `Test`: a builder that writes files into a temporary folder, runs the real `wf` there, and
//! checks what it printed and how it exited.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use tempfile::TempDir;

/// One `wf` invocation in a temporary folder.
#[must_use]
pub(crate) struct Test {
    dir: Rc<TempDir>,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
    stdout: Option<String>,
    stdout_contains: Vec<String>,
    stderr: Option<String>,
    stderr_contains: Vec<String>,
    status: i32,
}

/// What a finished invocation printed; `test()` starts the next one in the same folder.
pub(crate) struct Output {
    dir: Rc<TempDir>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Test {
    pub(crate) fn new() -> Test {
        Test::in_dir(Rc::new(TempDir::with_prefix("wf-test-").expect("temp dir")))
    }

    fn in_dir(dir: Rc<TempDir>) -> Test {
        Test {
            dir,
            args: vec![],
            cwd: None,
            env: vec![],
            stdout: None,
            stdout_contains: vec![],
            stderr: None,
            stderr_contains: vec![],
            status: 0,
        }
    }

    /// The temporary folder.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Another command in the same folder, nothing run yet.
    pub(crate) fn again(&self) -> Test {
        Test::in_dir(self.dir.clone())
    }

    /// Writes a file, creating its folders.
    pub(crate) fn write(self, path: &str, content: &str) -> Test {
        let p = self.dir.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&p, content).expect("write file");
        self
    }

    /// Copies a folder's files into the test folder (recursively).
    pub(crate) fn copy_dir(self, from: &Path) -> Test {
        copy_tree(from, self.dir.path());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Test {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn arg(self, arg: &str) -> Test {
        self.args([arg])
    }

    /// Runs in a sub-folder of the test folder.
    pub(crate) fn current_dir(mut self, sub: &str) -> Test {
        self.cwd = Some(self.dir.path().join(sub));
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    pub(crate) fn stdout(mut self, expected: &str) -> Test {
        self.stdout = Some(expected.into());
        self
    }

    pub(crate) fn stdout_contains(mut self, part: &str) -> Test {
        self.stdout_contains.push(part.into());
        self
    }

    pub(crate) fn stderr(mut self, expected: &str) -> Test {
        self.stderr = Some(expected.into());
        self
    }

    pub(crate) fn stderr_contains(mut self, part: &str) -> Test {
        self.stderr_contains.push(part.into());
        self
    }

    pub(crate) fn status(mut self, code: i32) -> Test {
        self.status = code;
        self
    }

    /// Runs `wf` and checks every expectation; the status defaults to 0.
    #[track_caller]
    pub(crate) fn run(self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wf"));
        cmd.args(&self.args)
            .current_dir(self.cwd.as_deref().unwrap_or(self.dir.path()))
            .env("NO_COLOR", "1")
            .env_remove("WF_JOBS")
            // Stages' scripts log to wf's own endpoint unless a test says otherwise.
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_TOKEN");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run wf");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let show = || {
            format!(
                "wf {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                self.args.join(" ")
            )
        };
        assert_eq!(
            out.status.code(),
            Some(self.status),
            "unexpected exit status\n{}",
            show()
        );
        if let Some(expected) = &self.stdout {
            assert_eq!(&stdout, expected, "unexpected stdout\n{}", show());
        }
        for part in &self.stdout_contains {
            assert!(stdout.contains(part), "stdout lacks {part:?}\n{}", show());
        }
        if let Some(expected) = &self.stderr {
            assert_eq!(&stderr, expected, "unexpected stderr\n{}", show());
        }
        for part in &self.stderr_contains {
            assert!(stderr.contains(part), "stderr lacks {part:?}\n{}", show());
        }
        Output {
            dir: self.dir,
            stdout,
            stderr,
        }
    }

    /// Runs and expects success.
    #[track_caller]
    pub(crate) fn success(self) -> Output {
        self.status(0).run()
    }
}

impl Output {
    /// The next command, in the same folder.
    pub(crate) fn test(&self) -> Test {
        Test::in_dir(self.dir.clone())
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The repository's own folder (for fixtures, specs and examples).
pub(crate) fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs git in `dir` with a test identity and no signing; fails the test on an error.
pub(crate) fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `wf repro` in `dir` (its output thrown away) and returns once a stage has made the
/// file `marker`, so that the caller can interrupt or kill it mid-run.
#[track_caller]
pub(crate) fn repro_until(dir: &std::path::Path, marker: &str) -> std::process::Child {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .arg("repro")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join(marker).exists() {
        assert!(Instant::now() < deadline, "no stage made `{marker}`");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
