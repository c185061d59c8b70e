#!/usr/bin/env python3
"""`kill -9` at random instants: of a parallel 40-stage `wf repro`, and of a `wf push` of 1 000
files, then checks that nothing was lost or corrupted.

    python3 benches/faults.py [--wf target/release/wf] [--repro-trials 200] [--push-trials 50]
                              [--seed 1] [--quick] [--keep] [--tmpdir DIR]

repro: 40 stages in 8 layers of 5 (half write a file, half a folder of 3 files; each reads two
outs of the layer above and an input file), `wf repro -j 4` killed with SIGKILL at a random
instant of a run, with about half the inputs changed before each trial so that there is work to
cut short. After each kill: the lock must be readable (`wf status` exits 0 or 1, not 2), the next
`wf repro` must succeed, every out must hold exactly what its commands make of the inputs (the
script computes it), `wf status --check` must find nothing stale, and after deleting every out,
`wf checkout` must restore the same bytes from the cache (a corrupted cache object would show).
The state a trial leaves is the next trial's start.

push: `wf add` of a folder of 1 000 files, `wf push` to an empty local remote killed at a random
instant, then `wf push` again must succeed, and `wf pull` into a fresh copy (which checks every
object against its hash) must give back the same files.

Python 3 standard library only. The Markdown table goes to stdout, progress to stderr; the exit
status is 1 if any trial lost or corrupted anything (each such trial is described below the table).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAYERS, WIDTH = 8, 5


def progress(msg: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Project:
    def __init__(self, wf: str, root: Path):
        self.wf, self.root = wf, root
        self.env = dict(os.environ, SHELL="/bin/sh", NO_COLOR="1")

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([self.wf, *args], cwd=cwd or self.root, env=self.env, capture_output=True, text=True,
                              timeout=600)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([self.wf, *args], cwd=self.root, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------------
# repro


def name(layer: int, i: int) -> str:
    return f"l{layer}s{i}"


def is_dir(layer: int, i: int) -> bool:
    return (layer + i) % 2 == 1


def out_of(layer: int, i: int) -> str:
    return f"out/{name(layer, i)}" if is_dir(layer, i) else f"out/{name(layer, i)}.txt"


def upstream(layer: int, i: int) -> list[tuple[int, int]]:
    return [] if layer == 0 else [(layer - 1, i), (layer - 1, (i + 1) % WIDTH)]


def readable(layer: int, i: int) -> str:
    """The file of an out that downstream stages read."""
    return f"{out_of(layer, i)}/a.txt" if is_dir(layer, i) else out_of(layer, i)


def write_pipeline(root: Path) -> None:
    lines = ["stages:"]
    for layer in range(LAYERS):
        for i in range(WIDTH):
            srcs = [f"data/in{i}.txt"] + [readable(*u) for u in upstream(layer, i)]
            body = f"cat {' '.join(srcs)} && echo {name(layer, i)}"
            if is_dir(layer, i):
                o = out_of(layer, i)
                cmd = (f"sleep 0.02 && rm -rf {o} && mkdir -p {o} && ({body}) > {o}/a.txt && "
                       f"echo b > {o}/b.txt && cat {o}/a.txt {o}/a.txt > {o}/c.txt")
            else:
                cmd = f"sleep 0.02 && ({body}) > {out_of(layer, i)}"
            lines += [f"  {name(layer, i)}:", f"    cmd: {cmd}",
                      f"    deps: [{', '.join(srcs)}]", f"    outs: [{out_of(layer, i)}]"]
    (root / "pipeline.yaml").write_text("\n".join(lines) + "\n")
    (root / "data").mkdir()
    (root / "out").mkdir()
    for i in range(WIDTH):
        (root / "data" / f"in{i}.txt").write_text(f"input {i}\n")


def expected(root: Path) -> dict[str, bytes]:
    """What every out file must hold, computed from the inputs as the commands do."""
    text: dict[tuple[int, int], bytes] = {}
    files: dict[str, bytes] = {}
    for layer in range(LAYERS):
        for i in range(WIDTH):
            a = (root / "data" / f"in{i}.txt").read_bytes()
            a += b"".join(text[u] for u in upstream(layer, i)) + f"{name(layer, i)}\n".encode()
            text[(layer, i)] = a
            if is_dir(layer, i):
                o = out_of(layer, i)
                files.update({f"{o}/a.txt": a, f"{o}/b.txt": b"b\n", f"{o}/c.txt": a + a})
            else:
                files[out_of(layer, i)] = a
    return files


def check_outs(root: Path, want: dict[str, bytes]) -> list[str]:
    wrong = []
    for rel, content in want.items():
        p = root / rel
        if not p.is_file():
            wrong.append(f"{rel} is missing")
        elif p.read_bytes() != content:
            wrong.append(f"{rel} differs")
    return wrong


def repro_trials(p: Project, trials: int, rng: random.Random) -> tuple[list[str], dict]:
    write_pipeline(p.root)
    subprocess.run(["git", "init", "-q"], cwd=p.root, check=True)
    t = time.perf_counter()
    first = p.run("repro", "-j", "4")
    full = time.perf_counter() - t
    if first.returncode != 0:
        return [f"the first repro failed:\n{first.stderr[-2000:]}"], {}
    problems: list[str] = []
    killed_mid_run = 0
    for trial in range(1, trials + 1):
        # About half the inputs change: a run with some of the stages to do.
        for i in range(WIDTH):
            if rng.random() < 0.5:
                with open(p.root / "data" / f"in{i}.txt", "a") as f:
                    f.write(f"trial {trial}\n")
        proc = p.start("repro", "-j", "4")
        time.sleep(rng.uniform(0, full * 1.1))
        if proc.poll() is None:
            killed_mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.1)  # the stages it started, orphaned, finish or fail on their own
        found = []
        status = p.run("status")
        if status.returncode not in (0, 1):
            found.append(f"`wf status` after the kill exited {status.returncode}:\n{status.stderr[-1500:]}")
        again = p.run("repro", "-j", "4")
        if again.returncode != 0:
            found.append(f"the next `wf repro` exited {again.returncode}:\n{again.stderr[-1500:]}")
        want = expected(p.root)
        found += check_outs(p.root, want)
        check = p.run("status", "--check")
        if check.returncode != 0:
            found.append(f"`wf status --check` exited {check.returncode}:\n{check.stdout[-1000:]}{check.stderr[-500:]}")
        shutil.rmtree(p.root / "out")
        co = p.run("checkout")
        if co.returncode != 0:
            found.append(f"`wf checkout` exited {co.returncode}:\n{co.stderr[-1500:]}")
        found += [f"after checkout: {w}" for w in check_outs(p.root, want)]
        if found:
            problems.append(f"repro trial {trial}: " + "; ".join(found))
        if trial % 20 == 0:
            progress(f"repro: {trial}/{trials} trials, {len(problems)} with a problem")
    return problems, {"full": full, "killed_mid_run": killed_mid_run}


# --------------------------------------------------------------------------------------------
# push


def push_trials(p: Project, trials: int, rng: random.Random, files: int) -> tuple[list[str], dict]:
    many = p.root / "data" / "many"
    many.mkdir(parents=True)
    for i in range(files):
        (many / f"f{i:04}.txt").write_text(f"file {i}\n" * (1 + i % 7))
    remote = p.root.parent / "remote"
    subprocess.run(["git", "init", "-q"], cwd=p.root, check=True)
    for args in (("add", "data/many"), ("remote", "add", "-d", "store", str(remote))):
        cp = p.run(*args)
        if cp.returncode != 0:
            return [f"`wf {' '.join(args)}` failed:\n{cp.stderr[-1500:]}"], {}
    t = time.perf_counter()
    first = p.run("push")
    full = time.perf_counter() - t
    if first.returncode != 0:
        return [f"the first push failed:\n{first.stderr[-1500:]}"], {}
    problems: list[str] = []
    killed_mid_push = 0
    for trial in range(1, trials + 1):
        shutil.rmtree(remote)
        proc = p.start("push")
        time.sleep(rng.uniform(0, full * 1.1))
        if proc.poll() is None:
            killed_mid_push += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        found = []
        again = p.run("push")
        if again.returncode != 0:
            found.append(f"the next `wf push` exited {again.returncode}:\n{again.stderr[-1500:]}")
        fresh = p.root.parent / "fresh"
        shutil.rmtree(fresh, ignore_errors=True)
        (fresh / "data").mkdir(parents=True)
        shutil.copy(p.root / "data" / "many.wf", fresh / "data" / "many.wf")
        (fresh / ".wf").mkdir()
        shutil.copy(p.root / ".wf" / "config", fresh / ".wf" / "config")
        pull = p.run("pull", cwd=fresh)
        if pull.returncode != 0:
            found.append(f"`wf pull` into a fresh copy exited {pull.returncode}:\n{pull.stderr[-1500:]}")
        else:
            for f in sorted(many.iterdir()):
                g = fresh / "data" / "many" / f.name
                if not g.is_file() or g.read_bytes() != f.read_bytes():
                    found.append(f"data/many/{f.name} pulled back wrong or missing")
                    break
        if found:
            problems.append(f"push trial {trial}: " + "; ".join(found))
        if trial % 10 == 0:
            progress(f"push: {trial}/{trials} trials, {len(problems)} with a problem")
    return problems, {"full": full, "killed_mid_push": killed_mid_push}


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wf", default=str(REPO / "target" / "release" / "wf"), help="the wf binary")
    ap.add_argument("--repro-trials", type=int, default=200)
    ap.add_argument("--push-trials", type=int, default=50)
    ap.add_argument("--files", type=int, default=1000, help="files in the pushed folder (default 1000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill instants and input changes")
    ap.add_argument("--quick", action="store_true", help="20 repro and 10 push trials")
    ap.add_argument("--tmpdir", help="where to make the temporary folder (default: $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if args.quick:
        args.repro_trials, args.push_trials = 20, 10
    wf = str(Path(args.wf).resolve())
    if not os.access(wf, os.X_OK):
        sys.exit(f"faults.py: no executable {args.wf} (build it, or pass --wf)")
    tmp = Path(tempfile.mkdtemp(prefix="wf-faults-", dir=args.tmpdir))
    rng = random.Random(args.seed)
    started = time.perf_counter()
    try:
        (tmp / "repro").mkdir()
        progress(f"repro: {args.repro_trials} trials of `wf repro -j 4` of {LAYERS * WIDTH} stages, killed at random")
        t = time.perf_counter()
        r_problems, r = repro_trials(Project(wf, tmp / "repro"), args.repro_trials, rng)
        r_time = time.perf_counter() - t
        (tmp / "push" / "project").mkdir(parents=True)
        progress(f"push: {args.push_trials} trials of `wf push` of {args.files} files, killed at random")
        t = time.perf_counter()
        p_problems, p = push_trials(Project(wf, tmp / "push" / "project"), args.push_trials, rng, args.files)
        p_time = time.perf_counter() - t
    finally:
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"Command: `{' '.join(sys.argv)}` (seed {args.seed}); load average at the end "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print()
    print("| fault | trials | killed while running | with a problem | a clean run takes | total |")
    print("|---|---|---|---|---|---|")
    if r:
        print(f"| `kill -9` of `wf repro -j 4`, {LAYERS * WIDTH} stages | {args.repro_trials} | {r['killed_mid_run']} "
              f"| {len(r_problems)} | {r['full']:.2f} s | {r_time:.0f} s |")
    if p:
        print(f"| `kill -9` of `wf push`, {args.files} files to a local remote | {args.push_trials} "
              f"| {p['killed_mid_push']} | {len(p_problems)} | {p['full']:.2f} s | {p_time:.0f} s |")
    problems = r_problems + p_problems
    for msg in problems:
        print(f"\n```\n{msg}\n```")
    print(f"\nTotal time: {time.perf_counter() - started:.0f} s.")
    return 1 if problems or not r or not p else 0


if __name__ == "__main__":
    sys.exit(main())
