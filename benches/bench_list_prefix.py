"""Listing a prefix of many objects: what `codemill` does before it reads a tree in a bucket
(and each time a job lists its output folder), against one paged listing of the whole prefix.

Run: `python benches/bench_list_prefix.py [--folders 100] [--per-folder 100] [--latency-ms 20]
[--rounds 5] [--json F]` (needs the ``bench`` extra: moto, waitress).

The bench's S3 server (`moto_s3_server.py`, moto's S3 application under waitress, objects in
memory) answers each request ``--latency-ms`` late, as a store across a network does. Two
prefixes are uploaded: a tree of ``--folders`` folders of ``--per-folder`` small objects each
(repositories in a bucket), and a flat prefix of as many objects in one folder. Each round lists
each prefix both ways with `codemill.sources.fs.list_files`, in turn (the order swapping every
round): ``one listing`` lists the prefix with s3fs's own ``find(prefix, detail=True)`` (1,000
keys per request, page after page: what codemill did before), ``by folder`` as codemill does
now (`fs._find`: the top level, then its folders at once). Rows are medians; both ways must
list the same objects. The server runs on the same cores, so its CPU is part of what
is measured.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from argparse import ArgumentParser
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from bench_tokenize_growth import start_s3


def main() -> None:
    ap = ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folders", type=int, default=100)
    ap.add_argument("--per-folder", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--server", choices=("moto-waitress", "rclone"), default="moto-waitress")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    store = Path(tempfile.mkdtemp(prefix="codemill-bench-list-"))
    server, env, name = start_s3(dict(os.environ), args.server, args.latency_ms, store / "objects")
    try:
        os.environ.update(env)  # this process is the client
        from codemill.sources import fs

        by_folder = fs._find
        s3, _ = fs.url_fs("s3://bench-list/x")
        s3.mkdir("bench-list")
        n = args.folders * args.per_folder
        body = b"x = 1\n"
        t0 = time.perf_counter()
        s3.pipe(
            {
                f"bench-list/tree/r{f:04d}/src/m{i:04d}.py": body
                for f in range(args.folders)
                for i in range(args.per_folder)
            }
        )
        s3.pipe({f"bench-list/flat/m{i:06d}.py": body for i in range(n)})
        print(f"uploaded 2 x {n:,} objects in {time.perf_counter() - t0:.1f} s ({name})", flush=True)
        times: dict[str, list[float]] = {}
        for r in range(args.rounds):
            for prefix in ("tree", "flat"):
                url = f"s3://bench-list/{prefix}"
                ways = {
                    "one listing": lambda fs_, root: fs_.find(root, detail=True),
                    "by folder": by_folder,
                }
                order = list(ways) if r % 2 == 0 else list(ways)[::-1]
                listed = {}
                for way in order:
                    s3.invalidate_cache()
                    fs._find = ways[way]
                    t = time.perf_counter()
                    listed[way] = fs.list_files(url)
                    times.setdefault(f"{prefix}, {way}", []).append(time.perf_counter() - t)
                if listed["one listing"] != listed["by folder"] or len(listed["by folder"]) != n:
                    raise SystemExit(f"{prefix}: the two listings differ")
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(store, ignore_errors=True)
    medians = {k: round(statistics.median(v), 3) for k, v in times.items()}
    for k, v in medians.items():
        print(f"{k:20s} {v:.3f} s (rounds {min(times[k]):.2f}-{max(times[k]):.2f})")
    result = {
        "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}",
        "python": platform.python_version(),
        "s3fs": version("s3fs"),
        "server": name,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "objects_per_prefix": n,
        "folders": args.folders,
        "rounds": times,
        "medians": medians,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
