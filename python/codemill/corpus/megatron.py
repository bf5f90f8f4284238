"""Megatron-LM's indexed dataset (``.bin`` tokens + ``.idx`` index): the index writer and a reader."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from codemill.errors import CodemillError

# Megatron-LM `indexed_dataset`: header, version 1, dtype codes of its DType enum.
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPES = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}
_MEGATRON_CODE = {np.dtype(v): k for k, v in MEGATRON_DTYPES.items()}


def megatron_index_bytes(lengths: np.ndarray, dtype: np.dtype) -> bytes:
    """The `.idx` of sequences with these token counts, one document per sequence.

    Layout (Megatron-LM ``megatron/core/datasets/indexed_dataset.py``, ``_IndexWriter``):
    magic ``MMIDIDX\\0\\0``, version ``<Q`` 1, dtype code ``<B``, sequence count ``<Q``,
    document-index count ``<Q``, then int32 sequence lengths, int64 byte pointers into the
    `.bin`, int64 document indices (sequence index where each document starts, plus the end).
    """
    lengths = np.asarray(lengths, dtype=np.int32)
    n = len(lengths)
    pointers = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    doc_index = np.arange(n + 1, dtype=np.int64)
    return b"".join(
        [
            MEGATRON_MAGIC,
            struct.pack("<Q", 1),
            struct.pack("<B", _MEGATRON_CODE[np.dtype(dtype)]),
            struct.pack("<Q", n),
            struct.pack("<Q", len(doc_index)),
            lengths.tobytes(),
            pointers.tobytes(),
            doc_index.tobytes(),
        ]
    )


class MegatronReader:
    """A small reader of Megatron-LM `.bin/.idx` pairs, written from the format's layout alone."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        prefix = os.fspath(prefix)
        idx = Path(prefix + ".idx").read_bytes()
        if idx[:9] != MEGATRON_MAGIC:
            raise CodemillError(f"{prefix}.idx: not a Megatron index (bad magic)")
        (version,) = struct.unpack_from("<Q", idx, 9)
        if version != 1:
            raise CodemillError(f"{prefix}.idx: unsupported index version {version}")
        (code,) = struct.unpack_from("<B", idx, 17)
        if code not in MEGATRON_DTYPES:
            raise CodemillError(f"{prefix}.idx: unknown dtype code {code}")
        self.dtype = np.dtype(MEGATRON_DTYPES[code])
        n, ndocs = struct.unpack_from("<QQ", idx, 18)
        pos = 34
        self.lengths = np.frombuffer(idx, np.int32, n, pos)
        pos += 4 * n
        self.pointers = np.frombuffer(idx, np.int64, n, pos)
        pos += 8 * n
        self.document_indices = np.frombuffer(idx, np.int64, ndocs, pos)
        self.bin = np.memmap(prefix + ".bin", dtype=np.uint8, mode="r")

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i])
        return self.bin[start : start + int(self.lengths[i]) * self.dtype.itemsize].view(self.dtype)
