"""The malloc settings of the processes codemill starts: the `codemill` command (not a Ray
driver, whose threads are Ray's: see `tune_malloc`) and its workers.

Arenas: glibc gives each thread that allocates an arena of its own (up to 8 per core) and keeps
in each what was freed there. A corpus worker's threads each take large buffers in turn (a
task's input, its shards, an object's body on the storage client's thread), so its memory held
the high-water mark of every arena. Capped at 2, `codemill tokenize` of 1 GB on 2 workers peaked
at 378 MB instead of 640 MB from a bucket, 159 instead of 206 MB from local JSONL and 297 instead
of 393 MB from a tree, in the same time; two encoder threads sharing one arena encode as fast as
with one each.

Freed memory: glibc gives a block of more than 128 KiB (up to 32 MiB, as blocks are freed) a
mapping of its own, unmapped when freed, and the main heap's free top back to the kernel past
twice that; a corpus job takes and frees such blocks all the time (an 8 MB object's body, a batch
of lines, a shard), and each came back as fresh pages for the kernel to fault in and zero. Kept
for reuse (`MMAP_THRESHOLD`, `TRIM_THRESHOLD`), a pinned `codemill dedup` of 1 GB of JSONL from a
bucket faulted ~67,000 pages instead of ~122,000 and used 4.27 s of CPU instead of 4.56 s (2.93
instead of 3.03 s from local disk), and a `tokenize` from the bucket peaked ~35 MB higher (stop
72). The main heap then keeps up to 256 MiB freed (a worker's high-water mark, reached in its
first tasks), and the thread arena its first heap's high-water mark (up to 64 MiB: a trim
threshold past a heap's size never shrinks it); its later heaps go back once wholly free, as no
top pad is set (one of 64 MiB kept them all for good).

A library call leaves its caller's process as it is: ``MALLOC_ARENA_MAX=2``,
``MALLOC_MMAP_THRESHOLD_=33554432`` and ``MALLOC_TRIM_THRESHOLD_=268435456`` in the environment do
the same there.
"""

from __future__ import annotations

import os

ARENAS = 2
MMAP_THRESHOLD = 32 << 20  # as far as glibc's own adjusting goes on a 64-bit machine
TRIM_THRESHOLD = 256 << 20

# What the environment sets, which glibc read at the start: (its variable, its tunable). A top
# pad chosen there is a choice about freed memory too (it ends glibc's own adjusting).
_ARENA_SETTING = ("MALLOC_ARENA_MAX", "glibc.malloc.arena_max")
_FREED_SETTINGS = (
    ("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold"),
    ("MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold"),
    ("MALLOC_TOP_PAD_", "glibc.malloc.top_pad"),
)


def _chosen(settings: tuple[tuple[str, str], ...]) -> bool:
    """Whether the environment chose any of ``settings``."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(variable in os.environ or tunable in tunables for variable, tunable in settings)


def tune_malloc(engine: str = "local") -> tuple[bool, bool]:
    """Caps this process's malloc arenas at `ARENAS` and keeps its freed memory for reuse,
    each unless the environment chose it, and neither where the process drives a run on Ray
    (``engine``): the driver's threads are Ray's, and a 1 GB tokenize run's process tree held ~90
    MB more with them capped (1,237-1,266 against 1,151-1,166 MB). (Whether the arenas were
    capped, whether freed memory is kept.) Called before threads start: arenas made before stay.
    """
    if engine == "ray":
        return False, False
    from codemill import _core

    capped = not _chosen((_ARENA_SETTING,)) and _core.cap_malloc_arenas(ARENAS)
    kept = not _chosen(_FREED_SETTINGS) and _core.keep_freed_memory(MMAP_THRESHOLD, TRIM_THRESHOLD)
    return capped, kept
