//! `--executor slurm` against a real Slurm cluster (the one `SLURM_CONF` names; `.ci/run` starts
//! a single-node cluster with `.ci/slurm-cluster`). Without a cluster these tests say so and
//! pass, except under `WF_SLURM_REQUIRED=1`, where a missing cluster is a failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::{Output, Test, project_root};

/// Whether a cluster is there to test against.
fn cluster() -> bool {
    let conf = std::env::var("SLURM_CONF").unwrap_or_default();
    let up = !conf.is_empty()
        && Path::new(&conf).is_file()
        && Command::new("sinfo")
            .args(["-h", "-o", "%T"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !up {
        assert!(
            std::env::var_os("WF_SLURM_REQUIRED").is_none(),
            "WF_SLURM_REQUIRED is set but no Slurm cluster answers (SLURM_CONF={conf:?}): start one with `.ci/slurm-cluster start DIR`"
        );
        eprintln!(
            "skipped: no Slurm cluster (start one with `eval \"$(.ci/slurm-cluster start /tmp/wf-slurm)\"`)"
        );
    }
    up
}

/// Stages in parallel and in a chain, and one that fans in.
const SPEC: &str = "stages:
  left:
    cmd: echo left > left.txt && echo on-$WF_STAGE
    deps: [data.txt]
    outs: [left.txt]
  right:
    cmd: mkdir -p right && cp data.txt right/a.txt && echo b > right/b.txt
    deps: [data.txt]
    outs: [right]
  join:
    cmd: cat left.txt right/a.txt right/b.txt > join.txt
    deps: [left.txt, right]
    outs: [join.txt]
    resources: {cpus: 2, mem: 100M}
";

/// `.wf/config` for jobs without a shared file system: the remote `store` in `remote`, the
/// jobs' scratch folder in `scratch`.
fn unshared(remote: &Path, scratch: &Path) -> String {
    format!(
        "[core]\nremote = \"store\"\n\n[remote.store]\nurl = \"{}\"\n\n[executor.slurm]\nshared_fs = false\nscratch = \"{}\"\n",
        remote.display(),
        scratch.display()
    )
}

/// Sends SIGINT to a running `wf`, as Ctrl-C does.
fn ctrl_c(child: &std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
}

fn lock(out: &Output) -> String {
    std::fs::read_to_string(out.path().join("pipeline.lock")).expect("pipeline.lock")
}

#[test]
fn a_pipeline_on_slurm_locks_the_same_hashes_as_locally() {
    if !cluster() {
        return;
    }
    let local = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("data.txt", "data\n")
        .arg("repro")
        .success();
    let slurm = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("data.txt", "data\n")
        .args(["repro", "--executor", "slurm"])
        .stdout_contains("left | on-left")
        .success();
    assert_eq!(lock(&slurm), lock(&local));
    assert_eq!(
        std::fs::read_to_string(slurm.path().join("join.txt")).unwrap(),
        "left\ndata\nb\n"
    );
    // Fresh now, wherever it would run.
    slurm
        .test()
        .args(["status", "--check"])
        .stderr("")
        .success();
    // The job logs are gone once the jobs succeeded.
    let logs = slurm.path().join(".wf/tmp/slurm");
    assert!(
        std::fs::read_dir(&logs).map_or(true, |mut d| d.next().is_none()),
        "job logs left in {}",
        logs.display()
    );
}

#[test]
fn built_in_stages_run_on_the_node_through_wf_itself() {
    if !cluster() {
        return;
    }
    let root = project_root();
    let iris = |args: &[&str]| {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        Test::new()
            .write(".wf/.gitignore", "/*\n")
            .write("specs/pipeline.yaml", &read("specs/pipeline.yaml"))
            .write("specs/params.yaml", &read("specs/params.yaml"))
            .write("data/iris.csv", &read("data/iris.csv"))
            .args(["-C", "specs", "repro"])
            .args(args.iter().copied())
            .success()
    };
    let local = iris(&[]);
    let slurm = iris(&["--executor", "slurm"]);
    // And without a shared file system: the data and models travel through a remote.
    let remote = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let shipped = {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        Test::new()
            .write(".wf/.gitignore", "/*\n")
            .write(".wf/config", &unshared(remote.path(), scratch.path()))
            .write("specs/pipeline.yaml", &read("specs/pipeline.yaml"))
            .write("specs/params.yaml", &read("specs/params.yaml"))
            .write("data/iris.csv", &read("data/iris.csv"))
            .args(["-C", "specs", "repro", "--executor", "slurm"])
            .success()
    };
    // Every stage but the registry's (it records when a model was registered).
    let lock = |out: &Output| {
        let text = std::fs::read_to_string(out.path().join("specs/pipeline.lock")).unwrap();
        let from = text
            .find("  evaluate@logreg:")
            .expect("evaluate in the lock");
        text[from..].to_string()
    };
    assert_eq!(lock(&slurm), lock(&local));
    assert_eq!(lock(&shipped), lock(&local));
    assert!(slurm.path().join("out/registry").is_dir());
    assert!(shipped.path().join("out/registry").is_dir());
}

#[test]
fn a_failing_job_reports_the_stage_and_its_exit_code() {
    if !cluster() {
        return;
    }
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  broken:\n    cmd: echo about to fail >&2 && exit 3\n",
        )
        .args(["repro", "--executor", "slurm"])
        .status(1)
        .stderr_contains("broken | about to fail")
        .stderr_contains("failed on Slurm (job ")
        .stderr_contains("): exit 3")
        .stderr_contains("error: failed to reproduce 'broken'")
        .run();
}

#[test]
fn a_time_limit_ends_in_a_timeout_error_naming_the_stage() {
    if !cluster() {
        return;
    }
    // Slurm's smallest limit is a minute, and it checks limits every 30 s or so.
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  endless:\n    cmd: sleep 600\n    resources: {time: '1'}\n",
        )
        .args(["repro", "--executor", "slurm"])
        .status(1)
        .stderr_contains("TIMEOUT")
        .stderr_contains("error: failed to reproduce 'endless'")
        .run();
    assert!(
        out.stderr.contains("endless") && out.stderr.contains("time limit of 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_partition_is_a_clear_error() {
    if !cluster() {
        return;
    }
    Test::new()
        .write("pipeline.yaml", "stages:\n  s:\n    cmd: echo s\n")
        .write(".wf/config", "[executor.slurm]\npartition = \"nope\"\n")
        .args(["repro", "--executor", "slurm"])
        .status(1)
        .stderr_contains("Slurm refused the job: invalid partition specified: nope")
        .stderr_contains("[executor.slurm]")
        .run();
}

/// The names of the jobs Slurm still has queued or running.
fn queued_names() -> String {
    let out = Command::new("squeue")
        .args(["-h", "-o", "%j|%T"])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ctrl_c_cancels_every_job_and_keeps_finished_stages() {
    if !cluster() {
        return;
    }
    // Unique stage names: other tests share the cluster.
    let tag = format!("cc{}", std::process::id());
    let spec = format!(
        "stages:
  quick-{tag}:
    cmd: echo q > q.txt
    outs: [q.txt]
  slow-{tag}:
    cmd: touch started-a && sleep 600
    deps: [q.txt]
  slower-{tag}:
    cmd: touch started-b && sleep 600
    deps: [q.txt]
"
    );
    let t = Test::new().write("pipeline.yaml", &spec);
    let dir = t.path().to_path_buf();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["repro", "--executor", "slurm"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(dir.join("started-a").exists() && dir.join("started-b").exists()) {
        assert!(Instant::now() < deadline, "the slow jobs never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(queued_names().contains(&format!("wf:slow-{tag}|RUNNING")));
    ctrl_c(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let queued = queued_names();
    assert!(!queued.contains(&tag), "jobs left in the queue:\n{queued}");
    let lock = std::fs::read_to_string(dir.join("pipeline.lock")).unwrap();
    assert!(
        lock.contains(&format!("quick-{tag}:")) && !lock.contains(&format!("slow-{tag}:")),
        "{lock}"
    );
}

#[test]
fn stages_can_stay_local_or_go_to_slurm_in_one_pipeline() {
    if !cluster() {
        return;
    }
    let spec = "stages:
  here:
    cmd: echo x$SLURM_JOB_ID > here.txt
    outs: [here.txt]
    executor: local
  there:
    cmd: echo x$SLURM_JOB_ID > there.txt
    deps: [here.txt]
    outs: [there.txt]
  always-there:
    cmd: echo x$SLURM_JOB_ID > always.txt
    deps: [there.txt]
    outs: [always.txt]
    executor: slurm
";
    let read = |out: &Output, f: &str| {
        std::fs::read_to_string(out.path().join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    let is_job = |s: &str| {
        s.strip_prefix('x')
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    };
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .args(["repro", "--executor", "slurm"])
        .success();
    assert_eq!(read(&out, "here.txt"), "x");
    assert!(is_job(&read(&out, "there.txt")));
    assert!(is_job(&read(&out, "always.txt")));
    // Without --executor only the stage that names Slurm goes there.
    let out = out.test().args(["repro", "-f"]).success();
    assert_eq!(read(&out, "there.txt"), "x");
    assert!(is_job(&read(&out, "always.txt")));
    // The config's default applies to stages that name none.
    std::fs::write(
        out.path().join(".wf/config"),
        "[executor]\ndefault = \"slurm\"\n",
    )
    .unwrap();
    let out = out.test().args(["repro", "-f"]).success();
    assert_eq!(read(&out, "here.txt"), "x");
    assert!(is_job(&read(&out, "there.txt")));
}

#[test]
fn without_a_shared_file_system_data_travels_through_the_remote() {
    if !cluster() {
        return;
    }
    let remote = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let config = unshared(remote.path(), scratch.path());
    // Each stage also says where it ran: not in the repository.
    let spec = SPEC.replace("echo on-$WF_STAGE", "echo on-$WF_STAGE in $PWD");
    let local = Test::new()
        .write("pipeline.yaml", &spec)
        .write("data.txt", "data\n")
        .arg("repro")
        .success();
    let out = Test::new()
        .write("pipeline.yaml", &spec)
        .write("data.txt", "data\n")
        .write(".wf/config", &config)
        .args(["repro", "--executor", "slurm"])
        .stdout_contains(&format!("left | on-left in {}", scratch.path().display()))
        .success();
    assert_eq!(lock(&out), lock(&local));
    for f in ["left.txt", "right/a.txt", "right/b.txt", "join.txt"] {
        assert_eq!(
            std::fs::read(out.path().join(f)).unwrap(),
            std::fs::read(local.path().join(f)).unwrap(),
            "{f}"
        );
    }
    // The scratch workspaces are cleaned up, and no job result is left on the remote.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    assert!(
        !remote.path().join("jobs").exists()
            || std::fs::read_dir(remote.path().join("jobs"))
                .unwrap()
                .count()
                == 0
    );
    out.test().args(["status", "--check"]).success();
}

#[test]
fn a_job_held_in_the_queue_says_why_and_ctrl_c_removes_it() {
    if !cluster() {
        return;
    }
    let tag = format!("held{}", std::process::id());
    let t = Test::new()
        .write(
            "pipeline.yaml",
            &format!("stages:\n  {tag}:\n    cmd: echo never\n"),
        )
        .write(
            ".wf/config",
            "[executor.slurm]\nsbatch_args = [\"--hold\"]\npoll_interval = 0.1\n",
        );
    let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["repro", "--executor", "slurm"])
        .current_dir(t.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "wf ended without saying why the job waits");
        if line.contains("is pending: JobHeldUser") {
            break;
        }
    }
    assert!(
        line.starts_with(&format!("{tag} | wf: Slurm job ")),
        "{line}"
    );
    ctrl_c(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let queued = queued_names();
    assert!(!queued.contains(&tag), "jobs left in the queue:\n{queued}");
}

#[test]
fn an_unknown_executor_is_an_error_at_its_place_in_the_spec() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: echo s\n    executor: slrum\n",
        )
        .arg("repro")
        .status(2)
        .stderr_contains("error: unknown executor `slrum` for stage `s`")
        .stderr_contains(" --> pipeline.yaml:4:15")
        .stderr_contains("expected `local` or `slurm`")
        .run();
}

#[test]
fn without_slurm_commands_the_error_says_what_is_missing() {
    // No cluster needed: the submission itself fails.
    Test::new()
        .write("pipeline.yaml", "stages:\n  s:\n    cmd: echo s\n")
        .env("PATH", "/nonexistent")
        .args(["repro", "--executor", "slurm"])
        .status(1)
        .stderr_contains("`sbatch` is not on PATH")
        .stderr_contains("error: failed to reproduce 's'")
        .run();
}

#[test]
fn stage_list_shows_each_stages_executor() {
    let out = Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo a\n    executor: slurm\n    resources: {cpus: 4, mem: 8G, gpus: 1, time: '2:00:00'}\n  b:\n    cmd: echo b\n",
        )
        .args(["stage", "list", "--json"])
        .success();
    let stages: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let find = |name: &str| {
        stages
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("a")["executor"], "slurm");
    assert_eq!(
        find("a")["resources"],
        serde_json::json!({"cpus": 4, "mem": "8G", "gpus": 1, "time": "2:00:00"})
    );
    assert!(find("b")["executor"].is_null());
}

#[test]
fn without_a_shared_file_system_an_s3_remote_carries_the_data() {
    if !cluster() {
        return;
    }
    let server = crate::s3::Server::start();
    let scratch = tempfile::tempdir().unwrap();
    let config = format!(
        "[core]\nremote = \"team\"\n\n[remote.team]\nurl = \"s3://bucket/project\"\nendpoint = \"http://{}\"\nregion = \"us-east-1\"\n\n[executor.slurm]\nshared_fs = false\nscratch = \"{}\"\n",
        server.addr,
        scratch.path().display()
    );
    // The credentials are where `wf remote modify --local` puts them: they reach the jobs
    // through their environment, not through the job script.
    let secrets = format!(
        "[remote.team]\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
        crate::s3::KEY,
        crate::s3::SECRET
    );
    let local = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("data.txt", "data\n")
        .arg("repro")
        .success();
    let out = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("data.txt", "data\n")
        .write(".wf/config", &config)
        .write(".wf/config.local", &secrets)
        .args(["repro", "--executor", "slurm"])
        .stdout_contains("left | on-left")
        .success();
    assert_eq!(lock(&out), lock(&local));
    assert_eq!(
        std::fs::read_to_string(out.path().join("join.txt")).unwrap(),
        "left\ndata\nb\n"
    );
}

#[test]
fn dry_names_the_stages_that_would_go_to_slurm() {
    // No cluster needed: nothing is submitted.
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo a\n    executor: local\n  b:\n    cmd: echo b\n",
        )
        .args(["repro", "--dry", "--executor", "slurm"])
        .stdout_contains("Would run stage 'a': changed command")
        .stdout_contains("Would run stage 'b' on slurm: changed command")
        .success();
}

#[test]
fn without_a_shared_file_system_a_persist_out_travels_too() {
    if !cluster() {
        return;
    }
    let remote = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let config = unshared(remote.path(), scratch.path());
    let spec = "stages:\n  grow:\n    cmd: cat data.txt >> log.txt\n    deps: [data.txt]\n    outs:\n      - log.txt:\n          persist: true\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("data.txt", "one\n")
        .write(".wf/config", &config)
        .args(["repro", "--executor", "slurm"])
        .success();
    std::fs::write(out.path().join("data.txt"), "two\n").unwrap();
    out.test().args(["repro", "--executor", "slurm"]).success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("log.txt")).unwrap(),
        "one\ntwo\n"
    );
}

#[test]
fn watch_runs_its_stages_on_slurm_too() {
    if !cluster() {
        return;
    }
    let t = Test::new().write(
        "pipeline.yaml",
        "stages:\n  s:\n    cmd: echo x$SLURM_JOB_ID > where.txt\n    outs: [where.txt]\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["watch", "--executor", "slurm"])
        .current_dir(t.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = t.path().join("where.txt");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('\n')) {
        assert!(Instant::now() < deadline, "the first run never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&out).unwrap();
    ctrl_c(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let id = text.trim().strip_prefix('x').unwrap_or_default();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "the stage ran outside Slurm: {text:?}"
    );
}

#[test]
fn a_bad_poll_interval_is_a_config_error() {
    // No cluster needed: the config is checked before anything is submitted.
    Test::new()
        .write("pipeline.yaml", "stages:\n  s:\n    cmd: echo s\n")
        .write(".wf/config", "[executor.slurm]\npoll_interval = 0\n")
        .args(["repro", "--executor", "slurm"])
        .status(2)
        .stderr_contains(
            "`poll_interval` in [executor.slurm] must be between 0.01 and 3600 seconds, not 0",
        )
        .run();
}

#[test]
fn run_task_refuses_a_bad_job_spec() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .arg("run-task")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"{\"task\": 3}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: the job spec on stdin is not valid")
            && stderr
                .contains("`wf run-task` is started by `wf repro --executor slurm`, not by hand"),
        "{stderr}"
    );
}

#[test]
fn a_study_runs_its_trials_stages_as_jobs() {
    if !cluster() {
        return;
    }
    let out = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write(
            "pipeline.yaml",
            "stages:
  f:
    cmd: sh f.sh ${x}
    deps: [f.sh]
    params: [x]
    metrics: [m.json]
tune:
  objective: m.json:v
  direction: max
  sampler: grid
  space:
    x: {choice: [1, 2]}
",
        )
        .write(
            "f.sh",
            "test -n \"$SLURM_JOB_ID\" || { echo 'not a Slurm job' >&2; exit 1; }\nprintf '{\"v\": %s}\\n' \"$1\" > m.json\n",
        )
        .write("params.yaml", "x: 0\n")
        .args(["tune", "--executor", "slurm", "-j", "2"])
        .stdout_contains("Best trial 1")
        .success();
    let shown = out.test().args(["tune", "show", "--json"]).success();
    let study: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let states: Vec<&str> = study["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["finished", "finished"]);
    assert_eq!(study["trials"][0]["value"], 2.0);
}
