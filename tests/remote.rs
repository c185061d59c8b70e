//! The cache shared through a remote: `wf add`, `push`, `pull` into a fresh copy, `fetch`
//! checking hashes, `checkout`, `gc`, and `wf remote`.

use std::path::Path;

use crate::test::{Output, Test};

const SPEC: &str = "stages:
  split:
    cmd: echo split >> ran.log && mkdir -p parts && cp data/raw.csv parts/a.csv && echo b > parts/b.csv
    deps: [data/raw.csv]
    outs: [parts]
  count:
    cmd: echo count >> ran.log && cat parts/*.csv | wc -l > count.txt
    deps: [parts]
    outs: [count.txt]
";

/// A repository with added data, run once, with the remote `origin` in `remote_dir`.
fn project(remote_dir: &Path) -> Output {
    let out = Test::new()
        .write("pipeline.yaml", SPEC)
        .write("data/raw.csv", "x,y\n1,2\n")
        .write(".wf/.gitignore", "/*\n!/.gitignore\n!/config\n")
        .args(["add", "data/raw.csv"])
        .stderr_contains("Added data/raw.csv (8 bytes)")
        .success();
    out.test()
        .args([
            "remote",
            "add",
            "origin",
            remote_dir.to_str().unwrap(),
            "--default",
        ])
        .success();
    out.test().arg("repro").success();
    out
}

/// What a fresh clone has: the committed files only (spec, lock, pointers, config).
fn clone_of(out: &Output) -> Output {
    let mut t = Test::new();
    for f in [
        "pipeline.yaml",
        "pipeline.lock",
        "data/raw.csv.wf",
        "data/.gitignore",
        ".wf/config",
        ".wf/.gitignore",
    ] {
        t = t.write(f, &std::fs::read_to_string(out.path().join(f)).unwrap());
    }
    t.arg("status").success()
}

#[test]
fn push_then_pull_into_a_fresh_copy_restores_everything_without_running() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    a.test()
        .arg("push")
        .stderr_contains("pushed 4 objects (0 already there) with remote `origin`")
        .success();
    a.test()
        .arg("push")
        .stderr_contains("pushed 0 objects (4 already there)")
        .success();
    let b = clone_of(&a);
    b.test()
        .arg("pull")
        .stderr_contains("fetched 4 objects")
        .success();
    for f in ["data/raw.csv", "parts/a.csv", "parts/b.csv", "count.txt"] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
    b.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    b.test()
        .arg("repro")
        .stderr_contains("Data and pipelines are up to date.")
        .success();
    assert!(!b.path().join("ran.log").exists(), "nothing ran");
}

#[test]
fn fetch_refuses_a_corrupted_remote_object() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    a.test().arg("push").success();
    let lock = std::fs::read_to_string(a.path().join("count.txt")).unwrap();
    let hash = blake3::hash(lock.as_bytes()).to_hex().to_string();
    std::fs::write(remote.path().join(&hash[..2]).join(&hash[2..]), "forged\n").unwrap();
    let b = clone_of(&a);
    b.test()
        .arg("fetch")
        .status(1)
        .stderr_contains("is corrupted")
        .run();
    assert!(
        !b.path()
            .join(".wf/cache")
            .join(&hash[..2])
            .join(&hash[2..])
            .exists()
    );
}

#[test]
fn checkout_restores_deleted_and_refuses_to_overwrite_edits() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    std::fs::remove_dir_all(a.path().join("parts")).unwrap();
    std::fs::remove_file(a.path().join("data/raw.csv")).unwrap();
    a.test()
        .arg("checkout")
        .stderr_contains("restored parts\n")
        .stderr_contains("restored data/raw.csv\n")
        .success();
    std::fs::write(a.path().join("count.txt"), "edited\n").unwrap();
    a.test()
        .arg("checkout")
        .status(1)
        .stderr_contains("error: 1 path was changed in the workspace and kept: count.txt")
        .stderr_contains("help: pass `--force`")
        .run();
    a.test().args(["checkout", "--force"]).success();
    assert_eq!(
        std::fs::read_to_string(a.path().join("count.txt")).unwrap(),
        "3\n"
    );
}

#[test]
fn gc_keeps_what_locks_need_and_removes_the_rest() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    std::fs::write(a.path().join("data/raw.csv"), "x,y\n3,4\n5,6\n").unwrap();
    a.test().args(["add", "data/raw.csv"]).success();
    a.test().arg("repro").success();
    a.test()
        .args(["gc", "--dry"])
        .stdout_contains("would remove")
        .stderr_contains("would remove 3 of")
        .success();
    a.test().arg("gc").stderr_contains("removed 3 of").success();
    a.test().arg("gc").stderr_contains("removed 0 of").success();
    // What the lock needs is still there (`a.csv` and `raw.csv` share one object): everything
    // can be checked out again.
    std::fs::remove_dir_all(a.path().join("parts")).unwrap();
    std::fs::remove_file(a.path().join("count.txt")).unwrap();
    a.test().arg("checkout").success();
    a.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
}

#[test]
fn gc_cloud_removes_from_the_remote_what_nothing_refers_to() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    a.test().arg("push").success();
    std::fs::write(a.path().join("data/raw.csv"), "x,y\n3,4\n5,6\n").unwrap();
    a.test().args(["add", "data/raw.csv"]).success();
    a.test().arg("repro").success();
    a.test().arg("push").success();
    let objects = || {
        walkdir::WalkDir::new(remote.path())
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("/runs/"))
            .count()
    };
    let before = objects();
    a.test()
        .args(["gc", "--cloud", "--dry"])
        .stdout_contains("from remote `origin`")
        .stderr_contains("would remove 3 of")
        .success();
    assert_eq!(objects(), before, "--dry removes nothing");
    a.test()
        .args(["gc", "-c"])
        .stderr_contains(&format!("removed 3 of {before} objects on remote `origin`"))
        .success();
    assert_eq!(objects(), before - 3);
    // What the lock needs is still on the remote: a fresh clone pulls it all.
    let b = clone_of(&a);
    b.test().arg("pull").success();
    b.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
}

#[test]
fn add_refuses_a_stage_output() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    a.test()
        .args(["add", "parts/a.csv"])
        .status(2)
        .stderr_contains("overlaps output `parts` of stage `split`")
        .run();
    a.test()
        .args(["add", "nope.csv"])
        .status(2)
        .stderr_contains("`nope.csv` does not exist")
        .run();
}

#[test]
fn remotes_are_configured_in_wf_config() {
    let t = Test::new()
        .write(".wf/.gitignore", "")
        .args(["remote", "list"])
        .stdout("default\tdvc_remote (built in)\n")
        .run();
    t.test()
        .args([
            "remote",
            "add",
            "team",
            "s3://bucket/wf",
            "--endpoint",
            "http://127.0.0.1:9",
        ])
        .success();
    t.test()
        .args(["remote", "add", "disk", "/srv/wf"])
        .success();
    t.test().args(["remote", "default", "disk"]).success();
    t.test()
        .args([
            "remote",
            "modify",
            "team",
            "secret_access_key",
            "s3cr3t",
            "--local",
        ])
        .success();
    t.test()
        .args(["remote", "list"])
        .stdout("disk\t/srv/wf (default)\nteam\ts3://bucket/wf\n")
        .run();
    let config = std::fs::read_to_string(t.path().join(".wf/config")).unwrap();
    assert!(
        !config.contains("s3cr3t"),
        "secrets stay out of the committed config:\n{config}"
    );
    assert!(
        std::fs::read_to_string(t.path().join(".wf/config.local"))
            .unwrap()
            .contains("s3cr3t")
    );
    t.test()
        .args(["remote", "remove", "nope"])
        .status(2)
        .stderr_contains("no remote named `nope`")
        .run();
    t.test()
        .args(["push", "-r", "nope"])
        .status(1)
        .stderr_contains("no remote named `nope`")
        .run();
}

#[test]
fn an_interrupted_push_leaves_no_partial_object() {
    use std::process::{Command, Stdio};
    let remote = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..(48u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let t = Test::new().write(".wf/.gitignore", "");
    std::fs::write(t.path().join("big.bin"), &big).unwrap();
    let out = t.args(["add", "big.bin"]).success();
    out.test()
        .args([
            "remote",
            "add",
            "origin",
            remote.path().to_str().unwrap(),
            "-d",
        ])
        .success();
    for delay in [5u64, 20, 60] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
            .arg("push")
            .current_dir(out.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever made it is whole: every object hashes to its name.
        for e in walkdir::WalkDir::new(remote.path())
            .min_depth(2)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
        {
            let rel = e
                .path()
                .strip_prefix(remote.path())
                .unwrap()
                .to_string_lossy()
                .replace('/', "");
            let staging = e.file_name().to_string_lossy().starts_with('.');
            if rel.contains('#') || staging {
                continue; // staging files (`.upload.*`), never under an object's name
            }
            let data = std::fs::read(e.path()).unwrap();
            assert_eq!(
                blake3::hash(&data).to_hex().to_string(),
                rel,
                "partial object {}",
                e.path().display()
            );
        }
    }
    out.test().arg("push").success();
}

#[test]
fn repro_pull_fetches_instead_of_running() {
    let remote = tempfile::tempdir().unwrap();
    let a = project(remote.path());
    a.test().args(["push", "--run-cache"]).success();
    let b = clone_of(&a);
    b.test()
        .args(["repro", "--pull"])
        .stderr_contains("fetched")
        .stderr_contains("restored count.txt\n")
        .stderr_contains("Data and pipelines are up to date.")
        .success();
    assert!(!b.path().join("ran.log").exists(), "nothing ran");
    assert_eq!(
        std::fs::read_to_string(b.path().join("count.txt")).unwrap(),
        "3\n"
    );
}

#[test]
fn hardlinked_outs_are_read_only_so_the_cache_stays_intact() {
    use std::os::unix::fs::MetadataExt;
    let spec = "stages:\n  s:\n    cmd: echo data > o.txt\n    deps: [in.txt]\n    outs: [o.txt]\n";
    let out = Test::new()
        .write(".wf/config", "[cache]\ntype = \"hardlink\"\n")
        .write("pipeline.yaml", spec)
        .write("in.txt", "1\n")
        .arg("repro")
        .success();
    let meta = std::fs::metadata(out.path().join("o.txt")).unwrap();
    assert_eq!(
        meta.nlink(),
        2,
        "the out is a hard link to its cache object"
    );
    assert!(meta.permissions().readonly());
    out.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    Test::new()
        .write(".wf/config", "[cache]\ntype = \"softlink\"\n")
        .write("pipeline.yaml", spec)
        .arg("checkout")
        .status(2)
        .stderr_contains("unknown cache type `softlink` in `.wf/config`")
        .run();
}

#[test]
fn remote_list_hides_a_password_in_a_url() {
    Test::new()
        .args([
            "remote",
            "add",
            "shared",
            "https://ann:hunter2@store.example/wf",
        ])
        .success()
        .test()
        .args(["remote", "list"])
        .stdout("shared\thttps://ann:***@store.example/wf\ndefault\tdvc_remote (built in)\n")
        .success();
}
