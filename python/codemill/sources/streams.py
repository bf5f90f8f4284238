"""Opening record files whatever their compression: ``.gz`` and ``.zst`` streams, or plain."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO, Any

from codemill.errors import SourceError

# File names read as JSONL (one JSON object per line) and as Parquet.
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")
PARQUET_SUFFIXES = (".parquet",)


def _name(path: str | Path) -> str:
    # os.path, not pathlib: this runs for every file a walk of millions of files lists.
    return os.path.basename(os.fspath(path)).lower()


def is_jsonl(path: str | Path) -> bool:
    return _name(path).endswith(JSONL_SUFFIXES)


def is_parquet(path: str | Path) -> bool:
    return _name(path).endswith(PARQUET_SUFFIXES)


def is_records(path: str | Path) -> bool:
    """A file read as records (JSONL or Parquet) rather than as one document."""
    return is_jsonl(path) or is_parquet(path)


def is_compressed(path: str | Path) -> bool:
    return _name(path).endswith((".gz", ".zst"))


def _zstandard(path: Path) -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise SourceError(f"{path}: reading .zst needs zstandard: pip install 'codemill[corpus]'") from exc
    return zstandard


def _is_url(path: Path | str) -> bool:
    from codemill.sources.fs import is_url

    return is_url(path)


def _open_raw(path: Path | str, stop: int | None = None) -> IO[bytes]:
    from codemill.sources.fs import open_url

    return open_url(path, stop) if isinstance(path, str) and _is_url(path) else open(path, "rb")


def open_stream(path: Path | str, stop: int | None = None) -> IO[bytes]:
    """A binary reader of ``path`` (a local path or a URL), decompressing ``.gz`` / ``.zst``.

    ``stop``: the caller reads a plain file only up to about that offset (see
    :func:`codemill.sources.fs.open_url`); ignored for compressed streams, read whole."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        if isinstance(path, Path) or not _is_url(path):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return gzip.GzipFile(fileobj=_open_raw(path), mode="rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        zstandard = _zstandard(Path(path))
        raw = _open_raw(path)
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return _open_raw(path, stop)
