//! `wf report --md`, and the command sequence of the CI examples in `examples/ci/` on a scratch
//! git repository.

use std::process::Command;

use crate::test::{Output, Test, git, project_root};

const SPEC: &str = "stages:
  train:
    cmd: >-
      echo \"{\\\"acc\\\": $(cut -d' ' -f2 params.yaml)}\" > metrics.json
    params: [lr]
    metrics:
      - metrics.json: {cache: false}
";

/// A git repository that ran the pipeline once and committed the result.
fn committed() -> Output {
    let out = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("params.yaml", "lr: 0.5\n")
        .write(".wf/.gitignore", "/*\n!/.gitignore\n!/config\n")
        .arg("repro")
        .success();
    git(out.path(), &["init", "-q"]);
    git(out.path(), &["add", "-A"]);
    git(out.path(), &["commit", "-q", "-m", "first"]);
    out
}

#[test]
fn report_shows_the_run_the_changes_and_the_pipeline() {
    let out = committed();
    std::fs::write(out.path().join("params.yaml"), "lr: 0.75\n").unwrap();
    out.test().arg("repro").success();
    let report = out
        .test()
        .args(["report", "--md", "--base", "HEAD"])
        .success()
        .stdout;
    // The run's duration varies: drop it before comparing.
    let report = report
        .split(" in ")
        .next()
        .map(|head| head.to_string() + &report[report.find(" s.").unwrap_or(0)..])
        .unwrap();
    assert_eq!(
        report,
        "## wf report

**Last run:** 1 ran, 0 up to date s.

Ran: `train`.

### Metrics against `HEAD`

| Path         | Metric   | HEAD   | workspace   | Change   |
|--------------|----------|--------|-------------|----------|
| metrics.json | acc      | 0.5    | 0.75        | 0.25     |

### Params against `HEAD`

| Path        | Param   | HEAD   | workspace   |
|-------------|---------|--------|-------------|
| params.yaml | lr      | 0.5    | 0.75        |

### Pipeline

```mermaid
flowchart TD
\tnode1[\"train\"]
```
"
    );
}

#[test]
fn report_template_can_be_replaced() {
    let out = committed();
    out.test()
        .write(
            "r.j2",
            "base={{ base }} stages={{ run.skipped | length }}\n",
        )
        .args(["report", "--base", "HEAD", "--template", "r.j2"])
        .stdout("base=HEAD stages=0\n")
        .run();
    out.test()
        .write("bad.j2", "{% if %}")
        .args(["report", "--template", "bad.j2"])
        .status(2)
        .stderr_contains("error: the report template is invalid")
        .run();
}

#[test]
fn the_ci_examples_are_valid_yaml_and_their_commands_work() {
    let dir = project_root().join("examples/ci");
    for file in ["github-actions.yml", "gitlab-ci.yml"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let parsed: Result<serde_json::Value, _> = serde_saphyr::from_str(&text);
        assert!(parsed.is_ok(), "{file} is not valid YAML: {parsed:?}");
        for step in [
            "wf pull",
            "wf repro",
            "wf status --check",
            "git diff --exit-code -- '*pipeline.lock'",
            "wf report --md",
        ] {
            assert!(text.contains(step), "{file} lacks `{step}`");
        }
    }
    // The same sequence on a scratch repository: a teammate ran and pushed; CI pulls, reproduces
    // nothing, checks and reports.
    let remote = tempfile::tempdir().unwrap();
    let out = committed();
    out.test()
        .args([
            "remote",
            "add",
            "origin",
            remote.path().to_str().unwrap(),
            "-d",
        ])
        .success();
    out.test().args(["push", "--run-cache"]).success();
    git(out.path(), &["add", "-A"]);
    git(out.path(), &["commit", "-q", "-m", "remote"]);
    let ci = tempfile::tempdir().unwrap();
    git(
        ci.path(),
        &["clone", "-q", out.path().to_str().unwrap(), "repo"],
    );
    let repo = ci.path().join("repo");
    let wf = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wf"))
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap()
    };
    assert!(wf(&["pull"]).status.success());
    let repro = wf(&["repro"]);
    assert!(String::from_utf8_lossy(&repro.stderr).contains("Data and pipelines are up to date."));
    assert!(wf(&["status", "--check"]).status.success());
    let diff = Command::new("git")
        .args(["diff", "--exit-code", "--", "*pipeline.lock"])
        .current_dir(&repo)
        .status()
        .unwrap();
    assert!(diff.success(), "the lock reproduces unchanged");
    let report = wf(&["report", "--md", "--base", "HEAD"]);
    assert!(report.status.success());
    assert!(String::from_utf8_lossy(&report.stdout).contains("```mermaid"));
    // A commit whose lock does not match its params fails the check.
    std::fs::write(repo.join("params.yaml"), "lr: 0.9\n").unwrap();
    assert_eq!(wf(&["status", "--check"]).status.code(), Some(1));
}

#[test]
fn a_base_revision_git_does_not_know_is_an_error() {
    committed()
        .test()
        .args(["report", "--md", "--base", "nope"])
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
fn a_branch_without_history_in_common_with_the_default_one_is_compared_with_head_and_says_so() {
    let out = committed();
    git(out.path(), &["checkout", "-q", "--orphan", "other"]);
    git(out.path(), &["commit", "-q", "-m", "unrelated"]);
    out.test()
        .args(["report", "--md"])
        .stdout_contains("### Metrics against `HEAD`")
        .stderr_contains("warning: `HEAD` shares no history with `main` (a shallow clone?)")
        .success();
}
