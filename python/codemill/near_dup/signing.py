"""What the decision needs of each text: MinHash signature, shingle count, content hash.

Shared by the local engine (`decide.sign`) and each Ray task (`ray.ray_signatures`), so
both sign texts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codemill import _core
from codemill.near_dup.config import DedupConfig
from codemill.near_dup.minhash import MinHasher

__all__ = ["SHINGLE_SCANNER", "Signed", "concat_signed", "sign_texts"]

# The scanner table of every dedup shingle (None: the generic one); see `sign_texts`.
SHINGLE_SCANNER = None

# (signatures (n, num_perm) uint32, shingle counts (n,), 128-bit content hashes (n, 2) uint64)
Signed = tuple[np.ndarray, np.ndarray, np.ndarray]


def sign_texts(config: DedupConfig, texts: list[str]) -> Signed:
    """The texts' signatures, shingle counts and content hashes, on the local cores.

    Shingles come from one scanner table for every text (`SHINGLE_SCANNER`), whatever the
    text's language: the same code under two labels (a `.py` file and a JSONL record without a
    language, a `.h` read as C and its copy as C++) must have the same shingles, or near
    duplicates across them are missed (the Python and generic tables shared 11-56% of a
    file's shingles). Measured on planted near-duplicates, the generic table finds as many as
    each language's own (Rust, Java, C++) or more (Python: 397 of 400 against 380)."""
    sigs, counts = MinHasher.from_config(config).signatures_and_counts(texts, SHINGLE_SCANNER)
    return sigs, counts, _core.content_hashes(texts, config.normalize_whitespace)


def concat_signed(parts: Sequence[Signed], config: DedupConfig) -> Signed:
    """One `Signed` of batches signed one after the other (empty: zero rows)."""
    if not parts:
        z = np.zeros((0, config.num_perm), dtype=np.uint32)
        return z, np.zeros(0, dtype=np.uint32), np.zeros((0, 2), dtype=np.uint64)
    sigs, counts, hashes = (np.concatenate([p[k] for p in parts]) for k in range(3))
    return sigs, counts, hashes
