"""Dedup's output: the kept documents in each input's own format, and the report.

The output directory is built beside its target and swapped in whole (`codemill._io`), so an
interrupted run leaves the previous output or none, never a half-written one. An output at a URL
prefix is staged locally and uploaded with the report last (its presence marks it complete).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from codemill._io import atomic_dir, atomic_file, atomic_stream, atomic_write_json
from codemill._leftovers import scratch_dir
from codemill.errors import OutputError
from codemill.near_dup.result import DedupReport
from codemill.outputs import OVERWRITE_HINT
from codemill.outputs import check_output as contract_check
from codemill.sources.fs import FETCH_BATCH, Directory, base_name, fetched, is_tree, join, publishing_marker
from codemill.sources.inputs import not_a_file
from codemill.sources.records import parquet_file, record_origin
from codemill.sources.streams import is_parquet, is_records, open_stream

# input index -> file (relative to the input; a record file's own name) -> kept record numbers
# (ascending), or None for a kept code file.
Kept = Mapping[int, Mapping[str, np.ndarray | None]]

__all__ = ["REPORT_NAME", "check_output", "output_names", "write_output"]

REPORT_NAME = "dedup_report.json"
_PIECE = 1 << 20
# Kept files of a tree copied into an output before they are handed on (`write_kept`'s ``done``):
# a URL output uploads them and removes them from its staging directory.
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


def _write_records(src: Path | str, dest: Path, numbers: np.ndarray) -> None:
    """The kept records of a JSONL file (lines copied byte for byte) or Parquet file (rows);
    ``numbers``: theirs, ascending."""
    if is_parquet(src):
        _write_rows(src, dest, numbers)
        return
    with open_stream(src, sequential=True) as f, atomic_stream(dest) as out:
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


def _write_rows(src: Path | str, dest: Path, numbers: np.ndarray) -> None:
    """The kept rows of a Parquet file, a row group at a time: read whole, a file of 48 MB
    (149 MB of text) took dedup from 265 to 698 MB resident; each group is held alone so."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = parquet_file(src)
    rows = numbers.astype(np.int64) - 1  # ascending
    with atomic_file(dest, "wb") as f, pq.ParquetWriter(f, pf.schema_arrow) as writer:
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


def write_kept(
    inputs: list[Path | str], outdir: Path, kept: Kept, done: Callable[[list[Path]], None] = lambda files: None
) -> list[str]:
    """Write the kept documents in each input's own format into `outdir`; returns their names.

    `kept[source][file]` holds the record numbers kept in a JSONL / Parquet file, or None for a
    kept code file, which is copied with its metadata. ``done`` is given the files written as
    they are finished: each record file's, and a tree's copies `COPIES_AT_ONCE` at a time.
    """
    written = []
    for source, (path, name) in enumerate(zip(inputs, output_names(inputs), strict=True)):
        files = kept.get(source, {})
        dest = outdir / name
        if is_tree(path):
            dest.mkdir(parents=True, exist_ok=True)
            copies: list[tuple[Path | str, Path]] = []
            for rel, records in sorted(files.items()):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if records is None:
                    copies.append((join(path, rel), target))
                    if len(copies) == COPIES_AT_ONCE:
                        _copy_all(copies)
                        done([target for _, target in copies])
                        copies = []
                else:
                    _write_records(join(path, rel), target, records)
                    done([target])
            _copy_all(copies)
            done([target for _, target in copies])
            written.append(name)
        elif not_a_file(path):
            continue  # counted when read (a FIFO would block)
        elif is_records(path):
            records = files.get(record_origin(path))
            _write_records(path, dest, np.zeros(0, dtype=np.int64) if records is None else records)
            done([dest])
            written.append(name)
        elif files:
            _copy_all([(path, dest)])
            done([dest])
            written.append(name)
    return written


def write_output(
    inputs: list[Path | str], outdir: Path | str, kept: Kept, report: DedupReport, overwrite: bool = False
) -> None:
    """Replace `outdir` as a whole by the kept documents and the report (with `outputs`).

    A URL prefix is written through a local staging directory, each file uploaded and removed
    from it once written (the staging directory held the whole kept output before: a disk as
    large as the output beside the run): its report is removed first and uploaded last, so the
    report's presence says the output beside it is complete.
    """
    check_output(outdir, inputs, overwrite)
    if isinstance(outdir, str):
        out = Directory(outdir)
        with scratch_dir("dedup") as tmp:
            stage = Path(tmp)
            old = out.begin_publishing(REPORT_NAME)
            published: list[str] = []

            def publish(files: list[Path]) -> None:
                rels = [f.relative_to(stage).as_posix() for f in files]
                out.publish_all(list(zip(files, rels, strict=True)))
                for f in files:
                    f.unlink(missing_ok=True)
                published.extend(rels)

            report["outputs"] = [f"{outdir.rstrip('/')}/{name}" for name in write_kept(inputs, stage, kept, publish)]
            atomic_write_json(stage / REPORT_NAME, report)
            out.end_publishing(old, [*published, REPORT_NAME], stage / REPORT_NAME, REPORT_NAME)
        return
    with atomic_dir(outdir) as stage:
        report["outputs"] = [str(outdir / name) for name in write_kept(inputs, stage, kept)]
        atomic_write_json(stage / REPORT_NAME, report)
