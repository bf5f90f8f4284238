"""MinHasher: MinHash signatures of code and the LSH that turns them into candidate pairs.

The work runs in the native core (`codemill._core`) on all cores without the GIL and comes
back as NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codemill import _core, _numpy_api
from codemill.errors import ConfigError
from codemill.near_dup.config import (
    RECALL_WEIGHT,
    WINDOW,
    DedupConfig,
    Scheme,
    check_lsh,
    choose_bands_rows,
    default_margin,
    standard_error,
)

_numpy_api.load()  # before the first array the core makes here (see the module)

__all__ = ["Languages", "MinHasher"]

# One scanner language for every text, one per text, or None (generic table).
Languages = str | Sequence[str | None] | None


class MinHasher:
    """MinHash signatures of code and the LSH that turns them into candidate pairs.

    Shingles are `ngram`-grams of codemill's scanner pieces with whitespace pieces left out,
    so reindenting or reflowing code changes nothing. `scheme="bucket"` (default) is an
    O(shingles) bucketed sketch; `"mersenne"` is datasketch's `(a*h+b) mod (2^61-1)`
    permutations. Both give per-slot unbiased Jaccard estimates (see `benches/`).
    ``languages`` choose the scanner table that cuts the pieces (None: the generic one, which
    `dedup` uses for every text, so that a text's shingles do not depend on its language).
    Without `bands` and `rows`, they are chosen from `threshold` (`choose_bands_rows`).

    >>> h = MinHasher(128, threshold=0.7)
    >>> sigs = h.signatures(["def f(x):\\n    return x + 1\\n"] * 2)
    >>> sigs.shape, MinHasher.estimate(sigs[0], sigs[1])
    ((2, 128), 1.0)
    """

    def __init__(
        self,
        num_perm: int = 256,
        ngram: int = 5,
        *,
        threshold: float = 0.7,
        bands: int | None = None,
        rows: int | None = None,
        seed: int = 1,
        scheme: Scheme = "bucket",
        recall_weight: float = RECALL_WEIGHT,
    ) -> None:
        check_lsh(threshold, num_perm, ngram, bands, rows, recall_weight, scheme)
        self.num_perm = int(num_perm)
        self.ngram = int(ngram)
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.scheme: Scheme = scheme
        self.recall_weight = float(recall_weight)
        if bands is None or rows is None:
            bands, rows = choose_bands_rows(self.threshold, self.num_perm, self.recall_weight)
        self.bands, self.rows = int(bands), int(rows)

    @classmethod
    def from_config(cls, config: DedupConfig) -> MinHasher:
        """The MinHasher of a dedup config's signature and LSH parameters."""
        return cls(
            config.num_perm,
            config.ngram,
            threshold=config.threshold,
            bands=config.bands,
            rows=config.rows,
            seed=config.seed,
            scheme=config.scheme,
            recall_weight=config.recall_weight,
        )

    def __repr__(self) -> str:
        return (
            f"MinHasher(num_perm={self.num_perm}, ngram={self.ngram}, threshold="
            f"{self.threshold}, bands={self.bands}, rows={self.rows}, seed={self.seed}, "
            f"scheme={self.scheme!r})"
        )

    def signatures_and_counts(self, texts: Sequence[str], languages: Languages = None) -> tuple[np.ndarray, np.ndarray]:
        """`(len(texts), num_perm)` uint32 signatures and each text's shingle count."""
        return _core.minhash_signatures(list(texts), languages, self.num_perm, self.ngram, self.seed, self.scheme)

    def signatures(self, texts: Sequence[str], languages: Languages = None) -> np.ndarray:
        """`(len(texts), num_perm)` uint32 signatures; an empty text's row is all 0xFFFFFFFF."""
        return self.signatures_and_counts(texts, languages)[0]

    def signatures_from_hashes(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Signatures of pre-hashed shingles: document d is `hashes[offsets[d]:offsets[d+1]]`."""
        return _core.minhash_signatures_from_hashes(
            np.ascontiguousarray(hashes, dtype=np.uint64),
            np.ascontiguousarray(offsets, dtype=np.uint64),
            self.num_perm,
            self.seed,
            self.scheme,
        )

    def shingles(self, text: str, language: str | None = None) -> np.ndarray:
        """The distinct shingle hashes of `text` (sorted uint64)."""
        return _core.shingle_hashes(text, language, self.ngram, True)

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """`(n, bands)` uint64 band keys: equal keys at a column are candidate duplicates."""
        return _core.lsh_band_keys(_sigs(signatures), self.bands, self.rows)

    def candidate_pairs(self, signatures: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """`(k, 2)` uint32 candidate edges, star-joined per band bucket to its smallest member.

        Enough for clusters of unfiltered LSH candidates; `pairs` gives the pairs to check."""
        if active is not None:
            active = np.ascontiguousarray(active, dtype=bool)
        return _core.lsh_edges(_sigs(signatures), self.bands, self.rows, active)

    def pairs(
        self, signatures: np.ndarray, active: np.ndarray | None = None, window: int = WINDOW
    ) -> tuple[np.ndarray, int]:
        """`(k, 2)` uint32 distinct pairs to check and the bucket pairs the window left out.

        In each band bucket (sorted by id) every member is paired with the up to `window`
        members before it; the count of left-out pairs is per band.
        """
        if active is not None:
            active = np.ascontiguousarray(active, dtype=bool)
        return _core.lsh_pairs(_sigs(signatures), self.bands, self.rows, active, window)

    def standard_error(self) -> float:
        """The standard error of the Jaccard estimate at the threshold."""
        return standard_error(self.threshold, self.num_perm)

    def default_margin(self) -> float:
        """Half a standard error of the Jaccard estimate at the threshold."""
        return default_margin(self.threshold, self.num_perm)

    def collision_probability(self, similarity: float | np.ndarray) -> np.ndarray:
        """The S-curve: probability that a pair of Jaccard `similarity` becomes a candidate."""
        s = np.asarray(similarity, dtype=np.float64)
        return 1.0 - (1.0 - s**self.rows) ** self.bands

    @staticmethod
    def estimate(a: np.ndarray, b: np.ndarray) -> float:
        """Estimated Jaccard of two signatures: the fraction of equal slots."""
        return float(np.mean(np.asarray(a) == np.asarray(b)))


def _sigs(signatures: np.ndarray) -> np.ndarray:
    sigs = np.ascontiguousarray(signatures, dtype=np.uint32)
    if sigs.ndim != 2:
        raise ConfigError(f"signatures must be 2-D (documents x num_perm), got {sigs.ndim}-D")
    return sigs
