#!/usr/bin/env python3
"""wf's overhead per stage on a Slurm cluster, beyond Slurm's own scheduling latency.

    SLURM_CONF=... python3 benches/slurm.py [--wf target/release/wf] [--stages 50] [--runs 5]

Needs a running cluster (`eval "$(.ci/slurm-cluster start /tmp/wf-slurm)"`). For N independent
trivial stages (each `echo i > out/i.txt`) it times, in the same run:

  slurm   N `sbatch --parsable --wrap 'echo i > out/i.txt'` at once (16 at a time, as wf
          submits ready stages together), then `squeue` every 50 ms
          until every job has ended: Slurm's own submit-to-done latency for the burst;
  wf      `wf repro --executor slurm` of the same N stages (forced, so every stage runs), with
          the default poll interval (0.5 s) and with 0.05 s;
  local   `wf repro` of the same stages on this machine, for scale.

Overhead per stage = (wf - slurm) / N, from the medians and from the fastest runs (Slurm's own
time for the burst varies between scheduling cycles). 1 warm-up + --runs timed runs.
Markdown to stdout, progress to stderr. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress(msg: str) -> None:
    print(f"[slurm-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    cp = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)
    if cp.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}")
    return cp


def project(d: Path, n: int, poll: float | None) -> None:
    (d / ".wf").mkdir(parents=True, exist_ok=True)
    (d / "out").mkdir(exist_ok=True)
    stages = "".join(
        f"  s{i}:\n    cmd: echo {i} > out/{i}.txt\n    outs: [out/{i}.txt]\n" for i in range(n)
    )
    (d / "pipeline.yaml").write_text("stages:\n" + stages)
    config = "" if poll is None else f"[executor.slurm]\npoll_interval = {poll}\n"
    (d / ".wf" / "config").write_text(config)


def slurm_burst(d: Path, n: int) -> float:
    """Submit n trivial jobs at once and wait for all to end, polling every 50 ms."""
    (d / "out").mkdir(parents=True, exist_ok=True)
    def submit(i: int) -> str:
        cp = run(["sbatch", "--parsable", f"--chdir={d}", "--output=/dev/null",
                  "--job-name=bench", "--wrap", f"echo {i} > out/{i}.txt"], d)
        return cp.stdout.strip().split(";")[0]

    start = time.perf_counter()
    # Submitted concurrently, as wf submits the stages that are ready together.
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(submit, range(n)))
    pending = set(ids)
    while pending:
        time.sleep(0.05)
        cp = run(["squeue", "-h", "-t", "all", "-j", ",".join(sorted(pending)), "-o", "%i|%T"], d)
        for line in cp.stdout.splitlines():
            jid, state = line.strip().split("|", 1)
            if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
                if state != "COMPLETED":
                    raise SystemExit(f"job {jid} ended {state}")
                pending.discard(jid)
    return time.perf_counter() - start


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up
    return [fn() for _ in range(runs)]


def fmt(ts: list[float]) -> str:
    return f"{statistics.median(ts):.2f} s ({min(ts):.2f}-{max(ts):.2f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wf", default=str(ROOT / "target" / "release" / "wf"))
    p.add_argument("--stages", type=int, default=50)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    if not os.environ.get("SLURM_CONF"):
        raise SystemExit("SLURM_CONF is not set: start a cluster with `.ci/slurm-cluster start DIR`")
    wf, n = str(Path(args.wf).resolve()), args.stages
    rows = []
    with tempfile.TemporaryDirectory(prefix="wf-slurm-bench-") as tmp:
        base = Path(tmp)
        progress(f"slurm alone: {n} jobs at once")
        burst = base / "burst"
        burst.mkdir()
        slurm = timed(lambda: slurm_burst(burst, n), args.runs)
        rows.append((f"Slurm alone ({n} sbatch, squeue every 50 ms)", slurm))
        for label, poll in (("wf repro --executor slurm (poll 0.5 s, default)", None),
                            ("wf repro --executor slurm (poll 0.05 s)", 0.05)):
            d = base / f"wf-{poll}"
            project(d, n, poll)
            progress(label)

            def once(d: Path = d) -> float:
                start = time.perf_counter()
                run([wf, "-q", "repro", "-f", "--executor", "slurm"], d)
                return time.perf_counter() - start

            rows.append((label, timed(once, args.runs)))
        d = base / "local"
        project(d, n, None)
        progress("wf repro, local")

        def local() -> float:
            start = time.perf_counter()
            run([wf, "-q", "repro", "-f"], d)
            return time.perf_counter() - start

        rows.append(("wf repro, local processes", timed(local, args.runs)))
    base_median, base_min = statistics.median(slurm), min(slurm)
    print(f"{n} independent trivial stages, {args.runs} runs after a warm-up; "
          f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores\n")
    print("| what | wall time, median (min-max) | wf overhead per stage beyond Slurm: medians; fastest runs |")
    print("|---|---|---|")
    for label, ts in rows:
        over = ""
        if label.startswith("wf repro --executor"):
            by_median = (statistics.median(ts) - base_median) / n * 1000
            by_min = (min(ts) - base_min) / n * 1000
            over = f"{by_median:+.1f} ms; {by_min:+.1f} ms"
        print(f"| {label} | {fmt(ts)} | {over} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
