#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the repository's own files.

    fuzz/seeds.py OUT_DIR

writes OUT_DIR/<target>/<sha1 of the input> for the targets `spec`, `lock`, `manifest` and
`params`, from the specs, params and lock files of tests/fixtures/, specs/ and examples/, the
specs, params and locks written by the tests (string literals of tests/*.rs), and a few locks
and folder manifests made here. Inputs follow each target's format (see fuzz/fuzz_targets/).
"""

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_NAMES = ("pipeline.yaml", "dvc.yaml")
H1 = "0123456789abcdef" * 4
H2 = "fedcba9876543210" * 4

# `-S` values of `wf exp run`, appended to params seeds after a NUL byte.
OVERRIDES = [
    "train.C=2",
    "+new.key=[1, 2]",
    "~train",
    "params.yaml:lr=choice(0.1, 0.2)",
    "n=range(1, 5)",
    "name='a b'",
    "model={kind: svm, c: 1.5}",
    "lr=0.1,0.2,0.3",
    "lst.0=null",
]

LOCKS = [
    "version: 1\nstages: {}\n",
    "version: 1\nstages:\n  prepare:\n    cmd: python prepare.py\n    deps:\n"
    f"    - path: data/raw.csv\n      hash: blake3\n      blake3: {H1}\n      size: 120\n"
    "    params:\n      params.yaml:\n        prepare.split: 0.2\n        seed: 42\n"
    f"    outs:\n    - path: data/prepared\n      hash: blake3\n      blake3: {H2}.dir\n"
    "      size: 300\n      nfiles: 2\n"
    "  train@svm:\n    cmd:\n    - echo a\n    - echo b\n",
    "version: 1\nstages:\n  split:\n    uses: split\n    version: 1\n"
    "    with: {test_size: 0.25, seed: 7, stratify: species}\n"
    f"    outs:\n    - path: train.csv\n      hash: blake3\n      blake3: {H1}\n      size: 3\n",
    "version: 1\nstages:\n<<<<<<< HEAD\n  a: {}\n=======\n  b: {}\n>>>>>>> branch\n",
    "version: 2\nstages: {}\n",
]

MANIFESTS = [
    [],
    [{"relpath": "a.txt", "hash": H1, "size": 3}],
    [
        {"relpath": "a.txt", "hash": H1, "size": 3},
        {"relpath": "sub/b.csv", "hash": H2, "size": 10},
        {"relpath": "sub/deeper/c é.bin", "hash": H1, "size": 0},
    ],
    [{"relpath": "../x", "hash": H1, "size": 1}],
    [{"relpath": "/etc/passwd", "hash": H1, "size": 1}],
    [{"relpath": "a", "hash": H1, "size": 1}, {"relpath": "a/b", "hash": H2, "size": 1}],
    [{"relpath": "a", "hash": H1, "size": 1}, {"relpath": "a", "hash": H1, "size": 1}],
    [{"relpath": "./a//b", "hash": "AB" * 32, "size": 1}],
]


def literals(text):
    """The string literals of Rust source, unescaped, with the text before each."""
    pattern = re.compile(
        r"""'(?:[^'\\\n]|\\.)'|r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)\"""", re.S
    )
    for m in pattern.finditer(text):
        if m.group(0).startswith("'"):
            continue
        if m.group(2) is not None:
            yield text[: m.start()], m.group(2)
        else:
            yield text[: m.start()], unescape(m.group(3))


def unescape(s):
    s = re.sub(r"\\\n\s*", "", s)
    out, i = [], 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            m = re.match(r"u\{([0-9a-fA-F]+)\}", s[i + 1 :])
            if m:
                out.append(chr(int(m.group(1), 16)))
                i += 1 + m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def from_tests():
    """Specs, params and locks the tests write, by target."""
    found = {"spec": [], "params": [], "lock": []}
    for path in sorted((ROOT / "tests").glob("*.rs")):
        text = path.read_text(encoding="utf-8")
        previous = None
        for before, lit in literals(text):
            # The content written after a file name: `.write("params.yaml", "...")`.
            after_name = previous is not None and re.search(r",\s*$", before)
            if lit.startswith("version:") and "stages" in lit:
                found["lock"].append(lit)
            elif "stages:" in lit:
                found["spec"].append(lit)
            elif after_name and re.search(r"params[^/]*\.(ya?ml|json)$", previous):
                found["params"].append(lit)
            previous = lit
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    seeds = {"spec": set(), "lock": set(), "manifest": set(), "params": set()}

    files = [
        p
        for top in ("tests/fixtures", "specs", "examples")
        for p in sorted((ROOT / top).rglob("*"))
        if p.is_file()
    ]
    for p in files:
        data = p.read_bytes()
        if p.name in SPEC_NAMES:
            seeds["spec"].add(data)
            params = p.parent / "params.yaml"
            if params.is_file():
                seeds["spec"].add(data + b"\0" + params.read_bytes())
        elif p.suffix in (".yaml", ".yml", ".json"):
            seeds["params"].add(data)
            if p.name.startswith("params"):
                seeds["params"].add(data + b"\0" + "\n".join(OVERRIDES).encode())
        elif p.suffix == ".lock" or p.name == "pipeline.lock":
            seeds["lock"].add(data)
        elif p.name.endswith(".dir"):
            seeds["manifest"].add(data)

    tests = from_tests()
    for target, texts in tests.items():
        for text in texts:
            seeds[target].add(text.encode())
    for text in tests["params"]:
        seeds["params"].add(text.encode() + b"\0" + "\n".join(OVERRIDES).encode())
    for text in LOCKS:
        seeds["lock"].add(text.encode())
    for entries in MANIFESTS:
        # As wf writes them (compact), and pretty-printed.
        seeds["manifest"].add(json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode())
        seeds["manifest"].add(json.dumps(entries, indent=1).encode())

    for target, inputs in seeds.items():
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"seeds: {target}: {len(inputs)} inputs")


if __name__ == "__main__":
    main()
