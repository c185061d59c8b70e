//! A lock that does not parse (a merge left conflict markers in it, or it is not YAML) stops
//! every command that reads it, at its line, and is never rewritten.

use crate::test::{Output, Test};

const SPEC: &str = "stages:
  a:
    cmd: echo a >> ran.log && echo a > a.txt
    outs: [a.txt]
  b:
    cmd: echo b >> ran.log && echo b > b.txt
    outs: [b.txt]
";

const CONFLICT: &str = "error: `pipeline.lock` has an unresolved merge conflict (`<<<<<<<`)
 --> pipeline.lock:3:1
  |
3 | <<<<<<< HEAD
  | ^^^^^^^
  |
  = help: resolve the merge (keep the entries of one side, or both, without the markers), then run again; wf does not read or rewrite a lock with conflict markers
";

/// A project run once with `spec` as `spec_name`, then its lock as a merge leaves it: each
/// side's entries between git's markers.
fn conflicted(spec_name: &str) -> (Output, String) {
    let out = Test::new().write(spec_name, SPEC).arg("repro").success();
    let path = out.path().join("pipeline.lock");
    let lock = std::fs::read_to_string(&path).unwrap();
    let (head, entries) = lock.split_once("stages:\n").unwrap();
    let theirs = entries.replace("echo a >", "echo A >");
    let merged = format!("{head}stages:\n<<<<<<< HEAD\n{entries}=======\n{theirs}>>>>>>> theirs\n");
    std::fs::write(&path, &merged).unwrap();
    (out, merged)
}

#[test]
fn conflict_markers_in_the_lock_stop_every_command_that_reads_it() {
    // Regression: such a lock was taken for an empty one, every stage was reported changed and
    // `wf repro` ran them all and overwrote it.
    let (out, merged) = conflicted("pipeline.yaml");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["repro"],
        &["repro", "--dry"],
        &["checkout"],
        &["push"],
        &["gc"],
    ] {
        out.test()
            .args(args.iter().copied())
            .status(2)
            .stderr(CONFLICT)
            .run();
    }
    let lock = out.path().join("pipeline.lock");
    assert_eq!(std::fs::read_to_string(lock).unwrap(), merged);
    let ran = std::fs::read_to_string(out.path().join("ran.log")).unwrap();
    assert_eq!(ran.lines().count(), 2, "no stage ran again: {ran}");
}

#[test]
fn a_lock_beside_dvc_yaml_gets_the_same_error() {
    // wf never reads or writes `dvc.lock`: a DVC project's lock is `pipeline.lock` beside it.
    let (out, merged) = conflicted("dvc.yaml");
    out.test().arg("status").status(2).stderr(CONFLICT).run();
    out.test().arg("repro").status(2).stderr(CONFLICT).run();
    let lock = out.path().join("pipeline.lock");
    assert_eq!(std::fs::read_to_string(lock).unwrap(), merged);
}

#[test]
fn a_lock_that_is_not_yaml_is_an_error_at_its_place() {
    let broken = "version: 1\nstages:\n  a:\n    cmd: [echo a\n  b:\n    cmd: echo b\n";
    let out = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("pipeline.lock", broken)
        .arg("status")
        .status(2)
        .stderr(
            "error: `pipeline.lock` is not a valid lock file: unclosed bracket `[`
 --> pipeline.lock:4:10
  |
4 |     cmd: [echo a
  |          ^
  |
  = help: fix `pipeline.lock` or restore it (`git checkout -- pipeline.lock`); wf does not rewrite a lock it cannot read
",
        )
        .run();
    out.test()
        .arg("repro")
        .status(2)
        .stderr_contains("error: `pipeline.lock` is not a valid lock file")
        .run();
    let lock = std::fs::read_to_string(out.path().join("pipeline.lock")).unwrap();
    assert_eq!(lock, broken);
    assert!(!out.path().join("ran.log").exists());
}

#[test]
fn a_lock_with_an_unknown_field_names_it_at_its_line() {
    Test::new()
        .write("sub/pipeline.yaml", SPEC)
        .write(".wf/.gitignore", "/*\n")
        .write(
            "sub/pipeline.lock",
            "version: 1\nstages:\n  a:\n    cmd: echo a\n    bogus: 1\n",
        )
        .arg("status")
        .status(2)
        .stderr_contains(
            "error: `sub/pipeline.lock` is not a valid lock file: unknown field `bogus`",
        )
        .stderr_contains(" --> sub/pipeline.lock:5:5")
        .run();
}
