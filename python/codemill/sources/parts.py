"""How much input one task takes: tokenize's tasks (`codemill.corpus.plan`) and the parts of
record files that dedup's Ray tasks read (`codemill.near_dup.ray`) are cut by this one rule.

The size is derived from the input, never from the worker count, so that the output is the same
for any number of workers or engine.
"""

from __future__ import annotations

__all__ = ["MAX_TASK_BYTES", "MIN_TASK_BYTES", "TARGET_TASKS", "byte_ranges", "group_ranges", "task_size"]

MIN_TASK_BYTES = 1 << 20
MAX_TASK_BYTES = 64 << 20
TARGET_TASKS = 64  # tasks a mid-size input is cut into, so many workers all get a share


def task_size(total_bytes: int) -> int:
    """The task size for an input of ``total_bytes``: a 64th of it, within [1 MiB, 64 MiB]."""
    return min(MAX_TASK_BYTES, max(MIN_TASK_BYTES, total_bytes // TARGET_TASKS))


def byte_ranges(size: int, step: int) -> list[tuple[int, int | None]]:
    """A file of ``size`` bytes cut every ``step`` bytes, as ``(start, stop)`` with the last
    ``stop`` None (to the end, so a file that grew is read whole); one range for an empty file.
    A JSONL line belongs to the range its first byte is in."""
    starts = range(0, max(size, 1), step)
    return [(a, a + step if a + step < size else None) for a in starts]


def group_ranges(sizes: list[int], step: int) -> list[tuple[int, int]]:
    """Parquet row groups of these ``sizes`` (bytes) in runs ``[start, stop)`` of about ``step``
    bytes: a run ends once it holds ``step`` bytes, or at the last group; none without groups."""
    out = []
    start, acc = 0, 0
    for i, size in enumerate(sizes):
        acc += size
        if acc >= step or i == len(sizes) - 1:
            out.append((start, i + 1))
            start, acc = i + 1, 0
    return out
