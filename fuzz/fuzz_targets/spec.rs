//! The spec parser: YAML with positions, the schema, `${}` interpolation, foreach/matrix
//! expansion, the DAG checks, and the rendering of any error with its source line.
//!
//! Input: the text of `pipeline.yaml`, then optionally a NUL byte and the text of the
//! `params.yaml` beside it. Errors are expected; a panic, a hang or unbounded memory is a bug.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wf::repo_path::RepoPath;
use wf::spec::Pipeline;

/// The repository the spec sits in: one per process, its `params.yaml` rewritten per input.
static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (spec, params) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    // wf reads specs with `read_to_string`: text that is not UTF-8 never reaches the parser.
    let Ok(spec) = std::str::from_utf8(spec) else {
        return;
    };
    let root = ROOT
        .get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path();
    let params_file = root.join("params.yaml");
    match params {
        Some(params) => std::fs::write(&params_file, params).expect("params.yaml written"),
        None => {
            let _ = std::fs::remove_file(&params_file);
        }
    }
    let file = RepoPath::root()
        .join("pipeline.yaml")
        .expect("a path inside the repository");
    let checked = Pipeline::from_text(root, &file, spec.to_string())
        .and_then(|p| wf::dag::Dag::build(&p).map(|_| ()));
    if let Err(e) = checked {
        let _ = wf::error::Error::from(e).render(false);
    }
});
