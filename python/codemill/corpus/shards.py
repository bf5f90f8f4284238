"""Writing token shards: whole documents, each followed by one end-of-text token.

A shard is an ``.npy`` token array with a ``.docs.npy`` document index, or a Megatron-LM
``.bin/.idx`` pair. Documents are never split, so a shard holds whole documents (a document
longer than ``shard_tokens`` gets a shard of its own). Every file is written under a temporary
name, fsynced and renamed (:mod:`codemill._io`); scratch files that are uploaded next skip the
fsync (``durable=False``: the completed upload is their commit).
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path
from typing import IO

from codemill._io import atomic_write_bytes, naming, tmp_name
from codemill.corpus.manifest import ShardInfo
from codemill.corpus.megatron import megatron_index_bytes
from codemill.corpus.settings import FORMATS, ShardFormat
from codemill.errors import CodemillError

# The dtypes a shard's token ids may have (the manifest's ``dtype``, a NumPy name), with the
# ``.npy`` descr of each (little-endian, as the encoder packs them: ``encode_batch_packed``).
# Writing needs no NumPy, whose import cost ~0.1 s of every tokenize process.
NPY_DESCR = {"uint16": "<u2", "uint32": "<u4", "int32": "<i4"}


def token_dtype(vocab_size: int, fmt: ShardFormat = "npy") -> str:
    """uint16 when every id fits, else uint32 (int32 for Megatron, whose readers lack uint32)."""
    if fmt == "megatron":
        # Megatron's own rule (DType.optimal_dtype): uint16 below 65500 tokens.
        return "uint16" if vocab_size < 65500 else "int32"
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def token_width(dtype: str) -> int:
    """Bytes per token id of ``dtype`` (a name in `NPY_DESCR`)."""
    if dtype not in NPY_DESCR:
        raise CodemillError(f"unknown token dtype {dtype!r} ({', '.join(NPY_DESCR)})")
    return int(NPY_DESCR[dtype][2:])


# The .npy header is written with the final shape when a shard closes; a fixed length lets the
# tokens stream to disk before that shape is known.
_NPY_HEADER_LEN = 128


def _npy_header(descr: str, n: int) -> bytes:
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (descr, n)  # noqa: UP031
    body = d.ljust(_NPY_HEADER_LEN - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


def _npy_starts(lengths: Sequence[int]) -> bytes:
    """The ``.docs.npy`` index: where each document starts in the shard, and its end (uint64)."""
    starts = [0, *accumulate(lengths)]
    return _npy_header("<u8", len(starts)) + struct.pack(f"<{len(starts)}Q", *starts)


class _OpenShard:
    """One shard being written: tokens stream to a temporary file."""

    def __init__(self, outdir: Path, name: str, fmt: ShardFormat, dtype: str, durable: bool) -> None:
        self.name = name
        self.durable = durable
        self.fmt = fmt
        self.dtype = dtype
        self.width = token_width(dtype)
        self.tokens_path = outdir / (name + (".npy" if fmt == "npy" else ".bin"))
        self.index_path = outdir / (name + (".docs.npy" if fmt == "npy" else ".idx"))
        self.tmp = tmp_name(self.tokens_path)
        with naming(self.tokens_path, self.tmp):
            self.f: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in finish/abort
            if fmt == "npy":
                self.f.write(b"\0" * _NPY_HEADER_LEN)
        self.tokens = 0
        self.bytes = 0
        self.lengths: list[int] = []  # per-document token counts (EOT included)

    def write(self, tokens: bytes | memoryview, lengths: Sequence[int], nbytes: int) -> None:
        """Appends packed token ids (`width` bytes each) of documents of these ``lengths``."""
        with naming(self.tokens_path, self.tmp):
            self.f.write(tokens)
        self.tokens += len(tokens) // self.width
        self.bytes += nbytes
        self.lengths.extend(lengths)

    def finish(self) -> ShardInfo:
        if self.fmt == "npy":
            self.f.seek(0)
            self.f.write(_npy_header(NPY_DESCR[self.dtype], self.tokens))
            index = _npy_starts(self.lengths)
        else:
            index = megatron_index_bytes(self.lengths, self.dtype, self.width)
        with naming(self.tokens_path, self.tmp):
            self.f.flush()
            if self.durable:
                os.fsync(self.f.fileno())
            self.f.close()
            os.replace(self.tmp, self.tokens_path)
        if self.durable:
            atomic_write_bytes(self.index_path, index)
        else:
            with naming(self.index_path, self.index_path):  # a full scratch disk names no file
                self.index_path.write_bytes(index)
        return {
            "name": self.name,
            "files": [self.tokens_path.name, self.index_path.name],
            "documents": len(self.lengths),
            "tokens": self.tokens,
            "bytes": self.bytes,
            "size": self.tokens_path.stat().st_size,
        }

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


class ShardWriter:
    """Writes whole documents, each followed by its end-of-text id (packed so by the encoder),
    into shards of about ``shard_tokens``.

    Shards are named ``{prefix}-{k:04d}``; ``close()`` returns their descriptions. ``durable``:
    each file is fsynced before it is renamed into place; False for a scratch directory whose
    files are uploaded and removed next (an fsync there only waits for a disk nobody reads).
    """

    def __init__(
        self,
        outdir: Path,
        prefix: str,
        *,
        fmt: ShardFormat,
        dtype: str,
        shard_tokens: int,
        durable: bool = True,
    ) -> None:
        if fmt not in FORMATS:
            raise CodemillError(f"unknown shard format {fmt!r} (npy or megatron)")
        if shard_tokens <= 0:
            raise CodemillError(f"shard_tokens must be positive, got {shard_tokens}")
        self.outdir = outdir
        self.prefix = prefix
        self.fmt = fmt
        self.dtype = dtype
        self.width = token_width(dtype)
        self.shard_tokens = shard_tokens
        self.durable = durable
        self.shards: list[ShardInfo] = []
        self._open: _OpenShard | None = None

    def add(self, tokens: bytes, lengths: Sequence[int], nbytes: Sequence[int]) -> None:
        """Adds a batch packed by ``encode_batch_packed`` (each document's ids, then its EOT) with
        this writer's ``width``: documents of ``lengths[i]`` ids (their EOT included) from ``nbytes[i]``
        source bytes."""
        n = len(lengths)
        ends = list(accumulate(lengths))  # end of document i within `tokens`, in ids
        byte_ends = list(accumulate(nbytes))
        if len(tokens) != (ends[-1] if n else 0) * self.width or len(nbytes) != n:
            raise CodemillError(
                f"a batch of {len(tokens)} bytes and {len(nbytes)} sizes is not {n} documents of {self.width}-byte ids"
            )
        view = memoryview(tokens)
        w = self.width
        i = 0
        while i < n:
            if self._open is None:
                self._open = _OpenShard(
                    self.outdir, f"{self.prefix}-{len(self.shards):04d}", self.fmt, self.dtype, self.durable
                )
            base = ends[i - 1] if i else 0
            room = self.shard_tokens - self._open.tokens
            # Documents i..j-1 fit in the room left.
            j = bisect_right(ends, base + room, lo=i)
            if j <= i:
                if self._open.tokens:
                    self._close()
                    continue
                j = i + 1  # a document longer than a shard gets a shard of its own
            stop = ends[j - 1]
            b0 = byte_ends[i - 1] if i else 0
            self._open.write(view[base * w : stop * w], lengths[i:j], byte_ends[j - 1] - b0)
            i = j
            if self._open.tokens >= self.shard_tokens:
                self._close()

    def _close(self) -> None:
        assert self._open is not None
        self.shards.append(self._open.finish())
        self._open = None

    def close(self) -> list[ShardInfo]:
        if self._open is not None:
            self._close()
        return self.shards

    def abort(self) -> None:
        if self._open is not None:
            self._open.abort()
            self._open = None
