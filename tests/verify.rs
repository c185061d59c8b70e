//! `wf verify`: a deterministic pipeline reproduces; a stage that writes something new each run
//! is named, with exit code 1.

use crate::test::Test;

#[test]
fn a_deterministic_pipeline_reproduces() {
    let spec = "stages:\n  a:\n    cmd: sort in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n  b:\n    cmd: mkdir -p d && wc -l < a.txt > d/n\n    deps: [a.txt]\n    outs: [d]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "b\na\n")
        .arg("repro")
        .success();
    out.test()
        .arg("verify")
        .stderr("all 2 stages reproduce byte for byte\n")
        .run();
    out.test()
        .args(["verify", "a"])
        .stderr("all 1 stages reproduce byte for byte\n")
        .run();
}

#[test]
fn a_non_deterministic_stage_is_named() {
    let spec = "stages:\n  stamp:\n    cmd: date +%s%N > t.txt\n    deps: [in.txt]\n    outs: [t.txt]\n  copy:\n    cmd: cp in.txt c.txt\n    deps: [in.txt]\n    outs: [c.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "x\n")
        .arg("repro")
        .success();
    out.test()
        .arg("verify")
        .status(1)
        .stderr("error: these stages wrote different outputs from the same inputs (not deterministic):\n  stamp: t.txt\n")
        .run();
}

#[test]
fn a_stale_workspace_is_refused() {
    let spec = "stages:\n  a:\n    cmd: cp in.txt a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .write("in.txt", "x\n")
        .arg("repro")
        .success();
    std::fs::write(out.path().join("in.txt"), "y\n").unwrap();
    out.test()
        .arg("verify")
        .status(2)
        .stderr_contains("error: stage `a` is not as the lock records it")
        .run();
}
