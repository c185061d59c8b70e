//! `wf repro`: DVC's decisions (DVC-SEMANTICS.md §5), its flags, parallelism, failures,
//! interruption and the single-writer lock. Each stage appends its name to `ran.log`, which is
//! tracked by nothing, so a test sees exactly which stages ran.

use std::path::Path;

use crate::test::{Output, Test};

/// Reads and empties `ran.log`: the stages that ran since the last call, sorted.
fn ran(dir: &Path) -> Vec<String> {
    let log = dir.join("ran.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `wf repro ARGS` succeeds; returns what ran.
#[track_caller]
fn repro(out: &Output, args: &[&str]) -> Vec<String> {
    out.test().arg("repro").args(args.iter().copied()).success();
    ran(out.path())
}

fn write(out: &Output, path: &str, text: &str) {
    std::fs::write(out.path().join(path), text).unwrap();
}

/// a: in.txt + params lr -> a.txt; b: a.txt -> b.txt (its size: early cutoff visible); c: no deps.
const CHAIN: &str = "stages:
  a:
    cmd: echo a >> ran.log && cat in.txt > a.txt
    deps: [in.txt]
    params: [lr]
    outs: [a.txt]
  b:
    cmd: echo b >> ran.log && wc -c < a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: echo c >> ran.log && echo c > c.txt
    outs: [c.txt]
";

/// A repository that has run CHAIN once.
fn chain() -> Output {
    let out = Test::new()
        .write("pipeline.yaml", CHAIN)
        .write("params.yaml", "lr: 0.1\nunused: 1\n")
        .write("in.txt", "hello\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["a", "b", "c"]);
    out
}

#[test]
fn second_run_does_nothing() {
    let out = chain();
    out.test()
        .arg("repro")
        .stderr_contains("Data and pipelines are up to date.")
        .success();
    assert!(ran(out.path()).is_empty());
}

#[test]
fn touch_changes_nothing() {
    let out = chain();
    let f = std::fs::File::options()
        .append(true)
        .open(out.path().join("in.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert!(repro(&out, &[]).is_empty());
}

#[test]
fn edited_dep_runs_the_stage_and_downstream() {
    let out = chain();
    write(&out, "in.txt", "hello world\n");
    assert_eq!(repro(&out, &[]), ["a", "b"]);
}

#[test]
fn early_cutoff_leaves_downstream_alone() {
    let out = chain();
    // Same size: `a` runs, writes different bytes, `b` (the size) is unchanged, so `b`'s own
    // out stays... but its dep changed, so it runs: the cutoff is after b.
    write(&out, "in.txt", "HELLO\n");
    assert_eq!(repro(&out, &[]), ["a", "b"]);
    // A command change that writes the same bytes: `a` runs, `b` does not.
    let spec = CHAIN.replace("cat in.txt > a.txt", "cat in.txt  > a.txt");
    write(&out, "pipeline.yaml", &spec);
    assert_eq!(repro(&out, &[]), ["a"]);
}

#[test]
fn changed_command_runs() {
    let out = chain();
    write(
        &out,
        "pipeline.yaml",
        &CHAIN.replace("echo c > c.txt", "echo cc > c.txt"),
    );
    assert_eq!(repro(&out, &[]), ["c"]);
}

#[test]
fn string_to_list_command_is_a_change() {
    let out = chain();
    let spec = CHAIN.replace(
        "    cmd: echo c >> ran.log && echo c > c.txt",
        "    cmd: [echo c >> ran.log && echo c > c.txt]",
    );
    write(&out, "pipeline.yaml", &spec);
    assert_eq!(repro(&out, &[]), ["c"]);
}

#[test]
fn tracked_param_runs_untracked_and_reformatting_do_not() {
    let out = chain();
    write(&out, "params.yaml", "unused: 2\nlr: 0.10  # same value\n");
    assert!(repro(&out, &[]).is_empty());
    write(&out, "params.yaml", "lr: 0.2\nunused: 2\n");
    assert_eq!(repro(&out, &[]), ["a"]);
    write(&out, "params.yaml", "lr: '0.2'\nunused: 2\n");
    assert_eq!(repro(&out, &[]), ["a"], "a type change is a change");
}

#[test]
fn missing_param_is_dvcs_error() {
    let out = chain();
    write(&out, "params.yaml", "unused: 2\n");
    out.test()
        .arg("repro")
        .status(2)
        .stderr_contains(
            "error: failed to reproduce 'a': Parameters 'lr' are missing from 'params.yaml'.",
        )
        .run();
}

#[test]
fn deleted_and_edited_outs_are_restored_from_the_cache() {
    let out = chain();
    std::fs::remove_file(out.path().join("a.txt")).unwrap();
    write(&out, "b.txt", "junk\n");
    out.test()
        .arg("repro")
        .stderr_contains("Stage 'a' is cached - skipping run, checking out outputs")
        .stderr_contains("Stage 'b' is cached - skipping run, checking out outputs")
        .success();
    assert!(ran(out.path()).is_empty());
    assert_eq!(
        std::fs::read_to_string(out.path().join("a.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("b.txt")).unwrap(),
        "6\n"
    );
    out.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
}

#[test]
fn a_stage_without_deps_is_restored_from_the_run_cache() {
    let out = chain();
    std::fs::remove_file(out.path().join("c.txt")).unwrap();
    assert!(repro(&out, &[]).is_empty());
    assert_eq!(
        std::fs::read_to_string(out.path().join("c.txt")).unwrap(),
        "c\n"
    );
    std::fs::remove_file(out.path().join("c.txt")).unwrap();
    assert_eq!(repro(&out, &["--no-run-cache"]), ["c"]);
}

#[test]
fn reverted_input_is_restored_from_the_run_cache() {
    let out = chain();
    write(&out, "in.txt", "other\n");
    assert_eq!(repro(&out, &[]), ["a", "b"]);
    write(&out, "in.txt", "hello\n");
    assert!(
        repro(&out, &[]).is_empty(),
        "both stages come back from earlier runs"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("a.txt")).unwrap(),
        "hello\n"
    );
    write(&out, "in.txt", "other\n");
    assert_eq!(repro(&out, &["--no-run-cache"]), ["a", "b"]);
}

#[test]
fn uncached_out_runs_again_and_forced_stages_always_run() {
    let spec = "stages:\n  u:\n    cmd: echo u >> ran.log && echo u > u.txt\n    deps: [in.txt]\n    outs:\n      - u.txt: {cache: false}\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "1\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["u"]);
    std::fs::remove_file(out.path().join("u.txt")).unwrap();
    assert_eq!(repro(&out, &[]), ["u"]);
    assert_eq!(repro(&out, &["-f"]), ["u"]);
}

#[test]
fn corrupted_cache_object_is_reported_not_used() {
    let out = chain();
    let lock = std::fs::read_to_string(out.path().join("pipeline.lock")).unwrap();
    let c_hash = lock
        .split("  c:")
        .nth(1)
        .and_then(|s| s.split("blake3: ").nth(1))
        .unwrap()[..64]
        .to_string();
    let obj = out
        .path()
        .join(".wf/cache")
        .join(&c_hash[..2])
        .join(&c_hash[2..]);
    let mut perms = std::fs::metadata(&obj).unwrap().permissions();
    #[expect(
        clippy::permissions_set_readonly_false,
        reason = "the test corrupts the object on purpose"
    )]
    perms.set_readonly(false);
    std::fs::set_permissions(&obj, perms).unwrap();
    std::fs::write(&obj, "evil\n").unwrap();
    std::fs::remove_file(out.path().join("c.txt")).unwrap();
    out.test()
        .args(["repro", "c"])
        .status(1)
        .stderr_contains("is corrupted")
        .run();
    assert!(
        !out.path().join("c.txt").exists()
            || std::fs::read_to_string(out.path().join("c.txt")).unwrap() != "evil\n"
    );
}

#[test]
fn new_out_and_new_dep_run_the_stage() {
    let out = chain();
    write(
        &out,
        "pipeline.yaml",
        &CHAIN.replace("    outs: [c.txt]", "    outs: [c.txt]\n    deps: [in.txt]"),
    );
    assert_eq!(repro(&out, &[]), ["c"]);
}

#[test]
fn removed_dep_runs_the_stage_unlike_dvc() {
    let out = chain();
    let spec = CHAIN.replace(
        "    deps: [in.txt]\n    params: [lr]\n",
        "    params: [lr]\n",
    );
    write(&out, "pipeline.yaml", &spec);
    assert_eq!(repro(&out, &[]), ["a"]);
}

#[test]
fn desc_and_flags_change_nothing() {
    let out = chain();
    let spec = CHAIN.replace(
        "    outs: [c.txt]",
        "    desc: the c stage\n    outs:\n      - c.txt: {persist: true}",
    );
    write(&out, "pipeline.yaml", &spec);
    assert!(repro(&out, &[]).is_empty());
}

#[test]
fn always_changed_runs_every_time() {
    let out = Test::new()
        .write("pipeline.yaml", "stages:\n  t:\n    cmd: echo t >> ran.log && date +%N > t.txt\n    outs: [t.txt]\n    always_changed: true\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["t"]);
    assert_eq!(repro(&out, &[]), ["t"]);
}

#[test]
fn frozen_stage_never_runs_and_needs_its_outs() {
    let spec = "stages:\n  f:\n    cmd: echo f >> ran.log && echo f > f.txt\n    deps: [in.txt]\n    outs: [f.txt]\n    frozen: true\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "x\n")
        .write("f.txt", "f\n")
        .arg("repro")
        .success();
    assert!(ran(out.path()).is_empty());
    write(&out, "in.txt", "y\n");
    assert!(repro(&out, &[]).is_empty());
    std::fs::remove_file(out.path().join("f.txt")).unwrap();
    out.test()
        .arg("repro")
        .status(2)
        .stderr_contains("stage is frozen and its output 'f.txt' is missing")
        .run();
}

#[test]
fn persist_out_is_kept_before_running() {
    let spec = "stages:\n  p:\n    cmd: echo p >> ran.log && echo more >> p.txt\n    deps: [in.txt]\n    outs:\n      - p.txt: {persist: true}\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "1\n")
        .arg("repro")
        .success();
    write(&out, "in.txt", "2\n");
    assert_eq!(repro(&out, &[]), ["p", "p"]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("p.txt")).unwrap(),
        "more\nmore\n"
    );
}

#[test]
fn outs_are_deleted_before_a_run_and_must_exist_after() {
    let spec = "stages:\n  o:\n    cmd: test ! -e o.txt && echo o > o.txt\n    deps: [in.txt]\n    outs: [o.txt]\n  n:\n    cmd: echo nothing\n    outs: [never.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "1\n")
        .args(["repro", "o"])
        .success();
    write(&out, "in.txt", "2\n");
    out.test().args(["repro", "o"]).success();
    out.test()
        .args(["repro", "n"])
        .status(1)
        .stderr_contains("error: failed to reproduce 'n': output 'never.txt' does not exist")
        .run();
}

#[test]
fn missing_dep_without_producer_fails() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: cat nosuch.txt > a.txt\n    deps: [nosuch.txt]\n    outs: [a.txt]\n")
        .arg("repro")
        .status(2)
        .stderr_contains("error: failed to reproduce 'a': dependency 'nosuch.txt' does not exist")
        .run();
}

#[test]
fn failing_command_stops_at_the_first_failure() {
    let spec = "stages:\n  a:\n    cmd:\n      - echo a1 >> ran.log\n      - exit 3\n      - echo a2 >> ran.log\n    outs: [a.txt]\n  b:\n    cmd: echo b >> ran.log\n    deps: [a.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .arg("repro")
        .status(1)
        .stderr_contains("error: failed to reproduce 'a': failed to run: exit 3: exit 3")
        .run();
    assert_eq!(ran(out.path()), ["a1"]);
    assert!(
        !out.path().join("pipeline.lock").exists()
            || !std::fs::read_to_string(out.path().join("pipeline.lock"))
                .unwrap()
                .contains("  a:")
    );
}

#[test]
fn each_line_runs_in_its_own_shell_in_wdir_with_env() {
    let spec = "stages:\n  s:\n    wdir: sub\n    cmd: |-\n      X=1\n      echo \"x=$X root=$WF_ROOT stage=$WF_STAGE dvc=$DVC_STAGE extra=$EXTRA\" > out.txt\n    env: {EXTRA: yes}\n    outs: [out.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("sub/.keep", "")
        .arg("repro")
        .success();
    let text = std::fs::read_to_string(out.path().join("sub/out.txt")).unwrap();
    let root = out.path().canonicalize().unwrap();
    assert_eq!(
        text,
        format!("x= root={} stage=s dvc=s extra=yes\n", root.display())
    );
}

#[test]
fn keep_going_runs_what_does_not_depend_on_the_failure() {
    let spec = "stages:\n  bad:\n    cmd: exit 1\n    outs: [bad.txt]\n  child:\n    cmd: echo child >> ran.log\n    deps: [bad.txt]\n  other:\n    cmd: sleep 0.2 && echo other >> ran.log\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .args(["repro", "-k", "-j", "1"])
        .status(1)
        .stderr_contains("Stage 'child' will be skipped because 'bad' failed")
        .stderr_contains("error: failed to reproduce 'bad'")
        .run();
    assert_eq!(ran(out.path()), ["other"]);
}

#[test]
fn without_keep_going_no_new_stage_starts_after_a_failure() {
    // `first` takes a while, so `bad` is waiting for the one slot (or failed already) by the
    // time `later` becomes ready: `later` must never start. (Regression: without the pause, a
    // `later` that asked for the slot before `bad` did could run first, and the test flaked.)
    let spec = "stages:\n  bad:\n    cmd: exit 1\n  later:\n    cmd: echo later >> ran.log\n    deps: [x.txt]\n  first:\n    cmd: sleep 0.3 && echo first >> ran.log && echo > x.txt\n    outs: [x.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .args(["repro", "-j", "1"])
        .status(1)
        .run();
    assert!(!ran(out.path()).contains(&"later".to_string()));
}

#[test]
fn independent_stages_run_at_the_same_time() {
    // Each stage waits for the other's marker: both finish only if they run concurrently.
    let stage = |me: &str, other: &str| {
        format!(
            "  {me}:\n    cmd: touch {me}.mark && i=0; while [ ! -e {other}.mark ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; test -e {other}.mark && echo {me} > {me}.txt\n    outs: [{me}.txt]\n"
        )
    };
    let spec = format!(
        "stages:\n{}{}",
        stage("left", "right"),
        stage("right", "left")
    );
    Test::new()
        .write("pipeline.yaml", &spec)
        .args(["repro", "-j", "2"])
        .success();
}

#[test]
fn jobs_one_runs_one_at_a_time() {
    let stage = |me: &str| {
        format!(
            "  {me}:\n    cmd: mkdir running.lock && sleep 0.2 && rmdir running.lock && echo {me} > {me}.txt\n    outs: [{me}.txt]\n"
        )
    };
    let spec = format!("stages:\n{}{}{}", stage("a"), stage("b"), stage("c"));
    Test::new()
        .write("pipeline.yaml", &spec)
        .args(["repro", "-j", "1"])
        .success();
}

#[test]
fn force_runs_targets_and_upstream_single_item_only_the_target() {
    let out = chain();
    assert_eq!(repro(&out, &["-f", "b"]), ["a", "b"]);
    assert_eq!(repro(&out, &["-f", "-s", "b"]), ["b"]);
    assert!(repro(&out, &["-s", "b"]).is_empty());
}

#[test]
fn downstream_runs_the_target_and_what_follows() {
    let out = chain();
    assert_eq!(repro(&out, &["-f", "--downstream", "a"]), ["a", "b"]);
    write(&out, "in.txt", "changed\n");
    assert!(
        repro(&out, &["--downstream", "c"]).is_empty(),
        "upstream changes are not looked at"
    );
}

#[test]
fn force_downstream_runs_descendants_of_what_ran() {
    let out = chain();
    let spec = CHAIN.replace("cat in.txt > a.txt", "cat in.txt  > a.txt");
    write(&out, "pipeline.yaml", &spec);
    assert_eq!(repro(&out, &["--force-downstream"]), ["a", "b"]);
}

#[test]
fn targets_glob_and_group_names() {
    let spec = "stages:\n  fe:\n    foreach: [x, y]\n    do:\n      cmd: echo fe@${item} >> ran.log\n  other:\n    cmd: echo other >> ran.log\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .args(["repro", "fe"])
        .success();
    assert_eq!(ran(out.path()), ["fe@x", "fe@y"]);
    assert_eq!(repro(&out, &["--glob", "-f", "fe@*"]), ["fe@x", "fe@y"]);
    assert_eq!(repro(&out, &["-f", "fe@y"]), ["fe@y"]);
    assert_eq!(repro(&out, &["pipeline.yaml:other"]), ["other"]);
}

#[test]
fn dry_predicts_upstream_effects_and_runs_nothing() {
    let out = chain();
    write(&out, "in.txt", "new\n");
    out.test()
        .args(["repro", "--dry"])
        .stdout("Would run stage 'a': dep 'in.txt' modified\nWould run stage 'b': upstream a will run\nStage 'c' didn't change, skipping\n")
        .run();
    assert!(ran(out.path()).is_empty());
}

#[test]
fn stage_output_is_prefixed() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  hello:\n    cmd: echo hi there\n",
        )
        .arg("repro")
        .stdout("hello | hi there\n")
        .run();
}

#[test]
fn second_writer_is_refused() {
    let out = chain();
    std::fs::write(
        out.path().join(".wf/lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    out.test()
        .arg("repro")
        .status(2)
        .stderr_contains(&format!(
            "error: the repository is locked by another wf (pid {}) writing it",
            std::process::id()
        ))
        .run();
    // A lock left by a process that is gone is taken over.
    std::fs::write(out.path().join(".wf/lock"), "999999999\n").unwrap();
    out.test().arg("repro").success();
}

#[test]
fn ctrl_c_sigterm_and_sighup_keep_finished_stages_and_exit_130() {
    use nix::sys::signal::Signal;
    let spec = "stages:\n  quick:\n    cmd: echo q > q.txt\n    outs: [q.txt]\n  slow:\n    cmd: touch started && sleep 30 && echo s > s.txt\n    deps: [q.txt]\n    outs: [s.txt]\n";
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let t = Test::new().write("pipeline.yaml", spec);
        let dir = t.path().to_path_buf();
        let mut child = crate::test::repro_until(&dir, "started");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}");
        let lock = std::fs::read_to_string(dir.join("pipeline.lock")).unwrap();
        assert!(
            lock.contains("  quick:") && !lock.contains("  slow:"),
            "{signal}: {lock}"
        );
        assert!(!dir.join(".wf/lock").exists(), "the write lock is released");
        t.arg("status").stdout_contains("slow:").run();
    }
}

#[test]
fn from_a_sub_folder_the_root_is_found_and_its_spec_is_the_default() {
    let out = chain();
    let sub = "stages:\n  s:\n    cmd: echo s >> ../ran.log && cat ../a.txt > s.txt\n    deps: [../a.txt]\n    outs: [s.txt]\n";
    std::fs::create_dir(out.path().join("sub")).unwrap();
    write(&out, "sub/pipeline.yaml", sub);
    out.test()
        .current_dir("sub")
        .arg("repro")
        .env("SHELL", "/bin/sh")
        .success();
    assert_eq!(ran(out.path()), ["s"]);
    assert!(out.path().join("sub/pipeline.lock").exists());
    let status = out.test().current_dir("sub").args(["status"]).success();
    assert!(status.stderr.is_empty());
}

#[test]
fn params_rows_of_dvcs_table() {
    let spec = "stages:\n  t:\n    cmd: echo t >> ran.log\n    params: [train]\n  w:\n    cmd: echo w >> ran.log\n    params:\n      - other.yaml:\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("params.yaml", "train: {epochs: 1, lr: 0.1}\n")
        .write("other.yaml", "a: 1\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["t", "w"]);
    write(&out, "params.yaml", "train: {epochs: 2, lr: 0.1}\n");
    assert_eq!(repro(&out, &[]), ["t"], "a child of a tracked key");
    write(&out, "other.yaml", "a: 1\nb: 2\n");
    assert_eq!(
        repro(&out, &[]),
        ["w"],
        "a key added to a whole tracked file"
    );
    write(&out, "other.yaml", "b: 2\n");
    assert_eq!(
        repro(&out, &[]),
        ["w"],
        "a key removed from a whole tracked file"
    );
}

#[test]
fn renamed_stage_is_restored_from_the_run_cache() {
    let out = chain();
    write(
        &out,
        "pipeline.yaml",
        &CHAIN.replace("  c:\n", "  c_renamed:\n"),
    );
    out.test()
        .arg("repro")
        .stderr_contains("Stage 'c_renamed' is cached - skipping run")
        .success();
    assert!(ran(out.path()).is_empty());
    assert_eq!(repro(&out, &["--no-run-cache", "-f", "c_renamed"]), ["c"]);
}

#[test]
fn foreach_gaining_an_item_runs_only_the_new_stage() {
    let spec = "stages:\n  fe:\n    foreach: [a, b]\n    do:\n      cmd: echo fe@${item} >> ran.log && echo ${item} > fe_${item}.txt\n      deps: [in.txt]\n      outs:\n        - fe_${item}.txt\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "1\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["fe@a", "fe@b"]);
    write(&out, "pipeline.yaml", &spec.replace("[a, b]", "[a, b, c]"));
    assert_eq!(repro(&out, &[]), ["fe@c"]);
}

#[test]
fn stage_without_outs_runs_when_its_deps_change() {
    let spec = "stages:\n  check:\n    cmd: echo check >> ran.log\n    deps: [in.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "1\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["check"]);
    assert!(repro(&out, &[]).is_empty());
    write(&out, "in.txt", "2\n");
    assert_eq!(repro(&out, &[]), ["check"]);
}

#[test]
fn folder_deps_and_outs() {
    let spec = "stages:\n  split:\n    cmd: echo split >> ran.log && mkdir -p parts && cp data/* parts/\n    deps: [data]\n    outs: [parts]\n  count:\n    cmd: echo count >> ran.log && ls parts | wc -l > n.txt\n    deps: [parts/a.txt]\n    outs: [n.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("data/a.txt", "a\n")
        .write("data/b.txt", "b\n")
        .arg("repro")
        .success();
    assert_eq!(ran(out.path()), ["count", "split"]);
    let f = std::fs::File::options()
        .append(true)
        .open(out.path().join("data/b.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3))
        .unwrap();
    assert!(
        repro(&out, &[]).is_empty(),
        "touching a file inside a folder dep changes nothing"
    );
    write(&out, "data/c.txt", "c\n");
    assert_eq!(
        repro(&out, &[]),
        ["split"],
        "count reads parts/a.txt only, which is unchanged"
    );
    std::fs::remove_dir_all(out.path().join("parts")).unwrap();
    out.test()
        .arg("repro")
        .stderr_contains("Stage 'split' is cached")
        .success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("parts/c.txt")).unwrap(),
        "c\n"
    );
}
