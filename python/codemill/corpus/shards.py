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
from pathlib import Path
from typing import IO

import numpy as np

from codemill._io import atomic_write_bytes, naming, tmp_name
from codemill.corpus.manifest import ShardInfo
from codemill.corpus.megatron import megatron_index_bytes
from codemill.corpus.settings import FORMATS, ShardFormat
from codemill.errors import CodemillError


def token_dtype(vocab_size: int, fmt: ShardFormat = "npy") -> np.dtype:
    """uint16 when every id fits, else uint32 (int32 for Megatron, whose readers lack uint32)."""
    if fmt == "megatron":
        # Megatron's own rule (DType.optimal_dtype): uint16 below 65500 tokens.
        return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


# The .npy header is written with the final shape when a shard closes; a fixed length lets the
# tokens stream to disk before that shape is known.
_NPY_HEADER_LEN = 128


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (dtype.str, n)  # noqa: UP031
    body = d.ljust(_NPY_HEADER_LEN - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


def _npy_bytes(arr: np.ndarray) -> bytes:
    return _npy_header(arr.dtype, len(arr)) + np.ascontiguousarray(arr).tobytes()


class _OpenShard:
    """One shard being written: tokens stream to a temporary file."""

    def __init__(self, outdir: Path, name: str, fmt: ShardFormat, dtype: np.dtype, durable: bool) -> None:
        self.name = name
        self.durable = durable
        self.fmt = fmt
        self.dtype = dtype
        self.tokens_path = outdir / (name + (".npy" if fmt == "npy" else ".bin"))
        self.index_path = outdir / (name + (".docs.npy" if fmt == "npy" else ".idx"))
        self.tmp = tmp_name(self.tokens_path)
        with naming(self.tokens_path, self.tmp):
            self.f: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in finish/abort
            if fmt == "npy":
                self.f.write(b"\0" * _NPY_HEADER_LEN)
        self.tokens = 0
        self.bytes = 0
        self.lengths: list[np.ndarray] = []  # per-document token counts (EOT included)

    def write(self, tokens: np.ndarray, lengths: np.ndarray, nbytes: int) -> None:
        with naming(self.tokens_path, self.tmp):
            self.f.write(tokens.tobytes())
        self.tokens += len(tokens)
        self.bytes += nbytes
        self.lengths.append(lengths)

    def finish(self) -> ShardInfo:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        if self.fmt == "npy":
            self.f.seek(0)
            self.f.write(_npy_header(self.dtype, self.tokens))
            starts = np.zeros(len(lengths) + 1, dtype=np.uint64)
            np.cumsum(lengths, out=starts[1:])
            index = _npy_bytes(starts)
        else:
            index = megatron_index_bytes(lengths, self.dtype)
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
            "documents": len(lengths),
            "tokens": self.tokens,
            "bytes": self.bytes,
            "size": self.tokens_path.stat().st_size,
        }

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


class ShardWriter:
    """Writes whole documents, each followed by ``eot_id``, into shards of about ``shard_tokens``.

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
        dtype: np.dtype,
        shard_tokens: int,
        eot_id: int,
        durable: bool = True,
    ) -> None:
        if fmt not in FORMATS:
            raise CodemillError(f"unknown shard format {fmt!r} (npy or megatron)")
        if shard_tokens <= 0:
            raise CodemillError(f"shard_tokens must be positive, got {shard_tokens}")
        self.outdir = outdir
        self.prefix = prefix
        self.fmt = fmt
        self.dtype = np.dtype(dtype)
        self.shard_tokens = shard_tokens
        self.eot_id = eot_id
        self.durable = durable
        self.shards: list[ShardInfo] = []
        self._open: _OpenShard | None = None

    def add(self, ids: np.ndarray, offsets: np.ndarray, nbytes: np.ndarray) -> None:
        """Adds a batch: documents ``ids[offsets[i]:offsets[i+1]]`` of ``nbytes[i]`` source bytes."""
        n = len(offsets) - 1
        if n <= 0:
            return
        # One EOT after each document, in one vectorised pass.
        tokens = np.insert(ids, offsets[1:].astype(np.intp), self.eot_id).astype(self.dtype, copy=False)
        lengths = np.diff(offsets).astype(np.int64) + 1
        ends = np.cumsum(lengths)  # end of document i within `tokens`
        byte_ends = np.cumsum(np.asarray(nbytes, dtype=np.int64))
        i = 0
        while i < n:
            if self._open is None:
                self._open = _OpenShard(
                    self.outdir, f"{self.prefix}-{len(self.shards):04d}", self.fmt, self.dtype, self.durable
                )
            base = int(ends[i - 1]) if i else 0
            room = self.shard_tokens - self._open.tokens
            # Documents i..j-1 fit in the room left.
            j = int(np.searchsorted(ends, base + room, side="right"))
            if j <= i:
                if self._open.tokens:
                    self._close()
                    continue
                j = i + 1  # a document longer than a shard gets a shard of its own
            stop = int(ends[j - 1])
            b0 = int(byte_ends[i - 1]) if i else 0
            self._open.write(tokens[base:stop], lengths[i:j], int(byte_ends[j - 1]) - b0)
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
