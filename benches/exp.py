#!/usr/bin/env python3
"""Time wf's experiments and tracking API against their baselines, in the same run.

    python3 benches/exp.py [--wf target/release/wf] [--dvc /tmp/dvcenv/bin/dvc] [--runs 5]
                           [--dvc-runs 1] [--only NAME,...] [--quick] [--keep] [--tmpdir DIR]

Cases: exp-run-vs-repro (`wf exp run -S` against a hand edit + `wf repro`), sweep-12 (a 12-
experiment sweep, wf against DVC's queue), exp-show-10k (`wf exp show` over 10 000 experiments),
log-metric (MLflow's `runs/log-metric` under wrk: wf's endpoint against `mlflow server`).
The Markdown table goes to stdout, progress to stderr. Python 3 standard library only (plus the
`wrk` program, and a venv with mlflow that the script makes). See benches/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent
sys.path.insert(0, str(SCRIPT_DIR))
from compare import (  # noqa: E402  (the helpers of benches/compare.py)
    BenchError, Runner, both, fmt_ratio, fmt_stats, fmt_time, git_commit_all, kill_group, machine,
    progress, tail,
)

MLFLOW_VERSION = "3.17.2"  # mlflow 3.18.0 needs mlflow-tracing 3.18.0, which PyPI does not have
SWEEP = ["features.min_words=1,2,3", "report.top=5,7,9,11"]  # 12 experiments, none the baseline
EXPERIMENTS = 10_000


@dataclass
class Row:
    label: str
    wf: str
    other: str = "—"
    compare: str = "—"
    target: str = "—"


@dataclass
class Ctx:
    args: argparse.Namespace
    runner: Runner
    wf: str
    dvc: str
    tmp: Path
    runs: int
    rows: list  # rows land here as soon as they are known, so a later failure keeps them


def fmt_latency(t: float) -> str:
    return f"{t * 1000:.2f} ms" if t < 0.01 else fmt_time(t)


def verdict(ok: bool) -> str:
    return "✓" if ok else "✗"


# --------------------------------------------------------------------------------------------
# Projects


def git_init(ctx: Ctx, d: Path, dvc: bool = False) -> None:
    ctx.runner.run(["git", "init", "-q"], d)
    if dvc:
        ctx.runner.run([ctx.dvc, "init", "-q"], d)
        ctx.runner.run([ctx.dvc, "config", "core.analytics", "false"], d)
        ctx.runner.run([ctx.dvc, "config", "core.check_update", "false"], d)
    git_commit_all(ctx, d)


def iris_project(ctx: Ctx, d: Path) -> Path:
    """specs/ and data/ of this checkout in a git repository, reproduced and committed."""
    d.mkdir(parents=True)
    shutil.copytree(REPO / "specs", d / "specs", ignore=shutil.ignore_patterns("pipeline.lock"))
    shutil.copytree(REPO / "data", d / "data")
    git_init(ctx, d)
    ctx.runner.run([ctx.wf, "-C", "specs", "repro"], d)
    git_commit_all(ctx, d)  # the lock and .gitignore: the baseline commit is up to date
    return d


def dvc_project(ctx: Ctx, d: Path, dvc: bool) -> Path:
    """examples/dvc-project in a git repository (dvc init-ed for DVC), reproduced and committed."""
    shutil.copytree(REPO / "examples" / "dvc-project", d)
    git_init(ctx, d, dvc)
    ctx.runner.run([ctx.dvc if dvc else ctx.wf, "repro"], d)
    git_commit_all(ctx, d)
    return d


def repeat(ctx: Ctx, label: str, once: Callable[[], float]) -> list[float]:
    """1 warm-up + ctx.runs calls of `once` (which returns the seconds it timed); the timed ones."""
    times = []
    for i in range(1 + ctx.runs):
        t = once()
        progress(f"  {label}: {'warm-up' if i == 0 else f'run {i}/{ctx.runs}'}: {fmt_time(t)}")
        times += [t] if i else []
    return times


def ran_stages(cp: subprocess.CompletedProcess) -> int:
    return both(cp).count("Running stage")


# --------------------------------------------------------------------------------------------
# exp-run-vs-repro


def case_exp_run(ctx: Ctx) -> None:
    progress("exp-run-vs-repro: Iris project, first repro (untimed)")
    d = iris_project(ctx, ctx.tmp / "exp-run-vs-repro")
    params = d / "specs" / "params.yaml"
    c_line = re.compile(r"^([ \t]+C:[ \t]*)(\S+)", re.M)  # train.svm.C, the only `C:` of the file
    c_value = lambda: float(c_line.search(params.read_text()).group(2))  # noqa: E731
    exp_t: list[float] = []
    repro_t: list[float] = []
    # Interleaved, so that drift in the machine's load hits both alike; every value is new, so
    # the svm stages run (the run-cache restores a value seen before).
    for i in range(1 + ctx.runs):
        a, b = f"{1 + 0.02 * (i + 1):.2f}", f"{1.01 + 0.02 * (i + 1):.2f}"
        t, cp = ctx.runner.run([ctx.wf, "-C", "specs", "exp", "run", "-S", f"train.svm.C={a}"], d)
        if ran_stages(cp) != 3 or c_value() != float(a):
            raise BenchError(f"`wf exp run -S train.svm.C={a}` in {d} did not rewrite C and run the 3 "
                             f"svm/deploy stages:\n{tail(both(cp))}")
        text, n = c_line.subn(rf"\g<1>{b}", params.read_text(), count=1)
        if n != 1:
            raise BenchError(f"no `C:` line in {params}")
        params.write_text(text)
        t2, cp2 = ctx.runner.run([ctx.wf, "-C", "specs", "repro"], d)
        if ran_stages(cp2) != 3:
            raise BenchError(f"`wf repro` after setting C: {b} in {d} did not run 3 stages:\n{tail(both(cp2))}")
        kind = "warm-up" if i == 0 else f"run {i}/{ctx.runs}"
        progress(f"  {kind}: exp run {fmt_time(t)}, repro {fmt_time(t2)}")
        if i:
            exp_t.append(t)
            repro_t.append(t2)
    diff = (statistics.median(exp_t) - statistics.median(repro_t)) * 1000
    ctx.rows.append(Row("Iris, svm `C` changed: `wf exp run -S train.svm.C=…` (wf) vs hand edit + "
                        "`wf repro` (other)", fmt_stats(exp_t), fmt_stats(repro_t),
                        f"{diff:+.1f} ms", f"≤ +20 ms {verdict(diff <= 20)}"))


# --------------------------------------------------------------------------------------------
# sweep-12


def wf_sweep(ctx: Ctx, d: Path) -> float:
    argv = [ctx.wf, "exp", "run", *(x for s in SWEEP for x in ("-S", s)), "-j", "2"]
    t, cp = ctx.runner.run(argv, d)
    _, show = ctx.runner.run([ctx.wf, "exp", "show", "--json"], d)
    exps = json.loads(show.stdout)
    states = sorted({e["state"] for e in exps})
    if len(exps) != 12 or states != ["finished"]:
        raise BenchError(f"`{shlex.join(argv)}` in {d}: `wf exp show` lists {len(exps)} experiments "
                         f"({', '.join(states)}), not 12 finished:\n{tail(both(cp))}")
    return t


def dvc_sweep(ctx: Ctx, d: Path) -> float:
    """Queues the 12, starts 2 workers, polls `dvc queue status` until none is queued or running."""
    status_line = re.compile(r"^\S+\s+\S+\s+.*\s(Queued|Running|Success|Failed)\s*$", re.M)
    workers = re.compile(r"Worker status: (\d+) active, (\d+) idle")
    start = time.perf_counter()
    ctx.runner.run([ctx.dvc, "exp", "run", "--queue", *(x for s in SWEEP for x in ("-S", s))], d)
    ctx.runner.run([ctx.dvc, "queue", "start", "-j", "2"], d)
    try:
        while True:
            _, cp = ctx.runner.run([ctx.dvc, "queue", "status"], d)
            states = status_line.findall(cp.stdout)
            if len(states) == 12 and not {"Queued", "Running"} & set(states):
                break
            w, waited = workers.search(cp.stdout), time.perf_counter() - start
            if (waited > 30 and w and w.groups() == ("0", "0")) or waited > ctx.args.timeout:
                raise BenchError(f"DVC's queue in {d}: no worker left, or not done in --timeout:\n{tail(cp.stdout)}")
            time.sleep(1)
        elapsed = time.perf_counter() - start
    finally:
        ctx.runner.run([ctx.dvc, "queue", "stop"], d, check=False)
    _, ls = ctx.runner.run([ctx.dvc, "exp", "list", "--name-only"], d)
    if states.count("Success") != 12 or len(ls.stdout.split()) != 12:
        raise BenchError(f"DVC's queue in {d}: {states.count('Success')} of 12 succeeded, `dvc exp list` "
                         f"names {len(ls.stdout.split())}:\n{tail(cp.stdout)}")
    return elapsed


def case_sweep(ctx: Ctx) -> None:
    base = ctx.tmp / "sweep-12"
    fresh = iter(range(1000))  # a fresh project each time: the run-cache would restore it all
    wf_t = repeat(ctx, "wf sweep", lambda: wf_sweep(ctx, dvc_project(ctx, base / f"wf{next(fresh)}", dvc=False)))
    dvc_t: list[float] = []
    for i in range(ctx.args.dvc_runs):
        d = dvc_project(ctx, base / f"dvc{i}", dvc=True)
        t = dvc_sweep(ctx, d)
        progress(f"  DVC queue: run {i + 1}/{ctx.args.dvc_runs}: {fmt_time(t)}")
        dvc_t.append(t)
    ratio = statistics.median(dvc_t) / statistics.median(wf_t)
    ctx.rows.append(Row(f"12-experiment sweep of examples/dvc-project (`-S {SWEEP[0]} -S {SWEEP[1]}`): "
                        "wf `exp run -j 2` vs DVC `exp run --queue` + `queue start -j 2` + polling "
                        f"(DVC: {ctx.args.dvc_runs} run(s), no warm-up)",
                        fmt_stats(wf_t), fmt_stats(dvc_t), f"DVC/wf {fmt_ratio(ratio)}"))


# --------------------------------------------------------------------------------------------
# exp-show-10k

ADJECTIVES = "agile amber azure bold brave brisk calm clever crisp eager fancy fleet gentle".split()
ANIMALS = "auk badger bison crane dingo eagle egret ferret finch gecko heron ibis koala".split()


def replicate(db: Path, total: int, rng: random.Random) -> None:
    """Copies the store's experiments, with every row they own in any table, until there are
    `total`: new ids, names and seq numbers, started one a minute before the real ones; the params
    and metrics that differ between the real experiments are drawn anew, the others kept."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    children = [t for t in tables if t != "runs"
                and "run" in [c[1] for c in con.execute(f"PRAGMA table_info({t})")]]
    base = [dict(r) for r in con.execute("SELECT * FROM runs WHERE kind = 'experiment' ORDER BY seq")]
    if not base:
        raise BenchError(f"no experiment in {db}")
    owned = {t: {b["id"]: [dict(r) for r in con.execute(f"SELECT * FROM {t} WHERE run = ?", (b["id"],))]
                 for b in base} for t in children}
    def differing(table: str) -> set:
        values: dict[tuple, set] = {}
        for rows in owned.get(table, {}).values():
            for r in rows:
                values.setdefault((r["file"], r["key"]), set()).add(r["value"])
        return {k for k, v in values.items() if len(v) > 1}

    swept, varied = differing("params"), differing("metrics")
    need = total - len(base)
    with con:  # the copies come first: the real runs' seq numbers move up past them
        con.execute("UPDATE runs SET seq = -seq")
        con.execute("UPDATE runs SET seq = ? - seq", (need,))
    first = min(b["started"] for b in base)
    inserts: dict[str, list[dict]] = {t: [] for t in ["runs", *children]}
    for k in range(need):
        src = base[k % len(base)]
        run = dict(src, id=f"{rng.getrandbits(128):032x}", seq=k + 1,
                   name=f"{rng.choice(ADJECTIVES)}-{rng.choice(ANIMALS)}-{k}")
        run["started"] = first - 60 * (need - k)
        if src.get("ended") is not None:
            run["ended"] = run["started"] + (src["ended"] - src["started"])
        drawn = {key: f"{rng.uniform(0.1, 10):.3f}" for (_, key) in swept}
        if run.get("overrides"):
            run["overrides"] = json.dumps([f"{o.split('=', 1)[0]}={drawn[o.split('=', 1)[0]]}"
                                           if o.split("=", 1)[0] in drawn else o
                                           for o in json.loads(run["overrides"])])
        inserts["runs"].append(run)
        for t in children:
            for row in owned[t][src["id"]]:
                row = dict(row, run=run["id"])
                if t == "params" and (row["file"], row["key"]) in swept:
                    row["value"] = drawn[row["key"]]
                elif t == "metrics" and (row["file"], row["key"]) in varied and row["value"] is not None:
                    v = row["value"] * rng.uniform(0.95, 1.05)
                    row["value"] = round(min(v, 1.0) if row["value"] <= 1 else v, 6)
                inserts[t].append(row)
    with con:
        for t, rows in inserts.items():
            if rows:
                cols = list(rows[0])
                con.executemany(f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                [tuple(r[c] for c in cols) for r in rows])
    n = con.execute("SELECT COUNT(*) FROM runs WHERE kind = 'experiment'").fetchone()[0]
    con.close()
    if n != total:
        raise BenchError(f"{db} has {n} experiments after copying, not {total}")


def case_exp_show(ctx: Ctx) -> None:
    progress("exp-show-10k: Iris project and a real 4-experiment sweep (untimed)")
    d = iris_project(ctx, ctx.tmp / "exp-show-10k")
    ctx.runner.run([ctx.wf, "-C", "specs", "exp", "run", "-S", "train.svm.C=0.5,2,4,8", "-j", "2"], d)
    progress(f"exp-show-10k: copying them into {EXPERIMENTS:,} experiments with sqlite3 (untimed)")
    replicate(d / ".wf" / "runs.db", EXPERIMENTS, random.Random(11))

    def show(argv: list[str]) -> float:
        t, cp = ctx.runner.run(argv, d)
        lines = cp.stdout.splitlines()
        n = len(json.loads(cp.stdout)) if "--json" in argv else sum("finished" in x for x in lines)
        if n != EXPERIMENTS:
            raise BenchError(f"`{shlex.join(argv)}` in {d} lists {n} experiments, not {EXPERIMENTS}")
        return t

    for argv in ([ctx.wf, "exp", "show"], [ctx.wf, "exp", "show", "--json"]):
        label = f"wf {shlex.join(argv[1:])}"
        times = repeat(ctx, label, lambda: show(argv))
        ctx.rows.append(Row(f"`{label}`, {EXPERIMENTS:,} experiments of Iris in the store", fmt_stats(times),
                            target=f"≤ 100 ms {verdict(statistics.median(times) <= 0.1)}"))


# --------------------------------------------------------------------------------------------
# log-metric

LUA = """\
local run_id, token, path = "%(run)s", "%(token)s", "%(path)s"
local ts0, n, threads = %(ts0)d, 0, 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local headers = {["Content-Type"] = "application/json"}
if token ~= "" then headers["Authorization"] = "Bearer " .. token end
request = function()
  n = n + 1
  local body = string.format('{"run_id": "%%s", "key": "loss", "value": 0.5, "timestamp": %%d, "step": %%d}',
                             run_id, ts0 + n, (tid or 0) * 1000000000 + n)
  return wrk.format("POST", path, headers, body)
end
"""
PATH = "/api/2.0/mlflow/runs/log-metric"
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def call(url: str, path: str, body: dict | None, token: str = "") -> dict:
    req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server exited ({proc.returncode}):\n{tail(log.read_text())}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise BenchError(f"{url}/health did not answer within {seconds:.0f} s:\n{tail(log.read_text())}")


def wrk(ctx: Ctx, url: str, run_id: str, token: str, conns: int, seconds: float) -> tuple[float, float]:
    """One wrk load: (requests/s, median latency in s); any non-2xx answer or socket error fails."""
    script = ctx.tmp / "log-metric" / "log-metric.lua"  # wrk runs in log-metric/
    script.write_text(LUA % {"run": run_id, "token": token, "path": PATH, "ts0": int(time.time() * 1000)})
    argv = ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds:g}s", "--timeout", "10s", "--latency",
            "-s", str(script), url]
    _, cp = ctx.runner.run(argv, script.parent)
    out = cp.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s|m)\b", out)
    if not rps or not p50 or "Non-2xx" in out or re.search(r"Socket errors:.*[1-9]", out):
        raise BenchError(f"`{shlex.join(argv)}` failed or got errors:\n{tail(out)}\n{tail(cp.stderr)}")
    return float(rps.group(1)), float(p50.group(1)) * UNITS[p50.group(2)]


def load(ctx: Ctx, name: str, url: str, token: str) -> dict[int, tuple[list, list]]:
    """Creates a run in experiment 0 and loads log-metric at each concurrency; checks the metric."""
    run_id = call(url, "/api/2.0/mlflow/runs/create", {"experiment_id": "0"}, token)["run"]["info"]["run_id"]
    seconds = ctx.args.duration
    wrk(ctx, url, run_id, token, 4, 1)  # warm-up
    out = {}
    for conns in ctx.args.connections:
        rps, lat = [], []
        for i in range(ctx.runs):
            r, l = wrk(ctx, url, run_id, token, conns, seconds)
            progress(f"  {name}, {conns} connection(s), run {i + 1}/{ctx.runs}: {r:.0f} req/s, p50 {fmt_latency(l)}")
            rps.append(r)
            lat.append(l)
        out[conns] = (rps, lat)
    got = call(url, f"/api/2.0/mlflow/runs/get?run_id={run_id}", None, token)["run"]["data"].get("metrics", [])
    if not any(m.get("key") == "loss" for m in got):
        raise BenchError(f"{name}: run {run_id} has no `loss` metric after the load")
    return out


def mlflow_exe(ctx: Ctx) -> Path:
    venv = Path(os.environ.get("TMPDIR") or "/tmp") / "wf-bench-mlflow"
    probe = [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"]
    ok = (venv / "bin" / "mlflow").exists() and ctx.runner.run(probe, ctx.tmp, check=False)[1].stdout.strip() == MLFLOW_VERSION
    if not ok:
        progress(f"log-metric: installing mlflow=={MLFLOW_VERSION} into {venv} (minutes)")
        ctx.runner.run([sys.executable, "-m", "venv", str(venv)], ctx.tmp)
        ctx.runner.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        f"mlflow=={MLFLOW_VERSION}"], ctx.tmp)
    return venv / "bin" / "mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(argv: list[str], cwd: Path, env: dict, stop_signal: int):
    """A server process in a session of its own, its output in cwd/server.log; stopped by
    `stop_signal` to its process group (then KILL after 20 s)."""
    log = cwd / "server.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, log
    finally:
        try:
            os.killpg(proc.pid, stop_signal)
            proc.wait(timeout=20)
        except (ProcessLookupError, PermissionError):
            pass
        except subprocess.TimeoutExpired:
            kill_group(proc)


def load_mlflow(ctx: Ctx, base: Path) -> dict:
    """`mlflow server` (uvicorn, 1 worker) over SQLite, its job runners off."""
    exe, port = mlflow_exe(ctx), free_port()
    env = dict(ctx.runner.env, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
               MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    argv = [str(exe), "server", "--backend-store-uri", f"sqlite:///{base}/mlflow.db", "--default-artifact-root",
            str(base / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    progress(f"log-metric: starting mlflow server on port {port}")
    with server(argv, base, env, signal.SIGTERM) as (proc, log):
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log, 180)
        time.sleep(2)  # past its start-up work
        return load(ctx, "mlflow", url, "")


def load_wf(ctx: Ctx, base: Path) -> dict:
    """`wf repro` of one stage that writes the tracking URI and token it was given, then sleeps."""
    (base / ".wf").mkdir(parents=True)
    (base / "pipeline.yaml").write_text(
        "stages:\n  serve:\n    cmd: >-\n      printf '%s\\n%s\\n' \"$MLFLOW_TRACKING_URI\" \"$MLFLOW_TRACKING_TOKEN\"\n"
        "      > endpoint.tmp && mv endpoint.tmp endpoint.txt && sleep 600\n")
    endpoint = base / "endpoint.txt"
    # Stopped as by Ctrl-C: wf ends the stage and exits 130.
    with server([ctx.wf, "repro"], base, ctx.runner.env, signal.SIGINT) as (proc, log):
        deadline = time.time() + 30
        while not endpoint.exists():
            if proc.poll() is not None or time.time() > deadline:
                raise BenchError(f"`wf repro` in {base} never started its stage:\n{tail(log.read_text())}")
            time.sleep(0.05)
        uri, token = (endpoint.read_text().split("\n") + ["", ""])[:2]
        if not uri or not token:
            raise BenchError("this wf gives its stages no MLFLOW_TRACKING_URI/MLFLOW_TRACKING_TOKEN: "
                             "it does not serve MLflow's tracking API while a run runs")
        wait_healthy(uri, proc, log, 10)
        return load(ctx, "wf", uri, token)


def case_log_metric(ctx: Ctx) -> None:
    if not shutil.which("wrk"):
        raise BenchError("`wrk` is not installed: apt-get install -y wrk")
    (ctx.tmp / "log-metric" / "wf").mkdir(parents=True)
    ml = load_mlflow(ctx, ctx.tmp / "log-metric")
    wf_res = None
    try:
        wf_res = load_wf(ctx, ctx.tmp / "log-metric" / "wf")
    finally:  # the MLflow figures are reported even when wf's half fails
        def cell(r: list, l: list) -> str:
            return f"{statistics.median(r):,.0f} req/s, p50 {fmt_latency(statistics.median(l))}"
        for conns, (rps, lat) in ml.items():
            w = wf_res[conns] if wf_res else None
            ratio = f"wf/MLflow {fmt_ratio(statistics.median(w[0]) / statistics.median(rps))} req/s" if w else "—"
            ctx.rows.append(Row(f"`runs/log-metric`, wrk, {conns} connection(s), {ctx.runs} × {ctx.args.duration:g} s: "
                                f"wf vs `mlflow server` {MLFLOW_VERSION} (SQLite, 1 worker)",
                                cell(*w) if w else "error", cell(rps, lat), ratio))


# --------------------------------------------------------------------------------------------
# Main

CASES: dict[str, tuple[str, Callable[[Ctx], None]]] = {
    "exp-run-vs-repro": ("`wf exp run -S` against a hand edit + `wf repro`, Iris", case_exp_run),
    "sweep-12": ("a 12-experiment sweep, wf against DVC's queue", case_sweep),
    "exp-show-10k": ("`wf exp show` with 10 000 experiments in the store", case_exp_show),
    "log-metric": ("MLflow runs/log-metric: wf's endpoint against mlflow server", case_log_metric),
}


def run_cases(names, cases, ctx, tmp: Path, keep: bool) -> tuple[list[tuple[str, str]], bool]:
    """Runs the named cases in turn, each in `tmp / name` (removed after it unless `keep`, and
    `tmp` too); returns the failures (case, message) and whether Ctrl-C stopped the run."""
    errors: list[tuple[str, str]] = []
    interrupted = False
    try:
        for n in names:
            progress(f"== {n}: {cases[n][0]}")
            t0 = time.perf_counter()
            try:
                cases[n][1](ctx)
            except BenchError as e:
                progress(f"{n}: FAILED\n{e}")
                errors.append((n, str(e)))
            finally:
                if not keep:
                    shutil.rmtree(tmp / n, ignore_errors=True)
            progress(f"{n}: done in {time.perf_counter() - t0:.0f} s")
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted")
    finally:
        if keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return errors, interrupted


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wf", default=str(REPO / "target" / "release" / "wf"), help="the wf binary")
    p.add_argument("--dvc", default="/tmp/dvcenv/bin/dvc", help="the dvc executable")
    p.add_argument("--runs", type=int, default=5, help="timed runs, after 1 warm-up (default 5)")
    p.add_argument("--dvc-runs", type=int, default=1, help="runs of DVC's sweep, no warm-up (default 1)")
    p.add_argument("--duration", type=float, default=5, help="seconds of each wrk load (default 5)")
    p.add_argument("--connections", default="1,8", help="wrk connections, one load each (default 1,8)")
    p.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES))
    p.add_argument("--quick", action="store_true", help="runs=1, 2 s loads (a smoke test)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per command")
    p.add_argument("--tmpdir", help="where to make the temporary folder (default: $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = p.parse_args()
    if args.quick:
        args.runs, args.duration = 1, 2
    args.connections = [int(c) for c in args.connections.split(",")]
    if args.runs < 1 or args.dvc_runs < 1:
        p.error("--runs and --dvc-runs must be at least 1")
    names = [n.strip() for n in (args.only or ",".join(CASES)).split(",") if n.strip()]
    for n in names:
        if n not in CASES:
            p.error(f"no case {n!r}; cases: {', '.join(CASES)}")
    wf = str(Path(args.wf).resolve())
    dvc = shutil.which(args.dvc) or args.dvc
    if not os.access(wf, os.X_OK):
        sys.exit(f"exp.py: no executable {args.wf} (build it with `cargo build --release`, or pass --wf)")
    if "sweep-12" in names and not os.access(dvc, os.X_OK):
        sys.exit(f"exp.py: no executable {args.dvc}: python3 -m venv /tmp/dvcenv && "
                 "/tmp/dvcenv/bin/pip install dvc==3.67.1, or pass --dvc")

    tmp = Path(tempfile.mkdtemp(prefix="wf-bench-exp-", dir=args.tmpdir)).resolve()
    env = dict(os.environ, SHELL="/bin/sh", NO_COLOR="1", DVC_NO_ANALYTICS="1", GIT_CONFIG_NOSYSTEM="1",
               DVC_SITE_CACHE_DIR=str(tmp / "dvc-site-cache"),
               # DVC's queue workers run `dvc` from PATH: the one measured.
               PATH=os.pathsep.join([str(Path(dvc).parent), os.environ.get("PATH", "")]))
    ctx = Ctx(args, Runner(env, args.timeout), wf, dvc, tmp, args.runs, [])
    versions = {}
    for exe in [wf] + ([dvc] if "sweep-12" in names else []):
        versions[exe] = ctx.runner.run([exe, "--version"], tmp)[1].stdout.strip()
    started = time.perf_counter()
    errors, interrupted = run_cases(names, CASES, ctx, tmp, args.keep)

    argv0 = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    out = [f"Command: `{shlex.join(argv0)}`", "", f"Machine: {machine()[0]}",
           "Engines: " + ", ".join(f"`{e}` ({v})" for e, v in versions.items()) + "; SHELL=/bin/sh",
           f"Runs: 1 warm-up + {args.runs} timed; median (min–max) of wall time" + (" [--quick]" if args.quick else ""),
           "", "| case | wf | other | comparison | target |", "|---|---|---|---|---|"]
    out += [f"| {r.label} | {r.wf} | {r.other} | {r.compare} | {r.target} |" for r in ctx.rows]
    out += [f"| {n} | error | error | — | ✗ |" for n, _ in errors]
    out += ["", f"Total time: {time.perf_counter() - started:.0f} s." + (" Interrupted." if interrupted else "")]
    if errors:
        out += ["", "## Errors"]
        for n, msg in errors:
            out += ["", f"### {n}", "```", msg, "```"]
    print("\n".join(out), flush=True)
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
