#!/usr/bin/env python3
"""Time `wf ui`'s runs page and `wf plots show` against what users would otherwise run, in one run.

    python3 benches/ui.py [--wf target/release/wf] [--dvc /tmp/dvcenv/bin/dvc] [--count 10000]
                          [--runs 5] [--requests 20] [--threads 8] [--quick] [--keep] [--tmpdir DIR]

1. The same N runs (5 params, 5 metrics each) logged through MLflow's REST API into `wf ui` and
   into `mlflow server` (SQLite); the fill's requests/s; then the server time of the first page,
   the page sorted by a metric and the page filtered by one: wf's `GET /runs` and its
   `runs/search` against MLflow's `runs/search`; and `/runs` loaded in Chromium (playwright-core,
   installed with npm into the temporary folder), navigation start to load and to its 50 rows.
2. `wf plots show` against `dvc plots show` on the Iris pipeline's two confusion matrices.

The Markdown tables go to stdout, progress to stderr. Python 3 standard library only (plus Node.js
and npm, /usr/bin/chromium, and the mlflow and DVC venvs that exp.py uses). See benches/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent
sys.path.insert(0, str(SCRIPT_DIR))
from compare import BenchError, Runner, fmt_ratio, fmt_stats, fmt_time, kill_group, machine, progress, tail  # noqa: E402
from exp import MLFLOW_VERSION, Ctx, free_port, iris_project, mlflow_exe, verdict, wait_healthy  # noqa: E402

PARAMS = ["lr", "batch_size", "depth", "optimizer", "dropout"]
METRICS = ["acc", "loss", "f1", "precision", "recall"]
SORT_METRIC = "acc"
THRESHOLD = 0.5  # acc is uniform on [0, 1): the filter keeps about half
PER_PAGE = 50
TARGET_LOAD = 1.0  # wf's /runs in Chromium: rows in the DOM under 1 s
PLAYWRIGHT_CORE = "1.65.2"
CHROMIUM = "/usr/bin/chromium"
MLFLOW_UI_ROWS = 10  # rows of MLflow's runs table that count as drawn
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONFUSION = ["out/metrics/svm.confusion.csv", "out/metrics/logreg.confusion.csv"]


@dataclass
class Store:
    """A server that takes MLflow's REST API, and what was logged into it."""
    name: str  # "wf" or "mlflow"
    url: str
    token: str = ""
    experiment: str = ""
    proc: subprocess.Popen | None = None
    fill: tuple[float, int] | None = None  # (seconds, requests)
    # label -> seconds of each timed request
    times: dict[str, list[float]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# HTTP: one keep-alive connection a thread, every answer checked


class Client:
    """A keep-alive connection to one server; `request` returns (seconds, status, body) and fails
    on anything but 200."""

    def __init__(self, url: str, token: str = ""):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.token = token
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[float, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):  # once more on a fresh connection if the kept one was closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                start = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                elapsed = time.perf_counter() - start
            except (http.client.HTTPException, ConnectionError) as e:
                self.close()
                if attempt:
                    raise BenchError(f"{method} {path} on {self.host}:{self.port}: {e}")
                continue
            if resp.status != 200:
                raise BenchError(f"{method} {path} on {self.host}:{self.port}: status {resp.status}:\n"
                                 f"{tail(payload.decode(errors='replace'))}")
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return elapsed, payload
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: dict | None = None) -> tuple[float, dict]:
        t, payload = self.request(method, path, body)
        try:
            return t, json.loads(payload or b"{}")
        except ValueError:
            raise BenchError(f"{method} {path}: not JSON:\n{tail(payload.decode(errors='replace'))}")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------------------------
# The runs


def make_runs(count: int) -> list[dict]:
    """`count` runs, the same for both stores: a name, 5 params and 5 metrics."""
    rng = random.Random(7)
    runs = []
    for i in range(count):
        acc = rng.random()
        runs.append({
            "name": f"trial-{i:05d}",  # not run-N: wf gives those names itself
            "params": {"lr": f"{10 ** rng.uniform(-5, -1):.6g}", "batch_size": str(rng.choice([16, 32, 64, 128, 256])),
                       "depth": str(rng.randint(2, 12)), "optimizer": rng.choice(["adam", "sgd", "adamw", "rmsprop"]),
                       "dropout": f"{rng.uniform(0, 0.5):.3f}"},
            "metrics": {"acc": acc, "loss": rng.uniform(0.01, 3), "f1": acc * rng.uniform(0.9, 1.0),
                        "precision": rng.random(), "recall": rng.random()},
        })
    return runs


def log_run(client: Client, experiment: str, run: dict, now_ms: int) -> None:
    """runs/create, one runs/log-batch with the params and metrics, runs/update to FINISHED."""
    _, created = client.json("POST", "/api/2.0/mlflow/runs/create",
                             {"experiment_id": experiment, "run_name": run["name"], "start_time": now_ms})
    run_id = created.get("run", {}).get("info", {}).get("run_id")
    if not run_id:
        raise BenchError(f"runs/create answered no run_id: {json.dumps(created)[:500]}")
    client.json("POST", "/api/2.0/mlflow/runs/log-batch", {
        "run_id": run_id,
        "params": [{"key": k, "value": v} for k, v in run["params"].items()],
        "metrics": [{"key": k, "value": v, "timestamp": now_ms, "step": 0} for k, v in run["metrics"].items()],
    })
    client.json("POST", "/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now_ms + 1000})


def fill(store: Store, runs: list[dict], threads: int) -> None:
    """Logs every run into `store` from `threads` threads; records (seconds, requests)."""
    _, made = Client(store.url, store.token).json("POST", "/api/2.0/mlflow/experiments/create", {"name": "bench"})
    store.experiment = str(made.get("experiment_id", ""))
    if not store.experiment:
        raise BenchError(f"{store.name}: experiments/create answered no experiment_id: {made}")
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()
    now_ms = int(time.time() * 1000) - len(runs) * 1000

    def work(k: int) -> None:
        client = Client(store.url, store.token)
        try:
            for i in range(k, len(runs), threads):
                if errors:
                    return
                log_run(client, store.experiment, runs[i], now_ms + i * 1000)
                with lock:
                    done[0] += 1
        except BenchError as e:
            errors.append(str(e))
        finally:
            client.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    last = start
    while any(t.is_alive() for t in pool):
        pool[0].join(timeout=0.5)
        if time.perf_counter() - last > 15:
            last = time.perf_counter()
            progress(f"  {store.name}: {done[0]:,} of {len(runs):,} runs logged")
    elapsed = time.perf_counter() - start
    if errors:
        raise BenchError(f"{store.name}: filling failed after {done[0]} runs: {errors[0]}")
    store.fill = (elapsed, 3 * len(runs))
    progress(f"{store.name}: {len(runs):,} runs logged in {fmt_time(elapsed)} ({3 * len(runs) / elapsed:,.0f} req/s)")


# --------------------------------------------------------------------------------------------
# Server times


ROW = re.compile(r'<tr data-run="([^"]*)"')
COUNT = re.compile(r'<span class="count">(\d+) of (\d+) runs</span>')
# When wf's /runs has no column for the metric, its sort and filter are timed on this param
# instead (numbers in [0, 0.5), compared as numbers), and the table says so.
FALLBACK = ("dropout", 0.25)


def value(run: dict, column: str) -> float:
    return run["metrics"][column] if column in run["metrics"] else float(run["params"][column])


def check_page(html: str, runs: list[dict], names: set[str], ask: str, column: str, threshold: float) -> None:
    """The /runs page must list PER_PAGE known runs, the right ones, and count the runs the ask
    matches."""
    rows = ROW.findall(html)
    count = COUNT.search(html)
    if len(rows) != PER_PAGE or not set(rows) <= names:
        raise BenchError(f"GET {ask}: {len(rows)} rows of known runs, not {PER_PAGE}:\n{tail(html)}")
    by_name = {r["name"]: r for r in runs}
    matched = sum(value(r, column) > threshold for r in runs) if "q=" in ask else len(runs)
    if not count or (int(count.group(1)), int(count.group(2))) != (matched, len(runs)):
        raise BenchError(f"GET {ask}: the page says {count.group(0) if count else 'no count'}, "
                         f"not {matched} of {len(runs)} runs")
    if "sort=" in ask:
        # Every run listed is among the highest PER_PAGE (ties at the edge allowed), in order.
        edge = sorted((value(r, column) for r in runs), reverse=True)[PER_PAGE - 1]
        listed = [value(by_name[n], column) for n in rows]
        if min(listed) < edge or listed != sorted(listed, reverse=True):
            raise BenchError(f"GET {ask}: the first page is not the {PER_PAGE} runs of highest {column}, in order")
    if "q=" in ask and any(value(by_name[n], column) <= threshold for n in rows):
        raise BenchError(f"GET {ask}: lists a run whose {column} is not > {threshold}")


def check_search(answer: dict, runs: list[dict], names: set[str], kind: str, who: str) -> None:
    """A runs/search answer must hold PER_PAGE known runs, with a next page, and what `kind` asks."""
    got = answer.get("runs", [])
    found = []
    for r in got:
        info = r.get("info", {})
        name = info.get("run_name") or next((t["value"] for t in r.get("data", {}).get("tags", [])
                                             if t.get("key") == "mlflow.runName"), "")
        found.append(name)
    if len(got) != PER_PAGE or not set(found) <= names or not answer.get("next_page_token"):
        raise BenchError(f"{who} runs/search ({kind}): {len(got)} runs ({len(set(found) & names)} known), "
                         f"next_page_token {'set' if answer.get('next_page_token') else 'missing'}; "
                         f"expected {PER_PAGE} and a next page")
    metrics = [{m["key"]: m["value"] for m in r.get("data", {}).get("metrics", [])} for r in got]
    if any(set(m) != set(METRICS) for m in metrics):
        raise BenchError(f"{who} runs/search ({kind}): a run without its 5 metrics: {metrics[0]}")
    if kind == "sorted" and set(found) != top(runs, SORT_METRIC, PER_PAGE):
        raise BenchError(f"{who} runs/search (sorted): not the {PER_PAGE} runs of highest {SORT_METRIC}")
    if kind == "filtered" and any(m[SORT_METRIC] <= THRESHOLD for m in metrics):
        raise BenchError(f"{who} runs/search (filtered): a run whose {SORT_METRIC} is not > {THRESHOLD}")


def top(runs: list[dict], metric: str, n: int) -> set[str]:
    return {r["name"] for r in sorted(runs, key=lambda r: r["metrics"][metric], reverse=True)[:n]}


SEARCH = {  # kind -> runs/search fields (MLflow's UI sorts by start time unless told)
    "first": {"order_by": ["attributes.start_time DESC"]},
    "sorted": {"order_by": [f"metrics.{SORT_METRIC} DESC"]},
    "filtered": {"filter": f"metrics.{SORT_METRIC} > {THRESHOLD}", "order_by": ["attributes.start_time DESC"]},
}


def page_ask(kind: str, column: str, threshold: float) -> str:
    return {"first": "/runs", "sorted": f"/runs?sort={column}&desc=1",
            "filtered": f"/runs?q={urllib.parse.quote(f'{column} > {threshold:g}')}"}[kind]


def time_requests(ctx: Ctx, stores: list[Store], runs: list[dict], column: str, threshold: float,
                  errors: list[str]) -> None:
    """2 warm-ups + --requests of each query on each server, the servers taking turns query by
    query; every answer checked. A query that fails is reported and the others go on."""
    names = {r["name"] for r in runs}
    n = ctx.args.requests
    for kind, fields in SEARCH.items():
        for s in stores:
            client = Client(s.url, s.token)
            body = {"experiment_ids": [s.experiment], "max_results": PER_PAGE, "run_view_type": "ACTIVE_ONLY", **fields}
            jobs = [(f"{s.name} runs/search {kind}", lambda: client.json("POST", "/api/2.0/mlflow/runs/search", body),
                     lambda a: check_search(a, runs, names, kind, s.name))]
            if s.name == "wf":
                ask = page_ask(kind, column, threshold)
                jobs.insert(0, (f"wf /runs {kind}", lambda ask=ask: client.request("GET", ask),
                                lambda html, ask=ask: check_page(html.decode(), runs, names, ask, column, threshold)))
            for label, once, check in jobs:
                times = []
                try:
                    for i in range(2 + n):
                        t, answer = once()
                        check(answer)
                        if i >= 2:
                            times.append(t)
                except BenchError as e:
                    errors.append(f"{label}: {e}")
                    progress(f"  {label}: FAILED: {str(e).splitlines()[0]}")
                    client.close()
                    continue
                s.times[label] = times
                progress(f"  {label}: median {fmt_ms(statistics.median(times))}, p90 {fmt_ms(p90(times))}")
            client.close()


def p90(times: list[float]) -> float:
    s = sorted(times)
    return s[min(len(s) - 1, max(0, round(0.9 * len(s)) - 1))]


def fmt_ms(t: float) -> str:
    return f"{t * 1000:.2f} ms" if t < 0.01 else fmt_time(t)


# --------------------------------------------------------------------------------------------
# The browser

BROWSER_JS = r"""
// Loads each URL in a fresh browser context (no cache), a warm-up then RUNS times; prints one
// JSON line per load: navigation start to the load event, and to the moment the page held
// ROWS rows (a MutationObserver from document start, so parser-inserted rows count).
const { chromium } = require('playwright-core');
const [url, selector, rows, runs, timeout] = [process.argv[2], process.argv[3], +process.argv[4],
                                              +process.argv[5], +process.argv[6]];
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: %(args)s });
  try {
    for (let i = 0; i <= runs; i++) {
      const context = await browser.newContext();
      const outside = [];
      // Offline: anything not on this machine is refused, and reported.
      await context.route(u => !/^https?:\/\/127\.0\.0\.1[:/]/.test(u.toString()), r => {
        outside.push(r.request().url()); return r.abort();
      });
      const page = await context.newPage();
      await page.addInitScript(([sel, n]) => {
        window.__rowsAt = null;
        const check = () => {
          if (window.__rowsAt === null && document.querySelectorAll(sel).length >= n) {
            window.__rowsAt = performance.now();
          }
        };
        new MutationObserver(check).observe(document, { childList: true, subtree: true });
        document.addEventListener('DOMContentLoaded', check);
      }, [selector, rows]);
      await page.goto(url, { waitUntil: 'load', timeout });
      await page.waitForFunction(() => window.__rowsAt !== null, null, { timeout });
      const r = await page.evaluate(([sel]) => {
        const nav = performance.getEntriesByType('navigation')[0];
        return { load: nav.loadEventEnd, rows: window.__rowsAt, count: document.querySelectorAll(sel).length,
                 bytes: nav.transferSize };
      }, [selector]);
      r.warmup = i === 0;
      r.outside = outside;
      console.log(JSON.stringify(r));
      await context.close();
    }
  } finally {
    await browser.close();
  }
})().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
"""


def node_setup(ctx: Ctx) -> Path:
    """playwright-core installed with npm into the temporary folder (its cache there too); the
    loader script beside it."""
    d = ctx.tmp / "browser"
    d.mkdir()
    (d / "package.json").write_text('{"name": "wf-bench-ui", "private": true}\n')
    env = dict(ctx.runner.env, npm_config_cache=str(d / "npm-cache"), npm_config_update_notifier="false",
               npm_config_fund="false", npm_config_audit="false", PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    progress(f"browser: npm install playwright-core@{PLAYWRIGHT_CORE} into {d}")
    Runner(env, ctx.args.timeout).run(["npm", "install", "--no-save", "--silent", f"playwright-core@{PLAYWRIGHT_CORE}"], d)
    (d / "load.js").write_text(BROWSER_JS % {"args": json.dumps(CHROMIUM_ARGS)})
    return d


def browser_loads(ctx: Ctx, d: Path, url: str, selector: str, rows: int, timeout_s: float) -> list[dict]:
    argv = ["node", "load.js", url, selector, str(rows), str(ctx.runs), str(int(timeout_s * 1000))]
    _, cp = ctx.runner.run(argv, d)
    loads = [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]
    if len(loads) != ctx.runs + 1:
        raise BenchError(f"`{shlex.join(argv)}` printed {len(loads)} loads, not {ctx.runs + 1}:\n{tail(cp.stderr)}")
    for r in loads:
        if r["count"] < rows or r["load"] <= 0 or r["rows"] is None:
            raise BenchError(f"`{shlex.join(argv)}`: a load without its {rows} rows: {r}")
    for r in loads[1:]:
        progress(f"  {url}: load event {r['load']:.0f} ms, {r['count']} rows at {r['rows']:.0f} ms"
                 + (f", {len(r['outside'])} requests off the machine refused" if r["outside"] else ""))
    return loads[1:]


# --------------------------------------------------------------------------------------------
# Plots


def plots(ctx: Ctx, dvc: str) -> dict:
    """`wf plots show` and `dvc plots show` on Iris's two confusion matrices: times and page sizes."""
    progress("plots: Iris project, `wf -C specs repro` (untimed)")
    iris = iris_project(ctx, ctx.tmp / "iris")
    d = ctx.tmp / "dvc-plots"
    for f in CONFUSION:
        (d / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(iris / f, d / f)
    ctx.runner.run([dvc, "init", "--no-scm", "-q"], d)
    ctx.runner.run([dvc, "config", "core.analytics", "false"], d)
    wf_out, dvc_out = ctx.tmp / "wf-page", ctx.tmp / "dvc-page"
    wf_argv = [ctx.wf, "-C", "specs", "plots", "show", "-o", str(wf_out)]
    dvc_argv = [dvc, "plots", "show", *CONFUSION, "--template", "confusion", "-x", "predicted", "-y", "actual",
                "-o", str(dvc_out)]

    def once(argv: list[str], cwd: Path, out: Path) -> float:
        shutil.rmtree(out, ignore_errors=True)
        t, cp = ctx.runner.run(argv, cwd)
        page = out / "index.html"
        text = page.read_text() if page.exists() else ""
        if not all(Path(f).name in text for f in CONFUSION):
            raise BenchError(f"`{shlex.join(argv)}` in {cwd} wrote no page naming both confusion files:\n"
                             f"{tail(cp.stdout)}\n{tail(cp.stderr)}")
        return t

    result = {}
    for name, argv, cwd, out in (("wf", wf_argv, iris, wf_out), ("dvc", dvc_argv, d, dvc_out)):
        times = []
        for i in range(1 + ctx.runs):
            t = once(argv, cwd, out)
            progress(f"  {name} plots show: {'warm-up' if i == 0 else f'run {i}/{ctx.runs}'}: {fmt_time(t)}")
            times += [t] if i else []
        page = (out / "index.html").read_text()
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        remote = sorted(set(re.findall(r'<script[^>]+src="(https?://[^"]+)"', page)))
        result[name] = (times, size, remote, shlex.join([Path(argv[0]).name, *argv[1:]]).replace(str(ctx.tmp), "TMP"))
    return result


# --------------------------------------------------------------------------------------------
# Servers


def start(ctx: Ctx, name: str, argv: list[str], cwd: Path, env: dict, url: str) -> subprocess.Popen:
    log = cwd / f"{name}.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    progress(f"{name}: started `{shlex.join(argv)}` (pid {proc.pid})")
    wait_healthy(url, proc, log, 180)
    return proc


def stop(name: str, proc: subprocess.Popen | None) -> str:
    """SIGTERM to the server's process group, then KILL after 20 s; a problem is returned."""
    if proc is None:
        return ""
    problem = ""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=20)
        if code != 0 and name == "wf":
            problem = f"wf ui exited {code} after SIGTERM, not 0"
    except ProcessLookupError:
        problem = f"{name} was gone before SIGTERM"
    except subprocess.TimeoutExpired:
        problem = f"{name} still running 20 s after SIGTERM; killed"
    kill_group(proc)
    progress(f"{name}: stopped" + (f": {problem}" if problem else ""))
    return problem


def start_stores(ctx: Ctx, stores: list[Store]) -> None:
    wf_dir, ml_dir = ctx.tmp / "wf-store", ctx.tmp / "mlflow-store"
    wf_dir.mkdir()
    ml_dir.mkdir()
    ctx.runner.run(["git", "init", "-q"], wf_dir)
    token = f"{random.getrandbits(128):032x}"
    port = free_port()
    wf = Store("wf", f"http://127.0.0.1:{port}", token)
    stores.append(wf)
    wf.proc = start(ctx, "wf", [ctx.wf, "ui", "--host", "127.0.0.1", "--port", str(port)], wf_dir,
                    dict(ctx.runner.env, WF_UI_TOKEN=token), wf.url)
    exe, port = mlflow_exe(ctx), free_port()
    env = dict(ctx.runner.env, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
               MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    ml = Store("mlflow", f"http://127.0.0.1:{port}")
    stores.append(ml)
    ml.proc = start(ctx, "mlflow", [str(exe), "server", "--backend-store-uri", f"sqlite:///{ml_dir}/mlflow.db",
                                    "--default-artifact-root", str(ml_dir / "artifacts"), "--host", "127.0.0.1",
                                    "--port", str(port), "--workers", str(ctx.args.mlflow_workers)], ml_dir, env, ml.url)
    time.sleep(2)  # past its start-up work


def check_counts(ctx: Ctx, stores: list[Store], runs: list[dict], notes: list[str]) -> tuple[str, float]:
    """Both stores hold every run, finished, with its 5 params and 5 metrics; returns the column
    (and threshold) that wf's /runs is sorted and filtered by: the metric if /runs has it as a
    column, else FALLBACK, with a note that says why."""
    n = len(runs)
    db = ctx.tmp / "mlflow-store" / "mlflow.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        finished = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0]
        params = con.execute("SELECT COUNT(*) FROM params").fetchone()[0]
        metrics = con.execute("SELECT COUNT(*) FROM latest_metrics").fetchone()[0]
    finally:
        con.close()
    if (finished, params, metrics) != (n, 5 * n, 5 * n):
        raise BenchError(f"mlflow's store holds {finished} finished runs, {params} params, {metrics} metrics; "
                         f"expected {n}, {5 * n}, {5 * n}")
    wf = stores[0]
    client = Client(wf.url)
    _, html = client.request("GET", f"/runs?q={urllib.parse.quote('state = finished')}&per=1")
    text = html.decode()
    count = COUNT.search(text)
    if not count or (count.group(1), count.group(2)) != (str(n), str(n)):
        raise BenchError(f"wf's /runs?q=state = finished says {count.group(0) if count else 'no count'}, "
                         f"not {n} of {n} runs")
    columns = set(re.findall(r'class="col-choice" value="([^"]+)"', text))
    client.close()
    if not set(PARAMS) <= columns:
        raise BenchError(f"wf's /runs has the columns {sorted(columns)}, not the params {', '.join(PARAMS)}")
    missing = [m for m in METRICS if m not in columns]
    if not missing:
        return SORT_METRIC, THRESHOLD
    notes.append(f"wf's /runs has no column for the metrics logged through the API ({', '.join(missing)}; "
                 f"its columns: {', '.join(sorted(columns))}), so it cannot sort or filter by `{SORT_METRIC}`: "
                 f"its sorted and filtered pages are timed on the param `{FALLBACK[0]}` instead "
                 f"(`sort={FALLBACK[0]}&desc=1`, `q={FALLBACK[0]} > {FALLBACK[1]}`, about half kept).")
    return FALLBACK


# --------------------------------------------------------------------------------------------
# Report


def report(ctx: Ctx, stores: list[Store], results: dict) -> list[str]:
    load, mlflow_ui, plot = results.get("load"), results.get("mlflow_ui", ""), results.get("plots")
    column, threshold = results.get("column", (SORT_METRIC, THRESHOLD))
    out: list[str] = []
    filled = [s for s in stores if s.fill]
    if filled:
        out += ["", f"### Filling the stores ({ctx.args.count:,} runs, {ctx.args.threads} threads, plain HTTP)", "",
                "| store | requests | time | requests/s |", "|---|---|---|---|"]
        for s in filled:
            t, n = s.fill
            label = "`wf ui`" if s.name == "wf" else f"`mlflow server` {MLFLOW_VERSION} (SQLite, {ctx.args.mlflow_workers} worker)"
            out.append(f"| {label} | {n:,} | {fmt_time(t)} | {n / t:,.0f} |")
    wf = next((s for s in stores if s.name == "wf"), None)
    ml = next((s for s in stores if s.name == "mlflow"), None)
    if wf and wf.times:
        out += ["", f"### Server time, {ctx.args.count:,} runs: median (p90) of {ctx.args.requests} requests after 2 warm-ups", "",
                "| page of 50 runs | wf `GET /runs` (HTML) | wf `runs/search` | MLflow `runs/search` | MLflow / wf, `runs/search` | MLflow / wf `GET /runs` |",
                "|---|---|---|---|---|---|"]
        other = f" (wf `/runs`: by `{column}`)" if column != SORT_METRIC else ""
        what = {"first": "first page (`runs/search`: `order_by start_time DESC`)",
                "sorted": f"sorted by `{SORT_METRIC}` descending{other}",
                "filtered": f"filtered, `{SORT_METRIC} > {THRESHOLD}`, about half kept"
                            + (f" (wf `/runs`: `{column} > {threshold:g}`)" if other else "")}
        for kind, label in what.items():
            cell = lambda s, k: (f"{fmt_ms(statistics.median(s.times[k]))} ({fmt_ms(p90(s.times[k]))})"  # noqa: E731
                                 if s and k in s.times else "—")
            med = lambda s, k: statistics.median(s.times[k]) if s and k in s.times else None  # noqa: E731
            m, w, h = med(ml, f"mlflow runs/search {kind}"), med(wf, f"wf runs/search {kind}"), med(wf, f"wf /runs {kind}")
            out.append(f"| {label} | {cell(wf, f'wf /runs {kind}')} | {cell(wf, f'wf runs/search {kind}')} | "
                       f"{cell(ml, f'mlflow runs/search {kind}')} | {fmt_ratio(m / w) if m and w else '—'} | "
                       f"{fmt_ratio(m / h) if m and h else '—'} |")
    if load or mlflow_ui:
        out += ["", f"### In Chromium: median (min–max) of {ctx.runs} loads after a warm-up, each in a fresh context", "",
                "| page | navigation → load event | navigation → rows in the DOM | target |", "|---|---|---|---|"]
        if load:
            ld, rw = [r["load"] / 1000 for r in load], [r["rows"] / 1000 for r in load]
            ok = statistics.median(rw) < TARGET_LOAD and statistics.median(ld) < TARGET_LOAD
            out.append(f"| wf `/runs` ({ctx.args.count:,} runs in the store, {PER_PAGE} rows, "
                       f"{load[0]['bytes'] / 1024:.0f} KiB) | {fmt_stats(ld)} | {fmt_stats(rw)} | < 1 s {verdict(ok)} |")
        if mlflow_ui:
            out.append(mlflow_ui)
    if plot:
        out += ["", f"### Plots: Iris's two confusion matrices, median (min–max) of {ctx.runs} after a warm-up", "",
                "| command | time | page | libraries |", "|---|---|---|---|"]
        for name in ("wf", "dvc"):
            if name in plot:
                times, size, remote, cmd = plot[name]
                libs = ("loaded from " + ", ".join(f"`{urllib.parse.urlsplit(u).netloc}`" for u in remote[:1])
                        + f" ({len(remote)} scripts)") if remote else "inside the page"
                out.append(f"| `{cmd}` | {fmt_stats(times)} | {size / 1024:,.0f} KiB | {libs} |")
        if "wf" in plot and "dvc" in plot:
            r = statistics.median(plot["dvc"][0]) / statistics.median(plot["wf"][0])
            out += ["", f"DVC / wf: {fmt_ratio(r)}"]
    return out


# --------------------------------------------------------------------------------------------
# Main


def run(ctx: Ctx, stores: list[Store], results: dict) -> None:
    args = ctx.args
    if "runs" in args.parts:
        runs = make_runs(args.count)
        start_stores(ctx, stores)
        for s in stores:
            progress(f"filling {s.name} with {args.count:,} runs ({args.threads} threads)")
            fill(s, runs, args.threads)
        column, threshold = check_counts(ctx, stores, runs, results["notes"])
        results["column"] = (column, threshold)
        progress(f"server times: 2 warm-ups + {args.requests} requests each")
        time_requests(ctx, stores, runs, column, threshold, results["errors"])
        progress("browser: wf's /runs in Chromium")
        d = node_setup(ctx)
        results["load"] = browser_loads(ctx, d, stores[0].url + "/runs", "#runs-table tbody tr[data-run]", PER_PAGE, 30)
        if args.mlflow_ui:
            ml = stores[1]
            try:
                # Its runs table is ag-grid; MLFLOW_UI_ROWS of its rows count as drawn.
                loads = browser_loads(ctx, d, f"{ml.url}/#/experiments/{ml.experiment}/runs",
                                      ".ag-center-cols-container .ag-row", MLFLOW_UI_ROWS, 60)
                rw, ld = [r["rows"] / 1000 for r in loads], [r["load"] / 1000 for r in loads]
                refused = max(len(r["outside"]) for r in loads)
                results["mlflow_ui"] = (f"| MLflow's UI, `/#/experiments/{ml.experiment}/runs` (its table's first "
                                        f"{MLFLOW_UI_ROWS} rows in the DOM)"
                                        + (f"; {refused} requests off the machine refused" if refused else "")
                                        + f" | {fmt_stats(ld)} | {fmt_stats(rw)} | — |")
            except BenchError as e:
                results["mlflow_ui"] = f"| MLflow's UI, `/#/experiments/{ml.experiment}/runs` | not measured (below) | — | — |"
                results["notes"].append(f"MLflow UI: {e}")
    if "plots" in args.parts:
        results["plots"] = plots(ctx, args.dvc)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wf", default=str(REPO / "target" / "release" / "wf"), help="the wf binary")
    p.add_argument("--dvc", default="/tmp/dvcenv/bin/dvc", help="the dvc executable")
    p.add_argument("--count", type=int, default=10_000, help="runs in each store (default 10000)")
    p.add_argument("--runs", type=int, default=5, help="browser loads and plots commands, after 1 warm-up (default 5)")
    p.add_argument("--requests", type=int, default=20, help="timed requests of each query, after 2 warm-ups (default 20)")
    p.add_argument("--threads", type=int, default=8, help="threads filling each store (default 8)")
    p.add_argument("--mlflow-workers", type=int, default=1, help="`mlflow server --workers` (default 1)")
    p.add_argument("--no-mlflow-ui", dest="mlflow_ui", action="store_false", help="do not load MLflow's own UI")
    p.add_argument("--only", default="runs,plots", help="parts: runs, plots (default both)")
    p.add_argument("--quick", action="store_true", help="1 000 runs, 3 loads, 5 requests (a smoke test)")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per command")
    p.add_argument("--tmpdir", help="where to make the temporary folder (default: $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder and the servers' logs")
    args = p.parse_args()
    if args.quick:
        args.count, args.runs, args.requests = 1000, 3, 5
    args.parts = [x.strip() for x in args.only.split(",") if x.strip()]
    if not args.parts or set(args.parts) - {"runs", "plots"}:
        p.error("--only takes runs, plots or both")
    if args.count < 2 * PER_PAGE or args.runs < 1 or args.requests < 1 or args.threads < 1:
        p.error(f"--count must be at least {2 * PER_PAGE}; --runs, --requests and --threads at least 1")
    wf = str(Path(args.wf).resolve())
    if not os.access(wf, os.X_OK):
        sys.exit(f"ui.py: no executable {args.wf} (build it with `cargo build --release`, or pass --wf)")
    args.dvc = shutil.which(args.dvc) or args.dvc
    if "plots" in args.parts and not os.access(args.dvc, os.X_OK):
        sys.exit(f"ui.py: no executable {args.dvc}: python3 -m venv /tmp/dvcenv && "
                 "/tmp/dvcenv/bin/pip install dvc==3.67.1, or pass --dvc")
    if "runs" in args.parts:
        for exe in ("node", "npm", CHROMIUM):
            if not shutil.which(exe):
                sys.exit(f"ui.py: `{exe}` is not installed (the browser timing needs Node.js, npm and {CHROMIUM})")

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="wf-bench-ui-", dir=args.tmpdir)).resolve()
    env = dict(os.environ, SHELL="/bin/sh", NO_COLOR="1", DVC_NO_ANALYTICS="1", GIT_CONFIG_NOSYSTEM="1",
               DVC_SITE_CACHE_DIR=str(tmp / "dvc-site-cache"))
    env.pop("WF_UI_TOKEN", None)
    ctx = Ctx(args, Runner(env, args.timeout), wf, args.dvc, tmp, args.runs, [])
    versions = [f"`{wf}` ({ctx.runner.run([wf, '--version'], tmp)[1].stdout.strip()})"]
    if "plots" in args.parts:
        versions.append(f"`{args.dvc}` ({ctx.runner.run([args.dvc, '--version'], tmp)[1].stdout.strip()})")
    header = f"Machine: {machine()[0]}"
    started = time.perf_counter()
    stores: list[Store] = []
    results: dict = {"notes": [], "errors": []}
    errors: list[str] = results["errors"]
    interrupted = False
    try:
        run(ctx, stores, results)
    except BenchError as e:
        errors.append(str(e))
        progress(f"FAILED\n{e}")
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted")
    finally:
        for s in stores:
            problem = stop(s.name, s.proc)
            if problem:
                errors.append(problem)
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    argv0 = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    out = [f"Command: `{shlex.join(argv0)}`", "", header, "Engines: " + ", ".join(versions)
           + (f"; `mlflow server` {MLFLOW_VERSION}" if "runs" in args.parts else "")
           + (" [--quick]" if args.quick else "")]
    out += report(ctx, stores, results)
    out += ["", f"Total time: {time.perf_counter() - started:.0f} s." + (" Interrupted." if interrupted else "")]
    if errors or results["notes"]:
        out += ["", "## Errors and notes"]
        for msg in errors + results["notes"]:
            out += ["", "```", msg, "```"]
    print("\n".join(out), flush=True)
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
