//! The file system failing under a run: the disk full (a small tmpfs) while the cache stores a
//! run's outs and after a stage, when the run's records and the lock are written; an out in a
//! read-only folder. Each leaves the previous lock intact and the cache without partial
//! objects, and the next run completes once the fault is gone.
//!
//! Mounting needs root (see `mount.rs`).

use std::path::Path;

use crate::mount::Mount;
use crate::s3_faults::whole_objects;
use crate::test::{Output, Test};

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// No temporary file of an atomic write is left in the repository's root.
fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind: {name}");
    }
}

#[test]
fn a_full_disk_while_the_cache_stores_outs() {
    let t = Test::new();
    let repo = t.path().join("repo");
    let Some(disk) = Mount::tmpfs(&repo, "4m") else {
        return;
    };
    let spec = "stages:\n  make:\n    cmd: head -c $(cat size.txt) /dev/urandom > out.bin\n    deps: [size.txt]\n    outs: [out.bin]\n";
    let a = t
        .write("repo/.wf/.gitignore", "")
        .write("repo/pipeline.yaml", spec)
        .write("repo/size.txt", "100000\n")
        .current_dir("repo")
        .arg("repro")
        .success();
    let lock = read(&repo, "pipeline.lock");

    // 2.5 MiB fits on the 4 MiB disk once, not twice: the stage runs, the cache copy fails.
    std::fs::write(repo.join("size.txt"), "2621440\n").unwrap();
    a.test()
        .current_dir("repo")
        .arg("repro")
        .status(1)
        .stderr_contains("out.bin` into the cache: No space left on device")
        .run();
    assert_eq!(
        read(&repo, "pipeline.lock"),
        lock,
        "the lock is the last good one"
    );
    no_temp_files(&repo);
    assert_eq!(
        whole_objects(&repo.join(".wf/cache"), ""),
        1,
        "only the first out"
    );

    disk.remount("size=16m");
    a.test().current_dir("repo").arg("repro").success();
    assert_ne!(read(&repo, "pipeline.lock"), lock);
    assert_eq!(whole_objects(&repo.join(".wf/cache"), ""), 2);
    a.test()
        .current_dir("repo")
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    // Unmounted before the temporary folder is removed.
    drop(disk);
}

#[test]
fn a_full_disk_when_the_lock_is_written() {
    let t = Test::new();
    let repo = t.path().join("repo");
    let Some(disk) = Mount::tmpfs(&repo, "2m") else {
        return;
    };
    // The stage fills the disk after writing its out: every write after it fails, the run's
    // record, its run-cache entry and the lock among them.
    let spec = "stages:\n  fill:\n    cmd: cat v.txt > out.txt && if [ -f fill ]; then cat /dev/zero > filler; fi; true\n    deps: [v.txt]\n    outs:\n      - out.txt:\n          cache: false\n";
    let a = t
        .write("repo/.wf/.gitignore", "")
        .write("repo/pipeline.yaml", spec)
        .write("repo/v.txt", "1\n")
        .current_dir("repo")
        .arg("repro")
        .success();
    let lock = read(&repo, "pipeline.lock");

    std::fs::write(repo.join("v.txt"), "2\n").unwrap();
    std::fs::write(repo.join("fill"), "").unwrap();
    let failed = a
        .test()
        .current_dir("repo")
        .arg("repro")
        .status(1)
        .stderr_contains("error: failed to reproduce 'fill': cannot write `")
        .stderr_contains("pipeline.lock`: No space left on device")
        .run();
    assert!(!failed.stderr.contains("panicked"), "{}", failed.stderr);
    assert_eq!(
        read(&repo, "pipeline.lock"),
        lock,
        "the lock is the last good one"
    );
    no_temp_files(&repo);
    // Looking still works on a full disk.
    status_runs(&a);

    std::fs::remove_file(repo.join("filler")).unwrap();
    std::fs::remove_file(repo.join("fill")).unwrap();
    a.test().current_dir("repo").arg("repro").success();
    assert!(read(&repo, "pipeline.lock").contains(&blake3_of(&repo.join("v.txt"))));
    a.test()
        .current_dir("repo")
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    drop(disk);
}

fn status_runs(a: &Output) {
    let out = a.test().current_dir("repo").arg("status").run();
    assert!(out.stdout.contains("fill"), "{}", out.stdout);
}

fn blake3_of(file: &Path) -> String {
    blake3::hash(&std::fs::read(file).unwrap())
        .to_hex()
        .to_string()
}

#[test]
fn an_out_in_a_read_only_folder() {
    let t = Test::new().write(".wf/.gitignore", "").write(
        "pipeline.yaml",
        "stages:\n  s:\n    cmd: cat v.txt > ro/out.txt\n    deps: [v.txt]\n    outs: [ro/out.txt]\n",
    );
    let Some(ro) = Mount::tmpfs(&t.path().join("ro"), "1m") else {
        return;
    };
    let a = t.write("v.txt", "1\n").arg("repro").success();
    let lock = read(a.path(), "pipeline.lock");

    ro.remount("ro");
    std::fs::write(a.path().join("v.txt"), "2\n").unwrap();
    let failed = a
        .test()
        .arg("repro")
        .status(1)
        .stderr_contains("cannot remove output 'ro/out.txt' before running: Read-only file system")
        .run();
    assert!(!failed.stderr.contains("panicked"), "{}", failed.stderr);
    assert_eq!(read(a.path(), "pipeline.lock"), lock);
    assert_eq!(read(a.path(), "ro/out.txt"), "1\n");

    ro.remount("rw");
    a.test().arg("repro").success();
    assert_eq!(read(a.path(), "ro/out.txt"), "2\n");
    drop(ro);
}
