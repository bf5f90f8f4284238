"""Ray dedup of real inputs, side by side with another checkout: wall time and the driver's peak
memory, each run a fresh process with a one-node Ray of 2 CPUs (`ray.init` not timed), or with
``--engine local`` the local engine's.

Run: `python benches/bench_dedup_ray.py INPUT [INPUT ...] [--rounds 3] [--ref OTHER/python]
[--engine ray|local] [--json F]`. Each input (a tree, a JSONL or Parquet file) is deduplicated on its own, this
checkout and ``--ref`` (another checkout's ``python`` folder, with its own built core)
alternating, the first of a round swapped every round. The reports' counts must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "python"


def child(engine: str, inputs: list[str]) -> None:
    if engine == "ray":
        import ray

        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    from codemill.near_dup.api import dedup

    start = time.perf_counter()
    report = dedup(inputs, None, engine=engine)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    counts = report["counts"]
    keys = ("documents", "exact_duplicates_removed", "near_duplicates_removed", "skipped_total")
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "driver_peak_rss_mb": round(hwm / 1024, 1),
                "tasks": sum(report.get("tasks_per_node", {}).values()),
                "counts": {k: counts[k] for k in keys},
                "skipped_items": len(report["skipped_items"]),
            }
        )
    )


def run(engine: str, inputs: list[str], python_dir: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(python_dir), "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--engine", engine, "--child", *inputs]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"run failed ({python_dir}): {done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ref", type=Path, help="another checkout's python folder, run alternating with this one")
    ap.add_argument("--engine", choices=("ray", "local"), default="ray")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs="+", metavar="INPUT")
    args = ap.parse_args()
    if args.child:
        child(args.engine, args.child)
        return
    if not args.inputs:
        ap.error("give at least one input")
    sides = {"this": HERE, **({"ref": args.ref} if args.ref else {})}
    rows = []
    for name in args.inputs:
        runs: dict[str, list[dict[str, object]]] = {side: [] for side in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
            for side in order:
                got = run(args.engine, [name], sides[side])
                runs[side].append(got)
                print(json.dumps({"input": name, "side": side, **got}), flush=True)
        counts = {json.dumps(r["counts"], sort_keys=True) for got in runs.values() for r in got}
        if len(counts) != 1:
            raise SystemExit(f"{name}: the runs' counts differ: {sorted(counts)}")
        for side, got in runs.items():
            row = {
                "input": name,
                "side": side,
                "python": str(sides[side]),
                "seconds": statistics.median(float(r["seconds"]) for r in got),  # type: ignore[arg-type]
                "runs_seconds": [r["seconds"] for r in got],
                "driver_peak_rss_mb": [r["driver_peak_rss_mb"] for r in got],
                "tasks": got[0]["tasks"],
                "counts": got[0]["counts"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    machine = f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}"
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "engine": args.engine, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
