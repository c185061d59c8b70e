//! Built-in stages as the engine runs them: cancelled by Ctrl-C like any shell stage.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::Test;

/// A training split the logistic regression cannot finish on: three separable groups and no
/// regularisation, so the loss has no minimum and L-BFGS runs every one of its iterations.
fn endless_training_split(rows: usize) -> String {
    let mut csv = String::from("a,b,c,d,label\n");
    for i in 0..rows {
        let class = i % 3;
        let cell =
            |j: usize| class as f64 * 3.0 + ((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0;
        csv.push_str(&format!(
            "{},{},{},{},k{class}\n",
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        ));
    }
    csv
}

#[test]
fn ctrl_c_during_a_long_builtin_train_exits_130_within_2_seconds() {
    let spec = "stages:\n  train:\n    uses: train\n    with:\n      model: logreg\n      data: data\n      target: label\n      params: {alpha: 0, max_iter: 100000000, tol: 1.0e-300}\n      out: model\n";
    let t = Test::new()
        .write("pipeline.yaml", spec)
        .write("data/train.csv", &endless_training_split(30_000));
    let dir = t.path().to_path_buf();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wf"))
        .arg("repro")
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains("Running stage 'train'") {
                let _ = started_tx.send(());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    started_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the train stage never started");
    // Into the fit: reading 30 000 rows takes a fraction of this.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        child.try_wait().unwrap().is_none(),
        "train ended before the signal"
    );
    let signalled = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        took < Duration::from_secs(2),
        "exited {took:?} after Ctrl-C"
    );
    assert!(!dir.join("model/model.json").exists(), "{stderr}");
    assert!(!dir.join("pipeline.lock").exists(), "{stderr}");
}
