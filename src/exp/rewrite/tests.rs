//! The rewriting of params files: exact text out.

use super::*;

const YAML: &str = "# top\nseed: 42  # the seed\n\ntrain:\n  # models\n  svm:\n    C: 1.0\n    kernel: 'rbf'\n  logreg:\n    alpha: 0.1\nflow: {a: 1, b: [1, 2]}\nname: x\n";

fn set(key: &str, value: Value) -> Change {
    Change::Set {
        key: key.into(),
        value,
    }
}

fn reads(text: &str, key: &str) -> Option<Value> {
    let src = Arc::new(Source {
        name: "p.yaml".into(),
        path: "p.yaml".into(),
        text: text.into(),
    });
    let node = yaml::parse(&src).unwrap();
    let v = Value::from_node(&node);
    crate::params::lookup(&v, key).cloned()
}

#[test]
fn set_changes_only_the_value() {
    let out = rewrite(
        "params.yaml",
        YAML,
        &[set("train.svm.C", Value::Float(2.0))],
    )
    .unwrap();
    assert_eq!(out, YAML.replace("C: 1.0", "C: 2.0"));
    let out = rewrite("params.yaml", YAML, &[set("seed", Value::Int(7))]).unwrap();
    assert_eq!(out, YAML.replace("seed: 42", "seed: 7"));
    let out = rewrite(
        "params.yaml",
        YAML,
        &[set("train.svm.kernel", Value::Str("linear".into()))],
    )
    .unwrap();
    assert_eq!(out, YAML.replace("'rbf'", "'linear'"));
    let out = rewrite("params.yaml", YAML, &[set("flow.a", Value::Int(3))]).unwrap();
    assert_eq!(out, YAML.replace("{a: 1,", "{a: 3,"));
    let out = rewrite(
        "params.yaml",
        YAML,
        &[set("name", Value::Str("yes".into()))],
    )
    .unwrap();
    assert_eq!(reads(&out, "name"), Some(Value::Str("yes".into())));
    let out = rewrite("params.yaml", YAML, &[set("seed", Value::Float(1e-5))]).unwrap();
    assert!(out.contains("seed: 1.0e-5  # the seed"), "{out}");
    assert_eq!(reads(&out, "seed"), Some(Value::Float(1e-5)));
}

#[test]
fn add_and_remove_keep_the_rest() {
    let out = rewrite(
        "p.yaml",
        YAML,
        &[Change::Add {
            key: "train.svm.gamma".into(),
            value: Value::Float(0.5),
        }],
    )
    .unwrap();
    assert!(
        out.contains("    kernel: 'rbf'\n    gamma: 0.5\n  logreg:"),
        "{out}"
    );
    let out = rewrite(
        "p.yaml",
        YAML,
        &[Change::Add {
            key: "train.tree.depth".into(),
            value: Value::Int(3),
        }],
    )
    .unwrap();
    assert!(
        out.contains("    alpha: 0.1\n  tree:\n    depth: 3\nflow:"),
        "{out}"
    );
    let out = rewrite(
        "p.yaml",
        "a: 1",
        &[Change::Add {
            key: "b".into(),
            value: Value::Int(2),
        }],
    )
    .unwrap();
    assert_eq!(out, "a: 1\nb: 2\n");
    let out = rewrite(
        "p.yaml",
        YAML,
        &[Change::Add {
            key: "flow.c".into(),
            value: Value::Int(3),
        }],
    )
    .unwrap();
    assert!(out.contains("flow: {a: 1, b: [1, 2], c: 3}\n"), "{out}");
    let out = rewrite(
        "p.yaml",
        YAML,
        &[Change::Remove {
            key: "train.svm".into(),
        }],
    )
    .unwrap();
    assert_eq!(
        out,
        YAML.replace("  svm:\n    C: 1.0\n    kernel: 'rbf'\n", "")
    );
    let out = rewrite(
        "p.yaml",
        YAML,
        &[Change::Remove {
            key: "flow.a".into(),
        }],
    )
    .unwrap();
    assert!(out.contains("flow: {b: [1, 2]}\n"), "{out}");
    let out = rewrite(
        "p.yaml",
        "",
        &[Change::Add {
            key: "a.b".into(),
            value: Value::Int(1),
        }],
    )
    .unwrap();
    assert_eq!(reads(&out, "a.b"), Some(Value::Int(1)));
}

#[test]
fn json_files_are_rewritten_as_json() {
    let text = "{\n  \"lr\": 0.1,\n  \"opt\": {\"m\": 1}\n}\n";
    let out = rewrite("p.json", text, &[set("lr", Value::Float(0.5))]).unwrap();
    assert_eq!(out, text.replace("0.1", "0.5"));
    let out = rewrite(
        "p.json",
        text,
        &[Change::Add {
            key: "opt.n".into(),
            value: Value::Int(2),
        }],
    )
    .unwrap();
    assert_eq!(reads(&out, "opt.n"), Some(Value::Int(2)));
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
        "{out}"
    );
}

#[test]
fn mistakes_name_the_key() {
    let e = rewrite("params.yaml", YAML, &[set("train.svm.c", Value::Int(1))]).unwrap_err();
    assert!(
        e.help().unwrap().contains("`train.svm.C`"),
        "{:?}",
        e.help()
    );
    let e = rewrite("params.yaml", YAML, &[set("tran.svm.C", Value::Int(1))]).unwrap_err();
    assert!(
        e.help().unwrap().contains("`train.svm.C`"),
        "{:?}",
        e.help()
    );
    let e = rewrite(
        "params.yaml",
        YAML,
        &[Change::Add {
            key: "seed".into(),
            value: Value::Int(1),
        }],
    )
    .unwrap_err();
    assert!(matches!(e, RewriteError::Exists { .. }));
    let e = rewrite("params.py", "A = 1\n", &[set("A", Value::Int(2))]).unwrap_err();
    assert!(matches!(e, RewriteError::Unsupported { .. }));
}
