"""What a second core gives on this machine: the same single-threaded encoding job run alone,
then as two copies at once (separate processes, no shared state, their timed calls started together:
each child loads its text, says it is ready and waits for the word to go); first pass over the text
(what a corpus job does: every piece new to the caches), or ``--warm`` (the second pass). Two
copies finishing in the time of one means 2.0x is reachable; a shared physical core, memory bandwidth or a noisy
neighbour shows as less. Read every ``2 / 1`` ratio of the other benches against this one.
``--threads``: instead, one process's ``encode_batch_flat`` on 2 threads against 1 (what the
encoder's own thread pool gets from the second core); ``--method batch`` times ``encode_batch``
(an array per text, no concatenated copy) instead. ``--threads --in-process``: the same first
passes alternating inside one process that has run both pools on prose, a fresh tokenizer (empty
caches) for each: what a long-running corpus process meets on new text, without a fresh
process's start-up (allocating and faulting its caches) in either figure, which made single
rounds range from 1.4x to 2.9x.

    python benches/core_ceiling.py [--mb 20] [--rounds 3] [--warm] [--threads [--in-process]] [--method flat|batch]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any


def texts(mb: float) -> list[str]:
    out, size = [], 0
    for p in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        t = p.read_text(encoding="utf-8", errors="replace")
        out.append(t)
        size += len(t)
        if size >= mb * 1e6:
            break
    return out


def encoder(method: str) -> Any:
    """A fresh bundled tokenizer's ``encode_batch_flat`` (``flat``) or ``encode_batch`` (``batch``)."""
    from codemill.tokenizer import load_tokenizer

    tok = load_tokenizer(None)
    return tok.encode_batch_flat if method == "flat" else tok.encode_batch


def child(mb: float, warm: bool, threads: int, method: str) -> None:
    encode = encoder(method)
    docs = texts(mb)
    langs = ["python"] * len(docs)
    # One-time costs outside the timing, as first_pass.py warms on prose: the first call
    # imports numpy (~0.1-0.17 s, the same for any thread count, which squeezed the ratio)
    # and starts the pool. Five bytes warm no cache measurably.
    encode(["x = 1"], ["python"], num_threads=threads)
    if warm:
        # On the pool that is timed: caches are per thread, and the pool of each thread count is
        # kept. A thread may be handed a document the other one warmed, so with 2 threads the
        # warm figure is a lower bound.
        encode(docs, langs, num_threads=threads)
    # Two copies load their text at different speeds (~1.5 s of reading): unsynchronised, one
    # copy's timed call ran partly alone, and the ratio read up to 2.4x, more than two cores give.
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    encode(docs, langs, num_threads=threads)
    print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": sum(len(d.encode()) for d in docs)}))


def in_process(mb: float, rounds: int, method: str) -> list[float]:
    """2 / 1 ratios of first passes on 1 and 2 threads, alternating in this process (see above)."""
    from codemill.bench.benchmark import warm_text

    docs = texts(mb)
    langs = ["python"] * len(docs)
    prose = warm_text().splitlines(keepends=True)
    warm = ["".join(prose[i::64]) for i in range(64)]  # enough texts for both threads of a pool

    def first_pass(threads: int) -> float:
        encode = encoder(method)
        encode(warm, ["python"] * len(warm), num_threads=threads)
        t0 = time.perf_counter()
        encode(docs, langs, num_threads=threads)
        return time.perf_counter() - t0

    first_pass(1), first_pass(2)  # both pools started, their threads' caches allocated
    ratios = []
    for r in range(rounds):
        one, two = first_pass(1), first_pass(2)
        ratios.append(one / two)
        print(f"round {r + 1}: 1 thread {one:.3f} s, 2 threads {two:.3f} s: 2 / 1 = {ratios[-1]:.2f}x")
    return ratios


def run(copies: int, mb: float, warm: bool, threads: int = 1, method: str = "flat") -> float:
    cmd = [sys.executable, __file__, "--child", "--mb", str(mb), "--threads-child", str(threads), "--method", method]
    cmd += ["--warm"] if warm else []
    # No BLAS threads: numpy's would spin on the second core at import in every child.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for _ in range(copies)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0]) for p in procs]
    return statistics.mean(r["seconds"] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm", action="store_true", help="encode the text twice, time the second (cache hits)")
    ap.add_argument("--threads", action="store_true", help="one process, encode_batch on 2 threads vs 1")
    ap.add_argument("--method", choices=("flat", "batch"), default="flat", help="encode_batch_flat or encode_batch")
    ap.add_argument("--in-process", action="store_true", help="with --threads: alternate in one warmed process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads-child", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.mb, args.warm, args.threads_child, args.method)
        return
    if args.in_process:
        if not args.threads or args.warm:
            raise SystemExit("--in-process goes with --threads, and times first passes (no --warm)")
        os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy is imported: no BLAS threads spinning
        print(f"median 2 / 1: {statistics.median(in_process(args.mb, args.rounds, args.method)):.2f}x")
        return
    ratios = []
    for r in range(args.rounds):
        if args.threads:
            one, two = run(1, args.mb, args.warm, 1, args.method), run(1, args.mb, args.warm, 2, args.method)
            ratios.append(one / two)
            print(f"round {r + 1}: 1 thread {one:.2f} s, 2 threads {two:.2f} s: 2 / 1 = {ratios[-1]:.2f}x")
            continue
        one, two = run(1, args.mb, args.warm), run(2, args.mb, args.warm)
        ratios.append(2 * one / two)
        print(f"round {r + 1}: one copy {one:.2f} s, each of two copies {two:.2f} s: 2 / 1 = {ratios[-1]:.2f}x")
    print(f"median 2 / 1 ceiling: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
