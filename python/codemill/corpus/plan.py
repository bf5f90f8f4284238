"""Planning a corpus into deterministic tasks, and reading one task's documents.

Inputs are listed once (trees walked, file sizes and Parquet row groups read; never contents)
and split into tasks of about ``task_bytes``. The size is derived from the total input, never
from the worker count: small inputs still give every worker something to do, large ones get
tasks of up to 64 MiB, and the output bytes are the same for any number of workers or engine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codemill._batches import batches
from codemill._core import HEAD_BYTES
from codemill.corpus.spool import Spool, SpooledEntries
from codemill.errors import CodemillError
from codemill.languages import code_language, detect_language
from codemill.sources import Document, RecordReader, Skips, check_inputs, walk
from codemill.sources import skips as reasons
from codemill.sources.document import read_texts
from codemill.sources.fs import is_url
from codemill.sources.inputs import not_a_file, record_file_skip
from codemill.sources.names import printable
from codemill.sources.parts import byte_ranges, group_ranges, task_size
from codemill.sources.streams import is_compressed, is_parquet, is_records
from codemill.sources.walk import file_stat, read_head, walk_url

if TYPE_CHECKING:
    from codemill.sources.walk import SharedWith

TaskKind = Literal["files", "jsonl", "parquet", "records"]

# A files (or records) task holds at most this many files, so that task records stay small.
MAX_FILES_PER_TASK = 4096
# Parquet objects whose footers (row groups) are read at once: each is a round trip or two, and
# read in turn a bucket of 50 took 1.8 s to plan from a store answering 20 ms late.
FOOTERS_AT_ONCE = 32


@dataclass(frozen=True)
class Task:
    """A deterministic unit of work: its output shards are named after ``index``.

    ``kind`` is ``"files"`` (code ``files`` under ``path``: a tuple, or a large plan's
    `codemill.corpus.spool.SpooledNames`), ``"jsonl"`` (lines starting in the byte
    range ``[start, stop)`` of ``path``; ``stop`` None = to the end), ``"parquet"`` (row groups
    ``[start, stop)`` of ``path``) or ``"records"`` (whole JSONL files, plain or compressed, each
    smaller than a task, ``files`` under ``path`` read in turn: a tree of many small record
    files is cut into tasks of about ``task_bytes`` as its code files are, not a task a file).
    ``key`` fingerprints the task's inputs (names and sizes), so a resumed run redoes a task
    whose inputs changed. ``stamp`` fingerprints when they last changed
    (mtimes, ETags): it goes in the task's record but not in the manifest, so that an input edited
    in place to the same size is redone too, while the manifest of the same content stays the
    same wherever and whenever it was copied.
    """

    index: int
    kind: TaskKind
    path: str
    files: Sequence[str] = ()
    start: int = 0
    stop: int | None = None
    key: str = ""
    size: int = 0  # input bytes it covers (for progress; compressed size for .gz/.zst)
    stamp: str = ""
    described: bool = False  # a record file found in a tree with a description beside it (`Entry`)

    def describe(self) -> dict[str, Any]:
        # Names as reports show them: a name that is not UTF-8 made the manifest and the task's
        # record hold a lone surrogate escape (`\udcff`), which strict JSON readers refuse.
        d: dict[str, Any] = {"index": self.index, "kind": self.kind, "path": printable(self.path)}
        if self.kind in ("files", "records"):
            d.update(files=len(self.files), first=printable(self.files[0]), last=printable(self.files[-1]))
        else:
            d.update(start=self.start, stop=self.stop)
        d.update(key=self.key, size=self.size)
        return d


def _unit_size(u: _Unit) -> int:
    return u.size


def _entry_size(entry: tuple[str, int, str]) -> int:
    return max(entry[1], 0)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass
class _Unit:
    """A listed input piece: code files of one root, or one record file."""

    root: str
    files: SpooledEntries | list[tuple[str, int, str]]  # code files: (path, size, stamp)
    records: str | None = None  # a JSONL / Parquet file
    groups: list[int] | None = None  # Parquet row-group sizes
    size: int = 0
    stamp: str = ""  # the record file's
    described: bool = False  # the record file's, as the walk found it
    sized: bool = True  # False: a record object whose store gives no size (read to its end alone)

    def whole_records(self, task_bytes: int) -> bool:
        """A JSONL file read whole in a task shared with its neighbours (`plan_tasks`): smaller
        than a task, of a known size, and without a description of its own (whose special
        tokens are its own, `Specials.for_task`)."""
        small = self.size < task_bytes and self.sized
        return self.records is not None and self.groups is None and small and not self.described


def _units(
    inputs: Iterable[str | os.PathLike[str]], skips: Skips, pool: SharedWith | None, spool: Spool
) -> list[_Unit]:
    units: list[_Unit] = []
    counted, listed = 0, 0

    def listed_bytes() -> int:
        """The bytes of the units listed so far, each unit added up once (a run of 100,000 named
        files asks after each)."""
        nonlocal counted, listed
        listed += sum(u.size for u in units[counted:])
        counted = len(units)
        return listed

    def shared(before: int) -> SharedWith | None:
        """``pool`` for the walk of one more tree, after ``before`` bytes of the other inputs."""
        if pool is None or not callable(pool):
            return pool
        ask = pool
        return lambda found: ask(before + found)

    parquet: list[tuple[_Unit, int]] = []  # Parquet units and their files' sizes: row groups read below

    def add_records(root: str, path: Path | str, size: int, stamp: str, described: bool = False) -> None:
        reason = record_file_skip(path, size)
        if reason is not None:
            skips.add(printable(str(path)), reason)
            return
        if is_parquet(path):
            units.append(_Unit(root, [], str(path), None, max(size, 0), stamp, described))
            parquet.append((units[-1], size))
        else:
            if size < 0 and not isinstance(path, str):
                raise CodemillError(f"{path}: cannot read")
            # An object whose store gives no size (-1) is one task, read to its end.
            units.append(_Unit(root, [], str(path), None, max(size, 0), stamp, described, sized=size >= 0))

    for path in check_inputs(inputs):
        root = str(path)
        if isinstance(path, str) or path.is_dir():  # a URL is listed like a tree
            files, size = SpooledEntries(spool), 0
            for entry in walk_url(path, skips) if isinstance(path, str) else walk(path, skips, shared(listed_bytes())):
                if entry.records:
                    if files:
                        files.close()
                        units.append(_Unit(root, files, size=size))
                        files, size = SpooledEntries(spool), 0
                    where = entry.path if isinstance(path, str) else Path(entry.path)
                    add_records(root, where, entry.size, entry.stamp, entry.described)
                else:
                    files.append((entry.path, entry.size, entry.stamp))
                    size += max(entry.size, 0)
            if files:
                files.close()
                units.append(_Unit(root, files, size=size))
        elif not_a_file(path):
            skips.add(root, reasons.NOT_A_FILE)
        elif is_records(path):
            add_records(root, path, *file_stat(path))
        else:
            size, stamp = file_stat(path)
            units.append(_Unit(root, [(root, size, stamp)], size=max(size, 0)))
        if callable(pool):  # after each input too: a named file, a bucket's listing, a flat folder
            pool(listed_bytes())
    _read_row_groups(parquet)
    return units


def _read_row_groups(parquet: list[tuple[_Unit, int]]) -> None:
    """Sets each Parquet unit's row groups and size from its file's footer; objects' footers (a
    round trip or two each) `FOOTERS_AT_ONCE` at a time, local files' in turn (no thread: a
    process that runs one thread forks its workers). The first file that cannot be read raises,
    in order."""
    from concurrent.futures import ThreadPoolExecutor

    from codemill.sources.records import parquet_row_groups

    paths = [u.records or "" for u, _ in parquet]
    if not any(is_url(p) for p in paths):
        read = list(map(parquet_row_groups, paths))
    else:
        with ThreadPoolExecutor(min(len(paths), FOOTERS_AT_ONCE), thread_name_prefix="codemill-footers") as ex:
            read = list(ex.map(parquet_row_groups, paths))
    for (u, size), row_groups in zip(parquet, read, strict=True):
        groups = [b for _, b in row_groups]
        if size < 0:
            # A store that gives no size has the object fetched whole at each open: one task
            # (no group reaches the task size), not one fetch per task of its row groups.
            groups = [0] * len(groups)
        u.groups, u.size = groups, sum(groups)


def plan_tasks(
    inputs: Iterable[str | os.PathLike[str]],
    task_bytes: int | None = None,
    skips: Skips | None = None,
    pool: SharedWith | None = None,
) -> list[Task]:
    """Split inputs into tasks of about ``task_bytes`` each (default: :func:`task_size` of the
    total), in a stable order. What the listing passes over is counted in ``skips``. ``pool``:
    worker processes that walk parts of local trees beside this process (the same tasks), or
    what gives them once the inputs found so far are large enough (see `walk`).

    Code files are grouped; uncompressed JSONL is split at byte offsets (a line belongs to the
    range its first byte is in); compressed JSONL is one task per file; JSONL files smaller than
    a task that follow one another in an input are grouped as code files are (read whole, in
    turn); Parquet is split by row groups. Only sizes are read here, never contents.
    """
    if task_bytes is not None and task_bytes <= 0:
        raise CodemillError(f"task_bytes must be positive, got {task_bytes}")
    # Where a plan of many files keeps its walk's entries (removed with the units, once cut) and
    # its tasks' names (kept while the tasks are).
    listing, kept = Spool(), Spool()
    units = _units(inputs, skips if skips is not None else Skips(), pool, listing)
    if task_bytes is None:
        task_bytes = task_size(sum(u.size for u in units))
    tasks: list[Task] = []

    def add(kind: TaskKind, path: str, key: str, described: bool = False, **kw: Any) -> None:
        tasks.append(Task(len(tasks), kind, path, key=key, described=described, **kw))

    def names(group: list[str]) -> Sequence[str]:
        return kept.names(tuple(group)) if listing.active else tuple(group)

    def record_file(u: _Unit) -> None:
        """The tasks of one JSONL file of its own: byte ranges of it, or the whole of a
        compressed one."""
        path, size = u.records or "", u.size
        if is_compressed(path):
            add("jsonl", path, _key(path, size), u.described, start=0, stop=None, size=size, stamp=u.stamp)
            return
        for start, stop in byte_ranges(size, task_bytes):
            end = size if stop is None else stop
            key = _key(path, size, start)
            add("jsonl", path, key, u.described, start=start, stop=stop, size=end - start, stamp=u.stamp)

    def record_files(group: list[_Unit]) -> None:
        """Small JSONL files in a row, read whole in one task (a file alone: its own task)."""
        if len(group) == 1:
            record_file(group[0])
            return
        paths = [u.records or "" for u in group]
        key = _key("records", paths, [u.size for u in group])
        size = sum(u.size for u in group)
        add("records", group[0].root, key, files=names(paths), size=size, stamp=_key([u.stamp for u in group]))

    def alike(u: _Unit) -> tuple[bool, object]:
        # Small record files of one input in a row are cut together; any other unit alone.
        return (True, u.root) if u.whole_records(task_bytes) else (False, id(u))

    for (whole, _), same in itertools.groupby(units, alike):
        if whole:
            for records in batches(same, task_bytes, MAX_FILES_PER_TASK, _unit_size):
                record_files(records)
            continue
        u = next(same)
        if u.records is None:
            for entries in batches(u.files, task_bytes, MAX_FILES_PER_TASK, _entry_size):
                group = [f for f, _, _ in entries]
                sizes = [s for _, s, _ in entries]
                total = sum(max(s, 0) for s in sizes)
                stamp = _key([t for _, _, t in entries])
                add("files", u.root, _key(group, sizes), files=names(group), size=total, stamp=stamp)
        elif u.groups is None:
            record_file(u)
        else:
            for start, stop in group_ranges(u.groups, task_bytes):
                key = _key(u.records, u.groups, start)
                size = sum(u.groups[start:stop])
                add("parquet", u.records or "", key, u.described, start=start, stop=stop, size=size, stamp=u.stamp)
    return tasks


def portable(task: Task) -> Task:
    """``task`` with its file names in it, for a process on another machine (a Ray task)."""
    return task if isinstance(task.files, tuple) else dataclasses.replace(task, files=tuple(task.files))


def file_language(name: str, text: str | None = None) -> str:
    """The language a run encodes the code file ``name`` in: its extension's, else the one its
    shebang names in its first `HEAD_BYTES` bytes (from ``text`` where it was read, else read
    here), else generic. The head only matters without a known extension: no other file's is
    read or encoded."""
    language = code_language(name)
    if language:
        return language
    if text is not None:
        head: bytes | None = text[:HEAD_BYTES].encode("utf-8")[:HEAD_BYTES]
    else:
        head = read_head(name)
    return detect_language(name, head)


def _files(files: Iterable[str], skips: Skips, max_bytes: int) -> Iterator[Document]:
    for name, text, reason, size in read_texts(files, max_bytes):
        if text is None:
            skips.add(name, reason or "unreadable")
            continue
        # Strings, not pathlib: this runs for every file of a tree.
        folder, base = os.path.split(name)
        language = file_language(name, text)
        yield Document(name, base, os.path.basename(folder), language, file=name, text=text, size=size)


def task_documents(task: Task, skips: Skips, max_bytes: int) -> tuple[Iterator[Document], RecordReader | None]:
    """The documents of one task, in order, and the record reader of a JSONL / Parquet task
    (None for code files and whole record files, whose line numbers are their files' own).

    A JSONL task that starts inside its file numbers its lines from 1; its reader's ``lines``
    lets the job turn them into line numbers of the file.
    """
    if task.kind == "files":
        return _files(task.files, skips, max_bytes), None
    if task.kind == "records":
        return (doc for path in task.files for doc in record_reader(path, skips, max_bytes).read()), None
    reader = task_reader(task, skips, max_bytes)
    return reader.read(task.start, task.stop), reader


def task_reader(task: Task, skips: Skips, max_bytes: int) -> RecordReader:
    """The record reader of a JSONL / Parquet task."""
    return record_reader(task.path, skips, max_bytes)


def record_reader(path: str, skips: Skips, max_bytes: int) -> RecordReader:
    """The reader of the record file ``path`` (a local path or a URL)."""
    return RecordReader(path if is_url(path) else Path(path), skips, max_bytes=max_bytes)
