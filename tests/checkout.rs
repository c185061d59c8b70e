//! Checking folders out of the cache: a folder's manifest is a list of plain relative paths
//! inside the folder, and one that is not is refused before anything is written.

use std::path::Path;

use crate::test::Test;

const CMD: &str = "mkdir -p out && echo made > out/a.txt";

/// Stores `bytes` under their blake3 (with `suffix`) in the cache-shaped folder `store`.
fn put(store: &Path, bytes: &[u8], suffix: &str) -> String {
    let hash = format!("{}{suffix}", blake3::hash(bytes).to_hex());
    let path = store.join(&hash[..2]).join(&hash[2..]);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    hash
}

/// A repository in `repo/` whose lock records the out folder `out` as a manifest listing one
/// file at `relpath`; the manifest and the file are stored in `store` (under the test folder).
fn crafted(relpath: &str, store: &str) -> (Test, String) {
    let t = Test::new()
        .write(
            "repo/pipeline.yaml",
            &format!("stages:\n  make:\n    cmd: {CMD}\n    outs: [out]\n"),
        )
        .write("repo/.wf/.gitignore", "/*\n");
    let store = t.path().join(store);
    let file = put(&store, b"evil\n", "");
    let manifest = format!(
        r#"[{{"relpath":{},"hash":"{file}","size":5}}]"#,
        serde_json::to_string(relpath).unwrap()
    );
    let dir = put(&store, manifest.as_bytes(), ".dir");
    let lock = format!(
        "version: 1\nstages:\n  make:\n    cmd: {CMD}\n    outs:\n    - path: out\n      hash: blake3\n      blake3: {dir}\n      size: 5\n      nfiles: 1\n"
    );
    (
        t.write("repo/pipeline.lock", &lock).current_dir("repo"),
        dir,
    )
}

#[test]
fn a_manifest_entry_leaving_its_folder_is_refused_and_nothing_is_written() {
    // Regression: `../../x` in a manifest was written two folders above the out, outside the
    // repository.
    let (t, dir) = crafted("../../x", "repo/.wf/cache");
    let out = t
        .arg("checkout")
        .status(1)
        .stderr_contains(&format!("error: folder manifest {dir} ("))
        .stderr_contains(
            "cannot be checked out: its entry `../../x` has a `..` part: entries must stay inside their folder",
        )
        .stderr_contains("help: wf never writes such a manifest")
        .run();
    assert!(!out.path().join("x").exists());
    assert!(!out.path().join("repo/out").exists());
}

#[test]
fn an_absolute_manifest_entry_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("abs.txt");
    let (t, _) = crafted(target.to_str().unwrap(), "repo/.wf/cache");
    let out = t
        .arg("checkout")
        .status(1)
        .stderr_contains(&format!(
            "its entry `{}` is an absolute path",
            target.display()
        ))
        .run();
    assert!(!target.exists());
    assert!(!out.path().join("repo/out").exists());
}

#[test]
fn a_pulled_manifest_leaving_its_folder_is_refused() {
    let (t, _) = crafted("../../x", "remote");
    let remote = t.path().join("remote");
    let t = t
        .args([
            "remote",
            "add",
            "origin",
            remote.to_str().unwrap(),
            "--default",
        ])
        .success()
        .test()
        .current_dir("repo");
    let out = t
        .arg("pull")
        .status(1)
        .stderr_contains("its entry `../../x` has a `..` part")
        .run();
    assert!(!out.path().join("x").exists());
    assert!(!out.path().join("repo/out").exists());
}

#[test]
fn a_lock_whose_hash_is_a_path_is_refused_at_its_line() {
    // Regression: the hash names the object's path in the cache, so `../../../x` reached out of
    // it; a hash cut inside a multi-byte character made wf panic.
    for hash in ["../../../../x", "aé"] {
        let t = Test::new()
            .write(
                "pipeline.yaml",
                &format!("stages:\n  make:\n    cmd: {CMD}\n    outs: [out]\n"),
            )
            .write(
                "pipeline.lock",
                &format!(
                    "version: 1\nstages:\n  make:\n    cmd: {CMD}\n    outs:\n    - path: out\n      hash: blake3\n      blake3: {hash}\n      size: 5\n"
                ),
            );
        let lock_before = std::fs::read(t.path().join("pipeline.lock")).unwrap();
        let out = t
            .arg("checkout")
            .status(2)
            .stderr_contains(&format!(
                "`{hash}` is no hash of wf's: 64 lowercase hex digits"
            ))
            .stderr_contains("pipeline.lock:8:")
            .run();
        assert_eq!(
            std::fs::read(out.path().join("pipeline.lock")).unwrap(),
            lock_before
        );
        assert!(!out.path().join("out").exists());
    }
}
