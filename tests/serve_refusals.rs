//! Every bad request to `wf serve` gets a 4xx with a JSON body naming the problem, never a 500;
//! `/reload` needs the token.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

use crate::serve::{Server, client, iris, post};

/// Sends raw bytes (written from another thread, so a server that answers before reading
/// everything cannot block us) and returns the status and the JSON body of the answer.
fn raw(url: &str, request: Vec<u8>) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = sending.join();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[test]
fn bad_requests_get_a_4xx_naming_the_problem() {
    let out = iris();
    let server = Server::start(out.path(), &[], &[]);
    let agent = client();
    let predict = format!("{}/predict", server.url);
    let invocations = format!("{}/invocations", server.url);
    let infer = format!("{}/v2/models/champion/infer", server.url);
    let json_type = "application/json";
    let good = r#""sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4"#;
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (&predict, json_type, format!("{{{good}}}"), 400, "lacks feature `petal_width`; the model reads sepal_length, sepal_width, petal_length, petal_width"),
        (&predict, json_type, format!("[{{{good}, \"petal_width\": 1}}, {{{good}}}]"), 400, "record 2 lacks feature `petal_width`"),
        (&predict, json_type, format!("{{{good}, \"petal_widht\": 0.2}}"), 400, "unknown feature `petal_widht` (did you mean `petal_width`?)"),
        (&predict, json_type, format!("{{{good}, \"petal_width\": \"wide\"}}"), 400, "feature `petal_width` must be a number, got \"wide\""),
        (&predict, json_type, format!("{{{good}, \"petal_width\": null}}"), 400, "feature `petal_width` must be a number, got null"),
        (&predict, json_type, "[]".into(), 400, "no rows to predict"),
        (&predict, json_type, "".into(), 400, "the body is empty"),
        (&predict, json_type, "{\"sepal_length\": 5.1,\n \"x\": }".into(), 400, "malformed JSON: expected value at line 2 column 7"),
        (&predict, json_type, "42".into(), 400, "expected a record ({\"sepal_length\": 1.0, \"sepal_width\": 1.0, ...}) or a list of records, got a number"),
        (&predict, json_type, "[1]".into(), 400, "record 1 is a number, not an object of features"),
        (&predict, "text/plain", format!("{{{good}}}"), 415, "sent with Content-Type `text/plain`; this endpoint takes application/json"),
        (&invocations, json_type, "{\"instances\": [], \"inputs\": []}".into(), 400, "exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs`, it holds instances and inputs"),
        (&invocations, json_type, "{\"rows\": []}".into(), 400, "unknown field `rows`"),
        (&invocations, json_type, "{\"instances\": [[1, 2, 3]]}".into(), 400, "row 1 must be a list of 4 numbers"),
        (&invocations, json_type, "{\"dataframe_split\": {\"columns\": [\"sepal_length\"], \"data\": [[1]]}}".into(), 400, "lacks features `sepal_width`, `petal_length`, `petal_width`"),
        (&invocations, "text/csv", "sepal_length,sepal_width,petal_length,petal_width\n1,2,3,x\n".into(), 400, "line 2, column `petal_width`: `x` is not a number"),
        (&invocations, "application/xml", "<a/>".into(), 415, "takes application/json or text/csv"),
        (&infer, json_type, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP64\", \"data\": [1, 2, 3]}]}".into(), 400, "must have shape [rows, 4]"),
        (&infer, json_type, "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 4], \"datatype\": \"FP64\", \"data\": [1, 2, 3]}]}".into(), 400, "has shape [2, 4] but 3 values"),
        (&infer, json_type, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"a\"]}]}".into(), 400, "datatype `BYTES`"),
        (&infer, json_type, "{\"outputs\": []}".into(), 400, "not an inference request"),
    ];
    for (url, content_type, body, status, message) in &cases {
        let (got, answer) = post(&agent, url, content_type, body);
        let text = answer["error"]
            .as_str()
            .or(answer["message"].as_str())
            .unwrap_or("");
        assert_eq!(got, *status, "{url} {body}: {answer}");
        assert!(
            text.contains(message),
            "{url} {body}:\n{text}\nlacks\n{message}"
        );
    }
    // MLflow's clients read MLflow's error shape.
    let (_, answer) = post(&agent, &invocations, json_type, "{}");
    assert_eq!(answer["error_code"], "BAD_REQUEST", "{answer}");

    // A body past the limit, sent whole or announced: 413.
    let big = format!(
        "[{}]",
        vec![format!("{{{good}, \"petal_width\": 0.2}}"); 150_000].join(",")
    );
    assert!(big.len() > 8 << 20);
    let request = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
        big.len()
    );
    let (status, answer) = raw(&server.url, request.into_bytes());
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("larger than 8 MiB"),
        "{answer}"
    );

    // No such path, no such method, no such model or version.
    for (method, path, status, message) in [
        ("GET", "/nope", 404, "no endpoint `/nope`"),
        ("GET", "/predict", 405, "`/predict` does not take GET"),
        (
            "GET",
            "/v2/models/other",
            404,
            "no model `other`: this server serves `champion`",
        ),
        (
            "GET",
            "/v2/models/champion/versions/2",
            404,
            "version 2 of `champion` is not served: version 1 is",
        ),
    ] {
        let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (got, answer) = raw(&server.url, request.into_bytes());
        assert_eq!(got, status, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(message),
            "{answer}"
        );
    }

    // The server still answers, and answered no 500.
    let (status, _) = post(
        &agent,
        &predict,
        json_type,
        &format!("{{{good}, \"petal_width\": 0.2}}"),
    );
    assert_eq!(status, 200);
    let mut resp = agent.get(format!("{}/metrics", server.url)).call().unwrap();
    let metrics = resp.body_mut().read_to_string().unwrap();
    assert!(!metrics.contains("status=\"5"), "{metrics}");
}

#[test]
fn reload_needs_the_token_and_a_bare_registry_needs_wf_serve_token() {
    let out = iris();
    let server = Server::start(out.path(), &[], &[]);
    let agent = client();
    let reload = format!("{}/reload", server.url);
    let port = server.url.rsplit(':').next().unwrap();
    let file = out.path().join(format!(".wf/serve-{port}.token"));
    let token = std::fs::read_to_string(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let send = |auth: Option<&str>| {
        let mut req = agent.post(&reload);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send_empty().unwrap();
        let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        (resp.status().as_u16(), body)
    };
    let (status, answer) = send(None);
    assert_eq!(status, 401);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains(&file.display().to_string()),
        "{answer}"
    );
    assert_eq!(send(Some("Bearer wrong")).0, 401);
    let (status, answer) = send(Some(&format!("Bearer {token}")));
    assert_eq!((status, &answer["version"]), (200, &json!(1)), "{answer}");
    assert!(
        !server.stderr().contains(&token),
        "the token is never printed"
    );
    assert_eq!(server.stop(nix::sys::signal::Signal::SIGTERM), Some(0));
    assert!(!file.exists(), "the token file goes with the server");

    // A registry outside any repository (as in a container): no file is written there, and
    // /reload takes WF_SERVE_TOKEN only.
    let bare = tempfile::tempdir().unwrap();
    let registry = bare.path().join("registry");
    crate::test::copy_tree(&out.path().join("out/registry"), &registry);
    std::fs::create_dir(bare.path().join("specs")).unwrap();
    let reg = registry.display().to_string();
    let server = Server::start(bare.path(), &["--registry", &reg], &[]);
    let (status, answer) = post(
        &agent,
        &format!("{}/reload", server.url),
        "application/json",
        "",
    );
    assert_eq!(status, 403);
    assert!(
        answer["error"].as_str().unwrap().contains("WF_SERVE_TOKEN"),
        "{answer}"
    );
    drop(server);
    assert!(
        !bare.path().join(".wf").exists(),
        "nothing written beside a bare registry"
    );
    let server = Server::start(
        bare.path(),
        &["--registry", &reg],
        &[("WF_SERVE_TOKEN", "s3cret")],
    );
    let mut resp = agent
        .post(format!("{}/reload", server.url))
        .header("Authorization", "Bearer s3cret")
        .send_empty()
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
}
