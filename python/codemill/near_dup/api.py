"""Exact and near-duplicate removal: content hashes, MinHash signatures, LSH, union-find.

The heavy work is in the native core (`codemill._core`): shingling, signatures, band keys,
candidate pairs, exact Jaccard and union-find run in Rust on all cores without the GIL and
return NumPy arrays. This module orchestrates: read inputs in batches, drop exact duplicates,
cluster near-duplicates, keep one document per cluster, write the kept documents and a report.

The module is `codemill.near_dup.api`; its entry points are exported as `codemill.dedup`,
`codemill.MinHasher` and `codemill.DedupResult`.

How a pair of documents becomes a duplicate (by default):
1. LSH: the pair shares a band key. `(bands, rows)` minimise `(1 - recall_weight) * FP area +
   recall_weight * FN area` of the S-curve (datasketch's rule at `recall_weight=0.5`); the
   default 0.95 favours recall, because step 2 removes the extra candidates cheaply.
2. Within a band bucket each member is paired with the `window` members before it (by id):
   every pair of a bucket of up to `window + 1`; pairs beyond that are counted as skipped.
3. The estimate filter keeps a pair when its signature estimate (fraction of equal slots) is
   at least `threshold - margin`; `margin` defaults to half a standard error of the estimate
   at the threshold, `0.5 * sqrt(t * (1 - t) / num_perm)` (0.014 at 0.7 and 256), measured
   as the balance of precision and recall in `benches/bench_dedup.py`. With `verify=True`,
   the true Jaccard of the shingle sets decides instead (`>= threshold`) for every
   candidate pair; with `verify="borderline"` only for pairs whose estimate is within two
   standard errors of the threshold (those above are kept, those below dropped): the
   default, because the estimate alone lands on either side of P 0.95 / R 0.90 depending on
   the seed on real code (see `benches/`), while this re-reads the texts of about a third of
   the candidate pairs' documents and measures P 1.00 / R 0.99. `verify=False` uses the
   estimate filter alone and never re-reads texts.
4. Accepted pairs are joined by union-find; one document per cluster is kept.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codemill import _core
from codemill.near_dup.io import Doc, Skips, check_inputs, decode_file, jsonl_docs, read_documents, write_kept

__all__ = ["KEEP_POLICIES", "DedupResult", "MinHasher", "dedup", "dedup_texts"]

KEEP_POLICIES = ("first", "last", "longest", "shortest")
REPORT_NAME = "dedup_report.json"
RECALL_WEIGHT = 0.95
WINDOW = 64
# A batch of documents is signed, then its texts are dropped (whichever limit comes first).
BATCH_DOCS = 4096
BATCH_CHARS = 32_000_000

# (texts, languages) of the given sorted document ids, re-read on demand.
Fetch = Callable[[np.ndarray], tuple[list[str], Any]]


class MinHasher:
    """MinHash signatures of code and the LSH that turns them into candidate pairs.

    Shingles are `ngram`-grams of codemill's scanner pieces with whitespace pieces left out,
    so reindenting or reflowing code changes nothing. `scheme="bucket"` (default) is an
    O(shingles) bucketed sketch; `"mersenne"` is datasketch's `(a*h+b) mod (2^61-1)`
    permutations. Both give per-slot unbiased Jaccard estimates (see `benches/`).
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
        scheme: str = "bucket",
        recall_weight: float = RECALL_WEIGHT,
    ) -> None:
        if not 0.0 < recall_weight < 1.0:
            raise ValueError(f"recall_weight must be strictly between 0 and 1, got {recall_weight}")
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither")
        self.num_perm = int(num_perm)
        self.ngram = int(ngram)
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.scheme = scheme
        self.recall_weight = float(recall_weight)
        if bands is None or rows is None:
            bands, rows = _core.lsh_params(self.threshold, self.num_perm, 1.0 - recall_weight, recall_weight)
        elif bands < 1 or rows < 1 or bands * rows > self.num_perm:
            raise ValueError(f"bands ({bands}) x rows ({rows}) must be positive and at most num_perm ({self.num_perm})")
        self.bands, self.rows = int(bands), int(rows)

    def __repr__(self) -> str:
        return (
            f"MinHasher(num_perm={self.num_perm}, ngram={self.ngram}, threshold="
            f"{self.threshold}, bands={self.bands}, rows={self.rows}, seed={self.seed}, "
            f"scheme={self.scheme!r})"
        )

    def signatures_and_counts(
        self, texts: Sequence[str], languages: str | Sequence[str | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`(len(texts), num_perm)` uint32 signatures and each text's shingle count."""
        return _core.minhash_signatures(list(texts), languages, self.num_perm, self.ngram, self.seed, self.scheme)

    def signatures(self, texts: Sequence[str], languages: str | Sequence[str | None] | None = None) -> np.ndarray:
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
        t = self.threshold
        return math.sqrt(t * (1.0 - t) / self.num_perm)

    def default_margin(self) -> float:
        """Half a standard error of the Jaccard estimate at the threshold."""
        return 0.5 * self.standard_error()

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
        raise ValueError(f"signatures must be 2-D (documents x num_perm), got {sigs.ndim}-D")
    return sigs


@dataclass
class DedupResult:
    """What a dedup run decided: `keep[i]` per document, clusters, counts and parameters."""

    keep: np.ndarray  # bool per document
    labels: np.ndarray  # near-duplicate cluster label per document (smallest member id)
    exact_of: np.ndarray  # for each document, the id of its exact-duplicate representative
    signatures: np.ndarray
    pairs: np.ndarray  # (k, 2) uint32: the accepted duplicate pairs (edges of the clusters)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"params": self.params, "counts": self.counts, "clusters": self.clusters}


def _check_keep(policy: str) -> None:
    if policy not in KEEP_POLICIES:
        raise ValueError(f"unknown keep policy {policy!r}; known: {', '.join(KEEP_POLICIES)}")


def _pick(policy: str, groups: np.ndarray, lengths: np.ndarray, members: np.ndarray) -> dict:
    """The kept member of each group: {group label: document id}. Vectorised (one sort)."""
    _check_keep(policy)
    ids = members.astype(np.int64)
    length = lengths[members].astype(np.int64)
    # Sort within each group so the wanted member comes first; ids break ties.
    secondary = {
        "first": ids,
        "last": -ids,
        "longest": -length,
        "shortest": length,
    }[policy]
    order = np.lexsort((ids, secondary, groups))
    g = groups[order]
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    return dict(zip(g[first].tolist(), members[order][first].tolist(), strict=True))


def _subset_languages(languages: Any, ids: np.ndarray) -> Any:
    if languages is None or isinstance(languages, str):
        return languages
    return [languages[i] for i in ids.tolist()]


def _sign(
    hasher: MinHasher,
    texts: list[str],
    languages: Any,
    engine: str,
    normalize_whitespace: bool,
    ray_shards: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures, shingle counts and content hashes of `texts`, on the local cores or on Ray."""
    if engine == "local":
        sigs, counts = hasher.signatures_and_counts(texts, languages)
        return sigs, counts, _core.content_hashes(texts, normalize_whitespace)
    if engine == "ray":
        from codemill.near_dup.ray import ray_signatures

        return ray_signatures(hasher, texts, languages, normalize_whitespace, ray_shards)
    raise ValueError(f"unknown engine {engine!r}; known: local, ray")


def dedup_texts(
    texts: Sequence[str],
    languages: str | Sequence[str | None] | None = None,
    *,
    threshold: float = 0.7,
    num_perm: int = 256,
    ngram: int = 5,
    bands: int | None = None,
    rows: int | None = None,
    recall_weight: float = RECALL_WEIGHT,
    verify: bool | str = "borderline",
    estimate_filter: bool = True,
    margin: float | None = None,
    window: int = WINDOW,
    keep: str = "first",
    exact: bool = True,
    normalize_whitespace: bool = False,
    seed: int = 1,
    scheme: str = "bucket",
    engine: str = "local",
    names: Sequence[str] | None = None,
    ray_shards: int | None = None,
) -> DedupResult:
    """Deduplicate in-memory texts; see `dedup` for the parameters."""
    hasher = MinHasher(
        num_perm,
        ngram,
        threshold=threshold,
        bands=bands,
        rows=rows,
        seed=seed,
        scheme=scheme,
        recall_weight=recall_weight,
    )
    texts = list(texts)
    sigs, counts, hashes = _sign(hasher, texts, languages, engine, normalize_whitespace, ray_shards)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))

    def fetch(ids: np.ndarray) -> tuple[list[str], Any]:
        return [texts[i] for i in ids.tolist()], _subset_languages(languages, ids)

    def name(i: int) -> str | int:
        return names[i] if names is not None else i

    return _decide(
        hasher,
        sigs,
        counts,
        hashes,
        lengths,
        fetch,
        name,
        verify=verify,
        estimate_filter=estimate_filter,
        margin=margin,
        window=window,
        keep=keep,
        exact=exact,
        engine=engine,
        ray_shards=ray_shards,
        normalize_whitespace=normalize_whitespace,
    )


def _decide(
    hasher: MinHasher,
    sigs: np.ndarray,
    counts: np.ndarray,
    hashes: np.ndarray,
    lengths: np.ndarray,
    fetch: Fetch,
    name: Callable[[int], str | int],
    *,
    verify: bool | str,
    estimate_filter: bool,
    margin: float | None,
    window: int,
    keep: str,
    exact: bool,
    engine: str,
    ray_shards: int | None,
    normalize_whitespace: bool,
) -> DedupResult:
    _check_keep(keep)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if verify not in (False, True, "borderline"):
        raise ValueError(f"verify must be True, False or 'borderline', got {verify!r}")
    margin = hasher.default_margin() if margin is None else float(margin)
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin}")
    n = len(sigs)
    ids = np.arange(n, dtype=np.int64)
    # Exact duplicates: groups of equal 128-bit content hashes, one representative each.
    if exact and n:
        _, group = np.unique(
            np.ascontiguousarray(hashes).view([("a", np.uint64), ("b", np.uint64)]).ravel(),
            return_inverse=True,
        )
        group = group.ravel().astype(np.int64)
        rep = _pick(keep, group, lengths, ids)
        exact_of = np.array([rep[g] for g in group.tolist()], dtype=np.int64)
    else:
        exact_of = ids.copy()
    representative = exact_of == ids
    active = representative & (counts > 0)

    if engine == "ray":
        from codemill.near_dup.ray import ray_pairs

        pairs, skipped = ray_pairs(hasher, sigs, active, ray_shards, window)
    else:
        pairs, skipped = hasher.pairs(sigs, active, window)
    estimates = _core.signature_estimates(sigs, pairs)
    min_estimate = hasher.threshold - margin
    rejected_estimate = rejected_verify = 0
    check, ok = settle_pairs(hasher, estimates, verify, min_estimate if estimate_filter else None)
    if verify is not True and verify != "borderline":  # the estimate alone decided
        rejected_estimate = int((~ok).sum())
    # Only the texts of documents in checked pairs are re-read.
    fetched: tuple[np.ndarray, list[str], Any] | None = None
    if check.any():
        docs = np.unique(pairs[check]).astype(np.int64)
        texts, langs = fetch(docs)
        fetched = (docs, texts, langs)
        true = _core.exact_jaccard_pairs(texts, _local(docs, pairs[check]), langs, hasher.ngram)
        ok[check] = true >= hasher.threshold
        rejected_verify = int((true < hasher.threshold).sum())
    edges = np.ascontiguousarray(pairs[ok])
    labels = _core.connected_components(n, edges).astype(np.int64)

    keep_mask = representative.copy()
    clusters: list[dict[str, Any]] = []
    # Near clusters: components with more than one active member.
    sizes = np.bincount(labels[active], minlength=n) if n else np.zeros(0, dtype=np.int64)
    in_cluster = active & (sizes[labels] > 1)
    members = ids[in_cluster]
    kept_of = _pick(keep, labels[members], lengths, members) if len(members) else {}
    for m in members.tolist():
        if kept_of[int(labels[m])] != m:
            keep_mask[m] = False

    if len(members):
        order = np.lexsort((members, labels[members]))
        members_sorted = members[order]
        kept_ids = np.array([kept_of[int(labels[m])] for m in members_sorted.tolist()], dtype=np.int64)
        report_pairs = np.stack([kept_ids, members_sorted], axis=1).astype(np.uint32)
        est = _core.signature_estimates(sigs, report_pairs)
        true_sim = None
        if verify is True and fetched is not None:
            docs, texts, langs = fetched
            true_sim = _core.exact_jaccard_pairs(texts, _local(docs, report_pairs), langs, hasher.ngram)
        current: dict[str, Any] | None = None
        for k, m in enumerate(members_sorted.tolist()):
            kid = int(kept_ids[k])
            if current is None or current["kept"]["id"] != kid:
                current = {"kind": "near", "kept": {"id": kid, "name": name(kid)}, "removed": []}
                clusters.append(current)
            if m == kid:
                continue
            entry: dict[str, Any] = {"id": m, "name": name(m), "estimated": round(float(est[k]), 4)}
            if true_sim is not None:
                entry["jaccard"] = round(float(true_sim[k]), 4)
            current["removed"].append(entry)
    if exact:
        dup = ids[~representative]
        by_rep: dict[int, list[int]] = {}
        for d in dup.tolist():
            by_rep.setdefault(int(exact_of[d]), []).append(d)
        for r, ds in sorted(by_rep.items()):
            clusters.append(
                {
                    "kind": "exact",
                    "kept": {"id": r, "name": name(r), "kept": bool(keep_mask[r])},
                    "removed": [{"id": d, "name": name(d)} for d in ds],
                }
            )

    result_counts = {
        "documents": n,
        "empty_documents": int((counts == 0).sum()),
        "exact_duplicates_removed": int((~representative).sum()),
        "near_duplicates_removed": int((representative & ~keep_mask).sum()),
        "kept": int(keep_mask.sum()),
        "candidate_pairs": len(pairs),
        "candidate_pairs_skipped_by_window": int(skipped),
        "candidate_pairs_rejected_by_estimate": rejected_estimate,
        "candidate_pairs_verified": int(check.sum()),
        "candidate_pairs_rejected_by_verify": rejected_verify,
        "duplicate_pairs": len(edges),
        "near_clusters": sum(1 for c in clusters if c["kind"] == "near"),
    }
    params = {
        "threshold": hasher.threshold,
        "num_perm": hasher.num_perm,
        "ngram": hasher.ngram,
        "bands": hasher.bands,
        "rows": hasher.rows,
        "recall_weight": hasher.recall_weight,
        "seed": hasher.seed,
        "scheme": hasher.scheme,
        "window": window,
        "verify": verify,
        "estimate_filter": bool(estimate_filter and not verify),
        "min_estimate": round(min_estimate, 6) if estimate_filter and not verify else None,
        "keep": keep,
        "exact": exact,
        "normalize_whitespace": normalize_whitespace,
        "engine": engine,
    }
    return DedupResult(keep_mask, labels, exact_of, sigs, edges, clusters, result_counts, params)


def settle_pairs(
    hasher: MinHasher, estimates: np.ndarray, verify: bool | str, min_estimate: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """`(check, ok)` per candidate pair: whose true Jaccard decides, and who is accepted as is.

    Pairs whose true Jaccard decides: all with `verify=True`, the unsure ones (estimate within
    two standard errors of the threshold; those above are accepted) with "borderline", none
    with `False` (accepted: estimate >= `min_estimate`, or every pair when it is None).
    Shared by `dedup` and `codemill.finetune.pipeline`'s dedup stage.
    """
    if verify is True:
        check = np.ones(len(estimates), dtype=bool)
        ok = np.zeros(len(estimates), dtype=bool)
    elif verify == "borderline":
        band = 2.0 * hasher.standard_error()
        check = np.abs(estimates.astype(np.float64) - hasher.threshold) < band
        ok = estimates >= hasher.threshold + band
    else:
        check = np.zeros(len(estimates), dtype=bool)
        ok = estimates >= min_estimate if min_estimate is not None else np.ones(len(estimates), dtype=bool)
    return check, ok


def _local(docs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """`pairs` of document ids as positions in the sorted id array `docs`."""
    return np.ascontiguousarray(np.searchsorted(docs, pairs), dtype=np.uint32).reshape(-1, 2)


@dataclass
class _Corpus:
    """Where each document of the inputs is, without its text: the metadata `dedup` keeps."""

    paths: list[Path]
    text_field: str | None
    source: array = field(default_factory=lambda: array("i"))  # input index
    line: array = field(default_factory=lambda: array("q"))  # JSONL line (0-based) or -1
    length: array = field(default_factory=lambda: array("q"))  # characters
    lang: array = field(default_factory=lambda: array("b"))  # index into `langs`
    rel: dict[int, str] = field(default_factory=dict)  # document id -> path inside a tree
    langs: list[str | None] = field(default_factory=lambda: [None])

    def add(self, d: Doc) -> None:
        i = len(self.source)
        self.source.append(d.source)
        self.length.append(len(d.text))
        if d.language not in self.langs:
            self.langs.append(d.language)
        self.lang.append(self.langs.index(d.language))
        if isinstance(d.where, int):
            self.line.append(d.where)
        else:
            self.line.append(-1)
            self.rel[i] = d.where

    def name(self, i: int) -> str:
        path = self.paths[self.source[i]]
        if self.line[i] >= 0:
            return f"{path}:{self.line[i] + 1}"
        return str(path / self.rel[i]) if path.is_dir() else str(path)

    def where(self, i: int) -> str | int:
        return self.line[i] if self.line[i] >= 0 else self.rel[i]

    def fetch(self, ids: np.ndarray) -> tuple[list[str], list[str | None]]:
        """Re-read the texts of documents `ids` (sorted): files directly, JSONL by streaming."""
        texts: dict[int, str] = {}
        by_source: dict[int, list[int]] = {}
        for i in ids.tolist():
            by_source.setdefault(self.source[i], []).append(i)
        for src, wanted in sorted(by_source.items()):
            path = self.paths[src]
            if self.line[wanted[0]] >= 0:
                by_line = {self.line[i]: i for i in wanted}
                for d in jsonl_docs(path, src, Skips(), self.text_field):
                    i = by_line.get(d.where)  # type: ignore[arg-type]
                    if i is not None:
                        texts[i] = d.text
            else:
                for i in wanted:
                    f = path / self.rel[i] if path.is_dir() else path
                    text = decode_file(f, Skips(), str(f))
                    if text is not None:
                        texts[i] = text
        out = []
        for i in ids.tolist():
            text = texts.get(i)
            if text is None or len(text) != self.length[i]:
                raise ValueError(f"{self.name(i)}: input changed while dedup was running")
            out.append(text)
        return out, [self.langs[self.lang[i]] for i in ids.tolist()]


def dedup(
    inputs: str | Path | Iterable[str | Path],
    output: str | Path | None = None,
    *,
    threshold: float = 0.7,
    num_perm: int = 256,
    ngram: int = 5,
    bands: int | None = None,
    rows: int | None = None,
    recall_weight: float = RECALL_WEIGHT,
    verify: bool | str = "borderline",
    estimate_filter: bool = True,
    margin: float | None = None,
    window: int = WINDOW,
    keep: str = "first",
    exact: bool = True,
    normalize_whitespace: bool = False,
    seed: int = 1,
    scheme: str = "bucket",
    engine: str = "local",
    text_field: str | None = None,
    ray_shards: int | None = None,
) -> dict[str, Any]:
    """Remove exact and near duplicates from directories, source files or JSONL files.

    Documents whose shingle sets have Jaccard similarity at or above `threshold` are
    clustered; one per cluster is kept by `keep` (first, last, longest, shortest). A pair
    counts as similar when LSH (`bands` x `rows`, by default chosen with `recall_weight`)
    makes it a candidate and its signature estimate is at least `threshold - margin`
    (`estimate_filter`), or, with `verify=True`, its exact Jaccard reaches `threshold`
    (`verify="borderline"`: exact Jaccard only where the estimate is within two standard
    errors of the threshold). Each member of an LSH bucket is checked against the `window`
    members before it.

    Inputs are read in batches: only signatures and per-document metadata stay in memory;
    texts are re-read for `verify` (documents in candidate pairs) and when writing. With
    `output`, the kept documents are written there in each input's format (JSONL lines
    verbatim, files copied under the input's name) plus `dedup_report.json`. Returns the
    report: parameters, counts (skipped inputs with reasons) and clusters.
    """
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
    if not paths:
        raise ValueError("no inputs given")
    check_inputs(paths)
    _check_keep(keep)
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; known: local, ray")
    hasher = MinHasher(
        num_perm,
        ngram,
        threshold=threshold,
        bands=bands,
        rows=rows,
        seed=seed,
        scheme=scheme,
        recall_weight=recall_weight,
    )
    skips = Skips()
    corpus = _Corpus(paths, text_field)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    batch: list[Doc] = []
    chars = 0

    def flush() -> None:
        texts = [d.text for d in batch]
        langs = [d.language for d in batch]
        parts.append(_sign(hasher, texts, langs, engine, normalize_whitespace, ray_shards))
        batch.clear()

    for doc in read_documents(paths, skips, text_field):
        corpus.add(doc)
        batch.append(doc)
        chars += len(doc.text)
        if len(batch) >= BATCH_DOCS or chars >= BATCH_CHARS:
            flush()
            chars = 0
    if batch:
        flush()
    if parts:
        sigs, counts, hashes = (np.concatenate([p[k] for p in parts]) for k in range(3))
    else:
        sigs = np.zeros((0, hasher.num_perm), dtype=np.uint32)
        counts, hashes = np.zeros(0, dtype=np.uint32), np.zeros((0, 2), dtype=np.uint64)
    parts.clear()
    result = _decide(
        hasher,
        sigs,
        counts,
        hashes,
        np.frombuffer(corpus.length, dtype=np.int64),
        corpus.fetch,
        corpus.name,
        verify=verify,
        estimate_filter=estimate_filter,
        margin=margin,
        window=window,
        keep=keep,
        exact=exact,
        engine=engine,
        ray_shards=ray_shards,
        normalize_whitespace=normalize_whitespace,
    )
    report = result.report()
    report["inputs"] = [str(p) for p in paths]
    report["counts"]["skipped"] = skips.as_dict()
    report["counts"]["skipped_total"] = sum(skips.counts.values())
    if output is not None:
        outdir = Path(output)
        outdir.mkdir(parents=True, exist_ok=True)
        kept: dict[int, set] = {}
        for i in np.flatnonzero(result.keep).tolist():
            kept.setdefault(corpus.source[i], set()).add(corpus.where(i))
        report["outputs"] = write_kept(paths, outdir, kept)
        with open(outdir / REPORT_NAME, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return report
