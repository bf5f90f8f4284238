"""A one-off `codemill context FILE --index IDX` call in a fresh Python process, the way an
editor or agent calls it: wall time per call (p50, p99), imports and graph load included.
Run: `python benches/bench_context_cli.py INDEXDIR [--calls N] [--query TEXT] [--serve] [--other
PYTHONPATH [--other-index INDEXDIR]]`; with --serve, the same files are also asked of one
`codemill context --serve` process (round trip per request, the way an editor plugin calls
it); with --other, the same calls run against a second source tree
(e.g. main's, with an index it wrote), interleaved, so that both sides see the same load.
Each tree's bytecode is compiled first, as an installed package has it (with
PYTHONDONTWRITEBYTECODE set, every call would otherwise compile codemill's sources again).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def call(pythonpath: str, file: str, index: str, query: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; CPU time (user + system) is steadier on a loaded machine."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "codemill.cli",
            "context",
            file,
            "--index",
            index,
            *(["--query", query] if query else []),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def served(pythonpath: str, files: list[str], index: str, query: str | None = None) -> list[float]:
    """Round-trip seconds of each request to one `codemill context --serve` process (started
    and sent a first request before timing: an editor keeps it running)."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "codemill.cli", "context", "--serve", "--index", index]
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    times = []
    try:
        for i, f in enumerate([files[0], *files]):
            t = time.perf_counter()
            proc.stdin.write(json.dumps({"file": f, "query": query, "id": i}) + "\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            if "error" in reply:
                raise SystemExit(f"{f}: {reply['error']}")
            if i:
                times.append(time.perf_counter() - t)
    finally:
        proc.stdin.close()
        proc.wait()
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(1000 * statistics.median(ordered), 1), "p99_ms": round(1000 * p99, 1)}


def sample_files(index: str, n: int, seed: int) -> list[str]:
    """``n`` non-test Python files of the indexed repository (absolute paths)."""
    from codemill.context.graph import ImportGraph
    from codemill.context.graph_store import GRAPH_FILE
    from codemill.context.relevance import is_test

    graph = ImportGraph.load(Path(index) / GRAPH_FILE)
    files = sorted(f for f, lang in graph.files.items() if lang == "python" and not is_test(f))
    return [str(graph.root / f) for f in random.Random(seed).sample(files, min(n, len(files)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("index")
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--other", metavar="PYTHONPATH", help="a second source tree's python/ to compare")
    ap.add_argument("--other-index", metavar="INDEXDIR", help="the index --other reads (default: INDEXDIR)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--query", help="a question every call asks (codemill context --query)")
    ap.add_argument("--serve", action="store_true", help="also time the same calls as requests to `context --serve`")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "python")
    sides = {"this": (here, args.index)}
    if args.other:
        sides["other"] = (args.other, args.other_index or args.index)
    for path, _ in sides.values():
        compileall.compile_dir(path, quiet=1)
    files = sample_files(args.index, args.calls, args.seed)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
    for f in files:
        for name, (path, index) in sides.items():
            times[name].append(call(path, f, index, args.query))
    for name, ts in times.items():
        wall, cpu = summary([w for w, _ in ts]), summary([c for _, c in ts])
        print(f"{name}: {len(ts)} fresh-process calls, wall {wall}, CPU {cpu}")
    if args.serve:
        path, index = sides["this"]
        trips = summary(served(path, files, index, args.query))
        print(f"this, served: {len(files)} requests to one process, round trip {trips}")


if __name__ == "__main__":
    main()
