//! `wf plots show|diff` against what DVC 3.67 renders for the same files (recorded by
//! `tests/fixtures/dvc/plots/record.sh`), the offline page, and the errors.
//!
//! What is compared, per plot: the ids in order, the type, the revisions, and for charts the
//! data rows (values, revision tags, DVC's `step`, `field`, `filename` and
//! `dvc_inferred_y_value`), the x and y fields with their axis titles, the title, and the kind of
//! chart. Deliberately not compared: the rest of each Vega-Lite specification (DVC's template
//! boilerplate: colours, sizes, tooltips, hover rules; wf writes its own templates), and an
//! image's `url` (DVC's is the path of a copy it writes; wf's is a `data:` URI).

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::test::{Output, Test, copy_tree, git, project_root};

fn fixture(name: &str) -> PathBuf {
    project_root().join("tests/fixtures/dvc/plots").join(name)
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The kind of chart a Vega-Lite specification draws, told apart by what DVC's templates and
/// wf's have in common. DVC's `linear` and `smooth` both draw layered lines with a smoothing
/// slider, so they are one kind here.
fn kind(spec: &Json) -> &'static str {
    let mut spec = spec.clone();
    spec["data"] = Json::Null;
    let text = spec.to_string();
    if spec.get("facet").is_some() {
        return match text.contains(r#""joinaggregate":[{"op":"sum""#) {
            true => "confusion_normalized",
            false => "confusion",
        };
    }
    if text.contains(r#""mark":{"type":"bar""#) || text.contains(r#""mark":"bar""#) {
        return match encoding(&spec, "y").and_then(|y| y.get("sort")) {
            Some(sort) if sort == "-x" => "bar_horizontal_sorted",
            _ => "bar_horizontal",
        };
    }
    let mark = spec.get("mark").map(|m| m.get("type").unwrap_or(m));
    match mark.and_then(Json::as_str) {
        Some("point") => "scatter",
        Some("line") => "simple",
        _ if spec.get("layer").is_some() => "linear|smooth",
        _ => "unknown",
    }
}

/// The first `encoding.<axis>` with a field, depth first, the data left out.
fn encoding<'a>(spec: &'a Json, axis: &str) -> Option<&'a Json> {
    match spec {
        Json::Object(map) => {
            if let Some(enc) = map.get("encoding").and_then(|e| e.get(axis))
                && enc.get("field").is_some()
            {
                return Some(enc);
            }
            map.iter()
                .filter(|(k, _)| *k != "data")
                .find_map(|(_, v)| encoding(v, axis))
        }
        Json::Array(items) => items.iter().find_map(|v| encoding(v, axis)),
        _ => None,
    }
}

/// What a user sees of one plot entry of `plots show --json`.
fn summary(entry: &Json) -> Json {
    if entry["type"] == "image" {
        return json!({"type": "image", "revisions": entry["revisions"]});
    }
    let spec = &entry["content"];
    let axis = |a: &str| {
        let enc = encoding(spec, a).cloned().unwrap_or(Json::Null);
        json!({"field": enc["field"], "title": enc["title"]})
    };
    json!({
        "type": entry["type"],
        "revisions": entry["revisions"],
        "title": spec["title"]["text"],
        "kind": kind(spec),
        "x": axis("x"),
        "y": axis("y"),
        "values": spec["data"]["values"],
    })
}

/// Each plot id with the summaries of its entries, in order.
fn summaries(out: &Json) -> Vec<(String, Vec<Json>)> {
    let data = out["data"].as_object().unwrap();
    data.iter()
        .map(|(id, entries)| {
            let entries = entries.as_array().unwrap().iter().map(summary).collect();
            (id.clone(), entries)
        })
        .collect()
}

#[track_caller]
fn same_as_dvc(wf: &Output, recorded: &Path) {
    let wf: Json = serde_json::from_str(&wf.stdout).unwrap();
    let dvc = read_json(recorded);
    let (wf, dvc) = (summaries(&wf), summaries(&dvc));
    let ids = |s: &[(String, Vec<Json>)]| s.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&wf),
        ids(&dvc),
        "plot ids against {}",
        recorded.display()
    );
    for ((id, wf), (_, dvc)) in wf.iter().zip(&dvc) {
        assert_eq!(wf, dvc, "plot `{id}` against {}", recorded.display());
    }
}

/// The fixture's project, committed, with its changes on top in the workspace.
fn committed(name: &str) -> Test {
    let t = Test::new().copy_dir(&fixture(name).join("project"));
    git(t.path(), &["init", "-q"]);
    git(t.path(), &["add", "-A"]);
    git(t.path(), &["commit", "-q", "-m", "fixture"]);
    t
}

#[test]
fn show_json_draws_what_dvc_draws_with_each_template() {
    let out = committed("templates")
        .args(["plots", "show", "--json"])
        .success();
    same_as_dvc(&out, &fixture("templates/show.json"));
}

#[test]
fn diff_json_overlays_the_workspace_and_head_as_dvc() {
    let t = committed("templates");
    copy_tree(&fixture("templates/changes"), t.path());
    let out = t.again().args(["plots", "diff", "--json"]).success();
    same_as_dvc(&out, &fixture("templates/diff.json"));
    let out = t
        .again()
        .args(["plots", "diff", "HEAD", "--json"])
        .success();
    same_as_dvc(&out, &fixture("templates/diff-rev.json"));
}

#[test]
fn targets_narrow_to_plot_ids_and_files() {
    let out = committed("templates")
        .args(["plots", "show", "--json", "smooth", "confusion.csv"])
        .success();
    let out: Json = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&String> = out["data"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["smooth", "Normalized", "confusion.csv"]);
}

#[test]
fn the_page_is_self_contained() {
    let out = committed("templates")
        .args(["plots", "show", "-o", "out"])
        .success();
    assert!(out.stdout.starts_with("file://"), "{}", out.stdout);
    assert!(out.stdout.trim_end().ends_with("out/index.html"));
    let html = std::fs::read_to_string(out.path().join("out/index.html")).unwrap();
    // Nothing is loaded from the network: no script, stylesheet or image by URL.
    for tag in ["<script src", "<link", "<img src=\"http", "@import"] {
        assert!(!html.contains(tag), "the page has `{tag}`");
    }
    for lib in ["vegaEmbed", "vegaLite", "vega"] {
        assert!(html.contains(lib), "the page lacks {lib}");
    }
    // The data is in the page, and the image as a data URI.
    assert!(html.contains(r#""feature":"petal_length""#));
    assert!(html.contains("data:image/png;base64,"));
    assert_eq!(html.matches("id=\"spec-").count(), 11);
}

#[test]
fn a_plots_folder_is_a_plot_per_file() {
    let spec =
        "stages:\n  train:\n    cmd: echo\n    plots:\n      - curves:\n          cache: false\n";
    let out = Test::new()
        .write("dvc.yaml", spec)
        .write("curves/b.csv", "x,y\n1,2\n")
        .write("curves/a.json", r#"[{"x": 1, "y": 2}]"#)
        .args(["plots", "show", "--json"])
        .success();
    let out: Json = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&String> = out["data"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["curves/a.json", "curves/b.csv"]);
}

#[test]
fn show_writes_dvc_plots_in_the_working_folder_by_default() {
    let out = committed("templates").args(["plots", "show"]).success();
    assert!(out.path().join("dvc_plots/index.html").is_file());
}

fn one_plot(spec: &str) -> Test {
    Test::new()
        .write("dvc.yaml", spec)
        .write("logs.csv", "step,loss\n0,1.0\n1,0.5\n")
}

#[test]
fn a_missing_plot_file_is_an_error() {
    one_plot("plots:\n  - nope.csv\n")
        .args(["plots", "show"])
        .status(2)
        .stderr(
            "error: plot file `nope.csv` does not exist\n\
             help: run `wf repro` to produce it, or fix the plot's path in the spec\n",
        )
        .run();
}

#[test]
fn a_field_not_in_the_data_suggests_a_near_one() {
    one_plot("plots:\n  - logs.csv:\n      y: los\n")
        .args(["plots", "show"])
        .status(2)
        .stderr_contains("error: field `los` is not in `logs.csv`")
        .stderr_contains(" --> dvc.yaml:3:10")
        .stderr_contains("help: did you mean `loss`?")
        .run();
}

#[test]
fn malformed_csv_names_its_line() {
    one_plot("plots:\n  - logs.csv\n")
        .write("logs.csv", "step,loss\n0,1.0\n1\n")
        .args(["plots", "show"])
        .status(2)
        .stderr_contains(
            "error: cannot parse `logs.csv` at line 3: 1 fields where the header has 2",
        )
        .run();
}

#[test]
fn malformed_json_names_its_line_and_column() {
    one_plot("plots:\n  - m.json\n")
        .write("m.json", "[\n  {\"a\": 1,}\n]\n")
        .args(["plots", "show"])
        .status(2)
        .stderr_contains("error: cannot parse `m.json` at line 2, column 11: trailing comma")
        .run();
}

#[test]
fn an_unknown_template_lists_the_known_ones() {
    one_plot("plots:\n  - logs.csv:\n      template: confusio\n")
        .args(["plots", "show"])
        .status(2)
        .stderr_contains("error: unknown template `confusio` in plot `logs.csv`")
        .stderr_contains(" --> dvc.yaml:3:17")
        .stderr_contains(
            "help: did you mean `confusion`? the templates are: linear, simple, scatter, smooth, \
             confusion, confusion_normalized, bar_horizontal, bar_horizontal_sorted",
        )
        .run();
}

#[test]
fn an_unknown_target_suggests_a_plot() {
    one_plot("plots:\n  - logs.csv\n")
        .args(["plots", "show", "log.csv"])
        .status(2)
        .stderr("error: no plot `log.csv`\nhelp: did you mean `logs.csv`?\n")
        .run();
}

#[test]
fn a_field_of_a_stage_plot_not_in_the_data_points_at_the_plot() {
    one_plot(
        "stages:\n  train:\n    cmd: echo\n    plots:\n      - logs.csv:\n          x: setp\n",
    )
    .args(["plots", "show"])
    .status(2)
    .stderr_contains("error: field `setp` is not in `logs.csv`")
    .stderr_contains(" --> dvc.yaml:5:9")
    .stderr_contains("help: did you mean `step`?")
    .run();
}

#[test]
fn diff_outside_git_says_what_shows_the_workspace() {
    one_plot("plots:\n  - logs.csv\n")
        .args(["plots", "diff"])
        .status(2)
        .stderr_contains(
            "help: run `git init` and commit, or use `wf plots show` for the workspace's plots",
        )
        .run();
}

#[test]
fn diff_of_an_unknown_revision_is_an_error() {
    let t = one_plot("plots:\n  - logs.csv\n");
    git(t.path(), &["init", "-q"]);
    t.args(["plots", "diff", "nope", "--json"])
        .status(2)
        .stderr_contains("error: unknown revision `nope`")
        .run();
}
