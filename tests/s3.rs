//! An S3 remote against a real S3-compatible server (`s3s-fs`), started in this process on
//! 127.0.0.1 with a free port: push, then pull into a fresh copy.

use std::net::SocketAddr;

use crate::test::Test;

pub(crate) const KEY: &str = "wf-test-access";
pub(crate) const SECRET: &str = "wf-test-secret";

/// A running server over a temporary folder, with the bucket `bucket`; it stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) root: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start() -> Server {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use hyper_util::server::conn::auto::Builder;
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("bucket")).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(KEY, SECRET));
            b.build()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                loop {
                    let (socket, _) = tokio::select! {
                        conn = listener.accept() => match conn { Ok(c) => c, Err(_) => continue },
                        _ = &mut stopped => break,
                    };
                    let service = service.clone();
                    tokio::spawn(async move {
                        let _ = Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        });
        Server {
            addr,
            root,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn push_and_pull_through_s3() {
    let server = Server::start();
    let endpoint = format!("http://{}", server.addr);
    let spec = "stages:\n  s:\n    cmd: mkdir -p out && cp data.txt out/a && echo b > out/b\n    deps: [data.txt]\n    outs: [out]\n";
    let a = Test::new()
        .write(".wf/.gitignore", "")
        .write("pipeline.yaml", spec)
        .write("data.txt", "hello s3\n")
        .arg("repro")
        .success();
    a.test()
        .args([
            "remote",
            "add",
            "team",
            "s3://bucket/project",
            "--endpoint",
            &endpoint,
            "--region",
            "us-east-1",
            "-d",
        ])
        .success();
    a.test()
        .args(["remote", "modify", "team", "access_key_id", KEY, "--local"])
        .success();
    a.test()
        .args([
            "remote",
            "modify",
            "team",
            "secret_access_key",
            SECRET,
            "--local",
        ])
        .success();
    // Three objects (a file, a folder manifest and its other file) and one run-cache entry.
    a.test()
        .args(["push", "--run-cache"])
        .stderr_contains("pushed 4 objects (0 already there) with remote `team`")
        .success();
    a.test()
        .arg("push")
        .stderr_contains("pushed 0 objects (3 already there)")
        .success();
    assert!(
        server.root.path().join("bucket/project").is_dir(),
        "objects are in the bucket under the prefix"
    );

    // A fresh copy with the committed files and credentials from the environment.
    let b = Test::new()
        .write(".wf/.gitignore", "")
        .write(
            ".wf/config",
            &std::fs::read_to_string(a.path().join(".wf/config")).unwrap(),
        )
        .write("pipeline.yaml", spec)
        .write(
            "pipeline.lock",
            &std::fs::read_to_string(a.path().join("pipeline.lock")).unwrap(),
        )
        .write("data.txt", "hello s3\n")
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .arg("pull")
        .stderr_contains("fetched 3 objects")
        .success();
    assert_eq!(
        std::fs::read_to_string(b.path().join("out/a")).unwrap(),
        "hello s3\n"
    );
    b.test()
        .arg("status")
        .stdout("Data and pipelines are up to date.\n")
        .run();

    // Wrong credentials are a clear error, not a hang.
    b.test()
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .args(["fetch", "--run-cache"])
        .status(1)
        .stderr_contains("remote `team`")
        .run();
}
