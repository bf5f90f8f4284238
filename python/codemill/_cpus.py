"""How many CPUs this process may use, and whether it runs one thread only: what the corpus
jobs ask before they start workers. Apart from `codemill._workers` (the pool itself), whose
imports (``multiprocessing``, ~10-15 ms) a run that starts no worker process does not pay.
"""

from __future__ import annotations

import os
import sys

__all__ = ["single_threaded", "usable_cpus", "usable_workers"]

# Worker processes per CPU beyond which more only add memory and contention.
_PER_CPU = 4


def usable_cpus() -> int:
    """The CPUs this process may run on (what the core's available_parallelism counts too)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def usable_workers(n: int) -> int:
    """``n`` local workers, at most 4 per CPU this process may run on (as the Rust core caps its
    thread pools, rust/parallel.rs): a typo such as ``--workers 5000`` would otherwise start
    5,000 Pythons. Outputs never depend on the count."""
    return max(1, min(n, _PER_CPU * usable_cpus()))


def single_threaded() -> bool:
    """Whether this process runs one thread, and nothing else (Linux, ``/proc/self/task``): a
    fork of it then copies no lock another thread holds and no thread pool it cannot run, and the
    child starts in milliseconds with what the parent loaded, where a spawned one takes ~0.15 s
    of CPU (a Python, the imports, the tokenizer). Elsewhere, or unsure: False (spawn)."""
    if sys.platform != "linux":
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False
