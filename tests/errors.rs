//! Every user-facing spec error: its rendered text and exit code 2.

use crate::test::Test;

/// Runs `wf dag` on a `pipeline.yaml` and expects `stderr` exactly, with exit code 2.
#[track_caller]
fn spec_error(spec: &str, stderr: &str) {
    Test::new()
        .write("pipeline.yaml", spec)
        .arg("dag")
        .status(2)
        .stderr(stderr)
        .run();
}

#[test]
fn invalid_yaml() {
    spec_error(
        "stages:\n  a:\n    cmd: \"echo\n    outs: [a]\n",
        "error: invalid YAML: unclosed quote
 --> pipeline.yaml:3:10
  |
3 |     cmd: \"echo
  |          ^
",
    );
}

#[test]
fn duplicate_key_in_the_spec_points_at_both() {
    spec_error(
        "stages:\n  a:\n    cmd: echo a\n    cmd: echo b\n",
        "error: duplicate key `cmd`
 --> pipeline.yaml:4:5
  |
3 |     cmd: echo a
  |     --- first written here
4 |     cmd: echo b
  |     ^^^ written again here
  |
  = help: a key can appear once in a mapping: keep one of them
",
    );
}

#[test]
fn duplicate_key_in_params_points_at_both() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo a\n    params: [train.lr]\n",
        )
        .write("params.yaml", "train:\n  lr: 1\n  epochs: 3\n  lr: 2\n")
        .arg("status")
        .status(2)
        .stderr(
            "error: duplicate key `lr`
 --> params.yaml:4:3
  |
2 |   lr: 1
  |   -- first written here
3 |   epochs: 3
4 |   lr: 2
  |   ^^ written again here
  |
  = help: a key can appear once in a mapping: keep one of them
",
        )
        .run();
}

#[test]
fn duplicate_key_in_a_flow_mapping_points_at_the_second() {
    spec_error(
        "stages:\n  a: {cmd: echo a, cmd: echo b}\n",
        "error: duplicate key `cmd`
 --> pipeline.yaml:2:20
  |
2 |   a: {cmd: echo a, cmd: echo b}
  |                    ^^^ written again here
  |
  = help: a key can appear once in a mapping: keep one of them
",
    );
}

#[test]
fn bad_config_value_points_at_its_line() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a\n")
        .write(".wf/config", "[core]\nremote = \n")
        .args(["remote", "list"])
        .status(2)
        .stderr(
            "error: invalid config: string values must be quoted, expected literal string
 --> .wf/config:2:10
  |
2 | remote = 
  |          ^
",
        )
        .run();
}

#[test]
fn unknown_config_key_points_at_it() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a\n")
        .write(".wf/config", "[core]\nremot = \"x\"\n")
        .arg("add")
        .arg("pipeline.yaml")
        .status(2)
        .stderr(
            "error: invalid config: unknown field `remot`, expected `remote`
 --> .wf/config:2:1
  |
2 | remot = \"x\"
  | ^^^^^
",
        )
        .run();
}

#[test]
fn duplicate_config_table_names_it() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a\n")
        .write(".wf/config", "[core]\nremote = \"a\"\n[core]\n")
        .args(["remote", "list"])
        .status(2)
        .stderr_contains("error: invalid config: duplicate key `core`\n --> .wf/config:3:2\n")
        .run();
}

#[test]
fn bad_local_config_names_its_place_but_never_shows_its_lines() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo a\n")
        .write(
            ".wf/config.local",
            "[remote.s3]\nsecret_access_key = hunter2\n",
        )
        .args(["remote", "list"])
        .status(2)
        .stderr(
            "error: invalid config: string values must be quoted, expected literal string at `.wf/config.local:2:21`\n",
        )
        .run();
}

#[test]
fn unknown_stage_field_suggests_the_near_one() {
    spec_error(
        "stages:\n  train:\n    cmd: echo\n    dep: [data.csv]\n",
        "error: unknown field `dep` in stage `train`, expected one of `cmd`, `uses`, `with`, `wdir`, `deps`, `params`, `outs`, `metrics`, `plots`, `frozen`, `always_changed`, `desc`, `meta`, `vars`, `matrix`, `env`, `resources`, `executor`
 --> pipeline.yaml:4:5
  |
4 |     dep: [data.csv]
  |     ^^^ did you mean `deps`?
",
    );
}

#[test]
fn unknown_top_level_field() {
    spec_error(
        "stage:\n  a:\n    cmd: echo\n",
        "error: unknown field `stage` in the spec, expected one of `stages`, `vars`, `params`, `metrics`, `plots`, `artifacts`, `datasets`, `tune`
 --> pipeline.yaml:1:1
  |
1 | stage:
  | ^^^^^ did you mean `stages`?
",
    );
}

#[test]
fn unknown_out_flag() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    outs:\n      - a.txt: {cahce: false}\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: unknown field `cahce` in output `a.txt` of stage `a`")
        .stderr_contains("did you mean `cache`?")
        .run();
}

#[test]
fn stage_without_cmd_or_uses() {
    spec_error(
        "stages:\n  a:\n    deps: [x]\n",
        "error: stage `a` has no `cmd`
 --> pipeline.yaml:3:5
  |
3 |     deps: [x]
  |     ^
  |
  = help: add `cmd: <shell command>`, or `uses: <built-in stage>` with `with:`
",
    );
}

#[test]
fn stage_with_both_cmd_and_uses() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    uses: train\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: stage `a` has both `cmd` and `uses`\n --> pipeline.yaml:4:5")
        .run();
}

#[test]
fn wrong_type_of_value() {
    spec_error(
        "stages:\n  a:\n    cmd: echo\n    deps: data.csv\n",
        "error: `stages.a.deps` must be a list of paths, found a string
 --> pipeline.yaml:4:11
  |
4 |     deps: data.csv
  |           ^^^^^^^^ expected a list of paths
",
    );
}

#[test]
fn unknown_builtin_stage() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    uses: trian\n    with: {}\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: unknown built-in stage `trian` in `uses:` of stage `a`")
        .stderr_contains("did you mean `train`?")
        .stderr_contains("help: built-in stages are `prepare`, `train`, `evaluate`, `deploy`")
        .run();
}

#[test]
fn builtin_with_unknown_key_points_at_with() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  p:\n    uses: prepare\n    with:\n      input: d.csv\n      target: y\n      out: p\n      bogus: 1\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("unknown field `bogus`")
        .stderr_contains(" --> pipeline.yaml:4:5")
        .run();
}

#[test]
fn undefined_variable() {
    spec_error(
        "stages:\n  a:\n    cmd: echo ${nonexistent}\n",
        "error: undefined variable `nonexistent` in `stages.a.cmd`
 --> pipeline.yaml:3:15
  |
3 |     cmd: echo ${nonexistent}
  |               ^^^^^^^^^^^^^^ `nonexistent` is not defined
  |
  = help: define it in `params.yaml` or in the spec's `vars:`
",
    );
}

#[test]
fn list_interpolated_into_a_string() {
    Test::new()
        .write("params.yaml", "lst: [1, 2]\n")
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo ${lst}\n")
        .arg("dag")
        .status(2)
        .stderr(
            "error: cannot interpolate data of type `list` in `stages.a.cmd`
 --> pipeline.yaml:3:15
  |
3 |     cmd: echo ${lst}
  |               ^^^^^^ this is a `list`
  |
  = help: only a string, number or boolean can be interpolated here (a mapping unpacks into flags in `cmd` only)
",
        )
        .run();
}

#[test]
fn dict_interpolated_outside_cmd() {
    Test::new()
        .write("params.yaml", "cfg: {a: 1}\n")
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo\n    outs:\n      - out_${cfg}\n")
        .arg("dag")
        .status(2)
        .stderr_contains("error: cannot interpolate data of type `dict` in `stages.a.outs`\n --> pipeline.yaml:5:13")
        .run();
}

#[test]
fn malformed_interpolation() {
    Test::new()
        .write("params.yaml", "a: {b: 1}\n")
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo ${a..b}\n")
        .arg("dag")
        .status(2)
        .stderr_contains("error: invalid interpolation `${a..b}` in `stages.a.cmd`: empty key")
        .run();
}

#[test]
fn redefined_var() {
    Test::new()
        .write("params.yaml", "a: 1\n")
        .write("v1.yaml", "a: 2\n")
        .write(
            "pipeline.yaml",
            "vars:\n  - v1.yaml\nstages:\n  s:\n    cmd: echo ${a}\n",
        )
        .arg("dag")
        .status(2)
        .stderr(
            "error: cannot redefine `a` from `v1.yaml` as it already exists in `params.yaml`
 --> pipeline.yaml:2:5
  |
2 |   - v1.yaml
  |     ^^^^^^^
  |
  = help: vars never shadow each other: rename the key or drop one of the definitions
",
        )
        .run();
}

#[test]
fn redefined_var_in_stage_vars() {
    Test::new()
        .write("params.yaml", "a: {b: 1}\n")
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    vars:\n      - a: {b: 3}\n    cmd: echo ${a.b}\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains(
            "error: cannot redefine `a.b` from `s.vars[0]` as it already exists in `params.yaml`",
        )
        .run();
}

#[test]
fn missing_vars_file() {
    Test::new()
        .write(
            "pipeline.yaml",
            "vars: [nope.yaml]\nstages:\n  s:\n    cmd: echo\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: vars file `nope.yaml` does not exist\n --> pipeline.yaml:1:8")
        .run();
}

#[test]
fn vars_file_that_is_not_a_regular_file() {
    // Regression: `/dev/zero` was read until memory ran out.
    Test::new()
        .write(
            "pipeline.yaml",
            "vars: [/dev/zero]\nstages:\n  s:\n    cmd: echo\n",
        )
        .arg("dag")
        .status(2)
        .stderr(
            "error: `/dev/zero` is not a regular file
 --> pipeline.yaml:1:8
  |
1 | vars: [/dev/zero]
  |        ^^^^^^^^^
",
        )
        .run();
}

#[test]
fn vars_file_loaded_twice_partially() {
    Test::new()
        .write("v.yaml", "x: 1\ny: 2\n")
        .write(
            "pipeline.yaml",
            "vars: [\"v.yaml:x\", v.yaml]\nstages:\n  s:\n    cmd: echo\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: cannot load `v.yaml` as it's partially loaded already")
        .run();
}

#[test]
fn foreach_over_a_scalar() {
    Test::new()
        .write("params.yaml", "n: 3\n")
        .write("pipeline.yaml", "stages:\n  s:\n    foreach: ${n}\n    do:\n      cmd: echo ${item}\n")
        .arg("dag")
        .status(2)
        .stderr_contains("error: `stages.s.foreach` must be a list or a mapping, found int\n --> pipeline.yaml:3:14")
        .run();
}

#[test]
fn unknown_target_suggests() {
    Test::new()
        .write("pipeline.yaml", "stages:\n  train:\n    cmd: echo\n")
        .args(["dag", "trian"])
        .status(2)
        .stderr("error: unknown target `trian`\nhelp: did you mean `train`?\n")
        .run();
}

#[test]
fn two_stages_writing_one_out() {
    spec_error(
        "stages:\n  a:\n    cmd: echo\n    outs: [o.txt]\n  b:\n    cmd: echo\n    outs: [o.txt]\n",
        "error: output `o.txt` is written by two stages: `a` and `b`
 --> pipeline.yaml:7:12
  |
4 |     outs: [o.txt]
  |            ----- first written by `a` here
...
7 |     outs: [o.txt]
  |            ^^^^^ written again here
  |
  = help: every output must belong to exactly one stage
",
    );
}

#[test]
fn overlapping_outs() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    outs: [d]\n  b:\n    cmd: echo\n    outs: [d/g]\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: outputs overlap: `d/g` of stage `b` is inside `d` of stage `a`")
        .stderr_contains("help: outputs must be in separate folders or tracked individually")
        .run();
}

#[test]
fn out_that_is_also_a_dep() {
    spec_error(
        "stages:\n  a:\n    cmd: echo\n    deps: [d/x]\n    outs: [d]\n",
        "error: stage `a` has `d/x` both as a dependency and as an output
 --> pipeline.yaml:4:12
  |
4 |     deps: [d/x]
  |            ^^^ also an output of this stage
",
    );
}

#[test]
fn cycle_names_its_stages() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    deps: [c.txt]\n    outs: [a.txt]\n  b:\n    cmd: echo\n    deps: [a.txt]\n    outs: [b.txt]\n  c:\n    cmd: echo\n    deps: [b.txt]\n    outs: [c.txt]\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: cycle in the pipeline: a -> b -> c -> a\n --> pipeline.yaml:2:3")
        .run();
}

#[test]
fn path_escaping_the_repository() {
    spec_error(
        "stages:\n  a:\n    cmd: echo\n    outs: [../../x]\n",
        "error: path `../../x` is outside the repository
 --> pipeline.yaml:4:12
  |
4 |     outs: [../../x]
  |            ^^^^^^^
  |
  = help: outs, params files and `wdir` must stay inside the repository (only a dep may lie outside it); paths are relative to the spec's folder or `wdir`
",
    );
}

#[test]
fn absolute_path() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    outs: [/tmp/x]\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: path `/tmp/x` is outside the repository")
        .run();
}

#[test]
fn escaping_wdir() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    wdir: ..\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains("error: path `..` is outside the repository")
        .run();
}

#[test]
fn no_spec() {
    Test::new()
        .arg("dag")
        .status(2)
        .stderr_contains("error: no `pipeline.yaml` or `dvc.yaml` in")
        .run();
}

#[test]
fn bad_working_folder() {
    Test::new()
        .args(["-C", "nope", "dag"])
        .status(2)
        .stderr_contains("error: cannot use `")
        .stderr_contains("help: `-C DIR` must name an existing folder")
        .run();
}

#[test]
fn bad_flag_is_a_usage_error() {
    Test::new()
        .args(["dag", "--bogus"])
        .status(2)
        .stderr_contains("unexpected argument '--bogus'")
        .run();
}

#[test]
fn empty_spec_has_no_stages() {
    // Regression: an empty spec printed nothing and exited 0.
    for (name, text) in [
        ("pipeline.yaml", ""),
        ("pipeline.yaml", "# nothing yet\n"),
        ("dvc.yaml", ""),
    ] {
        Test::new()
            .write(name, text)
            .arg("status")
            .status(2)
            .stderr(&format!(
                "error: `{name}` is empty: it has no stages
help: write at least one stage under `stages:`, such as `stages: {{train: {{cmd: python train.py}}}}`, or delete the file
"
            ))
            .run();
    }
}

#[test]
fn stages_with_every_stage_commented_out() {
    // As DVC ("expected a dictionary"); it was accepted silently.
    for name in ["pipeline.yaml", "dvc.yaml"] {
        Test::new()
            .write(name, "vars:\n  - x: 1\nstages:\n#  train:\n#    cmd: python train.py\n")
            .arg("repro")
            .status(2)
            .stderr(&format!(
                "error: `stages` must be a mapping of stage names to stages, found null
 --> {name}:3:1
  |
3 | stages:
  | ^^^^^^ no stage under it
  |
  = help: write at least one stage under `stages:` (are they all commented out?), or remove `stages:`
"
            ))
            .run();
    }
}

#[test]
fn unclosed_bracket_in_params_points_at_it() {
    // Regression: reported on the next line, as "illegal placement of ':' indicator".
    Test::new()
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo ${lr}\n")
        .write("params.yaml", "lr: 1\nsizes: [1, 2\nseed: 3\n")
        .arg("status")
        .status(2)
        .stderr(
            "error: invalid YAML: unclosed bracket `[`
 --> params.yaml:2:8
  |
2 | sizes: [1, 2
  |        ^ never closed
3 | seed: 3
  |     - the parser gave up here
  |
  = help: close it with `]` where the list ends, or write the list as a block, one `- item` per line
",
        )
        .run();
}

#[test]
fn interpolation_in_a_flow_list_suggests_quoting() {
    spec_error(
        "stages:\n  a:\n    foreach: [1, 2]\n    do:\n      cmd: touch a${item}.txt\n      outs: [a${item}.txt]\n",
        "error: invalid YAML: while parsing a flow sequence, expected ',' or ']'
 --> pipeline.yaml:6:16
  |
6 |       outs: [a${item}.txt]
  |                ^
  |
  = help: `{` and `}` are flow indicators inside `[...]`: quote the value (`\"a${item}.txt\"`) or write a block list (`- a${item}.txt`)
",
    );
}

#[test]
fn a_matrix_of_too_many_combinations() {
    // Regression: one ten-item list aliased under eight keys made 10^8 stages, and ran out of
    // memory before making the first.
    spec_error(
        "stages:\n  s:\n    matrix: {a: &m [0,1,2,3,4,5,6,7,8,9], b: *m, c: *m, d: *m, e: *m, f: *m, g: *m, h: *m}\n    cmd: echo\n",
        "error: the stages of this spec resolve to more than 64 MiB of values and text
 --> pipeline.yaml:3:13
  |
3 |     matrix: {a: &m [0,1,2,3,4,5,6,7,8,9], b: *m, c: *m, d: *m, e: *m, f: *m, g: *m, h: *m}
  |             ^ the budget ran out here
  |
  = help: a `foreach` or `matrix` makes one stage per item or combination, each with its own copy of what it interpolates: iterate over fewer items, or interpolate key paths (`${train.lr}`) rather than whole mappings or lists
",
    );
}

#[test]
fn stages_interpolating_a_large_value_each() {
    // Regression: a thousand stages each unpacking a mapping of 100,000 keys (aliases make it
    // in five lines) into `cmd` ran out of memory.
    let mut params =
        "a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1, k8: 1, k9: 1}\n"
            .to_string();
    for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d")] {
        let keys: Vec<String> = (0..10).map(|i| format!("{name}{i}: *{prev}")).collect();
        params.push_str(&format!("{name}: &{name} {{{}}}\n", keys.join(", ")));
    }
    Test::new()
        .write("params.yaml", &params)
        .write(
            "pipeline.yaml",
            "stages:\n  s:\n    matrix: {x: &t [0,1,2,3,4,5,6,7,8,9], y: *t, z: *t}\n    cmd: run ${e}\n",
        )
        .arg("dag")
        .status(2)
        .stderr_contains(
            "error: the stages of this spec resolve to more than 64 MiB of values and text
 --> pipeline.yaml:4:14
  |
4 |     cmd: run ${e}
  |              ^^^^ the budget ran out here
",
        )
        .run();
}
