"""The malloc arenas of the processes codemill starts: the `codemill` command (not a Ray driver,
whose threads are Ray's: see `cap_malloc_arenas`) and its workers.

glibc gives each thread that allocates an arena of its own (up to 8 per core) and keeps in each
what was freed there. A corpus worker's threads each take large buffers in turn (a task's
input, its shards, an object's body on the storage client's thread), so its memory held the
high-water mark of every arena. Capped at 2, `codemill tokenize` of 1 GB on 2 workers peaked at
378 MB instead of 640 MB from a bucket, 159 instead of 206 MB from local JSONL and 297 instead of
393 MB from a tree, in the same time; two encoder threads sharing one arena encode as fast as
with one each. A library call leaves its caller's process as it is: ``MALLOC_ARENA_MAX=2`` in
the environment does the same there.
"""

from __future__ import annotations

import os

ARENAS = 2


def cap_malloc_arenas(engine: str = "local") -> bool:
    """Caps this process's malloc arenas at `ARENAS` unless its environment chose a number
    (``MALLOC_ARENA_MAX``, or ``glibc.malloc.arena_max`` in ``GLIBC_TUNABLES``, which glibc read
    at the start), or the process drives a run on Ray (``engine``): the driver's threads are
    Ray's, and a 1 GB tokenize run's process tree held ~90 MB more with them capped (1,237-1,266
    against 1,151-1,166 MB). Whether the cap was set. Called before threads start: arenas made
    before stay.
    """
    if engine == "ray":
        return False
    if "MALLOC_ARENA_MAX" in os.environ or "glibc.malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    from codemill._core import cap_malloc_arenas as cap

    return cap(ARENAS)
