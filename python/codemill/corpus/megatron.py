"""Megatron-LM's indexed dataset (``.bin`` tokens + ``.idx`` index): the index writer and a reader."""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

from codemill.errors import CodemillError
from codemill.sources.fs import file_bytes, is_url

if TYPE_CHECKING:
    import numpy as np

# Megatron-LM `indexed_dataset`: header, version 1, dtype codes of its DType enum (NumPy names).
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPES = {
    1: "uint8",
    2: "int8",
    3: "int16",
    4: "int32",
    5: "int64",
    6: "float64",
    7: "float32",
    8: "uint16",
}
_MEGATRON_CODE = {v: k for k, v in MEGATRON_DTYPES.items()}


def megatron_index_bytes(lengths: Sequence[int], dtype: str, width: int) -> bytes:
    """The `.idx` of sequences with these token counts, one document per sequence, of token
    ids of ``dtype`` (a NumPy name) and ``width`` bytes each. Written without NumPy, which a
    tokenize run does not import.

    Layout (Megatron-LM ``megatron/core/datasets/indexed_dataset.py``, ``_IndexWriter``):
    magic ``MMIDIDX\\0\\0``, version ``<Q`` 1, dtype code ``<B``, sequence count ``<Q``,
    document-index count ``<Q``, then int32 sequence lengths, int64 byte pointers into the
    `.bin`, int64 document indices (sequence index where each document starts, plus the end).
    """
    n = len(lengths)
    pointers = [0, *accumulate(length * width for length in lengths[:-1])] if n else []
    return b"".join(
        [
            MEGATRON_MAGIC,
            struct.pack("<Q", 1),
            struct.pack("<B", _MEGATRON_CODE[dtype]),
            struct.pack("<Q", n),
            struct.pack("<Q", n + 1),
            struct.pack(f"<{n}i", *lengths),
            struct.pack(f"<{n}q", *pointers),
            struct.pack(f"<{n + 1}q", *range(n + 1)),  # document indices
        ]
    )


class MegatronReader:
    """A small reader of Megatron-LM `.bin/.idx` pairs, written from the format's layout alone."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        import numpy as np  # here, not at import: the shard writer beside this reader needs none

        prefix = os.fspath(prefix)
        try:
            idx = file_bytes(prefix + ".idx")
        except OSError as exc:
            raise CodemillError(f"{prefix}.idx: cannot read ({exc.strerror or exc})") from None
        if idx[:9] != MEGATRON_MAGIC:
            raise CodemillError(f"{prefix}.idx: not a Megatron index (bad magic)")
        if len(idx) < 34:
            raise CodemillError(f"{prefix}.idx: truncated ({len(idx)} bytes, a header is 34)")
        (version,) = struct.unpack_from("<Q", idx, 9)
        if version != 1:
            raise CodemillError(f"{prefix}.idx: unsupported index version {version}")
        (code,) = struct.unpack_from("<B", idx, 17)
        if code not in MEGATRON_DTYPES:
            raise CodemillError(f"{prefix}.idx: unknown dtype code {code}")
        self.dtype = np.dtype(MEGATRON_DTYPES[code])
        n, ndocs = struct.unpack_from("<QQ", idx, 18)
        expected = 34 + 12 * n + 8 * ndocs
        if len(idx) != expected:
            raise CodemillError(f"{prefix}.idx: {len(idx)} bytes where its {n} sequences need {expected}")
        pos = 34
        self.lengths = np.frombuffer(idx, np.int32, n, pos)
        pos += 4 * n
        self.pointers = np.frombuffer(idx, np.int64, n, pos)
        pos += 8 * n
        self.document_indices = np.frombuffer(idx, np.int64, ndocs, pos)
        need = int(self.pointers[-1]) + int(self.lengths[-1]) * self.dtype.itemsize if n else 0
        try:
            data = file_bytes(prefix + ".bin") if is_url(prefix) else None  # a bucket's: fetched whole
            size = len(data) if data is not None else os.path.getsize(prefix + ".bin")
            # A truncated .bin read its last documents short, silently (a memmap slice clips).
            if size != need:
                raise CodemillError(f"{prefix}.bin: {size} bytes where its index needs {need} (truncated?)")
            if data is not None:
                self.bin = np.frombuffer(data, np.uint8)
            else:
                self.bin = np.memmap(prefix + ".bin", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        except OSError as exc:
            raise CodemillError(f"{prefix}.bin: cannot read ({exc.strerror or exc})") from None

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i])
        return self.bin[start : start + int(self.lengths[i]) * self.dtype.itemsize].view(self.dtype)
