"""Dedup's output: the kept documents in each input's own format, and the report.

The output directory is built beside its target and swapped in whole (`codemill._io`), so an
interrupted run leaves the previous output or none, never a half-written one.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping, Set
from pathlib import Path

from codemill._io import atomic_dir, atomic_stream, atomic_write_json
from codemill.errors import OutputError
from codemill.near_dup.io import _open_binary, is_jsonl
from codemill.near_dup.result import DedupReport

__all__ = ["REPORT_NAME", "check_output", "output_names", "write_output"]

REPORT_NAME = "dedup_report.json"


def check_output(outdir: Path, inputs: list[Path]) -> None:
    """Refuses an output directory whose replacement would lose what is not dedup's."""
    out = outdir.resolve()
    for p in inputs:
        if out == p.resolve() or out in p.resolve().parents:
            raise OutputError(f"{outdir}: the output directory would replace the input {p}")
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: the output exists and is not a directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / REPORT_NAME).exists():
        raise OutputError(f"{outdir}: the output directory holds files that are not a dedup output")


def output_names(inputs: list[Path]) -> list[str]:
    """A distinct output name per input (its base name; a numeric prefix on clashes)."""
    names: list[str] = []
    for i, p in enumerate(inputs):
        name = p.resolve().name or f"input{i}"
        names.append(f"{i}_{name}" if name in names else name)
    return names


def write_kept(inputs: list[Path], outdir: Path, kept: Mapping[int, Set[str | int]]) -> list[str]:
    """Write the kept documents in each input's own format into `outdir`; returns their names.

    `kept[source]` holds the `where` values to keep: JSONL lines are copied byte for byte,
    files are copied with their metadata.
    """
    written = []
    for source, (path, name) in enumerate(zip(inputs, output_names(inputs), strict=True)):
        keep = kept.get(source, set())
        dest = outdir / name
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            for rel in sorted(keep, key=str):
                target = dest / str(rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path / str(rel), target)
            written.append(name)
        elif is_jsonl(path):
            with _open_binary(path) as src, atomic_stream(dest) as out:
                for lineno, line in enumerate(io.BufferedReader(src)):  # type: ignore[type-var]
                    if lineno in keep:
                        out.write(line if line.endswith(b"\n") else line + b"\n")
            written.append(name)
        elif keep:
            shutil.copy2(path, dest)
            written.append(name)
    return written


def write_output(inputs: list[Path], outdir: Path, kept: Mapping[int, Set[str | int]], report: DedupReport) -> None:
    """Replace `outdir` as a whole by the kept documents and the report (with `outputs`)."""
    check_output(outdir, inputs)
    with atomic_dir(outdir) as stage:
        report["outputs"] = [str(outdir / name) for name in write_kept(inputs, stage, kept)]
        atomic_write_json(stage / REPORT_NAME, report)
