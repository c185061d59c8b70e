//! `wf gc --rev`: what a git revision's locks refer to is kept, also for a wf repository in a
//! sub-folder of its git repository.

use crate::test::{Test, git};

#[test]
fn gc_rev_keeps_what_a_sub_folder_specs_lock_had_at_that_revision() {
    // git's top level holds `proj/`, the wf repository, whose spec is in `proj/sub/`.
    let t = Test::new()
        .write("proj/.wf/.gitignore", "/*\n!/.gitignore\n")
        .write(
            "proj/sub/pipeline.yaml",
            "stages:\n  a:\n    cmd: cat v.txt > out.txt\n    deps: [v.txt]\n    outs: [out.txt]\n",
        )
        .write("proj/sub/v.txt", "one\n");
    git(t.path(), &["init", "-q"]);
    let out = t.current_dir("proj").arg("repro").success();
    git(out.path(), &["add", "-A"]);
    git(out.path(), &["commit", "-q", "-m", "one"]);
    std::fs::write(out.path().join("proj/sub/v.txt"), "two\n").unwrap();
    out.test().current_dir("proj").arg("repro").success();
    // Only `HEAD`'s lock refers to the first output now.
    out.test()
        .current_dir("proj")
        .args(["gc", "--dry"])
        .stderr_contains("would remove 1 of 2 cache objects")
        .success();
    out.test()
        .current_dir("proj")
        .args(["gc", "--rev", "HEAD"])
        .stderr_contains("removed 0 of 2 cache objects")
        .success();
    // So going back to that commit restores its output from the cache.
    git(out.path(), &["checkout", "-q", "--", "."]);
    std::fs::remove_file(out.path().join("proj/sub/out.txt")).unwrap();
    out.test().current_dir("proj").arg("checkout").success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("proj/sub/out.txt")).unwrap(),
        "one\n"
    );
    out.test()
        .current_dir("proj")
        .args(["gc", "--rev", "nope"])
        .status(2)
        .stderr_contains("error: unknown revision `nope`")
        .run();
}

#[test]
fn gc_rev_outside_a_git_repository_is_an_error() {
    let t = Test::new().write("pipeline.yaml", "stages:\n  a:\n    cmd: echo\n");
    let dir = t.path().canonicalize().unwrap();
    t.args(["gc", "--rev", "HEAD"])
        .status(2)
        .stderr(&format!(
            "\
error: `{}` is not in a git repository, so there are no commits to keep the objects of
help: run `git init` and commit, or leave out `--rev` and `--all-commits`
",
            dir.display()
        ))
        .run();
}
