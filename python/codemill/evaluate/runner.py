"""Runs samples through the sandbox in parallel, streams per-sample results, sums them up.

Timeouts follow evalplus: each task's canonical solution is run first and a sample gets
max(floor, factor x canonical runtime), so a slow machine does not turn passes into
timeouts and a fast one does not let slow solutions through.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codemill._io import atomic_file
from codemill.evaluate import metrics
from codemill.evaluate.problems import (
    Problem,
    Sample,
    canonical_samples,
    load_problems,
    load_samples,
)
from codemill.evaluate.sandbox import STATUSES, Limits, Program, RunResult, Sandbox
from codemill.progress import Progress

SKIPPED_LISTED = 100  # the summary lists this many skipped items; all are counted
# The largest memory and work-dir size taken, in MB (16 TiB): their byte counts stay far inside
# the 64 bits of a resource limit.
MAX_MB = 1 << 24


def evaluate(
    samples: str | Path | None = None,
    problems: str | Path = "humaneval",
    *,
    ks: Iterable[int] = (1, 10, 100),
    workers: int = 2,
    timeout: float = 3.0,
    timeout_factor: float = 4.0,
    memory_mb: int = 1024,
    work_mb: int = 64,
    repeats: int = 3,
    out: str | Path | None = None,
    sanity: bool = False,
    python: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate a samples JSONL (`task_id`, `completion`) against a problem set.

    With `sanity=True` the canonical solutions are the samples. Per-sample results go to
    `out` as JSONL in input order (identical whatever `workers`, timings aside), written
    whole or not at all; the returned summary holds every metric. Passed programs run
    their tests `repeats` times and report the median time, which efficiency compares.
    An existing `out` is replaced only if it is an earlier results file (or `overwrite`).
    ``progress``: the canonical solutions' and the samples' runs counted on stderr.
    """
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    from codemill._cpus import usable_workers

    workers = usable_workers(workers)  # each runs a sandboxed process: 5,000 at once would be a fork bomb
    if not (timeout > 0 and timeout_factor > 0 and math.isfinite(timeout * timeout_factor)):
        raise ValueError("--timeout and --timeout-factor must be finite and > 0")
    if not (16 <= memory_mb <= MAX_MB and 1 <= work_mb <= MAX_MB):
        # (2**43 MB passed, and its byte count overflowed the limit set: every program failed)
        raise ValueError(f"--memory-mb must be from 16 to {MAX_MB} and --work-mb from 1 to {MAX_MB}")
    if repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {repeats}")
    ks = sorted(set(ks))
    if not ks or ks[0] < 1:
        raise ValueError("-k values must be positive integers")
    if sanity and samples is not None:
        raise ValueError(f"{samples}: --sanity evaluates the canonical solutions; give no samples file with it")
    if out is not None:
        _refuse_to_overwrite(Path(out), [p for p in (samples, problems) if p is not None], overwrite)
    table = load_problems(problems)
    if sanity:
        todo, lacking = canonical_samples(table)
        skipped = [(task_id, "no canonical solution") for task_id in lacking]
    else:
        if samples is None:
            raise ValueError("a samples JSONL is required (or --sanity)")
        todo, skipped = load_samples(samples, table)

    start = time.perf_counter()
    limits = Limits(memory_mb=memory_mb, work_mb=work_mb)
    with Sandbox(limits, python, repeats=1 if sanity else repeats) as sandbox:
        reference_s: dict[str, float] = {}
        calibration_failed: list[str] = []
        if not sanity:
            # The canonical solutions get the cap a sample can get at most: one slower than the
            # floor failed at it, and its task's samples (the canonical itself) timed out.
            cap = timeout * max(timeout_factor, 1.0)
            reference_s, calibration_failed = _calibrate(sandbox, table, todo, cap, workers, progress)
        budgets = {
            task_id: max(timeout, timeout_factor * reference_s[task_id]) if task_id in reference_s else timeout
            for task_id in {s.task_id for s in todo}
        }
        results = _run_all(sandbox, table, todo, budgets, workers, out, progress)
        layers = sandbox.layers()
    wall = time.perf_counter() - start

    summary = _summarize(table, todo, results, reference_s, ks, sanity)
    summary.update(
        problems=str(problems),
        skipped={
            "count": len(skipped),
            "items": [{"where": w, "reason": r} for w, r in skipped[:SKIPPED_LISTED]],
        },
        calibration={"tasks": len(reference_s), "failed": calibration_failed},
        timeouts={"floor_s": timeout, "factor": timeout_factor},
        memory_mb=memory_mb,
        work_mb=work_mb,
        repeats=sandbox.repeats,
        workers=workers,
        wall_s=wall,
        sandbox=layers,
        results_path=str(out) if out is not None else None,
    )
    return summary


def _calibrate(
    sandbox: Sandbox,
    table: dict[str, Problem],
    todo: list[Sample],
    floor: float,
    workers: int,
    progress: bool = False,
) -> tuple[dict[str, float], list[str]]:
    """Canonical runtime of every task that has samples; ids whose canonical did not pass."""
    tasks = sorted({s.task_id for s in todo if table[s.task_id].canonical_solution is not None})

    def one(task_id: str) -> RunResult:
        problem = table[task_id]
        assert problem.canonical_solution is not None
        return _run_one(sandbox, problem.program(problem.canonical_solution), floor)

    reference, failed = {}, []
    with (
        Progress("eval: canonical solutions", len(tasks), "tasks", enabled=progress) as bar,
        ThreadPoolExecutor(workers) as pool,
    ):
        for task_id, result in zip(tasks, pool.map(one, tasks), strict=True):
            if result.status == "passed" and result.runtime_s is not None:
                reference[task_id] = result.runtime_s
            else:
                failed.append(task_id)
            bar.advance(detail=f"{len(failed)} failed" if failed else None)
    return reference, failed


def _run_all(
    sandbox: Sandbox,
    table: dict[str, Problem],
    todo: list[Sample],
    budgets: dict[str, float],
    workers: int,
    out: str | Path | None,
    progress: bool = False,
) -> list[RunResult]:
    def one(sample: Sample) -> RunResult:
        problem = table[sample.task_id]
        return _run_one(sandbox, problem.program(sample.completion), budgets[sample.task_id])

    with contextlib.ExitStack() as stack:
        write: Callable[[str], object] | None = None
        if out is not None:
            # Written beside the target and renamed over it at the end: never half-written (a
            # link's target, the link kept, as every output is).
            write = stack.enter_context(atomic_file(out, "w", encoding="utf-8")).write
        results = []
        passed = 0
        with (
            Progress("eval: samples", len(todo), "samples", enabled=progress) as bar,
            ThreadPoolExecutor(workers) as pool,
        ):
            # pool.map yields in input order, so the file streams in input order too.
            for sample, result in zip(todo, pool.map(one, todo), strict=True):
                results.append(result)
                if write is not None:
                    record = _record(sample, table[sample.task_id], result, budgets)
                    write(json.dumps(record, allow_nan=False) + "\n")
                passed += result.status == "passed"
                bar.advance(detail=f"{passed} passed")
    return results


def _run_one(sandbox: Sandbox, program: Program, timeout_s: float) -> RunResult:
    """One program's result; whatever goes wrong around it is its verdict, not the run's end."""
    try:
        return sandbox.run(program, timeout_s)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        return RunResult("runtime_error", "HarnessError", None, 0.0, "", f"harness: {exc!r}", -1)


def _refuse_to_overwrite(out: Path, inputs: list[str | Path], overwrite: bool) -> None:
    """--out must name a new file or an old results file, never one of the inputs (the output
    contract every command keeps, `codemill.outputs`)."""
    from codemill.outputs import check_output

    files = [p for p in inputs if str(p).lower() not in ("humaneval", "mbpp")]  # built-in sets
    check_output(out, command="eval", kind="file", is_ours=_is_results, inputs=files, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)  # as every command makes its output's directory


def _is_results(path: Path) -> bool:
    """An earlier per-sample results file: empty, or its first line a result record."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
        if not first.strip():
            return True
        rec = json.loads(first)
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(rec, dict) and {"task_id", "status"} <= rec.keys()


def _record(sample: Sample, problem: Problem, result: RunResult, budgets: dict[str, float]) -> dict[str, Any]:
    return {
        "task_id": sample.task_id,
        "completion_id": sample.completion_id,
        "status": result.status,
        "passed": result.status == "passed",
        "error_type": result.error_type,
        "runtime_s": result.runtime_s,  # finite and >= 0, or None (sandbox.classify)
        "wall_s": round(result.wall_s, 4) if math.isfinite(result.wall_s) else None,
        "timeout_s": budgets[sample.task_id],
        "exact_match": (
            metrics.exact_match(sample.completion, problem.canonical_solution)
            if problem.canonical_solution is not None
            else None
        ),
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


def _unavailable_ks(per_task: dict[str, list[int]], ks: list[int]) -> dict[str, str]:
    """The requested k that some task has too few samples for, and why (never dropped silently)."""
    if not per_task:
        return {f"pass@{k}": "no samples" for k in ks}
    fewest = min(c[0] for c in per_task.values())
    return {f"pass@{k}": f"needs {k} samples per task, the fewest any task has is {fewest}" for k in ks if k > fewest}


def _summarize(
    table: dict[str, Problem],
    todo: list[Sample],
    results: list[RunResult],
    reference_s: dict[str, float],
    ks: list[int],
    sanity: bool,
) -> dict[str, Any]:
    n = len(results)
    statuses = Counter(r.status for r in results)
    per_task: dict[str, list[int]] = {}
    for sample, result in zip(todo, results, strict=True):
        counts = per_task.setdefault(sample.task_id, [0, 0])
        counts[0] += 1
        counts[1] += result.status == "passed"

    def rate(count: int) -> float | None:
        return count / n if n else None

    with_reference = [s for s in todo if table[s.task_id].canonical_solution is not None]
    matches = [metrics.exact_match(s.completion, table[s.task_id].canonical_solution or "") for s in with_reference]
    speed = [
        (reference_s[s.task_id], r.runtime_s)
        for s, r in zip(todo, results, strict=True)
        if r.runtime_s is not None and s.task_id in reference_s
    ]
    bleu = None
    if with_reference and not sanity:
        bleu = metrics.codebleu(
            [table[s.task_id].prompt + (table[s.task_id].canonical_solution or "") for s in with_reference],
            [table[s.task_id].prompt + s.completion for s in with_reference],
        )
    return {
        "n_samples": n,
        "n_tasks": len(per_task),
        "statuses": {s: statuses.get(s, 0) for s in STATUSES},
        "pass_at_k": metrics.mean_pass_at_k(((c[0], c[1]) for c in per_task.values()), ks),
        "pass_at_k_unavailable": _unavailable_ks(per_task, ks),
        "pass_rate": rate(statuses["passed"]),
        "compile_rate": rate(n - statuses["syntax_error"]),
        "runtime_error_rate": rate(statuses["runtime_error"]),
        "timeout_rate": rate(statuses["timeout"]),
        "failed_rate": rate(statuses["failed"]),
        "exact_match": sum(matches) / len(matches) if matches else None,
        "codebleu": bleu,
        "codebleu_available": metrics.codebleu_available(),
        "efficiency": metrics.efficiency(speed),
        "error_types": dict(Counter(r.error_type for r in results if r.error_type).most_common()),
    }
