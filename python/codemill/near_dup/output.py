"""Dedup's output: the kept documents in each input's own format, and the report.

The output directory is built beside its target and swapped in whole (`codemill._io`), so an
interrupted run leaves the previous output or none, never a half-written one. An output at a URL
prefix is written a group of files at a time (`plan_writes`), each file uploaded once written
(by Ray's tasks on Ray), and the report last (its presence marks it complete).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, NamedTuple, TypeVar

import numpy as np

from codemill._io import atomic_dir, atomic_file, atomic_write_json, compressing
from codemill._leftovers import scratch_dir
from codemill._read_ahead import each_at_once
from codemill.errors import OutputError
from codemill.near_dup.result import DedupReport
from codemill.outputs import OVERWRITE_HINT
from codemill.outputs import check_output as contract_check
from codemill.sources.fs import (
    FETCH_BATCH,
    READS_HELD,
    Directory,
    abort_left_uploads,
    base_name,
    fetched,
    file_size,
    held_reading,
    is_tree,
    is_url,
    join,
    publishing_marker,
    uploading,
)
from codemill.sources.inputs import not_a_file, record_file_skip
from codemill.sources.records import parquet_file, record_origin
from codemill.sources.streams import is_parquet, is_records, open_stream

T = TypeVar("T")

# input index -> file (relative to the input; a record file's own name) -> kept record numbers
# (ascending), or None for a kept code file.
Kept = Mapping[int, Mapping[str, np.ndarray | None]]

__all__ = ["REPORT_NAME", "Write", "check_output", "output_names", "plan_writes", "publish_group", "write_output"]

REPORT_NAME = "dedup_report.json"
_PIECE = 1 << 20
# Kept files of a tree written together (`plan_writes`): a URL output stages them, uploads them
# and removes them from its staging directory; on Ray each group is a task.
COPIES_AT_ONCE = 16 * FETCH_BATCH


def check_output(outdir: Path | str, inputs: list[Path | str], overwrite: bool = False) -> None:
    """The output contract (`codemill.outputs`) for dedup: a directory holding a dedup report
    is replaced whole; anything else is refused unless ``overwrite``; an input never. A URL
    prefix: refused when it holds an input, or objects without a dedup report or the marker a
    run being published leaves in its place (unless ``overwrite``)."""
    if isinstance(outdir, str):
        contract_check(outdir, command="dedup", kind="dir", is_ours=lambda _: True, inputs=inputs)
        files = Directory(outdir).ensure()  # an object of that name is refused, as a local file is
        # A run killed while publishing left its marker in place of the report: still ours.
        ours = REPORT_NAME in files or publishing_marker(REPORT_NAME) in files
        if files and not ours and not overwrite:
            raise OutputError(
                f"{outdir}: the output prefix holds objects but no {REPORT_NAME} (not a dedup output); {OVERWRITE_HINT}"
            )
        return
    contract_check(
        outdir,
        command="dedup",
        kind="dir",
        is_ours=lambda d: (d / REPORT_NAME).is_file(),
        inputs=inputs,
        overwrite=overwrite,
    )


def output_names(inputs: list[Path | str]) -> list[str]:
    """A distinct output name per input (its base name; its index as a prefix, as often as it
    takes, on clashes: `a.jsonl` twice and a `1_a.jsonl` must not share one), never the
    report's own name or its publishing marker (an input named `dedup_report.json`)."""
    names: list[str] = []
    taken = {REPORT_NAME, publishing_marker(REPORT_NAME)}
    for i, p in enumerate(inputs):
        name = base_name(p) or f"input{i}"
        while name in names or name in taken:
            name = f"{i}_{name}"
        names.append(name)
    return names


def _write_records(src: Path | str, raw: IO[bytes], name: str, numbers: np.ndarray) -> None:
    """The kept records of a JSONL file (lines copied byte for byte, compressed as the output's
    ``name`` says) or Parquet file (rows) written into ``raw``; ``numbers``: theirs, ascending.
    A file the reader passed over unopened (`record_file_skip`: empty, unreadable) gets an empty
    output: there is no stream (or Parquet schema) to open, and an empty input stays empty."""
    if not len(numbers):
        size = file_size(src)
        if size is not None and record_file_skip(src, size) is not None:
            return
    if is_parquet(src):
        _write_rows(src, raw, numbers)
        return
    with open_stream(src, sequential=True) as f, compressing(name, raw) as out:
        # In pieces of at most a MiB: a line the reader skipped as too large unread (a GiB, say)
        # is passed over here without being held whole either.
        number = 0
        wanted = iter(numbers)  # numpy ints, one at a time: no list of them all
        want = next(wanted, None)
        while part := f.readline(_PIECE):
            number += 1
            keep = number == want
            if keep:
                want = next(wanted, None)
            while True:
                if keep:
                    out.write(part)
                if part.endswith(b"\n"):
                    break
                part = f.readline(_PIECE)
                if not part:  # the file's last line, without its newline
                    if keep:
                        out.write(b"\n")
                    break


def _write_rows(src: Path | str, raw: IO[bytes], numbers: np.ndarray) -> None:
    """The kept rows of a Parquet file, a row group at a time: read whole, a file of 48 MB
    (149 MB of text) took dedup from 265 to 698 MB resident; each group is held alone so."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = parquet_file(src)
    rows = numbers.astype(np.int64) - 1  # ascending
    with pq.ParquetWriter(raw, pf.schema_arrow) as writer:
        before = at = 0  # rows of the groups passed; kept rows passed
        for group in range(pf.metadata.num_row_groups):
            end = int(np.searchsorted(rows, before + pf.metadata.row_group(group).num_rows))
            if end > at:
                taken = pa.array(rows[at:end] - before, type=pa.int64())
                writer.write_table(pf.read_row_group(group).take(taken))
            before += pf.metadata.row_group(group).num_rows
            at = end


def _copy_all(copies: list[tuple[Path | str, Path]]) -> None:
    """Copies files into the staging directory (replaced as a whole): local ones with their
    metadata, objects in a bucket fetched `FETCH_BATCH` at a time. One by one, the 2,798 kept
    objects of a 40 MB tree took ~68 s from a server answering 20 ms late, a round trip each."""
    fetches = fetched(str(src) for src, _ in copies)
    for (src, dest), (_, data) in zip(copies, fetches, strict=True):
        if data is None:
            shutil.copy2(src, dest)
        else:
            dest.write_bytes(data)


class Write(NamedTuple):
    """One file of the output: ``rel`` in it, made of the input file ``src``: its kept records
    (``records``, ascending), or the whole file (None: a kept code file, copied). ``size``: the
    most reading the record file holds, its size as listed (None: not known; `_Corpus.size`)."""

    src: Path | str
    rel: str
    records: np.ndarray | None
    size: int | None = None


# The most reading file ``rel`` of input ``source`` holds: its size as listed (None: not known; `_Corpus.size`).
Sizes = Callable[[int, str], "int | None"]


def plan_writes(
    inputs: list[Path | str], kept: Kept, sizes: Sizes | None = None
) -> tuple[list[str], list[str], list[list[Write]]]:
    """What the output holds: the names written (one per input with output, in order), the trees
    among them (a folder even when nothing in them is kept), and its files in groups to write at
    once: a record file's kept records alone, a tree's copies `COPIES_AT_ONCE` at a time.

    `kept[source][file]` holds the record numbers kept in a JSONL / Parquet file, or None for a
    kept code file; ``sizes`` gives a record file's size as listed, where known."""

    def size(source: int, rel: str) -> int | None:
        return None if sizes is None else sizes(source, rel)

    names: list[str] = []
    trees: list[str] = []
    groups: list[list[Write]] = []
    for source, (path, name) in enumerate(zip(inputs, output_names(inputs), strict=True)):
        files = kept.get(source, {})
        if is_tree(path):
            copies: list[Write] = []
            for rel, records in sorted(files.items()):
                if records is not None:
                    groups.append([Write(join(path, rel), f"{name}/{rel}", records, size(source, rel))])
                    continue
                copies.append(Write(join(path, rel), f"{name}/{rel}", None))
                if len(copies) == COPIES_AT_ONCE:
                    groups.append(copies)
                    copies = []
            if copies:
                groups.append(copies)
            names.append(name)
            trees.append(name)
        elif not_a_file(path):
            continue  # counted when read (a FIFO would block)
        elif is_records(path):
            origin = record_origin(path)
            records = files.get(origin)
            none = np.zeros(0, dtype=np.int64)
            groups.append([Write(path, name, none if records is None else records, size(source, origin))])
            names.append(name)
        elif files:
            groups.append([Write(path, name, None)])
            names.append(name)
    return names, trees, groups


def write_group(group: list[Write], outdir: Path) -> list[Path]:
    """Writes a group of `plan_writes` into ``outdir``; returns the files written."""
    targets = [outdir / w.rel for w in group]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    copies: list[tuple[Path | str, Path]] = []
    for w, target in zip(group, targets, strict=True):
        if w.records is None:
            copies.append((w.src, target))
        else:
            with atomic_file(target, "wb") as raw:
                _write_records(w.src, raw, w.rel, w.records)
    _copy_all(copies)
    return targets


def publish_group(group: list[Write], outdir: str) -> list[str]:
    """Writes a group of `plan_writes` into the output prefix ``outdir`` (a URL); returns the
    names published. A record file's output is uploaded as it is written, in parts (no copy on
    local disk: one JSONL file of a terabyte keeps most of it); copies are staged, uploaded
    together and removed."""
    out = Directory(outdir)
    src, rel, numbers, _ = group[0]
    if len(group) == 1 and numbers is not None:
        with uploading(out.url(rel)) as raw:
            _write_records(src, raw, rel, numbers)
        return [rel]
    with scratch_dir("dedup") as tmp:
        stage = Path(tmp)
        files = write_group(group, stage)
        rels = [f.relative_to(stage).as_posix() for f in files]
        out.publish_all(list(zip(files, rels, strict=True)))
    return rels


def _each(groups: list[list[Write]], write: Callable[[list[Write]], T], upload: bool) -> list[T]:
    """``write`` of each group, in order; where any group reads from a bucket, several at once
    (`each_at_once`), so that their round trips overlap, while what they hold as `_held` counts
    it stays within `READS_HELD` (a larger file's upload buffer is s3fs's, not counted, as
    before). One after the other, the 176 small JSONL objects a dedup kept records
    of took 4.4 s from a server answering 20 ms late; 4 at a time, 283 such objects of 264 KB
    took 1.1 s, and 0.3 s up to `FETCH_BATCH` at a time. ``upload``: each group's files are
    uploaded as they are written. The first failed group's error is raised, the groups not
    begun are not."""
    if not any(is_url(w.src) for group in groups for w in group):
        return [write(group) for group in groups]
    costs = [_held(group, upload) for group in groups]
    return each_at_once(write, groups, costs, READS_HELD, FETCH_BATCH, "codemill-write")


def _held(group: list[Write], upload: bool) -> int:
    """Bytes a group holds while it is written, as `_each` counts them: a record file's reading
    block (`held_reading` of its ``size``: the whole of a small file), and where it is uploaded
    its upload's buffer too, no larger than a small file (a larger file's parts are buffered by
    the store's client, 4 such groups at once as before); a block for a group of a tree's
    copies (it fetches its objects `FETCH_BATCH` at a time)."""
    if group[0].records is None:
        return held_reading(None)
    held = held_reading(group[0].size)
    return 2 * held if upload and held < held_reading(None) else held


def write_output(
    inputs: list[Path | str],
    outdir: Path | str,
    kept: Kept,
    report: DedupReport,
    overwrite: bool = False,
    publish: Callable[[list[list[Write]], str], list[str]] | None = None,
    sizes: Sizes | None = None,
) -> None:
    """Replace `outdir` as a whole by the kept documents in each input's own format (JSONL lines
    verbatim, Parquet rows, code files copied with their metadata) and the report (with
    `outputs`).

    A URL prefix is written a group of files at a time (`publish_group`), each file uploaded
    once written (a local staging directory held the whole kept output before: a disk as large
    as the output beside the run), by ``publish`` when given (Ray's tasks), here otherwise; its
    report is removed first and uploaded last, so the report's presence says the output beside
    it is complete.
    """
    check_output(outdir, inputs, overwrite)
    names, trees, groups = plan_writes(inputs, kept, sizes)
    if isinstance(outdir, str):
        abort_left_uploads(outdir)  # a killed run's, billed until removed
        out = Directory(outdir)
        old = out.begin_publishing(REPORT_NAME)
        if publish is not None:
            published = publish(groups, outdir)
        else:
            written = _each(groups, lambda group: publish_group(group, outdir), upload=True)
            published = [rel for rels in written for rel in rels]
        report["outputs"] = [f"{outdir.rstrip('/')}/{name}" for name in names]
        with scratch_dir("dedup") as tmp:
            atomic_write_json(Path(tmp) / REPORT_NAME, report)
            out.end_publishing(old, [*published, REPORT_NAME], Path(tmp) / REPORT_NAME, REPORT_NAME)
        return
    with atomic_dir(outdir) as stage:
        for name in trees:
            (stage / name).mkdir(parents=True, exist_ok=True)
        _each(groups, lambda group: write_group(group, stage), upload=False)
        report["outputs"] = [str(outdir / name) for name in names]
        atomic_write_json(stage / REPORT_NAME, report)
