//! Deps outside the repository (DVC's external dependencies): an absolute path or one climbing
//! past the root is hashed, locked with its path as written and followed like any dep, but wf
//! only reads it: never cached, pushed or written next to. Outs outside stay refused.

use std::path::Path;

use crate::test::{Output, Test};

/// Reads and empties `ran.log` in `dir`: the stages that ran since the last call, sorted.
fn ran(dir: &Path) -> Vec<String> {
    let log = dir.join("ran.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The contents of every file under `dir`.
fn contents(dir: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                v.extend(contents(&p));
            } else {
                v.push(std::fs::read(&p).unwrap());
            }
        }
    }
    v
}

/// The lock's record of a dep: path as written, blake3 of `bytes`, size.
fn locked_dep(path: &str, bytes: &[u8]) -> String {
    format!(
        "- path: {path}\n      hash: blake3\n      blake3: {}\n      size: {}\n",
        blake3::hash(bytes).to_hex(),
        bytes.len()
    )
}

/// Runs the stages twice around a change of the external file `ext` (written `written` in the
/// spec, in repository `repo` run from `cwd`): the first run runs both stages and locks the
/// dep, the second skips, the change is reported and reruns `a` only.
fn follows_the_external_dep(out: &Output, cwd: &str, repo: &Path, ext: &Path, written: &str) {
    let run = |args: &[&str]| {
        out.test()
            .current_dir(cwd)
            .args(args.iter().copied())
            .success()
    };
    run(&["repro"]);
    assert_eq!(ran(repo), ["a", "b"]);
    let lock = std::fs::read_to_string(repo.join("pipeline.lock")).unwrap();
    assert!(
        lock.contains(&locked_dep(written, b"raw\n")),
        "the lock records the dep as written:\n{lock}"
    );
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "4\n");

    run(&["repro"]);
    assert_eq!(ran(repo), Vec::<String>::new(), "nothing changed");
    let status = run(&["status"]);
    assert_eq!(status.stdout, "Data and pipelines are up to date.\n");

    std::fs::write(ext, "changed\n").unwrap();
    let status = run(&["status"]);
    assert_eq!(
        status.stdout,
        format!("a:\n\tchanged deps:\n\t\tmodified:           {written}\n")
    );
    run(&["repro"]);
    assert_eq!(ran(repo), ["a"], "only the stage reading it runs again");
    assert_eq!(std::fs::read_to_string(repo.join("a.txt")).unwrap(), "8\n");
    let lock = std::fs::read_to_string(repo.join("pipeline.lock")).unwrap();
    assert!(lock.contains(&locked_dep(written, b"changed\n")), "{lock}");
    run(&["repro"]);
    assert_eq!(ran(repo), Vec::<String>::new());
}

fn spec(dep: &str) -> String {
    format!(
        "stages:
  a:
    cmd: echo a >> ran.log && wc -c < {dep} | tr -d ' ' > a.txt
    deps: [{dep}]
    outs: [a.txt]
  b:
    cmd: echo b >> ran.log && cat in.txt > b.txt
    deps: [in.txt]
    outs: [b.txt]
"
    )
}

#[test]
fn absolute_dep_outside_the_repository_is_hashed_locked_and_followed() {
    let ext = tempfile::tempdir().unwrap();
    let raw = ext.path().join("raw.csv");
    std::fs::write(&raw, "raw\n").unwrap();
    let written = raw.to_str().unwrap();
    let out = Test::new()
        .write("pipeline.yaml", &spec(written))
        .write("in.txt", "in\n")
        .arg("dag")
        .stdout_contains("a")
        .success();
    let repo = out.path().to_path_buf();
    follows_the_external_dep(&out, ".", &repo, &raw, written);
    assert_eq!(names(ext.path()), ["raw.csv"], "nothing written beside it");
    assert_eq!(std::fs::read_to_string(&raw).unwrap(), "changed\n");
}

#[test]
fn dep_climbing_past_the_root_is_followed_and_never_pushed_or_cached() {
    let out = Test::new()
        .write("repo/.wf/.gitignore", "/*\n!/.gitignore\n!/config\n")
        .write("repo/pipeline.yaml", &spec("../shared/raw.csv"))
        .write("repo/in.txt", "in\n")
        .write("shared/raw.csv", "raw\n")
        .current_dir("repo")
        .arg("dag")
        .stdout_contains("a")
        .success();
    let repo = out.path().join("repo");
    let shared = out.path().join("shared");
    follows_the_external_dep(
        &out,
        "repo",
        &repo,
        &shared.join("raw.csv"),
        "../shared/raw.csv",
    );

    let remote = tempfile::tempdir().unwrap();
    let remote_url = remote.path().to_str().unwrap();
    for args in [
        &["remote", "add", "origin", remote_url, "--default"][..],
        &["push"],
        &["checkout"],
        &["gc"],
        &["status"],
    ] {
        out.test()
            .current_dir("repo")
            .args(args.iter().copied())
            .success();
    }
    let pushed = contents(remote.path());
    assert!(pushed.contains(&b"8\n".to_vec()), "a.txt was pushed");
    assert!(!pushed.contains(&b"changed\n".to_vec()), "the dep was not");
    let cached = contents(&repo.join(".wf/cache"));
    assert!(!cached.contains(&b"changed\n".to_vec()), "nor cached");
    assert_eq!(names(&shared), ["raw.csv"], "nothing written beside it");
    assert_eq!(
        std::fs::read_to_string(shared.join("raw.csv")).unwrap(),
        "changed\n"
    );
}

#[test]
fn missing_external_dep_names_the_stage_and_the_path() {
    let ext = tempfile::tempdir().unwrap();
    let missing = ext.path().join("nosuch.csv");
    let missing = missing.to_str().unwrap();
    Test::new()
        .write("pipeline.yaml", &spec(missing))
        .write("in.txt", "in\n")
        .arg("repro")
        .status(2)
        .stderr_contains(&format!(
            "error: failed to reproduce 'a': dependency '{missing}' does not exist"
        ))
        .run();
}

#[test]
fn out_outside_the_repository_is_still_refused_beside_an_external_dep() {
    let ext = tempfile::tempdir().unwrap();
    let raw = ext.path().join("raw.csv");
    std::fs::write(&raw, "raw\n").unwrap();
    let out = ext.path().join("o.txt");
    let (raw, out) = (raw.to_str().unwrap(), out.to_str().unwrap());
    Test::new()
        .write(
            "pipeline.yaml",
            &format!(
                "stages:\n  a:\n    cmd: cp {raw} {out}\n    deps: [{raw}]\n    outs: [{out}]\n"
            ),
        )
        .arg("dag")
        .status(2)
        .stderr_contains(&format!(
            "error: path `{out}` is outside the repository\n --> pipeline.yaml:5:12\n"
        ))
        .run();
    assert_eq!(names(ext.path()), ["raw.csv"]);
}
