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
# A file output's description beside it (`OUT.jsonl` -> `OUT.jsonl.codemill.json`): which
# command wrote it and what a reader must know, e.g. the special tokens its samples use. Here,
# as a walk notes which record files have one (`codemill.outputs` reads and writes them).
SIDECAR_SUFFIX = ".codemill.json"


def _name(path: str | Path) -> str:
    # Neither pathlib nor os.path's calls: this runs for every file a walk of millions lists.
    path = os.fspath(path)
    if os.altsep is not None:  # Windows
        return os.path.basename(path).lower()
    return path[path.rfind("/") + 1 :].lower()


def is_jsonl(path: str | Path) -> bool:
    return _name(path).endswith(JSONL_SUFFIXES)


def is_parquet(path: str | Path) -> bool:
    return _name(path).endswith(PARQUET_SUFFIXES)


def is_records(path: str | Path) -> bool:
    """A file read as records (JSONL or Parquet) rather than as one document."""
    return _name(path).endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES)


def is_compressed(path: str | Path) -> bool:
    return _name(path).endswith((".gz", ".zst"))


def _zstandard(path: Path) -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise SourceError(f"{path}: reading .zst needs zstandard: pip install 'codemill[corpus]'") from exc
    return zstandard


# Compressed bytes fed to the decompressor at a time: zstandard expands a whole input block at
# once, so this bounds what one crafted block (RLE blocks: ~40,000x) can grow to (~80 MB).
_ZSTD_INPUT = 2048


class _ZstdReader(io.RawIOBase):
    """A ``.zst`` stream of any number of frames, decompressed frame by frame. zstandard's own
    readers end a stream cut inside a frame with a short read, as if it were whole: a truncated
    download would lose its tail, or all of it, silently. Here it raises EOFError."""

    def __init__(self, raw: IO[bytes], new_frame: Any) -> None:
        self._raw, self._new_frame = raw, new_frame
        self._frame: Any = None  # the decompressor of the frame in progress
        self._out, self._at = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at == len(self._out):
            data = self._raw.read(_ZSTD_INPUT)
            if not data:
                if self._frame is not None:
                    raise EOFError("the zstd stream ends inside a frame")
                return 0
            parts = []
            while data:
                if self._frame is None:
                    self._frame = self._new_frame()
                parts.append(self._frame.decompress(data))
                if not self._frame.eof:
                    break
                data, self._frame = self._frame.unused_data, None
            self._out, self._at = b"".join(parts), 0
        n = min(len(buffer), len(self._out) - self._at)
        buffer[:n] = self._out[self._at : self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _is_url(path: Path | str) -> bool:
    from codemill.sources.fs import is_url

    return is_url(path)


def _open_raw(path: Path | str, stop: int | None = None, buffering: int = -1, sequential: bool = False) -> IO[bytes]:
    from codemill.sources.fs import open_url

    if isinstance(path, str) and _is_url(path):
        return open_url(path, stop, sequential)
    return open(path, "rb", buffering)


# The buffer of a local file read from start to end: lines of code records (~13 KB) read through
# the default one (st_blksize, 4 KiB) took three reads and a join each; the lines of 200 MB of
# JSONL took 0.15 s to read with it, 0.05 s with this.
SEQUENTIAL_BUFFER = 1 << 20


def open_stream(path: Path | str, stop: int | None = None, sequential: bool = False) -> IO[bytes]:
    """A binary reader of ``path`` (a local path or a URL), decompressing ``.gz`` / ``.zst``.

    ``stop``: the caller reads a plain file only up to about that offset (see
    :func:`codemill.sources.fs.open_url`); ignored for compressed streams, read whole.
    ``sequential``: the caller reads a plain local file on from where it starts (a buffer of
    `SEQUENTIAL_BUFFER`), not a line here and there."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        if isinstance(path, Path) or not _is_url(path):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return gzip.GzipFile(fileobj=_open_raw(path, sequential=True), mode="rb")  # type: ignore[return-value]
    if name.endswith(".zst"):
        zstandard = _zstandard(Path(path))
        raw = _open_raw(path, sequential=True)
        return io.BufferedReader(_ZstdReader(raw, zstandard.ZstdDecompressor().decompressobj))
    return _open_raw(path, stop, SEQUENTIAL_BUFFER if sequential else -1, sequential)
