"""`codemill prepare` end to end on the running Python's standard library.

Run: `python benches/bench_prepare.py [--workers 1,2] [--copies 1,3] [--json F]`.

Each configuration runs in a fresh process (so peak RSS is its own): wall time, files/s,
MB/s, samples, the peak RSS of the main process and of the largest worker. `--copies K`
passes the stdlib K times (the copies are exact duplicates, so the work of pass 1 grows K
times while the output stays the same): the main process's memory should stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def child(workers: int, copies: int, fmt: str) -> None:
    from codemill.finetune.pipeline import prepare

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"out{fmt}"
        t0 = time.perf_counter()
        report = prepare([STDLIB] * copies, out, workers=workers, seed=0, progress=False)
        wall = time.perf_counter() - t0
        size = out.stat().st_size
    print(
        json.dumps(
            {
                "workers": workers,
                "copies": copies,
                "format": fmt,
                "wall_s": round(wall, 2),
                "files": report["files"],
                "bytes_read": report["bytes"],
                "files_per_s": report["files_per_s"],
                "mb_per_s": report["mb_per_s"],
                "samples": report["samples"],
                "filtered": report["filtered"],
                "duplicates": report["duplicates"],
                "output_mb": round(size / 1e6, 1),
                "main_cpu_s": round(_cpu(resource.RUSAGE_SELF), 2),
                "workers_cpu_s": round(_cpu(resource.RUSAGE_CHILDREN), 2),
                "main_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default=f"1,{os.cpu_count() or 1}")
    ap.add_argument("--copies", default="1")
    ap.add_argument("--format", default=".jsonl", choices=(".jsonl", ".jsonl.gz", ".parquet"))
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.format)
        return
    print(f"stdlib: {STDLIB}  python {platform.python_version()}  {os.cpu_count()} cores  {platform.machine()}")
    results = []
    for copies in sorted({int(c) for c in args.copies.split(",")}):
        for workers in sorted({int(w) for w in args.workers.split(",")}):
            cmd = [sys.executable, __file__, "--child", str(workers), str(copies), "--format", args.format]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results.append(r)
            print(
                f"copies={copies} workers={workers}: {r['wall_s']:6.2f} s  {r['files']['read']} files "
                f"({r['files']['kept']} kept)  {r['files_per_s']:7.1f} files/s  {r['mb_per_s']:5.2f} MB/s  "
                f"{r['samples']['total']} samples  {r['output_mb']} MB out  "
                f"RSS main {r['main_peak_rss_mb']} MB, worker {r['worker_peak_rss_mb']} MB  "
                f"CPU main {r['main_cpu_s']} s, workers {r['workers_cpu_s']} s"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": platform.python_version(), "cores": os.cpu_count(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
