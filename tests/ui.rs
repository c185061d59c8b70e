//! `wf ui` through a real HTTP client: the runs table sorted, filtered and paged on the server,
//! a run and a comparison, promote and rollback, the live feed of a run made by another
//! process, MLflow's own client logging through it, and every refusal of its security rules.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve::{Server, client, iris, post};
use crate::test::{Output, Test};

/// A pipeline whose metric is its param, and experiments with `x` = each of `xs`.
fn experiments(xs: &[&str]) -> Output {
    let mut out = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write(
            "pipeline.yaml",
            "stages:\n  score:\n    cmd: 'printf \"{\\\"acc\\\": %s}\" ${train.x} > m.json'\n    params: [train.x]\n    metrics:\n      - m.json:\n          cache: false\n",
        )
        .write("params.yaml", "train:\n  x: 0.1\n")
        .args(["exp", "run", "-S", &format!("train.x={}", xs[0])])
        .success();
    for x in &xs[1..] {
        out = out
            .test()
            .args(["exp", "run", "-S", &format!("train.x={x}")])
            .success();
    }
    out
}

/// `wf ui --port 0` in `dir`.
fn ui(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["ui", "--port", "0"];
    args.extend_from_slice(extra);
    Server::launch(dir, &args, &[])
}

/// The server's token, from the file it names.
fn token(dir: &Path, url: &str) -> String {
    let port = url.rsplit(':').next().unwrap();
    std::fs::read_to_string(dir.join(format!(".wf/ui-{port}.token"))).unwrap()
}

fn get(url: &str) -> (u16, String) {
    let mut resp = client().get(url).call().unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap(),
    )
}

/// The runs of the table's rows, in order.
fn rows(html: &str) -> Vec<String> {
    html.split("<tr data-run=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

/// The names of experiments by their `x`.
fn names_by_x(out: &Output) -> Vec<(f64, String)> {
    let shown = out.test().args(["exp", "show", "--json"]).success();
    let exps: Vec<Value> = serde_json::from_str(&shown.stdout).unwrap();
    let mut named: Vec<(f64, String)> = exps
        .iter()
        .map(|e| {
            (
                e["metrics"]["m.json"]["acc"].as_f64().unwrap(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    named.sort_by(|a, b| a.0.total_cmp(&b.0));
    named
}

#[test]
fn the_runs_table_is_sorted_filtered_and_paged_on_the_server() {
    let out = experiments(&["0.3", "0.9", "0.5"]);
    let by_x = names_by_x(&out);
    let ascending: Vec<String> = by_x.iter().map(|(_, n)| n.clone()).collect();
    let server = ui(out.path(), &[]);
    let (status, html) = get(&format!("{}/runs?sort=acc", server.url));
    assert_eq!(status, 200, "{html}");
    assert_eq!(rows(&html), ascending);
    let (_, html) = get(&format!("{}/runs?sort=acc&desc=1", server.url));
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(rows(&html), descending);
    assert!(html.contains("3 of 3 runs"), "{html}");
    // Filtered: the two runs above 0.4, in the order asked.
    let (_, html) = get(&format!("{}/runs?sort=acc&q=acc%20%3E%200.4", server.url));
    assert_eq!(rows(&html), ascending[1..]);
    assert!(html.contains("2 of 3 runs"), "{html}");
    // Paged: one a page, the second page has the second run.
    let (_, html) = get(&format!("{}/runs?sort=acc&per=1&page=2", server.url));
    assert_eq!(rows(&html), [ascending[1].clone()]);
    assert!(html.contains("page 2 of 3"), "{html}");
    // A column that is not there is named, with the one meant.
    let (status, html) = get(&format!("{}/runs?q=acx%3E1", server.url));
    assert_eq!(status, 400);
    assert!(
        html.contains("no column `acx`; did you mean `acc`?"),
        "{html}"
    );
    let (status, _) = get(&format!("{}/runs?sort=nope", server.url));
    assert_eq!(status, 400);
}

#[test]
fn a_run_and_a_comparison_of_two() {
    let out = experiments(&["0.3", "0.9"]);
    let server = ui(out.path(), &[]);
    let (_, html) = get(&format!("{}/runs?sort=acc", server.url));
    let ids: Vec<String> = html
        .split("href=\"/runs/")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{html}");
    let (status, page) = get(&format!("{}/runs/{}", server.url, ids[0]));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("train.x"), "its params: {page}");
    assert!(page.contains(">0.3<"), "its metric: {page}");
    assert!(page.contains("id=\"stages\""), "its stages: {page}");
    assert!(page.contains("score"), "{page}");
    let (status, page) = get(&format!(
        "{}/compare?runs={},{}",
        server.url, ids[0], ids[1]
    ));
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("class=\"pc-line\"").count(), 2, "{page}");
    assert!(page.contains("class=\"diff\""), "the differing row: {page}");
    let (status, body) = get(&format!("{}/compare?runs=nope", server.url));
    assert_eq!(
        (status, body.contains("no run `nope`")),
        (404, true),
        "{body}"
    );
    let (status, _) = get(&format!("{}/runs/ffff", server.url));
    assert_eq!(status, 404);
}

#[test]
fn promote_and_rollback_move_the_champion_as_wf_model_does() {
    let out = iris();
    let server = ui(out.path(), &[]);
    let t = token(out.path(), &server.url);
    let champion = || {
        let listed = out
            .test()
            .args(["-C", "specs", "model", "list", "--json"])
            .success();
        let versions: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
        versions
            .iter()
            .find(|v| {
                v["aliases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "champion")
            })
            .map(|v| v["version"].as_u64().unwrap())
    };
    assert_eq!(champion(), Some(1));
    let (_, page) = get(&format!("{}/models", server.url));
    assert!(page.contains("class=\"promote\""), "{page}");
    let agent = client();
    let send = |path: &str, body: &str| {
        let mut resp = agent
            .post(format!("{}{path}", server.url))
            .header("Content-Type", "application/json")
            .header("X-WF-Token", &t)
            .header("Origin", &server.url)
            .send(body)
            .unwrap();
        let text = resp.body_mut().read_to_string().unwrap();
        (resp.status().as_u16(), text)
    };
    let stage = "specs/pipeline.yaml:deploy";
    let (status, body) = send(
        "/models/promote",
        &format!("{{\"stage\": \"{stage}\", \"version\": 2}}"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(champion(), Some(2));
    let (status, body) = send("/models/rollback", &format!("{{\"stage\": \"{stage}\"}}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(champion(), Some(1));
    // Bad requests are 4xx with what was wrong.
    let (status, body) = send(
        "/models/promote",
        &format!("{{\"stage\": \"{stage}\", \"version\": 99}}"),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = send("/models/promote", "{\"stage\": \"nope\", \"version\": 1}");
    assert_eq!(
        (status, body.contains("no deploy stage `nope`")),
        (400, true),
        "{body}"
    );
    let (status, _) = send("/models/promote", "not json");
    assert_eq!(status, 400);
    assert_eq!(champion(), Some(1));
}

#[test]
fn cross_origin_writes_missing_tokens_strange_hosts_and_dot_dot_are_refused() {
    let out = iris();
    let server = ui(out.path(), &[]);
    let t = token(out.path(), &server.url);
    let agent = client();
    let body = "{\"stage\": \"specs/pipeline.yaml:deploy\", \"version\": 2}";
    let promote = |headers: &[(&str, &str)]| {
        let mut req = agent
            .post(format!("{}/models/promote", server.url))
            .header("Content-Type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send(body).unwrap();
        let text = resp.body_mut().read_to_string().unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        (resp.status().as_u16(), json)
    };
    let (status, json) = promote(&[("X-WF-Token", &t), ("Origin", "http://evil.example")]);
    assert_eq!(status, 403, "{json}");
    assert!(json["error"].as_str().unwrap().contains("another site"));
    let (status, _) = promote(&[("X-WF-Token", &t), ("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(status, 403);
    let (status, json) = promote(&[]);
    assert_eq!(status, 401, "{json}");
    let (status, _) = promote(&[("X-WF-Token", "0123")]);
    assert_eq!(status, 401);
    // A page asked for under another name (DNS rebinding onto the loopback port).
    let resp = agent
        .get(format!("{}/runs", server.url))
        .header("Host", "evil.example")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // `..` in an artifact path, encoded so that no client folds it away.
    let (_, html) = get(&format!("{}/runs", server.url));
    let id = html.split("href=\"/runs/").nth(1).unwrap();
    let id = &id[..id.find('"').unwrap()];
    let (status, body) = get(&format!(
        "{}/runs/{id}/artifacts/%2E%2E/%2E%2E/params.yaml",
        server.url
    ));
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(&format!("{}/runs/{id}/artifacts/nothing.txt", server.url));
    assert_eq!(status, 404);
    // Nothing changed.
    assert!(!out.path().join(".wf/ui-0.token").exists());
}

#[test]
fn on_every_address_every_request_needs_the_token() {
    let out = iris();
    let server = Server::launch(
        out.path(),
        &["ui", "--port", "0", "--host", "0.0.0.0"],
        &[("WF_UI_TOKEN", "s3cret-token-for-the-test")],
    );
    let (status, body) = get(&format!("{}/runs", server.url));
    assert_eq!(status, 401, "{body}");
    assert!(
        !server.stderr().contains("s3cret"),
        "the token is never printed"
    );
    // Opened once with the token: a cookie, and the page without the token in its address.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let resp = agent
        .get(format!(
            "{}/runs?token=s3cret-token-for-the-test",
            server.url
        ))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/runs");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let resp = agent
        .get(format!("{}/runs", server.url))
        .header("Cookie", pair)
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = get(&format!("{}/runs?token=wrong", server.url));
    assert_eq!(status, 401);
}

#[test]
fn the_live_feed_follows_a_run_made_by_another_process() {
    let t = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write(
            "pipeline.yaml",
            "stages:\n  slow:\n    cmd: sleep 1 && echo done > out.txt\n    outs: [out.txt]\n  after:\n    cmd: cat out.txt > copy.txt\n    deps: [out.txt]\n    outs: [copy.txt]\n",
        )
        .args(["stage", "list"])
        .success();
    let server = ui(t.path(), &[]);
    let mut resp = client()
        .get(format!("{}/events", server.url))
        .call()
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut repro = Command::new(env!("CARGO_BIN_EXE_wf"))
        .arg("repro")
        .current_dir(t.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reader = BufReader::new(resp.body_mut().as_reader());
    let started = Instant::now();
    let mut seen: Vec<(String, String)> = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            let change: Value = serde_json::from_str(data).unwrap();
            seen.push((
                change["stage"].as_str().unwrap().to_string(),
                change["state"].as_str().unwrap().to_string(),
            ));
            if seen
                .last()
                .is_some_and(|(s, st)| s == "after" && st == "done")
            {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{seen:?}");
    }
    assert!(repro.wait().unwrap().success());
    let pair = |s: &str, st: &str| (s.to_string(), st.to_string());
    assert_eq!(
        seen,
        [
            pair("slow", "running"),
            pair("slow", "done"),
            pair("after", "running"),
            pair("after", "done")
        ]
    );
}

#[test]
fn mlflows_own_client_logs_into_the_store_through_wf_ui() {
    let Some(python) = crate::tracking::mlflow_python() else {
        return;
    };
    let out = experiments(&["0.3"]);
    let server = ui(out.path(), &[]);
    let t = token(out.path(), &server.url);
    let script = "import mlflow\nwith mlflow.start_run(run_name='from-a-notebook'):\n    mlflow.log_param('lr', 0.01)\n    for step, loss in enumerate([0.9, 0.5, 0.2]):\n        mlflow.log_metric('loss', loss, step=step)\n";
    let status = Command::new(python)
        .args(["-c", script])
        .env("MLFLOW_TRACKING_URI", &server.url)
        .env("MLFLOW_TRACKING_TOKEN", &t)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .status()
        .unwrap();
    assert!(status.success());
    // Its params and its metric's last value are columns of the table.
    let (_, html) = get(&format!(
        "{}/runs?q=notebook%20loss%3C0.5%20lr%3D0.01",
        server.url
    ));
    assert_eq!(rows(&html), ["from-a-notebook"], "{html}");
    assert!(html.contains(">0.2<"), "the last loss: {html}");
    let id = html.split("href=\"/runs/").nth(1).unwrap();
    let id = &id[..id.find('"').unwrap()];
    let (_, page) = get(&format!("{}/runs/{id}", server.url));
    assert!(page.contains("lr"), "{page}");
    assert!(
        page.contains("chart-spec"),
        "the loss by step is drawn: {page}"
    );
    // Without the token, MLflow's API refuses.
    let (status, _) = post(
        &client(),
        &format!("{}/api/2.0/mlflow/runs/search", server.url),
        "application/json",
        "{}",
    );
    assert_eq!(status, 401);
}

#[test]
fn the_pipeline_is_drawn_with_each_stages_status_and_a_stage_has_its_page() {
    let out = iris();
    // A param changed: the SVM and what follows it are stale, the rest fresh.
    let params = out.path().join("specs/params.yaml");
    let text = std::fs::read_to_string(&params).unwrap();
    std::fs::write(&params, text.replacen("C:", "C: 0.5 #", 1)).unwrap();
    let status = out.test().args(["-C", "specs", "status", "--json"]).run();
    let server = Server::launch(out.path(), &["-C", "specs", "ui", "--port", "0"], &[]);
    let (code, html) = get(&format!("{}/pipeline", server.url));
    assert_eq!(code, 200, "{html}");
    let nodes: Vec<(String, String)> = html
        .split("<g class=\"node ")
        .skip(1)
        .map(|s| {
            let class = s[..s.find('"').unwrap()].to_string();
            let stage = s.split("data-stage=\"").nth(1).unwrap();
            (stage[..stage.find('"').unwrap()].to_string(), class)
        })
        .collect();
    assert_eq!(nodes.len(), 6, "one node per stage: {nodes:?}");
    let stale: Vec<&str> = nodes
        .iter()
        .filter(|(_, c)| c == "stale")
        .map(|(s, _)| s.as_str())
        .collect();
    assert!(!stale.is_empty(), "{nodes:?}");
    for s in &stale {
        assert!(
            status.stdout.contains(&format!("\"{s}\"")),
            "{s} is stale for wf status too: {}",
            status.stdout
        );
    }
    assert!(
        nodes.iter().any(|(s, c)| s == "prepare" && c == "fresh"),
        "{nodes:?}"
    );
    let (code, page) = get(&format!("{}/pipeline/stages/train@svm", server.url));
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Uses <code>train</code>"), "{page}");
    assert!(page.contains("run-1"), "its last run: {page}");
    let (code, _) = get(&format!("{}/pipeline/stages/nope", server.url));
    assert_eq!(code, 404);
    let (_, collapsed) = get(&format!("{}/pipeline?collapse=1", server.url));
    assert_eq!(
        collapsed.matches("<g class=\"node ").count(),
        4,
        "{collapsed}"
    );
}

#[test]
fn an_experiments_plots_are_read_through_its_own_locks() {
    let out = iris();
    out.test()
        .args([
            "-C",
            "specs",
            "exp",
            "run",
            "-q",
            "-n",
            "tiny-c",
            "-S",
            "train.svm.C=0.05",
        ])
        .success();
    let server = Server::launch(out.path(), &["-C", "specs", "ui", "--port", "0"], &[]);
    let (_, html) = get(&format!("{}/runs?q=tiny", server.url));
    let id = html.split("href=\"/runs/").nth(1).unwrap();
    let id = &id[..id.find('"').unwrap()];
    let (_, page) = get(&format!("{}/runs/{id}", server.url));
    assert!(page.contains("id=\"run-plots\""), "{page}");
    let (status, plots) = get(&format!("{}/runs/{id}/plots", server.url));
    assert_eq!(status, 200, "{plots}");
    for model in ["svm", "logreg"] {
        assert!(plots.contains(&format!("{model}.confusion.csv")), "{model}");
    }
    assert!(
        plots.contains("\"rev\":\"tiny-c\""),
        "rows of the experiment"
    );
    // A plain run keeps no locks: nothing to read its plots through.
    let (_, html) = get(&format!("{}/runs?q=run-1", server.url));
    let id = html.split("href=\"/runs/").nth(1).unwrap();
    let id = &id[..id.find('"').unwrap()];
    let (status, body) = get(&format!("{}/runs/{id}/plots", server.url));
    assert_eq!(
        (status, body.contains("kept no locks")),
        (404, true),
        "{body}"
    );
}

#[test]
fn ctrl_c_stops_the_server_while_a_page_follows_the_live_feed() {
    let t = Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write("pipeline.yaml", "stages:\n  a:\n    cmd: echo\n")
        .args(["stage", "list"])
        .success();
    let server = ui(t.path(), &[]);
    let token_file = t.path().join(format!(
        ".wf/ui-{}.token",
        server.url.rsplit(':').next().unwrap()
    ));
    assert!(token_file.exists());
    // A page listening to /events, as the pipeline page does.
    let resp = client()
        .get(format!("{}/events", server.url))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    server.signal(nix::sys::signal::Signal::SIGINT);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(server.wait()));
    let code = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("wf ui still running 10 s after Ctrl-C with a page open");
    assert_eq!(code, Some(130));
    assert!(!token_file.exists(), "the token file is removed");
    drop(resp);
}
