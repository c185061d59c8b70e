#!/usr/bin/env python3
"""`wf tune` against Optuna: search quality of its TPE, and the wall time of a 20-trial study.

    python3 benches/tune.py [--wf target/release/wf] [--dvc /tmp/dvcenv/bin/dvc] [--runs 5]
                            [--dvc-runs 1] [--seeds 10] [--first-seed 0] [--trials 40]
                            [--only NAME,...] [--quick] [--keep] [--tmpdir DIR]

Cases: quality (best value of 40 trials on Branin and on the 6-D Hartmann function, 10 seeds:
`wf tune -j 1` with its TPE against Optuna's TPESampler on the same Python functions), iris-20
(wall time of 20 trials at -j 2: `wf tune` on the Iris pipeline and on examples/dvc-project,
against an Optuna study with n_jobs=2 whose objective runs `dvc exp run --temp -S ...`).
The Markdown table goes to stdout, progress to stderr. Python 3 standard library only (plus a
venv with optuna that the script makes, and DVC for iris-20). See benches/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent
sys.path.insert(0, str(SCRIPT_DIR))
from compare import (  # noqa: E402  (the helpers of benches/compare.py)
    BenchError, Runner, both, fmt_ratio, fmt_stats, fmt_time, git_commit_all, machine, progress, tail,
)
from exp import Row, dvc_project, iris_project, run_cases, verdict  # noqa: E402  (and of benches/exp.py)

OPTUNA_VERSION = "5.1.0"
IRIS_TRIALS = 20
IRIS_JOBS = 2

# --------------------------------------------------------------------------------------------
# The objectives: one Python source, imported by the Optuna side and run by wf's stage as f.py.

OBJECTIVES = '''\
"""Test functions for the tuning benchmark (benches/tune.py): both sides run this code."""
import json
import math
import sys


def branin(x1, x2):
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; global minimum 0.397887 (three points)."""
    a, b, c = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
HARTMANN_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]


def hartmann6(*x):
    """Hartmann 6-D on [0, 1]^6; global minimum -3.32237."""
    return -sum(
        alpha * math.exp(-sum(a * (xj - p * 1e-4) ** 2 for a, xj, p in zip(row, x, prow)))
        for alpha, row, prow in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P)
    )


FUNCTIONS = {"branin": branin, "hartmann6": hartmann6}


def main(name):
    value = FUNCTIONS[name](*map(float, sys.argv[1:]))
    with open("value.json", "w") as f:
        json.dump({"value": value}, f)
'''


@dataclass
class Function:
    name: str
    title: str
    bounds: list[tuple[str, float, float]]
    optimum: float


FUNCTIONS = [
    Function("branin", "Branin (2-D)", [("x1", -5.0, 10.0), ("x2", 0.0, 15.0)], 0.397887),
    Function("hartmann6", "Hartmann (6-D)", [(f"x{i}", 0.0, 1.0) for i in range(1, 7)], -3.32237),
]

# The Optuna side of `quality`: all seeds of one function in one process, the same functions
# imported from objectives.py, suggest_float with the same bounds (no log).
OPTUNA_QUALITY = '''\
import json, sys, time
import optuna
import objectives

optuna.logging.set_verbosity(optuna.logging.WARNING)
name, trials, seeds = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")]
bounds = json.loads(sys.argv[4])
f = objectives.FUNCTIONS[name]


def objective(trial):
    return f(*(trial.suggest_float(k, lo, hi) for k, lo, hi in bounds))


out = {}
for seed in seeds:
    t0 = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    out[seed] = {"best": study.best_value, "complete": len(done), "seconds": time.perf_counter() - t0,
                 "params": study.best_params}
print(json.dumps(out))
'''

# The glue users write today: an Optuna study whose objective runs `dvc exp run -S` on the DVC
# project and reads its metrics file. Two `dvc exp run` in one workspace at once conflict, so each
# trial is a `--temp` experiment (run in a copy under .dvc/tmp/exps, kept as a git ref), named
# after the trial; its summary.json is read from that experiment's commit with `git show` (the
# cheapest way: `dvc exp show --json` takes seconds, and more with each experiment).
OPTUNA_DVC_GLUE = '''\
import json, subprocess, sys, time
t0 = time.perf_counter()
import optuna

dvc, trials, jobs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
baseline = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def objective(trial):
    min_words = trial.suggest_int("features.min_words", 1, 6)
    top = trial.suggest_int("report.top", 1, 10)
    name = f"trial-{trial.number}"
    run = subprocess.run([dvc, "exp", "run", "--temp", "-n", name, "-S", f"features.min_words={min_words}",
                          "-S", f"report.top={top}"], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(run.args)} failed ({run.returncode}):\\n{run.stderr[-2000:]}")
    ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"
    summary = subprocess.run(["git", "show", f"{ref}:summary.json"], capture_output=True, text=True,
                             check=True).stdout
    return json.loads(summary)["long"]


t1 = time.perf_counter()
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
study.optimize(objective, n_trials=trials, n_jobs=jobs)
print(json.dumps({
    "complete": sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials),
    "best": study.best_value, "best_params": study.best_params,
    "import_seconds": t1 - t0, "study_seconds": time.perf_counter() - t1,
}))
'''


@dataclass
class Ctx:
    args: argparse.Namespace
    runner: Runner
    wf: str
    dvc: str
    tmp: Path
    runs: int
    rows: list  # rows land here as soon as they are known, so a later failure keeps them
    notes: list  # lines printed below the table


def fmt_value(v: float) -> str:
    return f"{v:.6g}"


def fmt_values(vals: list[float]) -> str:
    return f"{fmt_value(statistics.median(vals))} ({fmt_value(min(vals))}–{fmt_value(max(vals))})"


# --------------------------------------------------------------------------------------------
# Optuna's venv


def optuna_python(ctx: Ctx) -> str:
    """The python of ${TMPDIR:-/tmp}/wf-bench-optuna, a venv with optuna==OPTUNA_VERSION (made if
    missing)."""
    venv = Path(os.environ.get("TMPDIR") or "/tmp") / "wf-bench-optuna"
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import importlib.metadata as m; print(m.version('optuna'))"]
    ok = py.exists() and ctx.runner.run(probe, ctx.tmp, check=False)[1].stdout.strip() == OPTUNA_VERSION
    if not ok:
        progress(f"installing optuna=={OPTUNA_VERSION} into {venv} (a minute)")
        ctx.runner.run([sys.executable, "-m", "venv", str(venv)], ctx.tmp)
        ctx.runner.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        f"optuna=={OPTUNA_VERSION}"], ctx.tmp)
    return str(py)


# --------------------------------------------------------------------------------------------
# quality


def wf_function_project(d: Path, fn: Function, seed: int, trials: int) -> None:
    """A wf project (a `.wf/` folder, no git): one stage `python3 f.py ${x1} ...` whose metrics
    file value.json holds the function's value, and a tune: block over its params."""
    (d / ".wf").mkdir(parents=True)
    (d / "f.py").write_text(OBJECTIVES + f"\n\nif __name__ == '__main__':\n    main({fn.name!r})\n")
    (d / "params.yaml").write_text("".join(f"{k}: {(lo + hi) / 2}\n" for k, lo, hi in fn.bounds))
    keys = [k for k, _, _ in fn.bounds]
    (d / "pipeline.yaml").write_text(
        "stages:\n"
        "  f:\n"
        f"    cmd: python3 f.py {' '.join('${' + k + '}' for k in keys)}\n"
        "    deps: [f.py]\n"
        f"    params: [{', '.join(keys)}]\n"
        "    metrics: [value.json]\n"
        "tune:\n"
        "  objective: value.json:value\n"
        "  direction: min\n"
        f"  trials: {trials}\n"
        "  sampler: tpe\n"
        f"  seed: {seed}\n"
        "  space:\n"
        + "".join(f"    {k}: {{float: [{lo}, {hi}]}}\n" for k, lo, hi in fn.bounds)
    )


def wf_study(ctx: Ctx, fn: Function, seed: int, trials: int, namespace: dict) -> tuple[float, float]:
    """`wf tune -j 1` of one (function, seed): (best value, wall seconds). Checks that every trial
    finished and that the best value is the function at the best trial's params."""
    d = ctx.tmp / "quality" / "wf" / f"{fn.name}-s{seed}"
    wf_function_project(d, fn, seed, trials)
    t, cp = ctx.runner.run([ctx.wf, "tune", "-j", "1"], d)
    _, show = ctx.runner.run([ctx.wf, "tune", "show", "--json"], d)
    got = json.loads(show.stdout)["trials"]
    finished = [x for x in got if x["state"] == "finished" and x.get("value") is not None]
    if len(got) != trials or len(finished) != trials:
        raise BenchError(f"`wf tune -j 1` in {d}: {len(finished)} of {len(got)} trials finished, not "
                         f"{trials}:\n{tail(both(cp))}")
    best = finished[0]
    if any(x["value"] < best["value"] for x in finished):
        raise BenchError(f"`wf tune show --json` in {d}: the first trial is not the best (direction min)")
    again = namespace["FUNCTIONS"][fn.name](*(float(best["params"][k]) for k, _, _ in fn.bounds))
    if abs(again - best["value"]) > 1e-9 * max(1.0, abs(again)):
        raise BenchError(f"{d}: trial {best['trial']} has value {best['value']}, but {fn.name} at its params "
                         f"{best['params']} is {again}")
    return best["value"], t


def case_quality(ctx: Ctx) -> None:
    seeds, trials = list(range(ctx.args.first_seed, ctx.args.first_seed + ctx.args.seeds)), ctx.args.trials
    base = ctx.tmp / "quality"
    base.mkdir(parents=True)
    (base / "objectives.py").write_text(OBJECTIVES)
    (base / "optuna_quality.py").write_text(OPTUNA_QUALITY)
    namespace: dict = {}
    exec(compile(OBJECTIVES, "objectives.py", "exec"), namespace)
    for fn in FUNCTIONS:  # the stated optima, checked
        here = {"branin": (namespace["branin"], (3.14159265, 2.275)),
                "hartmann6": (namespace["hartmann6"], (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573))}
        f, x = here[fn.name]
        if abs(f(*x) - fn.optimum) > 1e-5:
            raise BenchError(f"{fn.name} at its known minimiser is {f(*x)}, not {fn.optimum}")
    py = optuna_python(ctx)
    for fn in FUNCTIONS:
        wf_best, wf_t = [], []
        for s in seeds:
            v, t = wf_study(ctx, fn, s, trials, namespace)
            progress(f"  wf {fn.name} seed {s}: best {fmt_value(v)} in {fmt_time(t)}")
            wf_best.append(v)
            wf_t.append(t)
        argv = [py, "optuna_quality.py", fn.name, str(trials), ",".join(map(str, seeds)),
                json.dumps([list(b) for b in fn.bounds])]
        _, cp = ctx.runner.run(argv, base)
        res = json.loads(cp.stdout.strip().splitlines()[-1])
        op_best, op_t = [], []
        for s in seeds:
            r = res[str(s)]
            if r["complete"] != trials:
                raise BenchError(f"Optuna {fn.name} seed {s}: {r['complete']} of {trials} trials complete")
            progress(f"  Optuna {fn.name} seed {s}: best {fmt_value(r['best'])} in {fmt_time(r['seconds'])}")
            op_best.append(r["best"])
            op_t.append(r["seconds"])
        mw, mo = statistics.median(wf_best), statistics.median(op_best)
        gap_w, gap_o = mw - fn.optimum, mo - fn.optimum
        ok = mw - mo <= 0.05 * gap_o
        ctx.rows.append(Row(
            f"{fn.title}, best value of {trials} trials, median (min–max) over {len(seeds)} seeds "
            f"(optimum {fn.optimum}): `wf tune -j 1`, TPE vs Optuna `TPESampler(seed=S)`",
            fmt_values(wf_best), fmt_values(op_best),
            f"gap to optimum: wf {gap_w:.3g}, Optuna {gap_o:.3g} (wf/Optuna {gap_w / gap_o:.2f})",
            f"wf − Optuna ≤ 0.05 × gap(Optuna) {verdict(ok)}"))
        ctx.rows.append(Row(
            f"{fn.title}, one study of {trials} trials, median (min–max) over {len(seeds)} seeds: "
            "`wf tune -j 1` (a `python3 f.py` process per trial) vs Optuna in-process (for information)",
            fmt_stats(wf_t), fmt_stats(op_t)))
        ctx.notes.append(f"{fn.title}, best value per seed {seeds[0]}…{seeds[-1]}: "
                         f"wf {', '.join(fmt_value(v) for v in wf_best)}; "
                         f"Optuna {', '.join(fmt_value(v) for v in op_best)}.")


# --------------------------------------------------------------------------------------------
# iris-20

WF_DVC_TUNE = """\
tune:
  objective: summary.json:long
  direction: max
  trials: 20
  seed: 0
  space:
    features.min_words: {int: [1, 6]}
    report.top: {int: [1, 10]}
"""


def wf_tune_timed(ctx: Ctx, d: Path, argv: list[str], show: list[str], n: int) -> tuple[float, float]:
    """Runs a `wf tune` command; checks `wf tune show --json`: n finished trials. (seconds, best)."""
    t, cp = ctx.runner.run(argv, d)
    _, out = ctx.runner.run(show, d)
    got = json.loads(out.stdout)["trials"]
    states = sorted({x["state"] for x in got})
    if len(got) != n or states != ["finished"]:
        raise BenchError(f"`{shlex.join(argv)}` in {d}: `wf tune show` lists {len(got)} trials "
                         f"({', '.join(states)}), not {n} finished:\n{tail(both(cp))}")
    return t, got[0]["value"]


def repeat_fresh(ctx: Ctx, label: str, once) -> tuple[list[float], list]:
    """1 warm-up + ctx.runs calls of `once(i)` -> (seconds, best); each builds its own project."""
    times, bests = [], []
    for i in range(1 + ctx.runs):
        t, best = once(i)
        progress(f"  {label}: {'warm-up' if i == 0 else f'run {i}/{ctx.runs}'}: {fmt_time(t)} (best {best})")
        if i:
            times.append(t)
            bests.append(best)
    return times, bests


def glue_run(ctx: Ctx, py: str, d: Path) -> tuple[float, dict]:
    (d / ".." / "glue.py").resolve().write_text(OPTUNA_DVC_GLUE)
    argv = [py, str((d / ".." / "glue.py").resolve()), ctx.dvc, str(IRIS_TRIALS), str(IRIS_JOBS), "0"]
    t, cp = ctx.runner.run(argv, d)
    res = json.loads(cp.stdout.strip().splitlines()[-1])
    head = ctx.runner.run(["git", "rev-parse", "HEAD"], d)[1].stdout.strip()
    refs = ctx.runner.run(["git", "for-each-ref", "--format=%(refname)", f"refs/exps/{head[:2]}/{head[2:]}/"],
                          d)[1].stdout.split()
    names = sorted(r.rsplit("/", 1)[1] for r in refs)
    if res["complete"] != IRIS_TRIALS or names != sorted(f"trial-{i}" for i in range(IRIS_TRIALS)):
        raise BenchError(f"the Optuna + DVC glue in {d}: {res['complete']} of {IRIS_TRIALS} trials complete, "
                         f"{len(names)} experiments (`refs/exps`):\n{tail(cp.stderr)}")
    return t, res


def case_iris(ctx: Ctx) -> None:
    base = ctx.tmp / "iris-20"
    n, j = IRIS_TRIALS, IRIS_JOBS

    def iris(i: int) -> tuple[float, float]:
        d = iris_project(ctx, base / f"wf-iris{i}")
        return wf_tune_timed(ctx, d, [ctx.wf, "-C", "specs", "tune", "-j", str(j), "-n", str(n)],
                             [ctx.wf, "-C", "specs", "tune", "show", "--json"], n)

    def dvc_proj(i: int) -> tuple[float, float]:
        d = dvc_project(ctx, base / f"wf-dvc{i}", dvc=False)
        (d / "tune.yaml").write_text(WF_DVC_TUNE)
        git_commit_all(ctx, d)
        return wf_tune_timed(ctx, d, [ctx.wf, "tune", "--config", "tune.yaml", "-j", str(j), "-n", str(n)],
                             [ctx.wf, "tune", "show", "--json"], n)

    progress("iris-20: wf, Iris pipeline (specs/), a fresh project each run")
    iris_t, iris_best = repeat_fresh(ctx, "wf Iris", iris)
    progress("iris-20: wf, examples/dvc-project with tune.yaml, a fresh project each run")
    dp_t, dp_best = repeat_fresh(ctx, "wf dvc-project", dvc_proj)

    glue_t, glue_best, glue_import = [], [], []
    try:
        py = optuna_python(ctx)
        # Untimed: the page cache warm for Python, optuna and DVC.
        ctx.runner.run([py, "-c", "import optuna"], ctx.tmp)
        ctx.runner.run([ctx.dvc, "--version"], ctx.tmp)
        for i in range(ctx.args.dvc_runs):
            d = dvc_project(ctx, base / f"dvc{i}" / "project", dvc=True)
            t, res = glue_run(ctx, py, d)
            progress(f"  Optuna + DVC glue: run {i + 1}/{ctx.args.dvc_runs}: {fmt_time(t)} (best {res['best']}, "
                     f"optuna import {fmt_time(res['import_seconds'])})")
            glue_t.append(t)
            glue_best.append(res["best"])
            glue_import.append(res["import_seconds"])
            if not ctx.args.keep:
                shutil.rmtree(base / f"dvc{i}", ignore_errors=True)
    finally:  # wf's figures are reported even when the glue fails
        glue = f"{fmt_stats(glue_t)}, no warm-up" if glue_t else "error"
        med = statistics.median(glue_t) if glue_t else None

        def ratio(wf_t: list[float]) -> str:
            return f"glue/wf {fmt_ratio(med / statistics.median(wf_t))}" if med else "—"

        ctx.rows.append(Row(
            f"{n} trials at -j {j}: wf on the Iris pipeline (`wf -C specs tune -j {j} -n {n}`, its spec's "
            f"tune: block) vs the Optuna + DVC glue on examples/dvc-project (different projects)",
            fmt_stats(iris_t), glue, ratio(iris_t)))
        ctx.rows.append(Row(
            f"{n} trials at -j {j} on examples/dvc-project (`features.min_words` int [1, 6], `report.top` int "
            f"[1, 10], max summary.json:long): `wf tune --config tune.yaml -j {j} -n {n}` vs Optuna "
            f"`n_jobs={j}` + `dvc exp run --temp -S …` per trial",
            fmt_stats(dp_t), glue, ratio(dp_t)))
        ctx.notes.append(f"iris-20, best objective per run: wf Iris accuracy {', '.join(map(str, iris_best))}; "
                         f"wf dvc-project long {', '.join(map(str, dp_best))}; glue long "
                         f"{', '.join(map(str, glue_best)) or '—'}; the glue's `import optuna` took "
                         f"{', '.join(fmt_time(x) for x in glue_import) or '—'} of its time.")


# --------------------------------------------------------------------------------------------
# Main

CASES = {
    "quality": ("best of 40 trials on Branin and Hartmann-6, wf's TPE against Optuna's", case_quality),
    "iris-20": ("20 trials at -j 2: wf tune against Optuna n_jobs=2 + `dvc exp run --temp`", case_iris),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wf", default=str(REPO / "target" / "release" / "wf"), help="the wf binary")
    p.add_argument("--dvc", default="/tmp/dvcenv/bin/dvc", help="the dvc executable")
    p.add_argument("--runs", type=int, default=5, help="timed runs of wf's studies in iris-20, after 1 warm-up (default 5)")
    p.add_argument("--dvc-runs", type=int, default=1, help="runs of the Optuna + DVC glue, no warm-up (default 1)")
    p.add_argument("--seeds", type=int, default=10, help="seeds per function in quality (default 10: 0..9)")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed in quality (default 0)")
    p.add_argument("--trials", type=int, default=40, help="trials per study in quality (default 40)")
    p.add_argument("--only", help="comma-separated case names: " + ", ".join(CASES))
    p.add_argument("--quick", action="store_true", help="runs=1, seeds=3 (a smoke test)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per command")
    p.add_argument("--tmpdir", help="where to make the temporary folder (default: $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = p.parse_args()
    if args.quick:
        args.runs, args.seeds = 1, 3
    if args.runs < 1 or args.dvc_runs < 1 or args.seeds < 1 or args.trials < 1:
        p.error("--runs, --dvc-runs, --seeds and --trials must be at least 1")
    names = [n.strip() for n in (args.only or ",".join(CASES)).split(",") if n.strip()]
    for n in names:
        if n not in CASES:
            p.error(f"no case {n!r}; cases: {', '.join(CASES)}")
    wf = str(Path(args.wf).resolve())
    dvc = shutil.which(args.dvc) or args.dvc
    if not os.access(wf, os.X_OK):
        sys.exit(f"tune.py: no executable {args.wf} (build it with `cargo build --release`, or pass --wf)")
    if "iris-20" in names and not os.access(dvc, os.X_OK):
        sys.exit(f"tune.py: no executable {args.dvc}: python3 -m venv /tmp/dvcenv && "
                 "/tmp/dvcenv/bin/pip install dvc==3.67.1, or pass --dvc")
    if not shutil.which("git") or not shutil.which("python3"):
        sys.exit("tune.py: git and python3 must be on PATH")

    tmp = Path(tempfile.mkdtemp(prefix="wf-bench-tune-", dir=args.tmpdir)).resolve()
    env = dict(os.environ, SHELL="/bin/sh", NO_COLOR="1", DVC_NO_ANALYTICS="1", GIT_CONFIG_NOSYSTEM="1",
               DVC_SITE_CACHE_DIR=str(tmp / "dvc-site-cache"))
    ctx = Ctx(args, Runner(env, args.timeout), wf, dvc, tmp, args.runs, [], [])
    versions = {}
    for exe in [wf] + ([dvc] if "iris-20" in names else []):
        versions[exe] = ctx.runner.run([exe, "--version"], tmp)[1].stdout.strip()
    started = time.perf_counter()
    errors, interrupted = run_cases(names, CASES, ctx, tmp, args.keep)

    argv0 = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    engines = [f"`{e}` ({v})" for e, v in versions.items()] + [f"optuna {OPTUNA_VERSION}"]
    out = [f"Command: `{shlex.join(argv0)}`", "", f"Machine: {machine()[0]}",
           "Engines: " + ", ".join(engines) + "; SHELL=/bin/sh",
           "Runs: " + "; ".join(
               ([f"quality: seeds {args.first_seed}…{args.first_seed + args.seeds - 1}, {args.trials} trials "
                 "per study"] if "quality" in names else [])
               + ([f"iris-20: wf 1 warm-up + {args.runs} timed, the glue {args.dvc_runs} (no warm-up)"]
                  if "iris-20" in names else []))
           + "; median (min–max)" + (" [--quick]" if args.quick else ""),
           "", "| case | wf | other | comparison | target |", "|---|---|---|---|---|"]
    out += [f"| {r.label} | {r.wf} | {r.other} | {r.compare} | {r.target} |" for r in ctx.rows]
    out += [f"| {n} | error | error | — | ✗ |" for n, _ in errors]
    if any(r.target != "—" for r in ctx.rows):
        out += ["", "Target of `quality`: wf's median best value no worse than Optuna's by more than 5 % of "
                "Optuna's gap to the optimum, i.e. median_wf − median_Optuna ≤ 0.05 × (median_Optuna − "
                "optimum) (minimisation; equivalently gap_wf ≤ 1.05 × gap_Optuna)."]
    if ctx.notes:
        out += [""] + [f"- {x}" for x in ctx.notes]
    out += ["", f"Total time: {time.perf_counter() - started:.0f} s." + (" Interrupted." if interrupted else "")]
    if errors:
        out += ["", "## Errors"]
        for n, msg in errors:
            out += ["", f"### {n}", "```", msg, "```"]
    print("\n".join(out), flush=True)
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
