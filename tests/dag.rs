//! `wf dag`: renderings, targets, and the same graph as DVC on recorded projects.

use crate::test::Test;

const DIAMOND: &str = "stages:
  prepare:
    cmd: echo
    outs: [p.txt]
  feat:
    foreach: [a, b]
    do:
      cmd: echo
      deps: [p.txt]
      outs:
        - f_${item}.txt
  train:
    cmd: echo
    deps: [f_a.txt, f_b.txt]
    outs: [model]
  other:
    cmd: echo
";

#[test]
fn dot_lists_nodes_then_edges() {
    Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--dot"])
        .stdout(
            "strict digraph {
\"prepare\";
\"feat@a\";
\"feat@b\";
\"train\";
\"other\";
\"prepare\" -> \"feat@a\";
\"prepare\" -> \"feat@b\";
\"feat@a\" -> \"train\";
\"feat@b\" -> \"train\";
}

",
        )
        .run();
}

#[test]
fn mermaid_and_markdown() {
    let mermaid = "flowchart TD
\tnode1[\"feat@a\"]
\tnode2[\"feat@b\"]
\tnode3[\"prepare\"]
\tnode4[\"train\"]
\tnode1-->node4
\tnode2-->node4
\tnode3-->node1
\tnode3-->node2
\tnode5[\"other\"]
";
    let out = Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--mermaid"])
        .stdout(mermaid)
        .run();
    out.test()
        .args(["dag", "--md"])
        .stdout(&format!("```mermaid\n{mermaid}```\n"))
        .run();
}

#[test]
fn target_shows_its_upstream_and_full_its_pipeline() {
    let out = Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--dot", "feat@a"])
        .stdout("strict digraph {\n\"prepare\";\n\"feat@a\";\n\"prepare\" -> \"feat@a\";\n}\n\n")
        .run();
    out.test()
        .args(["dag", "--mermaid", "--full", "feat@a"])
        .stdout_contains("node4[\"train\"]")
        .run();
}

#[test]
fn outs_as_nodes() {
    Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--dot", "--outs"])
        .stdout(
            "strict digraph {
\"p.txt\";
\"f_a.txt\";
\"f_b.txt\";
\"model\";
\"p.txt\" -> \"f_a.txt\";
\"p.txt\" -> \"f_b.txt\";
\"f_a.txt\" -> \"model\";
\"f_b.txt\" -> \"model\";
}

",
        )
        .run();
}

#[test]
fn collapse_draws_a_group_as_one_node() {
    Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--dot", "--collapse"])
        .stdout("strict digraph {\n\"prepare\";\n\"feat\";\n\"train\";\n\"other\";\n\"prepare\" -> \"feat\";\n\"feat\" -> \"train\";\n}\n\n")
        .run();
}

#[test]
fn ascii_draws_every_stage_in_a_box() {
    let out = Test::new()
        .write("pipeline.yaml", DIAMOND)
        .arg("dag")
        .success();
    for name in ["prepare", "feat@a", "feat@b", "train", "other"] {
        assert!(
            out.stdout.contains(&format!("| {name} |")),
            "{}",
            out.stdout
        );
    }
    let prepare = out.stdout.find("prepare").unwrap_or(usize::MAX);
    let train = out.stdout.find("train").unwrap_or(0);
    assert!(prepare < train, "top to bottom:\n{}", out.stdout);
}

#[test]
fn folder_out_feeds_a_dep_inside_it_and_the_reverse() {
    Test::new()
        .write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: echo\n    outs: [data]\n  b:\n    cmd: echo\n    deps: [data/x.csv]\n  c:\n    cmd: echo\n    outs: [models/m.pkl]\n  d:\n    cmd: echo\n    deps: [models]\n",
        )
        .args(["dag", "--dot"])
        .stdout_contains("\"a\" -> \"b\";\n\"c\" -> \"d\";\n")
        .run();
}

#[test]
fn nested_spec_stages_are_addressed_by_file() {
    let out = Test::new()
        .write("dvc.yaml", "stages:\n  root:\n    cmd: echo\n    outs: [r.txt]\n")
        .write("sub/dvc.yaml", "stages:\n  s1:\n    cmd: echo\n    deps: [../r.txt]\n    outs: [s.txt]\n")
        .args(["dag", "--dot"])
        .stdout("strict digraph {\n\"root\";\n\"sub/dvc.yaml:s1\";\n\"root\" -> \"sub/dvc.yaml:s1\";\n}\n\n")
        .run();
    out.test()
        .args(["dag", "--dot", "sub/dvc.yaml:s1"])
        .stdout_contains("\"root\" -> \"sub/dvc.yaml:s1\"")
        .run();
    out.test()
        .args(["dag", "--dot", "sub/dvc.yaml"])
        .stdout_contains("\"sub/dvc.yaml:s1\";")
        .run();
}

#[test]
fn pipeline_yaml_wins_over_dvc_yaml() {
    Test::new()
        .write("dvc.yaml", "stages:\n  from_dvc:\n    cmd: echo\n")
        .write("pipeline.yaml", "stages:\n  from_wf:\n    cmd: echo\n")
        .args(["stage", "list", "--name-only"])
        .stdout("from_wf\n")
        .run();
}

#[test]
fn dash_c_runs_elsewhere() {
    Test::new()
        .write("proj/pipeline.yaml", "stages:\n  s:\n    cmd: echo\n")
        .args(["-C", "proj", "stage", "list", "--name-only"])
        .stdout("s\n")
        .run();
}

#[test]
fn closed_pipe_is_not_an_error() {
    // Regression: `wf dag | head` must exit 0 and print nothing, not panic on a broken pipe.
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut spec = String::from("stages:\n");
    for i in 0..6000 {
        spec.push_str(&format!(
            "  stage_number_{i}:\n    cmd: echo\n    outs: [out_{i}.txt]\n"
        ));
    }
    let t = Test::new().write("pipeline.yaml", &spec);
    let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .args(["dag", "--dot"])
        .current_dir(t.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("read");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The structure a well-formed SVG of this graph has: one element per stage and per edge,
/// balanced tags, nothing unescaped.
#[track_caller]
fn check_svg(svg: &str, stages: &[&str], edges: usize) {
    assert!(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns="));
    assert!(svg.ends_with("</svg>\n"), "{svg}");
    assert_eq!(svg.matches("<svg").count(), 1, "{svg}");
    assert_eq!(svg.matches("</svg>").count(), 1, "{svg}");
    assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    assert_eq!(
        svg.matches("<g class=\"node").count(),
        stages.len(),
        "{svg}"
    );
    for stage in stages {
        assert_eq!(
            svg.matches(&format!("data-stage=\"{stage}\"")).count(),
            1,
            "{stage} in {svg}"
        );
    }
    assert_eq!(svg.matches("<path class=\"edge\"").count(), edges, "{svg}");
    // Every `&` starts an entity; no `<` inside a tag's attributes.
    for (i, _) in svg.match_indices('&') {
        let rest = &svg[i..];
        let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
        assert!(entity.iter().any(|e| rest.starts_with(e)), "{rest}");
    }
    for tag in svg.split('<').skip(1) {
        let inside = tag.split('>').next().unwrap_or("");
        assert_eq!(inside.matches('"').count() % 2, 0, "quotes in <{inside}>");
    }
}

#[test]
fn svg_draws_every_stage_and_edge() {
    let out = Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--svg"])
        .success();
    let stages = ["prepare", "feat@a", "feat@b", "train", "other"];
    check_svg(&out.stdout, &stages, 4);
    assert!(
        out.stdout
            .contains("data-from=\"prepare\" data-to=\"feat@a\"")
    );
    // Targets, --full and --collapse choose what is drawn, as for the other formats.
    let out = out.test().args(["dag", "--svg", "feat@a"]).success();
    check_svg(&out.stdout, &["prepare", "feat@a"], 1);
    let out = out
        .test()
        .args(["dag", "--svg", "--full", "feat@a"])
        .success();
    check_svg(&out.stdout, &["prepare", "feat@a", "feat@b", "train"], 4);
    let out = out.test().args(["dag", "--svg", "--collapse"]).success();
    check_svg(&out.stdout, &["prepare", "feat", "train", "other"], 2);
}

#[test]
fn svg_escapes_labels() {
    let spec = "stages:
  a:
    cmd: echo
    outs: ['a&b.txt']
  b:
    cmd: echo
    deps: ['a&b.txt']
    outs: ['x<y>\"q\".txt']
";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .args(["dag", "--svg", "--outs"])
        .success();
    check_svg(
        &out.stdout,
        &["a&amp;b.txt", "x&lt;y&gt;&quot;q&quot;.txt"],
        1,
    );
    assert!(out.stdout.contains("<title>a&amp;b.txt</title>"));
}

#[test]
fn a_collapsed_group_feeding_itself_is_drawn() {
    let spec = "stages:
  feat:
    foreach: [a, b]
    do:
      cmd: echo
      deps:
        - in_${item}.txt
      outs:
        - f_${item}.txt
  link:
    cmd: echo
    deps: [f_a.txt]
    outs: [in_b.txt]
";
    let out = Test::new()
        .write("pipeline.yaml", spec)
        .args(["dag", "--svg", "--collapse"])
        .success();
    check_svg(&out.stdout, &["feat", "link"], 2);
    out.test()
        .args(["dag", "--collapse"])
        .stdout_contains("| feat |")
        .success();
}

#[test]
fn output_file_is_written_and_nothing_printed() {
    let out = Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "--svg"])
        .success();
    let svg = out.stdout.clone();
    let out = out
        .test()
        .args(["dag", "--svg", "--output", "pics/dag.svg"])
        .stdout("")
        .stderr("")
        .success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("pics/dag.svg")).unwrap(),
        svg
    );
    let out = out
        .test()
        .args(["dag", "--dot", "--output", "dag.dot"])
        .stdout("")
        .success();
    let dot = std::fs::read_to_string(out.path().join("dag.dot")).unwrap();
    assert!(dot.starts_with("strict digraph {\n"), "{dot}");
}

#[test]
fn svg_of_an_unknown_target_is_the_same_error() {
    let out = Test::new()
        .write("pipeline.yaml", DIAMOND)
        .args(["dag", "trian"])
        .status(2)
        .run();
    let plain = out.stderr.clone();
    assert!(plain.contains("trian"), "{plain}");
    out.test()
        .args(["dag", "--svg", "--output", "x.svg", "trian"])
        .status(2)
        .stderr(&plain)
        .stdout("")
        .run();
    assert!(!out.path().join("x.svg").exists());
}

#[test]
fn the_readme_picture_is_the_iris_pipeline_as_drawn_now() {
    let root = crate::test::project_root();
    let specs = root.join("specs");
    let out = Test::new()
        .args(["-C", specs.to_str().unwrap(), "dag", "--svg"])
        .success();
    let stages = [
        "prepare",
        "train@logreg",
        "train@svm",
        "evaluate@logreg",
        "evaluate@svm",
        "deploy",
    ];
    check_svg(&out.stdout, &stages, 10);
    let committed = std::fs::read_to_string(root.join("docs/iris-dag.svg")).unwrap();
    assert_eq!(
        out.stdout, committed,
        "regenerate docs/iris-dag.svg: wf -C specs dag --svg -o ../docs/iris-dag.svg"
    );
}
