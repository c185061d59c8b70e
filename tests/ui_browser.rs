//! `wf ui` in headless Chromium with the network off but loopback: every page loads with no
//! console error and no request leaving the machine; sorting the runs table reorders it;
//! selecting two runs draws them in a parallel-coordinates chart; the promote button moves the
//! champion. A screenshot of each page is kept under `target/browser/`.

use std::time::Duration;

use crate::browser::{Browser, Page};
use crate::serve::{Server, iris};
use crate::test::Output;

const WAIT: Duration = Duration::from_secs(30);

/// The Iris pipeline run, and two experiments of it with other values of the SVM's `C`.
fn iris_with_experiments() -> Output {
    let out = iris();
    for c in ["0.05", "3"] {
        out.test()
            .args([
                "-C",
                "specs",
                "exp",
                "run",
                "-q",
                "-S",
                &format!("train.svm.C={c}"),
            ])
            .success();
    }
    // A study of three trials, for the studies page.
    out.test()
        .args([
            "-C",
            "specs",
            "tune",
            "-q",
            "-n",
            "3",
            "--name",
            "svm-study",
        ])
        .success();
    out
}

/// The names of the runs table's rows, in order.
fn rows(page: &Page) -> Vec<String> {
    page.eval(
        "[...document.querySelectorAll('#runs-table tbody tr[data-run]')].map(r => r.dataset.run)",
    )
}

/// Waits until every chart of the page is drawn.
fn charts_drawn(page: &Page) {
    page.wait_for(
        "[...document.querySelectorAll('script.chart-spec')].every(s => \
           document.getElementById(s.dataset.target).classList.contains('drawn'))",
        WAIT,
    );
}

#[test]
fn every_page_loads_clean_and_the_runs_table_sorts_and_compares() {
    let Some(browser) = Browser::launch() else {
        return;
    };
    let out = iris_with_experiments();
    let server = Server::launch(out.path(), &["ui", "--port", "0"], &[]);
    let page = browser.open(&format!("{}/runs", server.url));
    assert_eq!(
        rows(&page).len(),
        6,
        "the run, two experiments and three trials"
    );
    let groups: Vec<String> = page.eval(
        "[...document.querySelectorAll('#runs-table tbody tr[data-run] td:nth-child(5)')].map(t => t.textContent)",
    );
    assert_eq!(
        groups.iter().filter(|g| *g == "study svm-study").count(),
        3,
        "{groups:?}"
    );
    page.screenshot("ui-runs");
    page.assert_clean();

    // Sorting by a param, by clicking its header, then again for the other way.
    let order = |page: &Page| -> Vec<String> {
        page.eval(
            "[...document.querySelectorAll('#runs-table tbody tr[data-run]')].map(r => \
               r.querySelector('td:nth-child(2) a').textContent)",
        )
    };
    page.click("a.sort[data-column='train.svm.C']");
    page.wait_for("location.search.includes('sort=train.svm.C')", WAIT);
    let ascending = order(&page);
    page.click("a.sort[data-column='train.svm.C']");
    page.wait_for("location.search.includes('desc=1')", WAIT);
    let mut descending = order(&page);
    descending.reverse();
    assert_eq!(ascending, descending);
    let cs: Vec<String> = page.eval(
        "[...document.querySelectorAll('#runs-table tbody tr[data-run]')].map(r => r.dataset.run)",
    );
    assert_eq!(cs.len(), 6);

    // Two runs selected: the comparison draws a line each.
    page.click("#runs-table tbody tr:nth-child(1) input.pick");
    page.click("#runs-table tbody tr:nth-child(2) input.pick");
    page.wait_for("!document.getElementById('compare').disabled", WAIT);
    page.click("#compare");
    page.wait_for("location.pathname === '/compare'", WAIT);
    page.wait_for(
        "document.querySelectorAll('polyline.pc-line').length === 2",
        WAIT,
    );
    charts_drawn(&page);
    page.screenshot("ui-compare");
    page.assert_clean();

    // A run's page, its charts drawn.
    let run = browser.open(&format!("{}/runs", server.url));
    run.click("#runs-table tbody tr:nth-child(1) td:nth-child(2) a");
    run.wait_for("location.pathname.startsWith('/runs/')", WAIT);
    run.wait_for("document.getElementById('stages') !== null", WAIT);
    charts_drawn(&run);
    run.screenshot("ui-run");
    run.assert_clean();

    let studies = browser.open(&format!("{}/studies", server.url));
    let trials: usize =
        studies.eval("document.querySelectorAll('section.study table.trials tr').length");
    assert_eq!(trials, 4, "a header and three trials");
    for (path, name) in [("/studies", "ui-studies"), ("/models", "ui-models")] {
        let page = browser.open(&format!("{}{path}", server.url));
        charts_drawn(&page);
        page.screenshot(name);
        page.assert_clean();
    }
    // The plots of the pipeline: both confusion matrices, drawn offline.
    let plots = browser.open(&format!("{}/plots", server.url));
    plots.wait_for(
        "document.querySelectorAll('.vega-embed canvas').length >= 2 && \
         document.querySelectorAll('.vega-embed canvas').length === \
         document.querySelectorAll('script[id^=\"spec-\"]').length",
        WAIT,
    );
    plots.screenshot("ui-plots");
    plots.assert_clean();
}

#[test]
fn the_promote_button_moves_the_champion() {
    let Some(browser) = Browser::launch() else {
        return;
    };
    let out = iris();
    let server = Server::launch(out.path(), &["ui", "--port", "0"], &[]);
    let page = browser.open(&format!("{}/models", server.url));
    let champion = |page: &Page| -> Vec<u64> {
        page.eval(
            "[...document.querySelectorAll('tr[data-version]')].filter(r => \
               [...r.querySelectorAll('.alias')].some(a => a.textContent === 'champion'))\
               .map(r => Number(r.dataset.version))",
        )
    };
    assert_eq!(champion(&page), [1]);
    // The button asks first; the test answers yes.
    page.eval::<bool>("window.confirm = () => true; true");
    page.click("tr[data-version='2'] button.promote");
    page.wait_for(
        "[...document.querySelectorAll('tr[data-version=\"2\"] .alias')].some(a => a.textContent === 'champion')",
        WAIT,
    );
    assert_eq!(champion(&page), [2]);
    page.screenshot("ui-models-promoted");
    page.assert_clean();
    let listed = out
        .test()
        .args(["-C", "specs", "model", "show", "champion", "--json"])
        .success();
    assert!(
        listed.stdout.contains("\"version\": 2") || listed.stdout.contains("\"version\":2"),
        "{}",
        listed.stdout
    );
}

#[test]
fn the_pipeline_has_a_node_per_stage_whose_colour_follows_a_run() {
    let Some(browser) = Browser::launch() else {
        return;
    };
    let t = crate::test::Test::new()
        .write(".wf/.gitignore", "/*\n")
        .write(
            "pipeline.yaml",
            "stages:\n  slow:\n    cmd: sleep 2 && echo done > out.txt\n    outs: [out.txt]\n  after:\n    cmd: cat out.txt > copy.txt\n    deps: [out.txt]\n    outs: [copy.txt]\n  other:\n    cmd: echo > other.txt\n    outs: [other.txt]\n",
        )
        .args(["stage", "list"])
        .success();
    let server = Server::launch(t.path(), &["ui", "--port", "0"], &[]);
    let page = browser.open(&format!("{}/pipeline", server.url));
    let class = |stage: &str| -> String {
        page.eval(&format!(
            "document.querySelector('#dag g.node[data-stage=\"{stage}\"]').getAttribute('class')"
        ))
    };
    let nodes: usize = page.eval("document.querySelectorAll('#dag g.node').length");
    assert_eq!(nodes, 3);
    assert_eq!(class("slow"), "node stale");
    let mut repro = std::process::Command::new(env!("CARGO_BIN_EXE_wf"))
        .arg("repro")
        .current_dir(t.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    page.wait_for(
        "document.querySelector('#dag g.node[data-stage=\"slow\"]').classList.contains('running')",
        WAIT,
    );
    page.screenshot("ui-pipeline-running");
    page.wait_for(
        "document.querySelector('#dag g.node[data-stage=\"after\"]').classList.contains('fresh')",
        WAIT,
    );
    assert!(repro.wait().unwrap().success());
    assert_eq!(class("slow"), "node fresh");
    // A node opens its stage.
    page.click("#dag g.node[data-stage='after'] rect");
    page.wait_for("location.pathname === '/pipeline/stages/after'", WAIT);
    page.wait_for("document.getElementById('stage-runs') !== null", WAIT);
    page.assert_clean();
}
