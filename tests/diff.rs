//! `wf params diff`, `wf metrics show` and `wf metrics diff` in a git repository: the workspace
//! against `HEAD`, two revisions, and their errors.

use crate::test::{Output, Test, git};

const SPEC: &str = "stages:
  train:
    cmd: echo train
    params:
      - train
      - config.yaml:
          - model.depth
    metrics:
      - metrics.json:
          cache: false
";

const PARAMS_1: &str = "seed: 1\ntrain:\n  lr: 0.01\n  epochs: 10\n  layers: [64, 32]\n";
const PARAMS_2: &str = "seed: 1\ntrain:\n  lr: 0.02\n  epochs: 10\n  layers: [64, 32]\n";
const PARAMS_3: &str = "seed: 1\ntrain:\n  lr: 0.05\n  epochs: 20\n  layers: [64, 32]\n";

fn commit(t: &Test, message: &str) {
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-q", "-m", message]);
}

/// Two commits, then a workspace that changes params and metrics again. `config.yaml` appears
/// in the second commit; only its tracked key `model.depth` is compared.
fn project() -> Output {
    let t = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("params.yaml", PARAMS_1)
        .write(
            "metrics.json",
            r#"{"acc": 0.9, "loss": 0.35, "per_class": {"a": {"f1": 0.8}, "b": {"f1": 0.95}}}"#,
        );
    git(t.path(), &["init", "-q"]);
    commit(&t, "one");
    let t = t
        .write("params.yaml", PARAMS_2)
        .write("config.yaml", "model:\n  depth: 3\n  unused: 1\n")
        .write(
            "metrics.json",
            r#"{"acc": 0.92, "loss": 0.3, "per_class": {"a": {"f1": 0.85}, "b": {"f1": 0.95}}}"#,
        );
    commit(&t, "two");
    t.write("params.yaml", PARAMS_3)
        .write("config.yaml", "model:\n  depth: 4\n  unused: 2\n")
        .write(
            "metrics.json",
            r#"{"acc": 0.95, "auc": 0.97, "loss": 0.3, "per_class": {"a": {"f1": 0.8333333}, "b": {"f1": 0.95}}}"#,
        )
        .args(["stage", "list"])
        .success()
}

#[test]
fn params_diff_compares_the_workspace_with_head() {
    project()
        .test()
        .args(["params", "diff"])
        .stdout(
            "\
Path         Param         HEAD    workspace
config.yaml  model.depth   3       4
params.yaml  train.epochs  10      20
params.yaml  train.lr      0.02    0.05
",
        )
        .success();
}

#[test]
fn params_diff_between_two_revisions_shows_a_file_absent_from_one_as_a_dash() {
    project()
        .test()
        .args(["params", "diff", "HEAD~1", "HEAD"])
        .stdout(
            "\
Path         Param        HEAD~1    HEAD
config.yaml  model.depth  -         3
params.yaml  train.lr     0.01      0.02
",
        )
        .success();
}

#[test]
fn params_diff_all_shows_unchanged_keys_and_lists_as_one_value() {
    project()
        .test()
        .args(["params", "diff", "--all"])
        .stdout(
            "\
Path         Param         HEAD      workspace
config.yaml  model.depth   3         4
params.yaml  seed          1         1
params.yaml  train.epochs  10        20
params.yaml  train.layers  [64, 32]  [64, 32]
params.yaml  train.lr      0.02      0.05
",
        )
        .success();
}

#[test]
fn params_diff_json_and_markdown() {
    let p = project();
    p.test()
        .args(["params", "diff", "HEAD~1", "--json"])
        .stdout(concat!(
            r#"{"config.yaml":{"model.depth":{"old":null,"new":4}},"#,
            r#""params.yaml":{"train.epochs":{"old":10,"new":20,"diff":10},"#,
            r#""train.lr":{"old":0.01,"new":0.05,"diff":0.04}}}"#,
            "\n"
        ))
        .success();
    p.test()
        .args(["params", "diff", "--md"])
        .stdout(
            "\
| Path        | Param        | HEAD   | workspace   |
|-------------|--------------|--------|-------------|
| config.yaml | model.depth  | 3      | 4           |
| params.yaml | train.epochs | 10     | 20          |
| params.yaml | train.lr     | 0.02   | 0.05        |

",
        )
        .success();
}

#[test]
fn metrics_diff_shows_the_change_rounded_as_dvc() {
    let p = project();
    p.test()
        .args(["metrics", "diff"])
        .stdout(
            "\
Path          Metric          HEAD    workspace    Change
metrics.json  acc             0.92    0.95         0.03
metrics.json  auc             -       0.97         -
metrics.json  per_class.a.f1  0.85    0.83333      -0.01667
",
        )
        .success();
    p.test()
        .args(["metrics", "diff", "HEAD~1", "HEAD"])
        .stdout(
            "\
Path          Metric          HEAD~1    HEAD    Change
metrics.json  acc             0.9       0.92    0.02
metrics.json  loss            0.35      0.3     -0.05
metrics.json  per_class.a.f1  0.8       0.85    0.05
",
        )
        .success();
}

#[test]
fn metrics_diff_all_markdown_and_json() {
    let p = project();
    p.test()
        .args(["metrics", "diff", "--all", "--md"])
        .stdout(
            "\
| Path         | Metric         | HEAD   | workspace   | Change   |
|--------------|----------------|--------|-------------|----------|
| metrics.json | acc            | 0.92   | 0.95        | 0.03     |
| metrics.json | auc            | -      | 0.97        | -        |
| metrics.json | loss           | 0.3    | 0.3         | 0.0      |
| metrics.json | per_class.a.f1 | 0.85   | 0.83333     | -0.01667 |
| metrics.json | per_class.b.f1 | 0.95   | 0.95        | 0.0      |

",
        )
        .success();
    p.test()
        .args(["metrics", "diff", "HEAD~1", "HEAD", "--json"])
        .stdout(concat!(
            r#"{"metrics.json":{"acc":{"old":0.9,"new":0.92,"diff":0.020000000000000018},"#,
            r#""loss":{"old":0.35,"new":0.3,"diff":-0.04999999999999999},"#,
            r#""per_class.a.f1":{"old":0.8,"new":0.85,"diff":0.04999999999999993}}}"#,
            "\n"
        ))
        .success();
}

#[test]
fn metrics_show_prints_one_row_per_file() {
    let p = project();
    p.test()
        .args(["metrics", "show"])
        .stdout(
            "\
Path          acc    auc    loss    per_class.a.f1    per_class.b.f1
metrics.json  0.95   0.97   0.3     0.83333           0.95
",
        )
        .success();
    p.test()
        .args(["metrics", "show", "--md"])
        .stdout(
            "\
| Path         | acc   | auc   | loss   | per_class.a.f1   | per_class.b.f1   |
|--------------|-------|-------|--------|------------------|------------------|
| metrics.json | 0.95  | 0.97  | 0.3    | 0.83333          | 0.95             |

",
        )
        .success();
    p.test()
        .args(["metrics", "show", "--json"])
        .stdout(concat!(
            r#"{"workspace":{"data":{"metrics.json":{"data":{"acc":0.95,"auc":0.97,"loss":0.3,"#,
            r#""per_class":{"a":{"f1":0.8333333},"b":{"f1":0.95}}}}}}}"#,
            "\n"
        ))
        .success();
}

#[test]
fn metrics_show_reads_top_level_metrics_and_warns_of_missing_files() {
    Test::new()
        .write(
            "pipeline.yaml",
            "metrics: [summary.yaml]\nstages:\n  a:\n    cmd: echo\n    metrics: [m.json]\n",
        )
        .write("summary.yaml", "loss: 0.123456789\nsteps: 3\n")
        .args(["metrics", "show"])
        .stdout(
            "\
Path          loss     steps
summary.yaml  0.12346  3
",
        )
        .stderr("warning: metrics file `m.json` does not exist\n")
        .success();
}

#[test]
fn nothing_differs_prints_nothing() {
    let p = project();
    p.test()
        .args(["params", "diff", "HEAD", "HEAD"])
        .stdout("")
        .success();
    p.test()
        .args(["metrics", "diff", "HEAD", "main"])
        .stdout("")
        .success();
}

#[test]
fn an_unknown_revision_is_an_error_naming_it() {
    project()
        .test()
        .args(["metrics", "diff", "HEAD", "nope"])
        .status(2)
        .stdout("")
        .stderr(
            "\
error: unknown revision `nope`
help: name a commit, branch or tag of the git repository (`git log --oneline` lists commits)
",
        )
        .run();
}

#[test]
fn outside_a_git_repository_diff_is_an_error() {
    let t = Test::new().write("pipeline.yaml", SPEC);
    let dir = t.path().canonicalize().unwrap();
    t.args(["params", "diff"])
        .status(2)
        .stderr(&format!(
            "\
error: `{}` is not in a git repository, so there is no revision `HEAD` to compare with
help: run `git init` and commit, or use `wf metrics show` for the workspace's values
",
            dir.display()
        ))
        .run();
}
