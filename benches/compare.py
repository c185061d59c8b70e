#!/usr/bin/env python3
"""Time `wf` against DVC on the same generated projects, in the same run.

    python3 benches/compare.py [--wf target/release/wf] [--dvc /tmp/dvcenv/bin/dvc]
                               [--runs 5] [--dvc-runs 1] [--only NAME,...] [--quick]

Every case builds its project twice in a temporary folder, one copy per engine, each a git
repository with its files committed (the DVC copy also `dvc init`-ed), then times the engines'
commands: 1 warm-up + N timed runs, median (min-max). The Markdown table goes to stdout,
progress to stderr. Python 3 standard library only. See benches/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import random
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
from typing import Callable, Optional

GIB = 1 << 30
# wf's state table does not remember a file modified less than 2 s ago ("racy clean", see
# src/hash/state.rs RACY_NS): a status that soon after a write re-hashes it.  Before timing a
# no-op we wait this long, for both engines, so that the warm-up run can record every file.
RACY_WAIT_S = 2.2
SCRIPT_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------------
# Output helpers


def progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A command failed, or the project is not in the state a case expects."""


def tail(text: str, lines: int = 15) -> str:
    rows = text.rstrip().splitlines()
    cut = rows[-lines:]
    prefix = [f"... ({len(rows) - lines} more lines)"] if len(rows) > lines else []
    return "\n".join(prefix + cut)


def fmt_time(t: float) -> str:
    if t < 1.0:
        return f"{t * 1000:.1f} ms" if t < 0.1 else f"{t * 1000:.0f} ms"
    return f"{t:.2f} s" if t < 100 else f"{t:.0f} s"


def fmt_stats(times: list[float]) -> str:
    if not times:
        return "—"
    med = statistics.median(times)
    if len(times) == 1:
        return f"{fmt_time(med)} (1 run)"
    return f"{fmt_time(med)} ({fmt_time(min(times))}–{fmt_time(max(times))})"


def fmt_ratio(r: float) -> str:
    return f"{r:.0f}×" if r >= 10 else f"{r:.2f}×"


# --------------------------------------------------------------------------------------------
# Running commands


class Runner:
    """Runs commands with the benchmark environment; times them and checks their exit status."""

    def __init__(self, env: dict[str, str], timeout: float):
        self.env = env
        self.timeout = timeout

    def run(self, argv: list[str], cwd: Path, *, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
        """Runs argv in cwd; returns (wall seconds, completed process). Raises BenchError on a
        non-zero exit (when check) or a timeout, with the tail of stderr/stdout."""
        start = time.perf_counter()
        # A session of its own, so that a timeout or ^C can end the command *and* its children
        # (the stages' shells) by process group.
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise BenchError(
                f"timed out after {self.timeout:.0f} s: {shlex.join(argv)}\n  in {cwd}\n"
                f"stderr tail:\n{tail(err.decode(errors='replace'))}"
            )
        except BaseException:
            kill_group(proc)
            raise
        elapsed = time.perf_counter() - start
        cp = subprocess.CompletedProcess(
            argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )
        if check and cp.returncode != 0:
            raise BenchError(
                f"exit status {cp.returncode}: {shlex.join(argv)}\n  in {cwd}\n"
                f"stderr tail:\n{tail(cp.stderr) or '(empty)'}\n"
                f"stdout tail:\n{tail(cp.stdout) or '(empty)'}"
            )
        return elapsed, cp


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@dataclass
class Engine:
    name: str  # "wf" or "DVC"
    exe: str

    def repro(self, *extra: str) -> list[str]:
        return [self.exe, "repro", *extra]

    def status(self, *extra: str) -> list[str]:
        return [self.exe, "status", *extra]


@dataclass
class Ctx:
    args: argparse.Namespace
    runner: Runner
    wf: Engine
    dvc: Engine
    tmp: Path
    runs: int


def measure(
    ctx: Ctx,
    label: str,
    argv: list[str],
    *,
    cwd: Optional[Path] = None,
    prepare: Optional[Callable[[int], Path]] = None,
    check: Optional[Callable[[subprocess.CompletedProcess, Path], None]] = None,
    runs: Optional[int] = None,
    warmup: int = 1,
) -> list[float]:
    """warmup + runs executions of argv, only the command itself timed.  `prepare(i)` runs
    untimed before each execution and returns the folder to run in (else `cwd`); `check` validates
    each execution's output."""
    runs = ctx.runs if runs is None else runs
    times: list[float] = []
    for i in range(warmup + runs):
        where = prepare(i) if prepare else cwd
        assert where is not None
        elapsed, cp = ctx.runner.run(argv, where)
        if check:
            check(cp, where)
        kind = "warm-up" if i < warmup else f"run {i - warmup + 1}/{runs}"
        progress(f"  {label}: {kind}: {fmt_time(elapsed)}")
        if i >= warmup:
            times.append(elapsed)
    return times


def both(cp: subprocess.CompletedProcess) -> str:
    """stdout and stderr: wf reports stages on stderr, DVC on stdout."""
    return cp.stdout + "\n" + cp.stderr


def expect_noop(cp: subprocess.CompletedProcess, where: Path) -> None:
    """A no-op repro runs nothing; a no-op status says everything is up to date."""
    if "Running stage" in both(cp):
        raise BenchError(
            f"`{shlex.join(cp.args)}` in {where} ran stages although nothing changed:\n"
            f"{tail(both(cp))}"
        )


def expect_up_to_date(cp: subprocess.CompletedProcess, where: Path) -> None:
    if "up to date" not in both(cp):
        raise BenchError(
            f"`{shlex.join(cp.args)}` in {where} does not report the pipeline up to date:\n"
            f"stdout tail:\n{tail(cp.stdout) or '(empty)'}\nstderr tail:\n{tail(cp.stderr) or '(empty)'}"
        )


# --------------------------------------------------------------------------------------------
# Projects


def git_commit_all(ctx: Ctx, d: Path) -> None:
    ctx.runner.run(["git", "add", "-A"], d)
    ctx.runner.run(
        [
            "git", "-c", "user.name=bench", "-c", "user.email=bench@localhost",
            "-c", "commit.gpgsign=false", "commit", "-q", "-m", "bench project",
        ],
        d,
    )


def init_repo(ctx: Ctx, d: Path, engine: Engine) -> None:
    """git init (+ dvc init for DVC) and commit every file in d, as DVC-SEMANTICS §12."""
    ctx.runner.run(["git", "init", "-q"], d)
    if engine is ctx.dvc:
        ctx.runner.run([engine.exe, "init", "-q"], d)
        # No analytics daemon, no update check: DVC at its fastest.
        ctx.runner.run([engine.exe, "config", "core.analytics", "false"], d)
        ctx.runner.run([engine.exe, "config", "core.check_update", "false"], d)
    git_commit_all(ctx, d)


def chain_dep(i: int, shape: str) -> str:
    if i == 0:
        return "data/in.txt"
    parent = i - 1 if shape == "linear" else (i - 1) // 2
    return f"data/s{parent}.txt"


def chain_cmd(i: int, shape: str) -> str:
    return f"cat {chain_dep(i, shape)} > data/s{i}.txt && echo s{i} >> data/s{i}.txt"


def write_chain(d: Path, n: int, shape: str) -> None:
    """n stages; stage i deps the out of stage i-1 (linear) or (i-1)//2 (branching)."""
    (d / "data").mkdir(parents=True)
    (d / "data" / "in.txt").write_text("input\n")
    lines = ["stages:"]
    for i in range(n):
        lines += [
            f"  s{i}:",
            f"    cmd: {chain_cmd(i, shape)}",
            f"    deps: [{chain_dep(i, shape)}]",
            f"    outs: [data/s{i}.txt]",
        ]
    (d / "dvc.yaml").write_text("\n".join(lines) + "\n")


def new_project(ctx: Ctx, case: str, engine: Engine, write: Callable[[Path], None]) -> Path:
    d = ctx.tmp / case / engine.name.lower()
    d.mkdir(parents=True)
    write(d)
    init_repo(ctx, d, engine)
    return d


def full_repro_setup(ctx: Ctx, engine: Engine, d: Path, n: int, shape: str) -> None:
    """Brings a chain project to its all-up-to-date state, untimed."""
    if engine is ctx.dvc and ctx.args.dvc_setup == "commit":
        # `dvc repro` of N trivial stages is O(N^2) (506 s for 500 in §12).  Running the same
        # commands in one shell and `dvc commit -f` leaves the same dvc.lock, cache, run-cache
        # and .gitignore entries in seconds (checked on 100 stages).
        script = "set -e\n" + "\n".join(chain_cmd(i, shape) for i in range(n)) + "\n"
        (d / ".bench-setup.sh").write_text(script)
        ctx.runner.run(["/bin/sh", ".bench-setup.sh"], d)
        (d / ".bench-setup.sh").unlink()
        ctx.runner.run([engine.exe, "commit", "-f", "-q"], d)
    else:
        ctx.runner.run(engine.repro(), d)
    _, cp = ctx.runner.run(engine.status(), d)
    expect_up_to_date(cp, d)


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class Target:
    kind: str  # "ratio" (DVC/wf >= value), "max_s" (wf <= value), "gbps" (wf >= value GB/s)
    value: float
    size_bytes: int = 0

    def describe(self, wf_med: float, dvc_med: Optional[float]) -> tuple[str, bool]:
        if self.kind == "ratio":
            assert dvc_med is not None
            ok = dvc_med / wf_med >= self.value
            return f"≥ {self.value:.0f}×", ok
        if self.kind == "max_s":
            return f"wf ≤ {self.value} s", wf_med <= self.value
        if self.kind == "gbps":
            got = self.size_bytes / wf_med / 1e9
            return f"wf ≥ {self.value} GB/s (got {got:.2f})", got >= self.value
        raise ValueError(self.kind)


@dataclass
class Row:
    label: str
    wf: list[float] = field(default_factory=list)
    dvc: list[float] = field(default_factory=list)
    target: Optional[Target] = None
    note: str = ""


@dataclass
class Case:
    name: str
    big: bool  # skipped by --quick unless named in --only
    about: str
    run: Callable[[Ctx], list[Row]]


# --------------------------------------------------------------------------------------------
# Cases


def case_noop(n: int, shape: str) -> Callable[[Ctx], list[Row]]:
    def run(ctx: Ctx) -> list[Row]:
        name = f"noop-{shape}-{n}"
        shape_word = "linear" if shape == "linear" else "branching"
        repro = Row(f"no-op `repro`, {n} stages, {shape_word}")
        status = Row(f"no-op `status`, {n} stages, {shape_word}")
        if n >= 500:
            repro.target = Target("ratio", 200)
        dirs = {}
        for eng in (ctx.wf, ctx.dvc):
            progress(f"{name}: {eng.name}: generating and reproducing {n} stages (untimed)")
            d = new_project(ctx, name, eng, lambda p: write_chain(p, n, shape))
            full_repro_setup(ctx, eng, d, n, shape)
            dirs[eng.name] = d
        time.sleep(RACY_WAIT_S)
        for eng, attr in ((ctx.wf, "wf"), (ctx.dvc, "dvc")):
            d = dirs[eng.name]
            setattr(repro, attr, measure(ctx, f"{eng.name} repro", eng.repro(), cwd=d, check=expect_noop))
            setattr(status, attr, measure(ctx, f"{eng.name} status", eng.status(), cwd=d, check=expect_up_to_date))
        return [repro, status]

    return run


def case_full(n: int, shape: str) -> Callable[[Ctx], list[Row]]:
    def run(ctx: Ctx) -> list[Row]:
        name = f"full-{shape}-{n}"
        shape_word = "linear" if shape == "linear" else "branching"
        row = Row(f"first full `repro`, {n} stages, {shape_word}", target=Target("ratio", 50))
        for eng, attr in ((ctx.wf, "wf"), (ctx.dvc, "dvc")):
            progress(f"{name}: {eng.name}: generating the template project")
            template = new_project(ctx, name, eng, lambda p: write_chain(p, n, shape))
            runs_dir = ctx.tmp / name / f"{eng.name.lower()}-runs"
            runs_dir.mkdir()

            def prepare(i: int, template: Path = template, runs_dir: Path = runs_dir) -> Path:
                # A fresh copy of the committed project for every run (untimed).
                fresh = runs_dir / f"run{i}"
                if i > 0:
                    shutil.rmtree(runs_dir / f"run{i - 1}", ignore_errors=True)
                shutil.copytree(template, fresh, symlinks=True)
                return fresh

            def check(cp: subprocess.CompletedProcess, where: Path) -> None:
                last = where / "data" / f"s{n - 1}.txt"
                if not last.exists() or both(cp).count("Running stage") != n:
                    raise BenchError(
                        f"`{shlex.join(cp.args)}` in {where} did not run all {n} stages:\n{tail(both(cp))}"
                    )

            if eng is ctx.dvc:
                times = measure(ctx, f"{eng.name} repro", eng.repro(), prepare=prepare, check=check,
                                runs=ctx.args.dvc_runs, warmup=0)
            else:
                times = measure(ctx, f"{eng.name} repro", eng.repro(), prepare=prepare, check=check)
            setattr(row, attr, times)
            shutil.rmtree(runs_dir, ignore_errors=True)
        row.note = f"DVC: {ctx.args.dvc_runs} run{'s' if ctx.args.dvc_runs > 1 else ''}, no warm-up"
        return [row]

    return run


def write_sleepers(d: Path, n: int = 16) -> None:
    (d / "out").mkdir()
    lines = ["stages:"]
    for i in range(n):
        lines += [
            f"  p{i}:",
            f"    cmd: sleep 1 && echo p{i} > out/p{i}.txt",
            f"    outs: [out/p{i}.txt]",
        ]
    (d / "dvc.yaml").write_text("\n".join(lines) + "\n")
    (d / "out" / ".keep").write_text("")


def case_sleep(ctx: Ctx) -> list[Row]:
    name = "sleep16"
    j2 = Row("16 × `sleep 1`, `repro -f` (wf `-j 2`; DVC serial)", target=Target("max_s", 8.3))
    j16 = Row("16 × `sleep 1`, `repro -f` (wf `-j 16`; DVC serial)", target=Target("max_s", 1.1))
    wf_dir = new_project(ctx, name, ctx.wf, write_sleepers)
    dvc_dir = new_project(ctx, name, ctx.dvc, write_sleepers)

    def ran_all(cp: subprocess.CompletedProcess, where: Path) -> None:
        if both(cp).count("Running stage") != 16:
            raise BenchError(f"`{shlex.join(cp.args)}` in {where} did not run 16 stages:\n{tail(both(cp))}")

    j2.wf = measure(ctx, "wf repro -f -j 2", ctx.wf.repro("-f", "-j", "2"), cwd=wf_dir, check=ran_all)
    j16.wf = measure(ctx, "wf repro -f -j 16", ctx.wf.repro("-f", "-j", "16"), cwd=wf_dir, check=ran_all)
    dvc_times = measure(ctx, "DVC repro -f", ctx.dvc.repro("-f"), cwd=dvc_dir, check=ran_all)
    j2.dvc = dvc_times
    j16.dvc = list(dvc_times)
    j16.note = "same DVC runs as the row above"
    return [j2, j16]


def write_random(path: Path, size: int, chunk: int = 16 << 20) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n


def case_hash(ctx: Ctx) -> list[Row]:
    name = "hash-1g"
    size = GIB
    need = 2 * size + (256 << 20)
    free = shutil.disk_usage(ctx.tmp).free
    if free < need:
        raise BenchError(f"{ctx.tmp} has {free / GIB:.1f} GiB free; this case needs {need / GIB:.1f} GiB")
    spec = "stages:\n  count:\n    cmd: wc -c < big.bin > n.txt\n    deps: [big.bin]\n    outs: [n.txt]\n"
    progress(f"{name}: writing 1 GiB of random data (untimed)")
    src = ctx.tmp / name / "big.bin"
    (ctx.tmp / name).mkdir(parents=True)
    write_random(src, size)

    def write(d: Path) -> None:
        (d / "dvc.yaml").write_text(spec)
        (d / ".gitignore").write_text("/big.bin\n")  # not worth 1 GiB in git; no effect on status
        shutil.copyfile(src, d / "big.bin")

    dirs = {}
    for eng in (ctx.wf, ctx.dvc):
        progress(f"{name}: {eng.name}: project and full repro (untimed)")
        d = new_project(ctx, name, eng, write)
        ctx.runner.run(eng.repro(), d)
        dirs[eng.name] = d
    src.unlink()
    touched = Row("`status` after `touch` of a 1 GiB dep (one re-hash)", target=Target("gbps", 2.5, size))
    noop = Row("no-op `status`, 1 GiB dep (metadata only)")
    for eng, attr in ((ctx.wf, "wf"), (ctx.dvc, "dvc")):
        d = dirs[eng.name]

        def touch(_i: int, d: Path = d) -> Path:
            os.utime(d / "big.bin")
            return d

        setattr(touched, attr, measure(ctx, f"{eng.name} status after touch", eng.status(), prepare=touch,
                                       check=expect_up_to_date))
    time.sleep(RACY_WAIT_S)
    for eng, attr in ((ctx.wf, "wf"), (ctx.dvc, "dvc")):
        setattr(noop, attr, measure(ctx, f"{eng.name} no-op status", eng.status(), cwd=dirs[eng.name],
                                    check=expect_up_to_date))
    dvc_gbps = size / statistics.median(touched.dvc) / 1e9
    touched.note = f"DVC hashes at {dvc_gbps:.2f} GB/s"
    return [touched, noop]


def case_dir(ctx: Ctx) -> list[Row]:
    name = "dir-10k"
    count, size = 10_000, 4096
    spec = "stages:\n  list:\n    cmd: ls bigdir | wc -l > count.txt\n    deps: [bigdir]\n    outs: [count.txt]\n"
    progress(f"{name}: writing {count} × 4 KiB files (untimed)")
    src = ctx.tmp / name / "bigdir"
    src.mkdir(parents=True)
    blob = os.urandom(count * size)
    for i in range(count):
        (src / f"f{i:05d}.bin").write_bytes(blob[i * size:(i + 1) * size])

    def write(d: Path) -> None:
        (d / "dvc.yaml").write_text(spec)
        (d / ".gitignore").write_text("/bigdir/\n")
        shutil.copytree(src, d / "bigdir")

    dirs = {}
    for eng in (ctx.wf, ctx.dvc):
        progress(f"{name}: {eng.name}: project and full repro (untimed)")
        d = new_project(ctx, name, eng, write)
        ctx.runner.run(eng.repro(), d)
        dirs[eng.name] = d
    shutil.rmtree(src)
    time.sleep(RACY_WAIT_S)
    noop = Row(f"no-op `status`, folder dep of {count:,} × 4 KiB files")
    touched = Row(f"`status` after `touch` of 1 file in that folder")
    for eng, attr in ((ctx.wf, "wf"), (ctx.dvc, "dvc")):
        d = dirs[eng.name]
        setattr(noop, attr, measure(ctx, f"{eng.name} no-op status", eng.status(), cwd=d, check=expect_up_to_date))

        def touch(_i: int, d: Path = d) -> Path:
            os.utime(d / "bigdir" / "f05000.bin")
            return d

        setattr(touched, attr, measure(ctx, f"{eng.name} status after touch", eng.status(), prepare=touch,
                                       check=expect_up_to_date))
    return [noop, touched]


REPO = Path(__file__).resolve().parent.parent


def case_iris(ctx: Ctx) -> list[Row]:
    """The repository's Iris pipeline (built-in stages, no Python), fresh each run: wf only."""
    row = Row("Iris pipeline end to end (`wf -C specs repro`, fresh copy; wf only)", target=Target("max_s", 0.5))

    def fresh(i: int) -> Path:
        d = ctx.tmp / "iris" / f"run{i}"
        (d / ".wf").mkdir(parents=True)
        shutil.copytree(REPO / "specs", d / "specs", ignore=shutil.ignore_patterns("pipeline.lock"))
        shutil.copytree(REPO / "data", d / "data")
        return d

    def ran_all(cp: subprocess.CompletedProcess, where: Path) -> None:
        if both(cp).count("Running stage") != 6:
            raise BenchError(f"the Iris pipeline in {where} did not run its 6 stages:\n{tail(both(cp))}")

    row.wf = measure(ctx, "wf Iris", [ctx.wf.exe, "-C", "specs", "repro"], prepare=fresh, check=ran_all)
    return [row]


def write_big_csv(path: Path, rows: int) -> None:
    """rows lines of 4 numeric features and a class label, deterministic."""
    rng = random.Random(7)
    classes = ["a", "b", "c"]
    with open(path, "w") as f:
        f.write("f1,f2,f3,f4,label\n")
        for _ in range(rows):
            k = rng.randrange(3)
            f.write(",".join(f"{rng.gauss(k, 1.0):.3f}" for _ in range(4)) + f",{classes[k]}\n")


def case_ml_1m(ctx: Ctx) -> list[Row]:
    """prepare + train logreg on a generated 1 000 000-row CSV: wf only."""
    row = Row("`prepare` + `train logreg`, 1 000 000-row CSV (wf only)")
    base = ctx.tmp / "ml-1m"
    (base / "data").mkdir(parents=True)
    progress("ml-1m: generating 1 000 000 rows (untimed)")
    write_big_csv(base / "data" / "big.csv", 1_000_000)
    (base / "pipeline.yaml").write_text(
        "stages:\n"
        "  prepare:\n    uses: prepare\n    with: {input: data/big.csv, target: label, test_size: 0.2, seed: 1, out: prepared}\n"
        "  train:\n    uses: train\n    with: {model: logreg, data: prepared, target: label, params: {alpha: 0.1, max_iter: 100}, out: model}\n"
    )
    (base / ".wf").mkdir()

    def fresh(i: int) -> Path:
        for leftover in ("prepared", "model", ".wf", "pipeline.lock"):
            p = base / leftover
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        (base / ".wf").mkdir()
        return base

    row.wf = measure(ctx, "wf prepare+train 1M", ctx.wf.repro(), prepare=fresh)
    return [row]


def case_transfer(kind: str) -> Callable[[Ctx], list[Row]]:
    """push and pull of 1 000 small files, or of one 1 GiB file, to a local-folder remote."""

    def run(ctx: Ctx) -> list[Row]:
        what = "1 000 × 4 KiB files" if kind == "small" else "one 1 GiB file"
        push = Row(f"`push` of {what} to a local remote")
        pull = Row(f"`pull` of {what} from a local remote (empty cache)")
        for eng in (ctx.wf, ctx.dvc):
            d = ctx.tmp / f"transfer-{kind}" / eng.name.lower()
            d.mkdir(parents=True)
            (d / "README").write_text("transfer benchmark\n")
            init_repo(ctx, d, eng)
            # The data is written after the first commit: it belongs to the cache, not to git.
            (d / "data").mkdir()
            if kind == "small":
                rng = random.Random(3)
                for i in range(1000):
                    (d / "data" / f"f{i:04}.bin").write_bytes(rng.randbytes(4096))
            else:
                write_random(d / "data" / "big.bin", 1 << 30)
            remote = ctx.tmp / f"transfer-{kind}" / f"{eng.name.lower()}-remote"
            cache = d / (".wf" if eng is ctx.wf else ".dvc") / "cache"
            ctx.runner.run([eng.exe, "add", "data"], d)
            ctx.runner.run([eng.exe, "remote", "add", "-d", "bench", str(remote)], d)

            def fresh_remote(i: int, remote: Path = remote, d: Path = d) -> Path:
                shutil.rmtree(remote, ignore_errors=True)
                return d

            def empty_cache(i: int, cache: Path = cache, d: Path = d) -> Path:
                shutil.rmtree(cache, ignore_errors=True)
                shutil.rmtree(d / "data", ignore_errors=True)
                return d

            times_push = measure(ctx, f"{eng.name} push", [eng.exe, "push"], prepare=fresh_remote)
            times_pull = measure(ctx, f"{eng.name} pull", [eng.exe, "pull"], prepare=empty_cache)
            if eng is ctx.wf:
                push.wf, pull.wf = times_push, times_pull
            else:
                push.dvc, pull.dvc = times_push, times_pull
        return [push, pull]

    return run


def case_watch(ctx: Ctx) -> list[Row]:
    """`wf watch`: from a tracked param edit to the affected stage starting (wf only)."""
    row = Row("`wf watch`: params edit → affected stage starts (default debounce; wf only)", target=Target("max_s", 0.3))
    d = ctx.tmp / "watch"
    (d / ".wf").mkdir(parents=True)
    (d / "params.yaml").write_text("lr: 0\n")
    (d / "pipeline.yaml").write_text(
        "stages:\n  t:\n    cmd:\n      - date +%s.%N > started.txt\n      - echo done > t.txt\n    params: [lr]\n    outs: [t.txt]\n"
    )
    proc = subprocess.Popen([ctx.wf.exe, "watch"], cwd=d, env=ctx.runner.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    times: list[float] = []
    try:
        def wait_for(path: Path, since: float) -> float:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    text = path.read_text().strip()
                    if text and float(text) > since:
                        return float(text)
                except (OSError, ValueError):
                    pass
                time.sleep(0.005)
            raise BenchError(f"`wf watch` in {d} did not start the stage within 10 s")
        wait_for(d / "started.txt", 0)  # the initial run
        time.sleep(0.5)
        for i in range(1 + ctx.runs):
            edited = time.time()
            (d / "params.yaml").write_text(f"lr: {i + 1}\n")
            started = wait_for(d / "started.txt", edited)
            progress(f"  wf watch latency: {'warm-up' if i == 0 else f'run {i}/{ctx.runs}'}: {fmt_time(started - edited)}")
            if i > 0:
                times.append(started - edited)
            time.sleep(0.5)
    finally:
        kill_group(proc)
        proc.wait()
    row.wf = times
    return [row]


CASES = [
    Case("noop-linear-100", False, "no-op repro/status, 100 stages, linear", case_noop(100, "linear")),
    Case("noop-branch-100", False, "no-op repro/status, 100 stages, branching", case_noop(100, "branch")),
    Case("noop-linear-500", True, "no-op repro/status, 500 stages, linear", case_noop(500, "linear")),
    Case("noop-branch-500", True, "no-op repro/status, 500 stages, branching", case_noop(500, "branch")),
    Case("full-linear-100", False, "first full repro, 100 stages, linear (fresh copy per run)",
         case_full(100, "linear")),
    Case("sleep16", False, "16 independent `sleep 1` stages, forced", case_sleep),
    Case("hash-1g", True, "status after touching a 1 GiB dep; no-op status", case_hash),
    Case("dir-10k", False, "status with a folder dep of 10 000 × 4 KiB files", case_dir),
    Case("transfer-small", False, "push and pull of 1 000 small files, local remote", case_transfer("small")),
    Case("transfer-1g", True, "push and pull of one 1 GiB file, local remote", case_transfer("big")),
    Case("iris", False, "the Iris pipeline end to end (wf only)", case_iris),
    Case("watch", False, "watch latency, params edit to stage start (wf only)", case_watch),
    Case("ml-1m", True, "prepare + train logreg on 1 000 000 rows (wf only)", case_ml_1m),
]


# --------------------------------------------------------------------------------------------
# Main


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) / (1 << 20):.0f} GiB RAM"
    except OSError:
        pass
    load = ", load average at start %.2f %.2f %.2f" % os.getloadavg()
    return [f"nproc {nproc}, CPU {cpu}{mem}{load}"]


def select_cases(args: argparse.Namespace) -> list[Case]:
    if not args.only:
        return [c for c in CASES if not (args.quick and c.big)]
    chosen = []
    for pat in [p.strip() for p in args.only.split(",") if p.strip()]:
        hits = [c for c in CASES if c.name == pat or c.name.startswith(pat) or fnmatch.fnmatch(c.name, pat)]
        if not hits:
            names = ", ".join(c.name for c in CASES)
            sys.exit(f"compare.py: --only {pat!r} matches no case; cases: {names}")
        chosen += [c for c in hits if c not in chosen]
    # --quick skips the big cases unless --only names them exactly.
    named = {p.strip() for p in args.only.split(",")}
    return [c for c in CASES if c in chosen and not (args.quick and c.big and c.name not in named)]


def version(runner: Runner, exe: str) -> str:
    try:
        _, cp = runner.run([exe, "--version"], Path.cwd())
        return cp.stdout.strip().splitlines()[0] if cp.stdout.strip() else "?"
    except (BenchError, OSError) as e:
        raise BenchError(f"cannot run {exe} --version: {e}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wf", default=str(SCRIPT_DIR.parent / "target" / "release" / "wf"),
                   help="the wf binary (default: target/release/wf of this checkout)")
    p.add_argument("--dvc", default="/tmp/dvcenv/bin/dvc", help="the dvc executable")
    p.add_argument("--runs", type=int, default=5, help="timed runs per command, after 1 warm-up (default 5)")
    p.add_argument("--dvc-runs", type=int, default=1,
                   help="DVC runs of the first full repro, without warm-up (default 1: ~25 s each)")
    p.add_argument("--only", help="comma-separated case names, prefixes or globs: "
                   + ", ".join(c.name for c in CASES))
    p.add_argument("--quick", action="store_true",
                   help="runs=1, and skip the 500-stage and 1 GiB cases (a smoke test)")
    p.add_argument("--dvc-setup", choices=["commit", "repro"], default="commit",
                   help="how the DVC copy of a no-op case is brought up to date before timing: run "
                   "the commands + `dvc commit -f` (default, same result, fast) or `dvc repro` (O(N^2))")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per command (default 3600)")
    p.add_argument("--tmpdir", help="where to create the temporary folder (default: $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = p.parse_args()
    if args.quick:
        args.runs = 1
    if args.runs < 1 or args.dvc_runs < 1:
        p.error("--runs and --dvc-runs must be at least 1")

    argv0 = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    wf_exe = shutil.which(args.wf) if os.sep not in args.wf else args.wf
    dvc_exe = shutil.which(args.dvc) if os.sep not in args.dvc else args.dvc
    for given, exe, hint in ((args.wf, wf_exe, "build it with `cargo build --release`"),
                             (args.dvc, dvc_exe, "pass --dvc")):
        if not exe or not os.path.isfile(exe) or not os.access(exe, os.X_OK):
            sys.exit(f"compare.py: no executable {given} ({hint})")
    if not shutil.which("git"):
        sys.exit("compare.py: git not found")
    cases = select_cases(args)
    if not cases:
        sys.exit("compare.py: no case selected")

    tmp = Path(tempfile.mkdtemp(prefix="wf-bench-", dir=args.tmpdir)).resolve()
    env = dict(os.environ)
    env.update(
        SHELL="/bin/sh",
        NO_COLOR="1",
        DVC_NO_ANALYTICS="1",
        # DVC's per-repo state/index databases, inside our temporary folder, not /var/tmp/dvc.
        DVC_SITE_CACHE_DIR=str(tmp / "dvc-site-cache"),
        GIT_CONFIG_NOSYSTEM="1",
    )
    runner = Runner(env, args.timeout)
    ctx = Ctx(args, runner, Engine("wf", str(Path(wf_exe).resolve())), Engine("DVC", str(dvc_exe)), tmp, args.runs)

    started = time.perf_counter()
    rows: list[Row] = []
    errors: list[tuple[str, str]] = []
    interrupted = False
    wf_v = dvc_v = "?"
    try:
        wf_v, dvc_v = version(runner, ctx.wf.exe), version(runner, ctx.dvc.exe)
        progress(f"temporary folder {tmp}; cases: {', '.join(c.name for c in cases)}")
        for c in cases:
            progress(f"== {c.name}: {c.about}")
            t0 = time.perf_counter()
            try:
                rows += c.run(ctx)
            except BenchError as e:
                progress(f"{c.name}: FAILED\n{e}")
                errors.append((c.name, str(e)))
            finally:
                shutil.rmtree(tmp / c.name, ignore_errors=True)
            progress(f"{c.name}: done in {time.perf_counter() - t0:.0f} s")
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted")
    except BenchError as e:
        errors.append(("setup", str(e)))
    finally:
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started

    out = []
    out.append(f"Command: `{shlex.join(argv0)}`")
    out.append("")
    out.append(f"Machine: {machine()[0]}")
    out.append(f"Engines: `{ctx.wf.exe}` ({wf_v}), `{ctx.dvc.exe}` ({dvc_v}); SHELL=/bin/sh")
    out.append(f"Runs: 1 warm-up + {args.runs} timed per command; median (min–max) of wall time"
               + (" [--quick]" if args.quick else ""))
    out.append("")
    out.append("| case | wf median | DVC median | ratio (DVC/wf) | target |")
    out.append("|---|---|---|---|---|")
    for r in rows:
        wf_med = statistics.median(r.wf) if r.wf else None
        dvc_med = statistics.median(r.dvc) if r.dvc else None
        ratio = fmt_ratio(dvc_med / wf_med) if wf_med and dvc_med else "—"
        target = "—"
        if r.target and wf_med:
            text, ok = r.target.describe(wf_med, dvc_med)
            target = f"{text} {'✓' if ok else '✗'}"
        label = r.label + (f" ({r.note})" if r.note else "")
        out.append(f"| {label} | {fmt_stats(r.wf)} | {fmt_stats(r.dvc)} | {ratio} | {target} |")
    for name, _ in errors:
        out.append(f"| {name} | error | error | — | ✗ |")
    out.append("")
    out.append(f"Total time: {total:.0f} s." + (" Interrupted." if interrupted else ""))
    if errors:
        out.append("")
        out.append("## Errors")
        for name, msg in errors:
            out.append("")
            out.append(f"### {name}")
            out.append("```")
            out.append(msg)
            out.append("```")
    print("\n".join(out), flush=True)
    if interrupted:
        return 130
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
