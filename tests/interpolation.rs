//! Interpolation and expansion, one case per rule of DVC's (DVC-SEMANTICS.md §2), checked on
//! the resolved stages `wf stage list --json` prints.

use serde_json::{Value, json};

use crate::test::Test;

/// Resolves the spec and returns each stage's JSON by name.
#[track_caller]
fn stages(files: &[(&str, &str)]) -> Vec<(String, Value)> {
    let mut t = Test::new();
    for (path, content) in files {
        t = t.write(path, content);
    }
    let out = t.args(["stage", "list", "--json"]).success();
    let list: Vec<Value> = serde_json::from_str(&out.stdout).expect("json");
    list.into_iter()
        .map(|s| (s["name"].as_str().unwrap_or_default().to_string(), s))
        .collect()
}

#[track_caller]
fn cmds(files: &[(&str, &str)]) -> Vec<(String, Value)> {
    stages(files)
        .into_iter()
        .map(|(n, s)| (n, s["cmd"].clone()))
        .collect()
}

#[track_caller]
fn one_cmd(params: &str, cmd: &str) -> String {
    let spec = format!("stages:\n  s:\n    cmd: {cmd}\n");
    let got = cmds(&[("params.yaml", params), ("pipeline.yaml", &spec)]);
    got[0].1.as_str().unwrap_or_default().to_string()
}

#[test]
fn params_yaml_is_loaded_by_default() {
    assert_eq!(one_cmd("name: cnn\n", "echo ${name}"), "echo cnn");
}

#[test]
fn key_paths_dots_brackets_and_dot_indexes() {
    let params = "a: {b: {c: deep}}\nlst: [zero, one]\n";
    assert_eq!(one_cmd(params, "echo ${a.b.c}"), "echo deep");
    assert_eq!(one_cmd(params, "echo ${lst[1]}"), "echo one");
    assert_eq!(one_cmd(params, "echo ${lst.0}"), "echo zero");
    assert_eq!(one_cmd(params, "echo ${ a.b.c }"), "echo deep");
}

#[test]
fn escaped_interpolation_stays_literal() {
    assert_eq!(one_cmd("x: 1\n", "'echo \\${x} ${x}'"), "echo ${x} 1");
}

#[test]
fn numbers_and_booleans_render_as_dvc() {
    let params = "lr: 0.00001\nratio: 0.10\nn: 3\nbig: 1.0e+20\nflag: true\noff: false\nword: yes\noct: 010\n";
    assert_eq!(
        one_cmd(
            params,
            "echo ${lr} ${ratio} ${n} ${big} ${flag} ${off} ${word} ${oct}"
        ),
        "echo 1e-05 0.1 3 1e+20 true false yes 010"
    );
}

#[test]
fn dict_unpacks_into_flags_in_cmd() {
    let params = "train: {lr: 0.01, sizes: [1, 2], opt: {name: adam, beta: 0.9}, verbose: true, quiet: false, note: a b}\n";
    assert_eq!(
        one_cmd(params, "python train.py ${train}"),
        "python train.py --lr 0.01 --sizes 1 2 --opt.name adam --opt.beta 0.9 --verbose --note 'a b'"
    );
}

#[test]
fn lone_interpolation_keeps_native_type() {
    let got = stages(&[
        ("params.yaml", "train: {C: 1.5, kernel: rbf}\n"),
        (
            "pipeline.yaml",
            "stages:\n  t:\n    uses: train\n    with: {model: svm, data: d, params: \"${train}\", out: m}\n",
        ),
    ]);
    assert_eq!(
        got[0].1["with"]["params"],
        json!({"C": 1.5, "kernel": "rbf"})
    );
}

#[test]
fn vars_files_partial_files_and_inline_mappings() {
    let got = cmds(&[
        ("params.yaml", "p: from-params\n"),
        ("v1.yaml", "x: 1\ny: 2\nz: 3\n"),
        ("v2.yaml", "w: 4\n"),
        (
            "pipeline.yaml",
            "vars:\n  - v1.yaml:x,y\n  - v2.yaml\n  - inline: {k: v}\nstages:\n  s:\n    cmd: echo ${p} ${x} ${y} ${w} ${inline.k}\n",
        ),
    ]);
    assert_eq!(got[0].1, "echo from-params 1 2 4 v");
}

#[test]
fn stage_vars_are_local_to_their_stage() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    vars: [{local: 1}]\n    cmd: echo ${local}\n  b:\n    cmd: echo ${local}\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: undefined variable `local` in `stages.b.cmd`")
        .run();
}

#[test]
fn foreach_over_a_list_names_by_value() {
    let got = cmds(&[(
        "pipeline.yaml",
        "stages:\n  fe:\n    foreach: [cnn, 0.5, true]\n    do:\n      cmd: echo ${item}\n",
    )]);
    assert_eq!(
        got,
        [
            ("fe@cnn".to_string(), json!("echo cnn")),
            ("fe@0.5".into(), json!("echo 0.5")),
            ("fe@true".into(), json!("echo true"))
        ]
    );
}

#[test]
fn foreach_over_params_reference() {
    let got = cmds(&[
        ("params.yaml", "models: [a, b]\n"),
        (
            "pipeline.yaml",
            "stages:\n  fe:\n    foreach: ${models}\n    do:\n      cmd: echo ${item}\n",
        ),
    ]);
    assert_eq!(
        got.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["fe@a", "fe@b"]
    );
}

#[test]
fn foreach_over_a_mapping_has_key_and_item() {
    let got = cmds(&[(
        "pipeline.yaml",
        "stages:\n  fe:\n    foreach:\n      us: {path: u.csv}\n      eu: {path: e.csv}\n    do:\n      cmd: echo ${key} ${item.path}\n",
    )]);
    assert_eq!(
        got,
        [
            ("fe@us".to_string(), json!("echo us u.csv")),
            ("fe@eu".into(), json!("echo eu e.csv"))
        ]
    );
}

#[test]
fn foreach_over_a_list_of_mappings_names_by_index() {
    let got = cmds(&[(
        "pipeline.yaml",
        "stages:\n  lod:\n    foreach:\n      - {n: a}\n      - {n: b}\n    do:\n      cmd: echo ${item.n}\n",
    )]);
    assert_eq!(
        got,
        [
            ("lod@0".to_string(), json!("echo a")),
            ("lod@1".into(), json!("echo b"))
        ]
    );
}

#[test]
fn matrix_is_a_cartesian_product_named_by_values() {
    let got = cmds(&[(
        "pipeline.yaml",
        "stages:\n  mx:\n    matrix:\n      model: [cnn, rnn]\n      lr: [0.1, 0.2]\n    cmd: echo ${item.model} ${item.lr} ${key}\n",
    )]);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["mx@cnn-0.1", "mx@cnn-0.2", "mx@rnn-0.1", "mx@rnn-0.2"]
    );
    assert_eq!(got[1].1, "echo cnn 0.2 cnn-0.2");
}

#[test]
fn matrix_with_composite_values_names_by_key_and_index() {
    let got = cmds(&[(
        "pipeline.yaml",
        "stages:\n  mxd:\n    matrix:\n      cfg: [{lr: 1}, {lr: 2}]\n      ds: [a, b]\n    cmd: echo ${item.cfg.lr} ${item.ds}\n",
    )]);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["mxd@cfg0-a", "mxd@cfg0-b", "mxd@cfg1-a", "mxd@cfg1-b"]
    );
    assert_eq!(got[2].1, "echo 2 a");
}

#[test]
fn matrix_from_params_reference() {
    let got = cmds(&[
        ("params.yaml", "models: [x, y]\n"),
        (
            "pipeline.yaml",
            "stages:\n  m:\n    matrix:\n      model: ${models}\n    cmd: echo ${item.model}\n",
        ),
    ]);
    assert_eq!(
        got.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["m@x", "m@y"]
    );
}

#[test]
fn group_name_is_a_target() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  fe:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n  other:\n    cmd: echo\n")
        .args(["stage", "list", "--name-only", "fe"])
        .stdout("fe@a\nfe@b\n")
        .run();
}

#[test]
fn list_cmd_keeps_its_form() {
    let got = cmds(&[
        ("params.yaml", "x: 1\n"),
        (
            "pipeline.yaml",
            "stages:\n  s:\n    cmd:\n      - echo ${x}\n      - echo two\n",
        ),
    ]);
    assert_eq!(got[0].1, json!(["echo 1", "echo two"]));
}

#[test]
fn interpolated_paths_and_wdir() {
    let got = stages(&[
        ("params.yaml", "dir: data\n"),
        (
            "pipeline.yaml",
            "stages:\n  s:\n    wdir: sub\n    cmd: echo\n    deps:\n      - ../${dir}/in.csv\n    outs:\n      - out_${dir}.txt\n    params: [lr]\n",
        ),
    ]);
    let s = &got[0].1;
    assert_eq!(s["wdir"], "sub");
    assert_eq!(s["deps"], json!(["data/in.csv"]));
    assert_eq!(s["outs"][0]["path"], "sub/out_data.txt");
    assert_eq!(s["params"], json!({"sub/params.yaml": ["lr"]}));
}

#[test]
fn out_flags_and_params_forms() {
    let got = stages(&[(
        "pipeline.yaml",
        "stages:\n  s:\n    cmd: echo\n    params:\n      - lr\n      - train.opt\n      - other.yaml: [seed]\n      - whole.yaml:\n    outs:\n      - model.pkl\n      - logs: {persist: true, cache: false}\n    metrics:\n      - m.json: {cache: false}\n    plots:\n      - p.csv: {x: step, y: loss}\n",
    )]);
    let s = &got[0].1;
    assert_eq!(
        s["params"],
        json!({"params.yaml": ["lr", "train.opt"], "other.yaml": ["seed"], "whole.yaml": null})
    );
    assert_eq!(
        s["outs"],
        json!([
            {"path": "model.pkl", "kind": "out", "cache": true, "persist": false},
            {"path": "logs", "kind": "out", "cache": false, "persist": true},
            {"path": "m.json", "kind": "metric", "cache": false, "persist": false},
            {"path": "p.csv", "kind": "plot", "cache": true, "persist": false},
        ])
    );
}
