"""Token offsets: every codemill token covers a contiguous byte range of the text it came
from (decoding concatenates token bytes), so offsets are a running sum of token lengths."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Encoding(NamedTuple):
    """Ids with ``(start, end)`` offsets per token, in bytes of the UTF-8 text and in
    characters (a token that starts or ends inside a character covers the whole character)."""

    ids: np.ndarray
    byte_offsets: np.ndarray
    char_offsets: np.ndarray


def offsets(text: str, ids: np.ndarray, lengths: np.ndarray) -> Encoding:
    tok_len = lengths[ids].astype(np.int64)
    ends = np.cumsum(tok_len)
    starts = ends - tok_len
    byte_offsets = np.stack([starts, ends], axis=1).astype(np.int64)
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    # Character index of every byte: count of character-start bytes up to it, minus one.
    char_of_byte = np.cumsum((raw & 0xC0) != 0x80) - 1
    if len(ids):
        cs = char_of_byte[starts]
        ce = char_of_byte[ends - 1] + 1
        char_offsets = np.stack([cs, ce], axis=1).astype(np.int64)
    else:
        char_offsets = np.zeros((0, 2), dtype=np.int64)
    return Encoding(ids, byte_offsets, char_offsets)
