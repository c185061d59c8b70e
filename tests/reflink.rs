//! On a file system with copy-on-write clones (XFS here), the cache and the workspace share an
//! out's blocks: storing a run's out and checking it out again take no more space.

use crate::mount::Mount;
use crate::test::Test;

const MIB: u64 = 1 << 20;

#[test]
fn outs_are_cloned_into_the_cache_and_back() {
    let t = Test::new();
    let repo = t.path().join("repo");
    let Some(disk) = Mount::xfs(&t.path().join("xfs.img"), &repo, "512M") else {
        return;
    };
    let a = t
        .write("repo/.wf/.gitignore", "")
        .write(
            "repo/pipeline.yaml",
            "stages:\n  s:\n    cmd: head -c 104857600 /dev/urandom > out.bin\n    outs: [out.bin]\n",
        )
        .current_dir("repo")
        .arg("status")
        .run();
    let before = disk.free();
    a.test().current_dir("repo").arg("repro").success();
    let used = before - disk.free();
    assert!(
        (100 * MIB..130 * MIB).contains(&used),
        "the out and its cache object share 100 MiB: {} MiB used",
        used / MIB
    );

    std::fs::remove_file(repo.join("out.bin")).unwrap();
    let before = disk.free();
    a.test().current_dir("repo").arg("checkout").success();
    let used = before.saturating_sub(disk.free());
    assert!(
        used < 10 * MIB,
        "a checkout clones: {} MiB used",
        used / MIB
    );
    a.test()
        .current_dir("repo")
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
    drop(disk);
}
