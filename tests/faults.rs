//! Faults a stage or the file system can throw at a run: a stage that prints without end, a
//! file name that is not UTF-8 in a folder dep.

use std::process::Command;

use crate::test::Test;

/// Runs `wf ARGS` in `dir` from a Python parent whose only children are that wf and its
/// stages, and returns wf's exit code and the largest resident set among them, in MiB.
fn peak_memory(dir: &std::path::Path, args: &[&str]) -> (i32, f64) {
    let script = r#"
import json, resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))
"#;
    let out = Command::new("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_wf")])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let (code, mib): (i32, f64) = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (code, mib)
}

#[test]
fn a_stage_printing_100_mb_costs_bounded_memory() {
    // 100 MB as 100 000 lines, then as one line without an end.
    let spec = "stages:\n  lines:\n    cmd: head -c 100000000 /dev/zero | tr '\\0' x | fold -w 1000\n  one:\n    cmd: head -c 100000000 /dev/zero | tr '\\0' x\n";
    let t = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("pipeline.yaml", spec);
    for stage in ["lines", "one"] {
        let (code, mib) = peak_memory(t.path(), &["repro", stage]);
        assert_eq!(code, 0, "{stage}");
        assert!(mib < 150.0, "{stage}: wf grew to {mib:.0} MiB");
    }
    // The last lines are kept for the run store, each cut to a width.
    let tail = t.again().args(["exp", "show", "-A", "--json"]).success();
    assert!(tail.stdout.len() < 2_000_000, "{} bytes", tail.stdout.len());
}

#[test]
fn a_file_name_that_is_not_utf8_in_a_folder_dep_is_a_clear_error() {
    use std::os::unix::ffi::OsStrExt;
    let spec = "stages:\n  count:\n    cmd: ls data | wc -l > n.txt\n    deps: [data]\n    outs: [n.txt]\n";
    let t = Test::new()
        .write("pipeline.yaml", spec)
        .write("data/good.txt", "a\n");
    let bad = t
        .path()
        .join("data")
        .join(std::ffi::OsStr::from_bytes(b"bad\xff.txt"));
    std::fs::write(bad, "b\n").unwrap();
    t.arg("repro")
        .status(2)
        .stderr_contains("`data/bad\u{fffd}.txt` has a name that is not valid UTF-8")
        .run();
}

#[test]
fn files_of_a_folder_dep_that_vanish_while_it_is_hashed() {
    let spec = "stages:\n  count:\n    cmd: ls data | wc -l > n.txt\n    deps: [data]\n    outs: [n.txt]\n";
    let t = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("pipeline.yaml", spec);
    let data = t.path().join("data");
    let (mut clean, mut vanished) = (0, 0);
    for trial in 0..6u64 {
        std::fs::create_dir_all(&data).unwrap();
        for i in 0..20_000 {
            let f = data.join(format!("{i:05}.txt"));
            if !f.exists() {
                std::fs::write(f, format!("{i}\n")).unwrap();
            }
        }
        let wf = Command::new(env!("CARGO_BIN_EXE_wf"))
            .arg("status")
            .current_dir(t.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Half the files go while wf walks and reads the folder (every other trial the state
        // table already knows them, and only their `stat`s race).
        std::thread::sleep(std::time::Duration::from_millis(5 * trial));
        for i in (0..20_000).step_by(2) {
            let _ = std::fs::remove_file(data.join(format!("{i:05}.txt")));
        }
        let out = wf.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => clean += 1,
            Some(1) => {
                assert!(
                    stderr.contains("vanished while `data` was being hashed"),
                    "{stderr}"
                );
                vanished += 1;
            }
            code => panic!("exit {code:?}: {stderr}"),
        }
    }
    eprintln!("{clean} trials unaffected, {vanished} saw a file vanish");
    // What was learned meanwhile is sound: a run and a second look agree.
    t.again().arg("repro").success();
    assert_eq!(
        std::fs::read_to_string(t.path().join("n.txt"))
            .unwrap()
            .trim(),
        "10000"
    );
    t.again()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();
}
