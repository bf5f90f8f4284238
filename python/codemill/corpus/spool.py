"""A plan's file lists on disk once they are large, so that planning a tree holds the same memory
for any number of files.

In memory a listed code file costs ~290 bytes (its path, size and stamp as Python objects, then
its name in its task): a 5 GB tree of 357,000 files took 104 MB to plan, and a terabyte of ~70
million files would take ~20 GB in the planning process (and in each worker forked from it).
Past `SPOOL_AFTER_FILES` files the walk's entries go to a scratch file in chunks (~82 bytes a
file, removed once the tasks are cut), and each task's list of names to another (~57 bytes a
file), which the task reads back when it runs (`SpooledNames`): a tree of 70 million files takes
~10 GB of the temporary directory while it is planned and ~4 GB while its tasks run.

The files are named and held as `codemill._leftovers` has it (``codemill-plan-{pid}-...``), so
one left by a process killed with kill -9 is removed by the next run; each is removed once
nothing refers to it (the names with the plan's last task). The names are read by the worker
processes of the machine they are on; Ray tasks get theirs inline (`codemill.corpus.plan.portable`).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, overload

from codemill._leftovers import hold, remove_orphans

# Files a plan keeps in memory (~5 MB) before it spools. At 131,072 (~38 MB) a tokenize run's
# peak grew with the tree up to there (1 worker: 83 MB at 1 GB, 112 MB at 5 GB); spooled past
# 16,384, 76 and 86 MB, in the same time (a 1 GB tree of 71,325 files plans in 0.61 s either way).
SPOOL_AFTER_FILES = 1 << 14
# Entries written to the spool at a time once it is in use (at most this many wait in memory).
CHUNK_FILES = 1 << 14

_PREFIX = "codemill-plan-"
_orphans_removed = False


def _remove_orphans() -> None:
    """Removes what plans of runs killed with kill -9 left (once a process)."""
    global _orphans_removed
    if not _orphans_removed:
        _orphans_removed = True
        remove_orphans(_PREFIX)


def _remove(path: str, fd: int, pid: int) -> None:
    if os.getpid() != pid:
        return  # a forked worker: the file is its parent's
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class Spool:
    """A scratch file of marshalled chunks, written once and read anywhere on this machine.

    ``active``: whether the plan has listed past `SPOOL_AFTER_FILES` files (`count`), so that its
    lists go to the file. The file is made at the first chunk put.
    """

    def __init__(self) -> None:
        _remove_orphans()  # a killed run's, whether or not this plan spools
        self.listed = 0
        self.path: str | None = None
        self._fd = -1
        self._end = 0

    @property
    def active(self) -> bool:
        return self.listed > SPOOL_AFTER_FILES

    def count(self, files: int = 1) -> None:
        self.listed += files

    def put(self, items: Any) -> tuple[int, int]:
        """Writes ``items`` (lists, tuples, str, int) and returns where: ``(offset, size)``."""
        if self.path is None:
            self._open()
        data = marshal.dumps(items)
        os.pwrite(self._fd, data, self._end)
        where = (self._end, len(data))
        self._end += len(data)
        return where

    def get(self, where: tuple[int, int]) -> Any:
        assert self.path is not None
        return read_chunk(self.path, *where)

    def _open(self) -> None:
        self._fd, self.path = tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}-")
        hold(self._fd)
        weakref.finalize(self, _remove, self.path, self._fd, os.getpid())

    def names(self, names: tuple[str, ...]) -> SpooledNames:
        """A task's ``names``, written to the spool."""
        offset, size = self.put(names)
        assert self.path is not None
        return SpooledNames(self.path, offset, size, len(names), names[0], names[-1], self)


def read_chunk(path: str, offset: int, size: int) -> Any:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, size, offset)
    finally:
        os.close(fd)
    if len(data) != size:
        raise OSError(f"{path}: the plan's file list was cut short")
    return marshal.loads(data)


class SpooledEntries:
    """A unit's code files ``(path, size, stamp)`` in listing order, in chunks in ``spool`` once
    it is `active`, the rest in memory."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.chunks: list[tuple[int, int]] = []
        self.tail: list[tuple[str, int, str]] = []

    def append(self, entry: tuple[str, int, str]) -> None:
        self.tail.append(entry)
        self.spool.count()
        if len(self.tail) >= CHUNK_FILES:
            self.close()

    def close(self) -> None:
        """Spools what is in memory, once the spool is in use (as the unit ends too: many small
        trees would each keep their last entries)."""
        if self.tail and self.spool.active:
            self.chunks.append(self.spool.put(self.tail))
            self.tail = []

    def __bool__(self) -> bool:
        return bool(self.chunks or self.tail)

    def __iter__(self) -> Iterator[tuple[str, int, str]]:
        for where in self.chunks:
            yield from self.spool.get(where)
        yield from self.tail


class SpooledNames(Sequence[str]):
    """A task's file names, read from the spool when asked for beyond its count, first and last
    (what its description needs): a task running reads them once (``tuple(task.files)``).
    Pickled, it is the file's place, read by whichever process on this machine runs the task."""

    __slots__ = ("_owner", "first", "last", "n", "offset", "path", "size")

    def __init__(
        self, path: str, offset: int, size: int, count: int, first: str, last: str, owner: Spool | None = None
    ) -> None:
        self.path, self.offset, self.size, self.n = path, offset, size, count
        self.first, self.last = first, last
        self._owner = owner  # keeps the file while the plan's tasks are alive in this process

    def load(self) -> tuple[str, ...]:
        names = read_chunk(self.path, self.offset, self.size)
        if not isinstance(names, tuple) or len(names) != self.n:
            raise OSError(f"{self.path}: the plan's file list does not read back")
        return names

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        if isinstance(i, int) and i in (0, -self.n):
            return self.first
        if isinstance(i, int) and i in (-1, self.n - 1):
            return self.last
        return self.load()[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.load())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SpooledNames | tuple):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.load())  # as the equal tuple's

    def __repr__(self) -> str:
        return f"SpooledNames({self.n} files, {self.first!r} ... {self.last!r})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return SpooledNames, (self.path, self.offset, self.size, self.n, self.first, self.last)
