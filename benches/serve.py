#!/usr/bin/env python3
"""Load `wf serve` against the model server Iris projects run today, in the same run.

    python3 benches/serve.py [--wf target/release/wf] [--runs 5] [--duration 10]
                             [--connections 1,4,16] [--workers 1,2] [--quick] [--keep] [--tmpdir DIR]

Single-record `POST /predict` under wrk (1 thread, a Lua script for the POST): `wf serve` of the
Iris registry's champion (version 1, logreg) against FastAPI + uvicorn + scikit-learn
(benches/serve_app.py: the same model kind fitted on the same train split), after checking that
both answer the same label for every row of the test split. Requests/s and p50/p99 latency per
connection count. The Markdown tables go to stdout, progress to stderr. Python 3 standard library
only (plus the `wrk` program, and a venv with FastAPI, uvicorn and scikit-learn that the script
makes). See benches/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent
sys.path.insert(0, str(SCRIPT_DIR))
from compare import BenchError, Runner, fmt_ratio, kill_group, machine, progress, tail  # noqa: E402
from exp import UNITS, Ctx, call, fmt_latency, free_port, iris_project, verdict, wait_healthy  # noqa: E402

PINS = {"fastapi": "0.165.0", "uvicorn": "0.55.0", "scikit-learn": "1.9.1", "numpy": "2.4.6"}
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
BODY = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
HEADLINE = 4  # connections of the targets
TARGET_RATIO = 20.0  # wf's requests/s ≥ 20 × FastAPI's (1 worker)
TARGET_P99 = 1e-3  # wf's p99 < 1 ms
LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '%s'
"""


@dataclass
class Server:
    name: str  # "wf", "fastapi-1", ...
    label: str  # as the table shows it
    short: str  # as the text around the table names it
    argv: list[str]
    env: dict
    workers: int = 0  # uvicorn workers; 0 for wf
    url: str = ""
    proc: subprocess.Popen | None = None
    error: str = ""
    # connections -> (requests/s, p50 s, p99 s) of each timed load
    loads: dict[int, list[tuple[float, float, float]]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Servers


def venv_bin(ctx: Ctx, venv: Path) -> Path:
    """The venv's bin/ with the pinned FastAPI, uvicorn and scikit-learn; made on first use."""
    probe = [str(venv / "bin" / "python"), "-c",
             "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))",
             *PINS]
    ok = (venv / "bin" / "uvicorn").exists()
    if ok:
        cp = ctx.runner.run(probe, ctx.tmp, check=False)[1]
        ok = cp.returncode == 0 and json.loads(cp.stdout) == PINS
    if not ok:
        progress(f"installing {', '.join(f'{p}=={v}' for p, v in PINS.items())} into {venv} (a minute)")
        ctx.runner.run([sys.executable, "-m", "venv", str(venv)], ctx.tmp)
        # uvicorn[standard]: uvloop and httptools, what `fastapi[standard]` installs and the
        # FastAPI docs recommend for production.
        reqs = [f"uvicorn[standard]=={v}" if p == "uvicorn" else f"{p}=={v}" for p, v in PINS.items()]
        ctx.runner.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *reqs], ctx.tmp)
    return venv / "bin"


def start(ctx: Ctx, s: Server, cwd: Path) -> None:
    """Starts `s` in a session of its own (stdout to NAME.out, stderr to NAME.err in cwd), finds
    its URL and waits for `GET /health`."""
    out, err = cwd / f"{s.name}.out", cwd / f"{s.name}.err"
    with open(out, "w") as o, open(err, "w") as e:
        s.proc = subprocess.Popen(s.argv, cwd=cwd, env=s.env, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                  start_new_session=True)
    progress(f"{s.name}: started `{shlex.join(s.argv)}` (pid {s.proc.pid})")
    if not s.url:  # wf serve --port 0 prints the URL it listens on
        deadline = time.time() + 30
        while not (m := re.search(r"http://\S+", out.read_text())):
            if s.proc.poll() is not None or time.time() > deadline:
                raise BenchError(f"`{shlex.join(s.argv)}` printed no http:// URL on stdout "
                                 f"(exit status {s.proc.poll()}):\n{tail(err.read_text())}")
            time.sleep(0.05)
        s.url = m.group(0).rstrip("/")
    wait_healthy(s.url, s.proc, err, 120)


def stop(s: Server) -> str:
    """SIGTERM to the server's process group; an error if it does not exit 0 within 20 s (wf),
    or leaves a process behind (any server)."""
    if s.proc is None:
        return ""
    problems = []
    try:
        os.killpg(s.proc.pid, signal.SIGTERM)
        code = s.proc.wait(timeout=20)
        if code != 0 and s.name.startswith("wf"):
            problems.append(f"exited {code} after SIGTERM, not 0")
    except ProcessLookupError:
        problems.append("was gone before SIGTERM")
    except subprocess.TimeoutExpired:
        problems.append("still running 20 s after SIGTERM; killed")
    # Anything left in its group after it exited? Given 10 s: the resource tracker of uvicorn's
    # multiprocessing outlives its parent by about a second.
    deadline = time.time() + 10
    while True:
        try:
            os.killpg(s.proc.pid, 0)
        except ProcessLookupError:
            break
        if time.time() > deadline:
            problems.append("left processes in its group 10 s after it exited; killed")
            break
        time.sleep(0.1)
    kill_group(s.proc)
    progress(f"{s.name}: stopped" + (f": {'; '.join(problems)}" if problems else ""))
    return f"{s.label}: {'; '.join(problems)}" if problems else ""


# --------------------------------------------------------------------------------------------
# Checks and loads


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def agreement(servers: list[Server], test_csv: Path) -> str:
    """Every row of test.csv to every server: the labels must all be the same; returns the
    line that reports it with the largest difference of a probability to wf's."""
    rows = read_csv(test_csv)
    answers = {s.name: [call(s.url, "/predict", {k: float(r[k]) for k in FEATURES}) for r in rows] for s in servers}
    first = servers[0]
    diffs = {}
    for s in servers[1:]:
        for i, (a, b) in enumerate(zip(answers[first.name], answers[s.name])):
            if a["label"] != b["label"]:
                raise BenchError(f"row {i + 2} of {test_csv}: {first.label} answers {a['label']!r}, "
                                 f"{s.label} {b['label']!r}:\n{json.dumps(a)}\n{json.dumps(b)}")
            if set(a["probabilities"]) != set(b["probabilities"]):
                raise BenchError(f"{first.label} and {s.label} name different classes: "
                                 f"{sorted(a['probabilities'])} and {sorted(b['probabilities'])}")
            d = max(abs(a["probabilities"][c] - b["probabilities"][c]) for c in a["probabilities"])
            diffs[s.short] = max(diffs.get(s.short, 0.0), d)
    line = (f"Agreement: {'the ' + str(len(servers)) + ' servers' if len(servers) > 2 else 'both servers'} "
            f"answer the same label for each of the {len(rows)} rows of the test split")
    if diffs:
        line += f"; largest difference of a probability from {first.short}'s: " + \
            ", ".join(f"{d:.1e} ({n})" for n, d in diffs.items())
    return line


def wrk(ctx: Ctx, url: str, conns: int, seconds: float) -> tuple[float, float, float]:
    """One wrk load of POST /predict: (requests/s, p50 s, p99 s); any non-2xx or socket error fails."""
    script = ctx.tmp / "predict.lua"
    argv = ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds:g}s", "--timeout", "10s", "--latency",
            "-s", str(script), url + "/predict"]
    _, cp = ctx.runner.run(argv, ctx.tmp)
    out = cp.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    pct = {p: re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s|m)\b", out, re.M) for p in ("50", "99")}
    if not rps or not all(pct.values()) or "Non-2xx" in out or re.search(r"Socket errors:.*[1-9]", out):
        raise BenchError(f"`{shlex.join(argv)}` failed or got errors:\n{tail(out)}\n{tail(cp.stderr)}")
    p50, p99 = (float(m.group(1)) * UNITS[m.group(2)] for m in pct.values())
    return float(rps.group(1)), p50, p99


def load_all(ctx: Ctx, servers: list[Server]) -> None:
    """A 1 s warm-up per server, then --runs loads of --duration s per connection count, the
    servers taking turns (a load each, in an order that rotates), so that drift in the machine's
    load hits them alike."""
    live = lambda: [s for s in servers if not s.error]  # noqa: E731
    for s in live():
        try:
            wrk(ctx, s.url, HEADLINE, 1)
        except BenchError as e:
            s.error = str(e)
    for conns in ctx.args.connections:
        for i in range(ctx.runs):
            turn = live()
            k = i % len(turn) if turn else 0
            for s in turn[k:] + turn[:k]:
                try:
                    r = wrk(ctx, s.url, conns, ctx.args.duration)
                except BenchError as e:
                    s.error = str(e)
                    continue
                s.loads.setdefault(conns, []).append(r)
                progress(f"  {s.name}, {conns} connection(s), run {i + 1}/{ctx.runs}: {r[0]:,.0f} req/s, "
                         f"p50 {fmt_latency(r[1])}, p99 {fmt_latency(r[2])}")


# --------------------------------------------------------------------------------------------
# Report


def fmt_rps(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:,.0f}" + (f" ({min(values):,.0f}–{max(values):,.0f})" if len(values) > 1 else " (1 run)")


def tables(ctx: Ctx, servers: list[Server]) -> list[str]:
    wf = next((s for s in servers if s.name == "wf-1"), None)
    base = next((s for s in servers if s.name == "fastapi-1"), None)
    out = []
    for conns in ctx.args.connections:
        head = " (headline)" if conns == HEADLINE else ""
        out += ["", f"### {conns} connection{'s' if conns > 1 else ''}{head}", "",
                "| server | req/s, median (min–max) | p50 | p99 | wf/this, req/s | target |",
                "|---|---|---|---|---|---|"]
        wf_rps = statistics.median(r[0] for r in wf.loads[conns]) if wf and conns in wf.loads else None
        for s in servers:
            loads = s.loads.get(conns)
            if not loads:
                out.append(f"| {s.label} | error | — | — | — | {'✗' if conns == HEADLINE else '—'} |")
                continue
            rps = [r[0] for r in loads]
            p50, p99 = (statistics.median(r[k] for r in loads) for k in (1, 2))
            ratio = "—" if s is wf or wf_rps is None else fmt_ratio(wf_rps / statistics.median(rps))
            if s is not wf and s.name.startswith("wf") and wf_rps is not None:
                ratio = "—"
            target = "—"
            if conns == HEADLINE and s is wf:
                target = f"p99 < 1 ms {verdict(p99 < TARGET_P99)}"
            elif conns == HEADLINE and s is base:
                ok = wf_rps is not None and wf_rps >= TARGET_RATIO * statistics.median(rps)
                target = f"wf ≥ {TARGET_RATIO:.0f}× {verdict(ok)}"
            out.append(f"| {s.label} | {fmt_rps(rps)} | {fmt_latency(p50)} | {fmt_latency(p99)} | {ratio} | {target} |")
    return out


# --------------------------------------------------------------------------------------------
# Main


def champion(project: Path) -> tuple[int, dict]:
    """The champion's version and meta.json in the project's registry."""
    reg = project / "out" / "registry"
    version = json.loads((reg / "aliases.json").read_text())["champion"]
    return version, json.loads((reg / "versions" / str(version) / "meta.json").read_text())


def run(ctx: Ctx, servers: list[Server], lines: list[str]) -> None:
    """Makes the project and the venv, starts the servers into `servers`, checks them and loads
    them; the report's extra lines go to `lines`."""
    args = ctx.args
    progress("Iris project: copy of specs/ and data/, `wf -C specs repro` (untimed)")
    project = iris_project(ctx, ctx.tmp / "iris")
    version, meta = champion(project)
    if meta["model"] != "logreg":
        raise BenchError(f"the champion of {project}/out/registry is version {version}, a {meta['model']}; "
                         "the baseline serves a logreg")
    alpha = float(meta["params"]["alpha"])
    lines.append(f"Baseline's model: `Pipeline(StandardScaler(), LogisticRegression(C={1 / alpha:g}))`, C = 1/alpha "
                 f"of wf's logreg (alpha {alpha:g}), fitted at its start-up on the train split wf wrote")
    bin_dir = venv_bin(ctx, Path(args.venv))
    train = project / "out" / "prepared" / "train.csv"

    for w in args.wf_workers:
        # One worker, as uvicorn's one event loop: the pair the targets compare. The default
        # (a thread per CPU) shares this machine's 2 cores with wrk.
        flags = ["--workers", str(w)] if w else []
        label = f"`wf serve --workers {w}`" if w else "`wf serve` (a worker per CPU)"
        servers.append(Server(f"wf-{w}" if w else "wf", f"{label} (champion: v{version}, logreg)",
                              f"wf {w}w" if w else "wf",
                              [ctx.wf, "-C", "specs", "serve", "--host", "127.0.0.1", "--port", "0", *flags],
                              ctx.runner.env))
    for w in args.workers:
        # No access log: uvicorn's default writes a line per request, which would cost FastAPI
        # more than it costs wf.
        argv = [str(bin_dir / "uvicorn"), "serve_app:app", "--app-dir", str(SCRIPT_DIR), "--host", "127.0.0.1",
                "--port", str(free_port()), "--workers", str(w), "--no-access-log", "--log-level", "warning"]
        env = dict(ctx.runner.env, SERVE_APP_TRAIN=str(train), SERVE_APP_C=repr(1 / alpha))
        servers.append(Server(f"fastapi-{w}", f"FastAPI + uvicorn, {w} worker{'s' if w > 1 else ''}",
                              f"FastAPI {w}w", argv, env,
                              workers=w, url=f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"))

    cp = ctx.runner.run([ctx.wf, "serve", "--help"], project, check=False)[1]
    if cp.returncode != 0:
        for s in servers:
            if s.name.startswith("wf"):
                s.error = f"`{ctx.wf} serve --help` fails: this wf has no `serve` command:\n{tail(cp.stderr)}"
    for s in servers:
        if not s.error:
            try:
                start(ctx, s, project)
            except BenchError as e:
                s.error = str(e)
    live = [s for s in servers if not s.error]
    if len(live) > 1:
        lines.append(agreement(live, project / "out" / "prepared" / "test.csv"))
        progress(lines[-1])
    (ctx.tmp / "predict.lua").write_text(LUA % json.dumps(BODY))
    load_all(ctx, servers)
    lines.append("Load average after the loads: %.2f %.2f %.2f" % os.getloadavg())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wf", default=str(REPO / "target" / "release" / "wf"), help="the wf binary")
    p.add_argument("--runs", type=int, default=5, help="loads per server and connection count, after a 1 s warm-up (default 5)")
    p.add_argument("--duration", type=float, default=10, help="seconds of each wrk load (default 10)")
    p.add_argument("--connections", default="1,4,16", help="wrk connections, one table each (default 1,4,16)")
    p.add_argument("--wf-workers", default="1,0", help="wf serve --workers values, one wf server each; 0: "
                                                       "the default, a thread per CPU (default 1,0; 1 is the one the "
                                                       "targets compare)")
    p.add_argument("--workers", default="1,2", help="uvicorn workers, one FastAPI server each (default 1,2; "
                                                    "1 is the baseline of the targets)")
    p.add_argument("--venv", default=str(Path(os.environ.get("TMPDIR") or "/tmp") / "wf-bench-serve"),
                   help="the venv with FastAPI, uvicorn and scikit-learn; made if missing (default $TMPDIR or /tmp)")
    p.add_argument("--quick", action="store_true", help="runs=1, 2 s loads (a smoke test)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed per command")
    p.add_argument("--tmpdir", help="where to make the temporary folder (default: $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary project and the servers' output")
    args = p.parse_args()
    if args.quick:
        args.runs, args.duration = 1, 2
    try:
        args.connections = [int(c) for c in args.connections.split(",")]
        args.workers = [int(w) for w in args.workers.split(",")]
        args.wf_workers = [int(w) for w in args.wf_workers.split(",")]
    except ValueError:
        p.error("--connections and --workers take comma-separated numbers")
    if args.runs < 1 or min(args.connections) < 1 or min(args.workers) < 1:
        p.error("--runs, --connections and --workers must be at least 1")
    if 1 not in args.workers or 1 not in args.wf_workers:
        p.error("--workers and --wf-workers must include 1: the pair the targets compare")
    wf = str(Path(args.wf).resolve())
    if not os.access(wf, os.X_OK):
        sys.exit(f"serve.py: no executable {args.wf} (build it with `cargo build --release`, or pass --wf)")
    if not shutil.which("wrk"):
        sys.exit("serve.py: `wrk` is not installed: apt-get install -y wrk")

    # SIGTERM, and SIGINT even where a shell started the script in the background with SIGINT
    # ignored, stop the run as Ctrl-C does: the servers are stopped and the folder removed.
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="wf-bench-serve-", dir=args.tmpdir)).resolve()
    env = dict(os.environ, SHELL="/bin/sh", NO_COLOR="1", GIT_CONFIG_NOSYSTEM="1")
    ctx = Ctx(args, Runner(env, args.timeout), wf, "", tmp, args.runs, [])
    wf_version = ctx.runner.run([wf, "--version"], tmp)[1].stdout.strip()
    header = [f"Machine: {machine()[0]}"]
    started = time.perf_counter()
    servers: list[Server] = []
    errors: list[str] = []
    lines: list[str] = []
    interrupted = False
    try:
        run(ctx, servers, lines)
    except BenchError as e:
        errors.append(str(e))
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted")
    finally:
        for s in servers:
            problem = stop(s)
            if problem:
                errors.append(problem)
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    errors = [f"{s.label}: {s.error}" for s in servers if s.error] + errors

    argv0 = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    pins = ", ".join(f"{p} {v}" for p, v in PINS.items())
    out = [f"Command: `{shlex.join(argv0)}`", "", *header,
           f"Servers: `{wf}` ({wf_version}); FastAPI + uvicorn[standard] ({pins}), `serve_app.py`, access log off",
           f"Load: `wrk -t 1 -c N -d {args.duration:g}s --latency`, single-record `POST /predict`; "
           f"1 warm-up of 1 s + {args.runs} loads per server and connection count, servers taking turns; "
           "p50 and p99 are the medians of the loads' own" + (" [--quick]" if args.quick else ""),
           *lines]
    if servers:
        out += tables(ctx, servers)
    out += ["", f"Total time: {time.perf_counter() - started:.0f} s." + (" Interrupted." if interrupted else "")]
    if errors:
        out += ["", "## Errors"]
        for msg in errors:
            out += ["", "```", msg, "```"]
    print("\n".join(out), flush=True)
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
