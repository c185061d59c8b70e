//! The page of `wf plots show` in headless Chromium with the network off: what it draws, and
//! that the browser checks catch a page that is broken or reaches out.

use std::net::{IpAddr, TcpListener, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use tempfile::TempDir;

use crate::browser::Browser;
use crate::serve::iris;

/// How many pixels of each chart's canvas are coloured (not white, grey or black): the marks,
/// since axes, labels and the background are all grey.
const COLOURED_PIXELS: &str = r#"
[...document.querySelectorAll('section')].map(s => {
  const c = s.querySelector('.vega-embed canvas');
  if (!c) return [s.querySelector('h2').textContent, 0];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) n++;
  }
  return [s.querySelector('h2').textContent, n];
})"#;

#[test]
fn the_iris_page_draws_both_confusion_matrices_offline() {
    let Some(browser) = Browser::launch() else {
        return;
    };
    let out = iris();
    let dir = out.path().join("page");
    let shown = out
        .test()
        .args(["-C", "specs", "plots", "show", "-o"])
        .arg(dir.to_str().unwrap())
        .success();
    let page = browser.open(shown.stdout.trim());
    page.wait_for(
        "document.querySelectorAll('.vega-embed canvas').length === \
         document.querySelectorAll('script[id^=\"spec-\"]').length",
        Duration::from_secs(30),
    );
    let charts: Vec<(String, u64)> = page.eval(COLOURED_PIXELS);
    for model in ["logreg", "svm"] {
        let id = format!("out/metrics/{model}.confusion.csv");
        let drawn = charts.iter().find(|(title, _)| title.ends_with(&id));
        let Some((_, coloured)) = drawn else {
            panic!("no chart of `{id}` on the page: {charts:?}");
        };
        assert!(
            *coloured > 20_000,
            "the chart of `{id}` has no marks: {charts:?}"
        );
    }
    page.screenshot("plots-iris");
    page.assert_clean();
}

/// A non-loopback address of this machine, if it has one: what a page could reach directly.
fn own_address() -> Option<IpAddr> {
    let probe = UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks the route's source address.
    probe.connect("10.255.255.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback()).then_some(ip)
}

#[test]
fn the_checks_catch_a_broken_page_and_the_network_is_off() {
    let Some(browser) = Browser::launch() else {
        return;
    };
    // A server on this machine's own (non-loopback) address: the proxy must keep the page from
    // it as from any other host.
    let server = own_address().and_then(|ip| TcpListener::bind((ip, 0)).ok());
    let near = server
        .as_ref()
        .map(|s| format!("http://{}/near.png", s.local_addr().unwrap()));
    let dir = TempDir::with_prefix("wf-browser-").unwrap();
    let html = format!(
        "<!DOCTYPE html><title>broken</title>\n\
         <img src=\"http://example.com/x.png\"><img src=\"http://93.184.215.14/y.png\">{}\n\
         <button onclick=\"document.title = 'clicked'\">go</button>\n\
         <script>console.error('drawn wrong'); throw new Error('broken on purpose');</script>\n",
        near.as_ref()
            .map(|u| format!("<img src=\"{u}\">"))
            .unwrap_or_default()
    );
    std::fs::write(dir.path().join("broken.html"), html).unwrap();
    let page = browser.open(&format!("file://{}/broken.html", dir.path().display()));
    page.wait_for(
        "[...document.images].every(i => i.complete)",
        Duration::from_secs(20),
    );
    page.click("button");
    page.wait_for("document.title === 'clicked'", Duration::from_secs(5));

    let outside = page.outside_requests();
    for url in ["http://example.com/x.png", "http://93.184.215.14/y.png"]
        .into_iter()
        .chain(near.as_deref())
    {
        assert!(
            outside.iter().any(|u| u == url),
            "{url} not seen: {outside:?}"
        );
    }
    let loaded: usize = page.eval("[...document.images].filter(i => i.naturalWidth > 0).length");
    assert_eq!(loaded, 0, "an image came from the network");
    if let Some(server) = server {
        server.set_nonblocking(true).unwrap();
        assert!(server.accept().is_err(), "the page reached {near:?}");
    }
    let exceptions = page.exceptions();
    assert!(
        exceptions.iter().any(|e| e.contains("broken on purpose")),
        "{exceptions:?}"
    );
    let console = page.console_errors();
    assert!(
        console.iter().any(|m| m == "error: drawn wrong"),
        "{console:?}"
    );

    let caught = catch_unwind(AssertUnwindSafe(|| page.assert_clean()));
    let message = caught.expect_err("assert_clean passed a broken page");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    for part in [
        "console error: drawn wrong",
        "uncaught Error: broken on purpose",
        "left the machine: http://example.com/x.png",
    ] {
        assert!(message.contains(part), "lacks {part:?}:\n{message}");
    }
}
