"""What the decision needs of each text: MinHash signature, shingle count, content hash.

Shared by the local engine (`decide.signer`), each Ray task (`ray.ray_signatures`) and
prepare's dedup stage (`sign_texts`), so all sign texts the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from codemill import _core
from codemill.near_dup.config import DedupConfig
from codemill.near_dup.minhash import MinHasher

__all__ = [
    "SHINGLE_SCANNER",
    "Claim",
    "Claimed",
    "Signatures",
    "Signed",
    "Signer",
    "concat_signed",
    "first_claims",
    "local_signatures",
    "sign_texts",
]

# The scanner table of every dedup shingle (None: the generic one); see `sign_texts`.
SHINGLE_SCANNER = None

# (signatures (n, num_perm) uint32, shingle counts (n,), 128-bit content hashes (n, 2) uint64)
Signed = tuple[np.ndarray, np.ndarray, np.ndarray]
# The signatures and shingle counts of texts (the first two of `Signed`), on the local cores or on Ray.
Signatures = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


def local_signatures(config: DedupConfig) -> Signatures:
    """What signs texts on the local cores with `SHINGLE_SCANNER` (see `sign_texts`): their
    signatures and shingle counts, one `MinHasher` for every batch."""
    hasher = MinHasher.from_config(config)
    return lambda texts: hasher.signatures_and_counts(texts, SHINGLE_SCANNER)


def sign_texts(config: DedupConfig, texts: list[str]) -> Signed:
    """The texts' signatures, shingle counts and content hashes, on the local cores.

    Shingles come from one scanner table for every text (`SHINGLE_SCANNER`), whatever the
    text's language: the same code under two labels (a `.py` file and a JSONL record without a
    language, a `.h` read as C and its copy as C++) must have the same shingles, or near
    duplicates across them are missed (the Python and generic tables shared 11-56% of a
    file's shingles). Measured on planted near-duplicates, the generic table finds as many as
    each language's own (Rust, Java, C++) or more (Python: 397 of 400 against 380)."""
    sigs, counts = local_signatures(config)(texts)
    return sigs, counts, _core.content_hashes(texts, config.normalize_whitespace)


def concat_signed(parts: list[Signed], config: DedupConfig) -> Signed:
    """One `Signed` of batches signed one after the other (empty: zero rows). Empties ``parts``:
    each batch is let go once copied, so that the whole is held beside one batch, not beside
    them all (dedup of 1.24 GB held its signatures twice over, +70 MB, as it gathered them)."""
    rows = sum(len(p[0]) for p in parts)
    sigs = np.empty((rows, config.num_perm), dtype=np.uint32)
    counts = np.empty(rows, dtype=np.uint32)
    hashes = np.empty((rows, 2), dtype=np.uint64)
    at = 0
    parts.reverse()
    while parts:
        s, c, h = parts.pop()
        sigs[at : at + len(s)], counts[at : at + len(s)], hashes[at : at + len(s)] = s, c, h
        at += len(s)
        del s, c, h
    return sigs, counts, hashes


# Bytes of signatures a `Signer` keeps together: its batches are gathered into arrays of about
# this size as they come. glibc maps an array this large on its own and gives it back whole
# when freed, while the small arrays of many batches stayed in the heap among other allocations
# once freed: dedup of 1.24 GB in 8 MB batches went into its decision with 260 MB resident,
# ~190 MB with them gathered (172 MB when the Python reader fed it 32 MB batches).
CHUNK_BYTES = 32 << 20
# Copies' signature rows filled this many at a time. The rows copied go through a temporary, and
# glibc, once it has given back a large one (~6 MB for the copies of 1.24 GB), serves blocks up to
# that size from the heap for the rest of the run (its dynamic mmap threshold; the `codemill`
# command fixes it at 32 MiB, `codemill._malloc`, so they come from the heap there): dedup of 1.24 GB
# peaked at 324-424 MB filling them at once (10 runs), 311-330 MB 64 rows at a time (7 runs),
# and 302-311 MB with the threshold fixed by MALLOC_MMAP_THRESHOLD_ (8787033: 290-310 MB).
COPY_ROWS = 64


# A run's register of the texts signed so far, shared by its Ray tasks: given a batch's raw
# content hashes, which texts are new to the whole run (the others are another row's copies).
Claim = Callable[[np.ndarray], np.ndarray]


def first_claims() -> Claim:
    """A register of its own (`Claim`): a text is new unless an earlier text it was asked about
    is the same (its raw content hash). Ray's run-wide register holds one (`ray._Register`)."""
    seen = _core.FirstSeen()
    asked = 0

    def claim(raw: np.ndarray) -> np.ndarray:
        nonlocal asked
        ids = np.arange(asked, asked + len(raw), dtype=np.uint64)
        new = seen.first(raw, asked) == ids
        asked += len(raw)
        return new

    return claim


class Claimed(NamedTuple):
    """What a `Signer` with a `Claim` (a Ray task's) gives: its rows (`Signed`, the signatures and
    shingle counts of the rows it signed only), the raw content hash of each row, and the rows it
    left unsigned, copies of a text claimed first, for the run's signer to fill
    (`Signer.add_claimed`). Unsigned rows are not sent: 1 KB each (a tree of 25 copies sent
    73 MB of them)."""

    signed: Signed
    raw: np.ndarray
    unsigned: np.ndarray


class Signer:
    """Signs a corpus a batch of texts at a time (`add`), each distinct text once: a text equal
    to one added before (the same 128-bit hash of its characters, whitespace included) takes that
    one's signature and shingle count, which the same text always gives. Code crawled from hosts
    holds many exact copies (forks, vendored and generated files), and signing took about two
    thirds of a one-core dedup of JSONL; the copies cost a hash and a row copy instead.

    ``signatures``: what signs the distinct texts (the local cores, or Ray's tasks); the content
    hashes are computed here, for every text. `signed` gives them all, in the order added.

    On Ray each task signs its share with a signer of its own, whose ``claim`` asks the run's
    register which texts are new to the run (`Claim`); it signs only those and gives its rows
    as `claimed`, which the run's signer takes in order (`add_claimed`) and fills.
    """

    def __init__(self, config: DedupConfig, signatures: Signatures, claim: Claim | None = None) -> None:
        self.config = config
        self._signatures = signatures
        self._claim = claim
        self._start()

    def _start(self) -> None:
        """Nothing added yet."""
        self._first = _core.FirstSeen()  # each distinct text's hash -> the first document with it
        self._parts: list[Signed] = []  # gathered batches, about CHUNK_BYTES of signatures each
        self._batches: list[Signed] = []  # the batches since
        self._batches_rows = 0
        self._copies: list[np.ndarray] = []  # documents whose text an earlier one has, a batch each ...
        self._of: list[np.ndarray] = []  # ... and those ones
        self._raw: list[np.ndarray] = []  # with a claim: the raw content hashes, a batch each
        self._late: list[np.ndarray] = []  # (first document, the later one that signed its text) pairs
        self.documents = 0
        self.signed_again = 0  # rows taken signed although an earlier document has their text

    def add(self, texts: list[str] | _core.RecordTexts) -> None:
        """Signs a batch: Python strings, or the records of JSONL lines read in the core (signed
        there, on the local cores, with `SHINGLE_SCANNER`'s generic table)."""
        c = self.config
        if isinstance(texts, _core.RecordTexts):
            records = texts
            hashes_of = records.content_hashes

            def sign(new: list[int]) -> tuple[np.ndarray, np.ndarray]:
                return records.minhash_signatures(new, c.num_perm, c.ngram, c.seed, c.scheme)
        else:
            strs = texts
            hashes_of = functools.partial(_core.content_hashes, strs)

            def sign(new: list[int]) -> tuple[np.ndarray, np.ndarray]:
                return self._signatures([strs[i] for i in new])

        raw = hashes_of(False)
        hashes = hashes_of(True) if c.normalize_whitespace else raw
        docs = np.arange(self.documents, self.documents + len(texts), dtype=np.int64)
        if self._claim is None:
            first = self._first.first(raw, self.documents).astype(np.int64)
            copy = first != docs
            self._of.append(first[copy])
        else:
            copy = ~self._claim(raw)
            self._raw.append(raw)
        self._copies.append(docs[copy])
        new = np.flatnonzero(~copy).tolist()
        sigs = np.empty((len(texts), c.num_perm), dtype=np.uint32)
        counts = np.empty(len(texts), dtype=np.uint32)
        if new:
            sigs[new], counts[new] = sign(new)
        self._append((sigs, counts, hashes))

    def add_claimed(self, part: Claimed) -> None:
        """The rows of a task's signer (`claimed`), next in order. A row it left unsigned takes the
        signature of the first document with its text; where that one was left unsigned too (a
        later task claimed the text first), of the row that signed it (`signed`)."""
        (sigs, counts, hashes), raw, unsigned = part
        docs = np.arange(self.documents, self.documents + len(raw), dtype=np.int64)
        first = self._first.first(raw, self.documents).astype(np.int64)
        left = np.zeros(len(raw), dtype=bool)
        left[unsigned] = True
        self._copies.append(docs[left])
        self._of.append(first[left])
        late = ~left & (first != docs)
        if late.any():
            self._late.append(np.stack([first[late], docs[late]]))
            self.signed_again += int(late.sum())
        if len(unsigned):
            rows = np.empty((len(raw), self.config.num_perm), dtype=np.uint32)
            rows[~left], rows[left] = sigs, 0
            counted = np.zeros(len(raw), dtype=np.uint32)
            counted[~left] = counts
            sigs, counts = rows, counted
        self._append((sigs, counts, hashes))

    def _append(self, signed: Signed) -> None:
        sigs = signed[0]
        self._batches.append(signed)
        self._batches_rows += len(sigs)
        self.documents += len(sigs)
        if self._batches_rows * self.config.num_perm * 4 >= CHUNK_BYTES:
            self._parts.append(concat_signed(self._batches, self.config))
            self._batches, self._batches_rows = [], 0

    def claimed(self) -> Claimed:
        """A claiming signer's rows, the unsigned ones unfilled; it starts afresh."""
        parts, self._parts, self._batches = self._parts + self._batches, [], []
        sigs, counts, hashes = concat_signed(parts, self.config)
        raw = np.concatenate(self._raw) if self._raw else np.zeros((0, 2), dtype=np.uint64)
        unsigned = np.concatenate(self._copies) if self._copies else np.zeros(0, dtype=np.int64)
        self._start()
        if len(unsigned):
            signed = np.ones(len(sigs), dtype=bool)
            signed[unsigned] = False
            sigs, counts = sigs[signed], counts[signed]
        return Claimed((sigs, counts, hashes), raw, unsigned)

    def signed(self) -> Signed:
        """The signatures, shingle counts and content hashes of every text added, in order; the
        signer starts afresh (its texts' hashes freed before the decision)."""
        parts, self._parts, self._batches = self._parts + self._batches, [], []
        sigs, counts, hashes = concat_signed(parts, self.config)
        copies = np.concatenate(self._copies) if self._copies else np.zeros(0, dtype=np.int64)
        of = np.concatenate(self._of) if self._of else np.zeros(0, dtype=np.int64)
        left = np.zeros(len(sigs), dtype=bool)
        left[copies] = True
        gone = np.flatnonzero(left[of])
        if len(gone):
            # A first document left unsigned: its text was signed by a later row.
            late = np.concatenate(self._late, axis=1) if self._late else np.zeros((2, 0), dtype=np.int64)
            order = np.argsort(late[0])
            firsts, signers = late[0][order], late[1][order]
            at = np.minimum(np.searchsorted(firsts, of[gone]), max(len(firsts) - 1, 0))
            lost = int((firsts[at] != of[gone]).sum()) if len(firsts) else len(gone)
            if lost:  # never silently: the rows would read as empty texts, their duplicates missed
                raise RuntimeError(f"dedup: {lost} copies of texts that no row signed (a claim was lost)")
            of[gone] = signers[at]
        counts[copies] = counts[of]  # `of` are signed documents
        for i in range(0, len(copies), COPY_ROWS):
            sigs[copies[i : i + COPY_ROWS]] = sigs[of[i : i + COPY_ROWS]]
        self._start()  # what it held, freed
        return sigs, counts, hashes
