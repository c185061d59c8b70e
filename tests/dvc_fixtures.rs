//! The same graph as DVC: every project under `tests/fixtures/dvc/NN-*` against what DVC 3.67
//! printed for it (recorded by `tests/fixtures/dvc/record.sh`).

use std::path::{Path, PathBuf};

use crate::test::{Test, project_root};

fn fixtures() -> Vec<PathBuf> {
    let dir = project_root().join("tests/fixtures/dvc");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name().is_some_and(|n| {
                    n.to_string_lossy()
                        .starts_with(|c: char| c.is_ascii_digit())
                })
        })
        .collect();
    found.sort();
    assert!(
        found.len() >= 12,
        "expected a dozen fixtures in {}",
        dir.display()
    );
    found
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

/// A copy of the fixture made a repository of its own (as DVC's `.dvc` marks one).
fn project(fixture: &Path) -> Test {
    Test::new().copy_dir(fixture).write(".dvc/config", "")
}

/// Runs wf with `args` in a copy of the fixture and returns stdout, failing on an error.
fn wf(fixture: &Path, args: &[&str]) -> String {
    project(fixture).args(args.iter().copied()).success().stdout
}

#[test]
fn dot_and_mermaid_are_dvcs() {
    for f in fixtures() {
        let name = f.display();
        if let Some(expected) = read(&f.join("dag.dot")) {
            assert_eq!(wf(&f, &["dag", "--dot"]), expected, "dag --dot of {name}");
        }
        if let Some(expected) = read(&f.join("dag.mermaid")) {
            assert_eq!(
                wf(&f, &["dag", "--mermaid"]),
                expected,
                "dag --mermaid of {name}"
            );
        }
    }
}

#[test]
fn outs_and_collapse_have_dvcs_nodes_and_edges() {
    // DVC orders these from Python sets and tries: compare the lines, not their order.
    for f in fixtures() {
        let name = f.display();
        if let Some(expected) = read(&f.join("dag-outs.dot")) {
            assert_eq!(
                sorted_lines(&wf(&f, &["dag", "--dot", "--outs"])),
                sorted_lines(&expected),
                "dag --outs of {name}"
            );
        }
        if let Some(expected) = read(&f.join("dag-collapse.dot")) {
            assert_eq!(
                sorted_lines(&wf(&f, &["dag", "--dot", "--collapse"])),
                sorted_lines(&expected),
                "dag --collapse of {name}"
            );
        }
    }
}

#[test]
fn targets_and_full_are_dvcs() {
    let mut checked = 0;
    for f in fixtures() {
        let Some(targets) = read(&f.join("targets.txt")).or_else(|| read(&f.join("target.txt")))
        else {
            continue;
        };
        for target in targets.lines().filter(|l| !l.trim().is_empty()) {
            let file = target.replace(['/', ':'], "_");
            if let Some(expected) = read(&f.join(format!("dag-target-{file}.dot"))) {
                assert_eq!(
                    wf(&f, &["dag", "--dot", target]),
                    expected,
                    "dag --dot {target} of {}",
                    f.display()
                );
                checked += 1;
            }
            if let Some(expected) = read(&f.join(format!("dag-full-{file}.dot"))) {
                assert_eq!(
                    wf(&f, &["dag", "--dot", "--full", target]),
                    expected,
                    "dag --dot --full {target} of {}",
                    f.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} target recordings found");
}

#[test]
fn stage_list_is_dvcs() {
    for f in fixtures() {
        if let Some(expected) = read(&f.join("stage-list.txt")) {
            assert_eq!(
                wf(&f, &["stage", "list"]),
                expected,
                "stage list of {}",
                f.display()
            );
        }
        if let Some(expected) = read(&f.join("stage-list-all.txt")) {
            assert_eq!(
                wf(&f, &["stage", "list", "--all"]),
                expected,
                "stage list --all of {}",
                f.display()
            );
        }
    }
}

#[test]
fn resolved_commands_are_dvcs() {
    // resolved.json holds DVC's own resolution of every stage: compare each resolved cmd.
    let mut checked = 0;
    for f in fixtures() {
        let Some(resolved) = read(&f.join("resolved.json")) else {
            continue;
        };
        let resolved: serde_json::Value = serde_json::from_str(&resolved).expect("resolved.json");
        let ours: Vec<serde_json::Value> =
            serde_json::from_str(&wf(&f, &["stage", "list", "--all", "--json"])).expect("json");
        for (spec, body) in resolved.as_object().into_iter().flatten() {
            for (stage, def) in body["stages"].as_object().into_iter().flatten() {
                let address = if spec == "dvc.yaml" {
                    stage.clone()
                } else {
                    format!("{spec}:{stage}")
                };
                let mine = ours.iter().find(|s| s["name"] == address.as_str());
                let mine =
                    mine.unwrap_or_else(|| panic!("{}: wf has no stage {address}", f.display()));
                assert_eq!(mine["cmd"], def["cmd"], "{}: cmd of {address}", f.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 50, "only {checked} stages compared");
}
