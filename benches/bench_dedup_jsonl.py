"""`codemill dedup` of JSONL side by side with another checkout: wall and CPU time per run.

Run: `python benches/bench_dedup_jsonl.py --ref OTHER/python [--rounds 8] [--base-mb 31]
[--dir /tmp/codemill_dedup_jsonl] [--json F]`.

Three corpora of the running Python's standard library (PSF), made as `bench_dedup_growth.py`
makes its 8x scale:
- ``growth``: the growth bench's 8 copies (edited near duplicates, renamed new documents, one
  file in fifty an exact copy), records of ``content`` and ``path``;
- ``stack``: the same records with The Stack's other 27 fields (hashes, repository names,
  licenses, star counts, dates), which a corpus job parses but never reads;
- ``copies``: the base files 8 times over, shuffled: every text has 7 exact copies, as forks
  and vendored files give a crawled corpus.

Each round runs `codemill dedup` in fresh processes, this checkout and ``--ref`` alternating
(which goes first swaps every round), pinned to one core (`taskset -c 0`) and on every core.
Each checkout uses its own built core (``--ref`` names the other's ``python`` directory).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_dedup_growth import make_corpus  # benches/ is on sys.path: scripts run from it

HERE = Path(__file__).resolve().parents[1] / "python"


def _stack_fields(path: Path, out: Path) -> None:
    rng = random.Random(1)
    with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as f:
        for i, line in enumerate(src):
            r = json.loads(line)
            text, where, repo = r["content"], r["path"], f"user{i % 97}/repo{i % 13}"
            sha = [hashlib.sha1(f"{text}{k}".encode()).hexdigest() for k in range(4)]
            rec = {
                "hexsha": sha[0],
                "size": len(text),
                "ext": "py",
                "lang": "Python",
                **{
                    f"max_{kind}_repo_{field}": value
                    for kind, n in (("stars", 1), ("issues", 2), ("forks", 3))
                    for field, value in (
                        ("path", where),
                        ("name", repo),
                        ("head_hexsha", sha[n]),
                        ("licenses", ["MIT", "Apache-2.0"][: 1 + n % 2]),
                    )
                },
                "max_stars_count": rng.randint(1, 5000),
                "max_stars_repo_stars_event_min_datetime": "2019-06-01T12:00:00.000Z",
                "max_stars_repo_stars_event_max_datetime": "2022-03-01T12:00:00.000Z",
                "max_issues_count": None,
                "max_issues_repo_issues_event_min_datetime": None,
                "max_issues_repo_issues_event_max_datetime": None,
                "max_forks_count": rng.randint(0, 300),
                "max_forks_repo_forks_event_min_datetime": "2018-01-01T00:00:00.000Z",
                "max_forks_repo_forks_event_max_datetime": "2021-01-01T00:00:00.000Z",
                "content": text,
                "avg_line_length": 31.5,
                "max_line_length": 99,
                "alphanum_fraction": 0.71,
            }
            f.write(json.dumps(rec) + "\n")


def _copies(base: Path, out: Path, copies: int) -> None:
    lines = base.read_text(encoding="utf-8").splitlines(keepends=True) * copies
    random.Random(2).shuffle(lines)
    out.write_text("".join(lines), encoding="utf-8")


def _run(corpus: Path, out: Path, pythonpath: Path, pinned: bool) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "codemill.cli", "dedup", str(corpus), "-o", str(out)]
    if pinned:
        cmd = ["taskset", "-c", "0", *cmd]
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", type=Path, required=True, help="the other checkout's python directory")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--base-mb", type=float, default=31.0)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/codemill_dedup_jsonl"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    growth, stack, copies = (args.dir / f"{n}.jsonl" for n in ("growth", "stack", "copies"))
    base = args.dir / "base.jsonl"
    make_corpus(growth, args.base_mb, 8)
    make_corpus(base, args.base_mb, 1)
    _stack_fields(growth, stack)
    _copies(base, copies, 8)
    rows = []
    for corpus in (growth, stack, copies):
        for pinned in (True, False):
            runs: dict[str, list[tuple[float, float]]] = {"this": [], "ref": []}
            sides = [("this", HERE), ("ref", args.ref)]
            for r in range(args.rounds):
                for name, pythonpath in sides if r % 2 == 0 else sides[::-1]:
                    runs[name].append(_run(corpus, args.dir / "out", pythonpath, pinned))
            row = {
                "corpus": corpus.stem,
                "mb": round(corpus.stat().st_size / 1e6, 1),
                "pinned": pinned,
                **{
                    f"{name}_{what}": round(statistics.median(x[k] for x in xs), 3)
                    for name, xs in runs.items()
                    for k, what in ((0, "wall_s"), (1, "cpu_s"))
                },
                "walls": {name: sorted(round(x[0], 3) for x in xs) for name, xs in runs.items()},
            }
            row["wall_ratio"] = round(row["this_wall_s"] / row["ref_wall_s"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    shutil.rmtree(args.dir / "out", ignore_errors=True)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "ref": str(args.ref),
        "rounds": args.rounds,
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
