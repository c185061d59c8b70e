//! The params parser: a params file (YAML, or JSON, which wf reads as YAML) into values, dotted
//! key lookups, `-S` overrides (Hydra's grammar) applied in memory, and the same overrides
//! rewritten into the file's text as `wf exp run` does; any error is rendered.
//!
//! Input: the text of the params file, then optionally a NUL byte and `-S` values, one per
//! line. The file is `params.json` when its text starts with `{`, else `params.yaml`. Errors
//! are expected; a panic, a hang or unbounded memory is a bug.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use wf::exp::ExpError;
use wf::exp::hydra::{self, Op};
use wf::exp::rewrite::{Change, rewrite};
use wf::overrides::Overrides;
use wf::params::{from_json, lookup};
use wf::repo_path::RepoPath;
use wf::spec::value::Value;
use wf::spec::{Source, yaml};

/// Sweep values applied in memory per override (a sweep may have thousands).
const VALUES_APPLIED: usize = 4;

fn render(e: impl Into<wf::error::Error>) {
    let _ = e.into().render(false);
}

fn source(name: &str, text: String) -> Arc<Source> {
    Arc::new(Source {
        name: name.into(),
        path: name.into(),
        text,
    })
}

fuzz_target!(|data: &[u8]| {
    let (text, sets) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(text), Ok(sets)) = (std::str::from_utf8(text), std::str::from_utf8(sets)) else {
        return;
    };
    let name = if text.trim_start().starts_with('{') {
        "params.json"
    } else {
        "params.yaml"
    };
    let value = match yaml::parse(&source(name, text.to_string())) {
        Ok(node) => Some(Value::from_node(&node)),
        Err(e) => {
            render(e);
            None
        }
    };
    if let Some(v) = &value {
        let _ = v.to_text();
        let _ = from_json(&v.to_json());
    }
    let file = RepoPath::root()
        .join(name)
        .expect("a path inside the repository");
    let mut changes = Vec::new();
    for line in sets.lines() {
        let o = match hydra::parse(line) {
            Ok(o) => o,
            Err(e) => {
                render(ExpError::from(e));
                continue;
            }
        };
        if let Some(v) = &value {
            let _ = lookup(v, &o.key);
        }
        for v in o.values.iter().take(VALUES_APPLIED) {
            let mut overrides = Overrides::default();
            overrides.set(&file, &o.key, v.clone());
            if let Some(applied) = overrides.apply(file.as_str(), value.clone()) {
                let _ = lookup(&applied, &o.key);
            }
        }
        let first = o.values.first().cloned().unwrap_or(Value::Null);
        changes.push(match o.op {
            Op::Set => Change::Set {
                key: o.key,
                value: first,
            },
            Op::Add => Change::Add {
                key: o.key,
                value: first,
            },
            Op::Remove => Change::Remove { key: o.key },
        });
    }
    if changes.is_empty() {
        return;
    }
    match rewrite(name, text, &changes) {
        Ok(new) => {
            if let Err(e) = yaml::parse(&source(name, new)) {
                render(e);
            }
        }
        Err(e) => render(ExpError::from(e)),
    }
});
