"""SampleWriter: prepared samples to ``.jsonl``, ``.jsonl.gz`` or ``.parquet``, all or nothing.

The file is written under a temporary name and renamed over the target only when the run
completes (`codemill._io`), so an interrupted run leaves the previous output or none. At a URL it
is one upload in parts, which the store makes visible only when it completes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, get_args

from codemill._io import atomic_file, compressing, through_link
from codemill._leftovers import reclaim
from codemill.errors import OutputError
from codemill.finetune.samples import SAMPLE_FIELDS
from codemill.sources.fs import abort_left_uploads, is_url, uploading

__all__ = ["OUTPUT_SUFFIXES", "OutputSuffix", "SampleWriter", "check_output"]

OutputSuffix = Literal[".jsonl", ".jsonl.gz", ".parquet"]
OUTPUT_SUFFIXES: tuple[OutputSuffix, ...] = get_args(OutputSuffix)
# Parquet row groups of at most this many rows or bytes of text keep memory bounded.
_ROW_GROUP_ROWS = 1024
_ROW_GROUP_BYTES = 64 << 20


def check_output(name: str | os.PathLike[str]) -> None:
    """Refuses an output whose name has no sample format's suffix (named as given: a URL's
    ``//`` would not survive a `Path`)."""
    if not os.fspath(name).lower().endswith(OUTPUT_SUFFIXES):
        raise OutputError(f"{os.fspath(name)}: the output must end in {', '.join(OUTPUT_SUFFIXES)}")


class SampleWriter:
    """Writes sample dicts (`codemill.finetune.samples.SAMPLE_FIELDS`) to one output file."""

    def __init__(self, out: IO[bytes], parquet: bool) -> None:
        self.out = out
        self.count = 0
        self.rows: list[dict[str, Any]] = []
        self.buffered = 0
        self.parquet_writer: Any = None
        if parquet:
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise OutputError("writing Parquet needs pyarrow (pip install 'codemill[prepare]')") from exc
            self.pa = pa
            message = pa.struct([("role", pa.string()), ("content", pa.string())])
            self.schema = pa.schema(
                [(k, pa.string()) for k in SAMPLE_FIELDS if k not in ("messages", "meta")]
                + [("messages", pa.list_(message)), ("meta", pa.string())]
            )
            self.parquet_writer = pq.ParquetWriter(out, self.schema, compression="zstd")

    def write(self, sample: dict[str, Any]) -> None:
        self.count += 1
        if self.parquet_writer is None:
            self.out.write((json.dumps(sample, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass"))
            return
        self.rows.append({**sample, "meta": json.dumps(sample["meta"], sort_keys=True)})
        self.buffered += len(sample["text"]) + len(sample["prompt"]) + len(sample["completion"])
        if len(self.rows) >= _ROW_GROUP_ROWS or self.buffered >= _ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.parquet_writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []
            self.buffered = 0

    def close(self, ok: bool = True) -> None:
        """Ends the file (on `ok`: with the rows still buffered)."""
        if self.parquet_writer is not None:
            if ok:
                self._flush()
            self.parquet_writer.close()

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, path: str | os.PathLike[str], before_publish: Callable[[int], None] | None = None
    ) -> Iterator[SampleWriter]:
        """A writer whose file replaces ``path`` (a local path, or a URL: uploaded in parts as it
        is written, `sources.fs.uploading`; it was staged on local disk whole before) when the
        block ends without an error; ``before_publish(size)`` runs once the file is complete,
        before it replaces ``path``."""
        parquet = os.fspath(path).lower().endswith(".parquet")
        raw: contextlib.AbstractContextManager[IO[bytes]]
        if is_url(path):
            check_output(path)
            abort_left_uploads(os.fspath(path), prefix=False)  # a killed run's, billed until removed
            raw = uploading(os.fspath(path), before_publish)
        else:
            target = Path(path)
            check_output(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            reclaim(through_link(target))  # what a run killed with kill -9 left beside it (a link's target)
            raw = atomic_file(target, "wb", before_publish)
        with raw as f, contextlib.nullcontext(f) if parquet else compressing(path, f) as out:
            writer = cls(out, parquet)
            try:
                yield writer
            except BaseException:
                writer.close(ok=False)
                raise
            writer.close()
