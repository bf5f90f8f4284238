"""Growth curve of `codemill.dedup`: wall time, throughput, peak RSS of the process tree,
candidate pairs and memory growth on 1x, 2x, 4x and 8x of a real-code corpus.

Run: `python benches/bench_dedup_growth.py [--base-mb 12] [--scales 1,2,4,8] [--engine local]
[--repeat 1] [--dir /tmp/codemill_dedup_growth] [--json F]`.

The corpus is JSONL of the running Python's standard library (PSF), `--base-mb` of it, taken
`k` times for scale `k`: copy 0 as is; in copy `j > 0` a quarter of the files are edited
near duplicates of copy 0 (a few lines dropped or changed, seeded by `j`: they form groups
that grow with `k`, so candidate pairs grow faster than the corpus), one in fifty is an
exact copy, and the rest have every identifier renamed (new documents). Each scale runs in a
fresh process, started as the `codemill` command starts (its malloc set off Ray); the
parent samples the RSS of that process and all its descendants every 20 ms (Ray's raylet and
workers included with `--engine ray`) and keeps the peak. Each scale's corpus is written back to
the disk (`os.sync`) before it is timed: the 1.24 GB corpus still being written back while its
dedup ran took that run from ~9 s to 14.7 s. With ``--repeat N`` a scale runs N times; its row
gives the median time and peak, and every run's in ``runs_seconds`` and ``runs_peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

from process_rss import run_with_peak_rss, start_as_the_command  # benches/ is on sys.path: scripts run from it

_WORD = re.compile(r"\b([A-Za-z_]\w{3,})\b")


def _variant(text: str, copy: int, i: int) -> str:
    """Copy `copy` of file `i`: as is (copy 0), edited, exact, or renamed."""
    if copy == 0 or i % 50 == 1:
        return text
    if i % 4 == 0:
        rng = random.Random(copy * 1_000_003 + i)
        lines = text.splitlines(keepends=True)
        for _ in range(max(1, len(lines) // 40)):
            k = rng.randrange(len(lines))
            if rng.random() < 0.5:
                del lines[k]
            else:
                lines[k] = lines[k].replace("self", "this", 1)
            if not lines:
                break
        return "".join(lines)
    return _WORD.sub(lambda m: f"{m.group(1)}{copy}", text)


def make_corpus(path: Path, base_mb: float, scale: int) -> dict[str, int]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benches.bench_dedup import load_corpus

    base: list[str] = []
    size = 0
    for t in load_corpus(100_000):
        base.append(t)
        size += len(t.encode("utf-8"))
        if size >= base_mb * 1e6:
            break
    docs = 0
    with open(path, "w", encoding="utf-8") as f:
        for copy in range(scale):
            for i, t in enumerate(base):
                f.write(json.dumps({"content": _variant(t, copy, i), "path": f"c{copy}/{i}.py"}) + "\n")
                docs += 1
    return {"jsonl_bytes": path.stat().st_size, "docs": docs, "base_docs": len(base)}


def _status(field: str) -> int:
    """A size from /proc/self/status in bytes (VmRSS: now; VmHWM: peak since exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def child(path: str, out: str, engine: str) -> None:
    from codemill.near_dup.api import dedup

    start_as_the_command(engine)
    if engine == "ray":
        import ray

        ray.init(include_dashboard=False, log_to_driver=False)
    base_rss = _status("VmRSS")
    t0 = time.perf_counter()
    report = dedup(path, out, engine=engine)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    c = report["counts"]
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "import_rss_bytes": base_rss,
                # ru_maxrss would carry the parent's size over fork+exec; VmHWM starts at exec.
                "driver_peak_rss_bytes": _status("VmHWM"),
                "documents": c["documents"],
                "kept": c["kept"],
                "exact_removed": c["exact_duplicates_removed"],
                "near_removed": c["near_duplicates_removed"],
                "candidate_pairs": c["candidate_pairs"],
                "skipped_by_window": c["candidate_pairs_skipped_by_window"],
                "pairs_verified": c["candidate_pairs_verified"],
                "bands_rows": [report["params"]["bands"], report["params"]["rows"]],
            }
        )
    )


def measure(path: Path, out: Path, engine: str) -> dict[str, object]:
    run, peak = run_with_peak_rss([sys.executable, __file__, "--child", str(path), str(out), engine])
    if run.returncode != 0:
        raise SystemExit(f"scale run failed: {run.stderr[-2000:]}")
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    result["tree_peak_rss_bytes"] = max(peak, int(result["driver_peak_rss_bytes"]))  # type: ignore[call-overload]
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-mb", type=float, default=12.0)
    ap.add_argument("--scales", default="1,2,4,8")
    ap.add_argument("--engine", default="local", choices=("local", "ray"))
    ap.add_argument("--repeat", type=int, default=1, help="runs per scale (the row holds their medians)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/codemill_dedup_growth"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=3, metavar=("PATH", "OUT", "ENGINE"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    import codemill

    args.dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        path = args.dir / f"corpus_x{scale}.jsonl"
        corpus = make_corpus(path, args.base_mb, scale)
        os.sync()  # the corpus on disk, so that no run shares the disk with its writeback
        runs = []
        for _ in range(args.repeat):
            runs.append(measure(path, args.dir / f"out_x{scale}", args.engine))
            shutil.rmtree(args.dir / f"out_x{scale}")
        run = dict(runs[0])  # the counts are the same in every run
        for key in ("seconds", "driver_peak_rss_bytes", "tree_peak_rss_bytes"):
            run[key] = statistics.median(r[key] for r in runs)  # type: ignore[type-var]
        run["runs_seconds"] = [r["seconds"] for r in runs]
        run["runs_peak_rss_mb"] = [round(r["tree_peak_rss_bytes"] / 1e6, 1) for r in runs]  # type: ignore[operator]
        mb = corpus["jsonl_bytes"] / 1e6
        seconds = float(run["seconds"])  # type: ignore[arg-type]
        row = {
            "scale": scale,
            **corpus,
            **run,
            "mb_per_s": round(mb / seconds, 2),
            "docs_per_s": round(corpus["docs"] / seconds, 1),
            "signature_bytes": corpus["docs"] * 256 * 4,
            # What the run added to the process over its imports, per input document.
            "working_bytes_per_doc": round((run["driver_peak_rss_bytes"] - run["import_rss_bytes"]) / corpus["docs"]),  # type: ignore[operator]
            "pairs_per_doc": round(run["candidate_pairs"] / corpus["docs"], 3),  # type: ignore[operator]
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        path.unlink()
    first = rows[0]
    growth = [
        {
            "scale": r["scale"],
            "input_x": round(r["jsonl_bytes"] / first["jsonl_bytes"], 2),
            "time_x": round(r["seconds"] / first["seconds"], 2),
            "candidate_pairs": r["candidate_pairs"],
            "tree_peak_rss_mb": round(r["tree_peak_rss_bytes"] / 1e6, 1),
            "tree_rss_x": round(r["tree_peak_rss_bytes"] / first["tree_peak_rss_bytes"], 2),
            # Peak RSS above the scale-1 run, per MB of extra input.
            "rss_growth_per_input_mb": (
                round(
                    (r["tree_peak_rss_bytes"] - first["tree_peak_rss_bytes"])
                    / (r["jsonl_bytes"] - first["jsonl_bytes"]),
                    3,
                )
                if r is not first
                else None
            ),
        }
        for r in rows
    ]
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "codemill": codemill.__version__,
        "numpy": version("numpy"),
        "engine": args.engine,
        "rows": rows,
        "growth": growth,
    }
    print(json.dumps(result["growth"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
