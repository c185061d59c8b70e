//! `wf stage list`, as `dvc stage list`.

use crate::test::Test;

#[test]
fn lists_descriptions_or_outputs() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  prepare:\n    desc: Split the data\n    cmd: echo\n    outs: [a.csv, b.csv]\n  train:\n    cmd: echo\n    outs: [model]\n  report:\n    cmd: echo\n",
        )
        .args(["stage", "list"])
        .stdout("prepare  Split the data\ntrain    Outputs model\nreport   No outputs or dependencies\n")
        .run();
}
