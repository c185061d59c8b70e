//! `wf status`: DVC's layout and JSON, the upstream note, and `--check` for CI.

use crate::test::Test;

const SPEC: &str = "stages:
  a:
    cmd: cat in.txt > a.txt
    deps: [in.txt]
    params: [lr]
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
";

#[test]
fn never_run_stages_list_deps_and_outs_as_dvc() {
    Test::new()
        .write("pipeline.yaml", SPEC)
        .write("params.yaml", "lr: 0.1\n")
        .write("in.txt", "x\n")
        .arg("status")
        .stdout(
            "a:\n\tchanged deps:\n\t\tmodified:           in.txt\n\t\tnew:                params.yaml\n\tchanged outs:\n\t\tdeleted:            a.txt\nb:\n\tchanged deps:\n\t\tdeleted:            a.txt\n\tchanged outs:\n\t\tdeleted:            b.txt\n",
        )
        .run();
}

#[test]
fn stale_stages_and_their_downstream() {
    let out = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("params.yaml", "lr: 0.1\n")
        .write("in.txt", "x\n")
        .arg("repro")
        .success();
    out.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    out.test().args(["status", "--check"]).success();
    std::fs::write(out.path().join("params.yaml"), "lr: 0.2\n").unwrap();
    std::fs::remove_file(out.path().join("b.txt")).unwrap();
    out.test()
        .arg("status")
        .stdout("a:\n\tchanged deps:\n\t\tparams.yaml:\n\t\t\tmodified:           lr\nb:\n\tchanged outs:\n\t\tdeleted:            b.txt\n")
        .run();
    out.test()
        .args(["status", "--json"])
        .stdout("{\"a\":[{\"changed deps\":{\"params.yaml\":{\"lr\":\"modified\"}}}],\"b\":[{\"changed outs\":{\"b.txt\":\"deleted\"}}]}\n")
        .run();
    out.test().args(["status", "--check"]).status(1).run();
    out.test().args(["status", "-q"]).status(1).stdout("").run();
    std::fs::write(out.path().join("b.txt"), "x\n").unwrap();
    out.test()
        .arg("status")
        .stdout_contains("b:\n\twill run: upstream 'a' changed\n")
        .run();
}

#[test]
fn changed_command_and_always_changed() {
    let spec =
        "stages:\n  t:\n    cmd: echo t > t.txt\n    outs: [t.txt]\n    always_changed: true\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .arg("repro")
        .success();
    std::fs::write(
        out.path().join("pipeline.yaml"),
        spec.replace("echo t", "echo tt"),
    )
    .unwrap();
    out.test()
        .arg("status")
        .stdout("t:\n\tchanged command\n\talways changed\n")
        .run();
}

#[test]
fn a_params_file_that_does_not_parse_shows_its_line_and_caret() {
    // `custom.yaml` is read only to check the stage, not for `${}`: its error used to lose its
    // place on the way out of `wf status`.
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo a\n    params:\n      - custom.yaml:\n        - lr\n",
        )
        .write("custom.yaml", "seed: 1\nlr: [0.1\n")
        .arg("status")
        .status(2)
        .stderr(
            "error: invalid YAML: unclosed bracket '['
 --> custom.yaml:2:5
  |
2 | lr: [0.1
  |     ^
",
        )
        .run();
}

#[test]
fn a_dep_that_cannot_be_hashed_fails_with_1() {
    // A link to itself cannot be read: an I/O failure, not bad input.
    let t = Test::new().write(
        "pipeline.yaml",
        "stages:\n  a:\n    cmd: echo a\n    deps: [loop]\n",
    );
    std::os::unix::fs::symlink("loop", t.path().join("loop")).unwrap();
    t.arg("status")
        .status(1)
        .stderr_contains("error: cannot read `loop`")
        .run();
}

#[test]
fn a_dep_that_is_a_pipe_is_bad_input() {
    let t = Test::new().write(
        "pipeline.yaml",
        "stages:\n  a:\n    cmd: echo a\n    deps: [fifo]\n",
    );
    let made = std::process::Command::new("mkfifo")
        .arg(t.path().join("fifo"))
        .status()
        .unwrap();
    assert!(made.success());
    t.arg("status")
        .status(2)
        .stderr("error: `fifo` is neither a file nor a folder\n")
        .run();
}

#[test]
fn added_data_is_checked_against_its_pointer_with_or_without_a_spec() {
    let t = Test::new()
        .write(".wf/.gitignore", "")
        .write("d/a.txt", "a\n")
        .write("f.txt", "x\n")
        .args(["add", "d", "f.txt"])
        .success();
    // No spec at all: DVC's `status` reads `.dvc` files alone too.
    t.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    std::fs::write(t.path().join("d/a.txt"), "b\n").unwrap();
    std::fs::remove_file(t.path().join("f.txt")).unwrap();
    t.test()
        .arg("status")
        .stdout("d.wf:\n\tchanged outs:\n\t\tmodified:           d\nf.txt.wf:\n\tchanged outs:\n\t\tdeleted:            f.txt\n")
        .run();
    t.test()
        .args(["status", "--json"])
        .stdout("{\"d.wf\":[{\"changed outs\":{\"d\":\"modified\"}}],\"f.txt.wf\":[{\"changed outs\":{\"f.txt\":\"deleted\"}}]}\n")
        .run();
    t.test().args(["status", "--check"]).status(1).run();

    // Beside a pipeline: its stages first, then the pointers.
    let p = t
        .test()
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: cat d/a.txt > out.txt\n    deps: [d]\n    outs: [out.txt]\n",
        )
        .args(["checkout", "--force"])
        .success();
    p.test().arg("repro").success();
    p.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    std::fs::write(p.path().join("d/a.txt"), "c\n").unwrap();
    p.test()
        .arg("status")
        .stdout("s:\n\tchanged deps:\n\t\tmodified:           d\nd.wf:\n\tchanged outs:\n\t\tmodified:           d\n")
        .run();
}
