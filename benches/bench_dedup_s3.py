"""`codemill dedup` of JSONL parts from a local S3 server against the same parts on local disk,
from the command line, per core: what object storage costs dedup (the tokenize side is
`bench_tokenize_growth.py --configs jsonl1,s31 --pin`).

Run: `python benches/bench_dedup_s3.py [--base-mb 40] [--scale 25] [--rounds 5]
[--latency-ms 0] [--engine local|ray] [--parts DIR] [--ref OTHER_CHECKOUT/python]
[--dir /tmp/codemill_dedup_s3] [--json F]`.

The corpus is `bench_tokenize_growth.py`'s: ``--scale`` copies of ``--base-mb`` of real Python as
JSONL parts of 8 MB (mostly exact copies, as crawled code is), written once and uploaded once to
moto's S3 app under waitress (`benches/moto_s3_server.py`; ``--latency-ms`` delays each answer,
as a real store's first byte is late). Each round runs, in fresh processes: dedup of the local
parts, then of the bucket's (output on local disk either way), each command held to core 0 and
the server to core 1, so the figures are the client's own cost; with ``--ref``, another
checkout's two runs too (its ``python`` folder first on PYTHONPATH). Rows are medians. One dedup
of the bucket, not timed, goes first: the server's first reads of the objects were slow (the
first round's bucket run took 7.6 s where the others took 3.9–4.5 s, whichever checkout it was).
``--parts DIR``: another folder of JSONL files instead (many small files, say); ``--engine ray``:
`codemill dedup --engine ray`, a local Ray of the command's own started in each run, not pinned.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent))
from bench_tokenize_growth import base_files, installed, make_jsonl, make_tree, start_s3, upload

HERE = Path(__file__).resolve().parent.parent / "python"


def run(inp: str, out: Path, pythonpath: Path, env: dict[str, str], engine: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "codemill.cli", "dedup", inp, "-o", str(out), "--no-progress", "--engine", engine]
    if engine == "local":
        cmd = ["taskset", "-c", "0", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**env, "PYTHONPATH": str(pythonpath)}, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def main() -> None:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-mb", type=float, default=40.0)
    ap.add_argument("--scale", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--engine", choices=("local", "ray"), default="local")
    ap.add_argument("--parts", type=Path, help="a folder of JSONL files to read instead of the corpus's parts")
    ap.add_argument("--ref", type=Path, help="another checkout's python folder, run side by side")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/codemill_dedup_s3"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    parts = args.parts or args.dir / f"jsonl_x{args.scale}"
    if not parts.exists():
        tree = args.dir / "tree"
        make_tree(tree, base_files(args.base_mb), args.scale)
        make_jsonl(tree, parts)
        shutil.rmtree(tree)
        os.sync()
    size = sum(p.stat().st_size for p in parts.iterdir())
    checkouts = {"this": HERE, **({"ref": args.ref.resolve()} if args.ref else {})}
    pin = 1 if args.engine == "local" else None
    proc, env, server = start_s3(dict(os.environ), "moto-waitress", latency_ms=args.latency_ms, cpu=pin)
    times: dict[str, list[float]] = {}
    try:
        url = upload(parts, "bench-dedup", "in", env)
        run(url, args.dir / "out", HERE, env, args.engine)  # the server's first reads, not timed
        for r in range(args.rounds):
            row = []
            for name, path in checkouts.items():
                for kind, inp in (("local", str(parts)), ("s3", url)):
                    seconds = run(inp, args.dir / "out", path, env, args.engine)
                    times.setdefault(f"{name} {kind}", []).append(seconds)
                    row.append(f"{name} {kind} {seconds:.2f} s")
            print(f"round {r + 1}: " + ", ".join(row), flush=True)
    finally:
        proc.terminate()
    rows = {
        key: {"seconds": median(v), "runs_seconds": v, "mb_per_s": size / 1e6 / median(v)} for key, v in times.items()
    }
    for name in checkouts:
        local, s3 = rows[f"{name} local"]["seconds"], rows[f"{name} s3"]["seconds"]
        print(
            f"{name}: {size / 1e6:.0f} MB, local {local:.2f} s, S3 {s3:.2f} s: S3 / local throughput {local / s3:.3f}x"
        )
    if args.json:
        result = {
            "bench": "dedup_s3",
            "bytes": size,
            "server": server,
            "latency_ms": args.latency_ms,
            "engine": args.engine,
            "parts": str(parts),
            "checkouts": {k: str(v) for k, v in checkouts.items()},
            "rows": rows,
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
            "versions": {p: installed(p) for p in ("s3fs", "obstore", "moto")},
        }
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
