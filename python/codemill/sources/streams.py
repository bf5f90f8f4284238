"""Opening record files whatever their compression: ``.gz`` and ``.zst`` streams, or plain."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO, Any

from codemill.errors import SourceError

# File names read as JSONL (one JSON object per line) and as Parquet.
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")
PARQUET_SUFFIXES = (".parquet",)


def is_jsonl(path: str | Path) -> bool:
    return Path(path).name.lower().endswith(JSONL_SUFFIXES)


def is_parquet(path: str | Path) -> bool:
    return Path(path).name.lower().endswith(PARQUET_SUFFIXES)


def is_records(path: str | Path) -> bool:
    """A file read as records (JSONL or Parquet) rather than as one document."""
    return is_jsonl(path) or is_parquet(path)


def is_compressed(path: str | Path) -> bool:
    return Path(path).name.lower().endswith((".gz", ".zst"))


def _zstandard(path: Path) -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise SourceError(f"{path}: reading .zst needs zstandard: pip install 'codemill[corpus]'") from exc
    return zstandard


def open_stream(path: Path) -> IO[bytes]:
    """A binary reader of ``path``, decompressing ``.gz`` / ``.zst`` on the fly."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        zstandard = _zstandard(path)
        raw = open(path, "rb")  # noqa: SIM115 - closed with the returned stream
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return open(path, "rb")
