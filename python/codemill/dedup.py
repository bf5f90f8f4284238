"""Exact and near-duplicate removal: content hashes, MinHash signatures, LSH, union-find.

The heavy work is in the native core (`codemill._core`): shingling, signatures, band keys,
candidate pairs, exact Jaccard and union-find run in Rust on all cores without the GIL and
return NumPy arrays. This module orchestrates: read inputs in batches, drop exact duplicates,
cluster near-duplicates, keep one document per cluster, write the kept documents and a report.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codemill import _core
from codemill._dedup_io import Skips, check_inputs, read_documents, write_kept

__all__ = ["KEEP_POLICIES", "DedupResult", "MinHasher", "dedup", "dedup_texts"]

KEEP_POLICIES = ("first", "last", "longest", "shortest")
REPORT_NAME = "dedup_report.json"
_BATCH = 4096


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
    ) -> None:
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither")
        self.num_perm = int(num_perm)
        self.ngram = int(ngram)
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.scheme = scheme
        if bands is None or rows is None:
            bands, rows = _core.lsh_params(self.threshold, self.num_perm)
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
        """`(k, 2)` uint32 candidate pairs (star-joined per band bucket, smallest first)."""
        if active is not None:
            active = np.ascontiguousarray(active, dtype=bool)
        return _core.lsh_edges(_sigs(signatures), self.bands, self.rows, active)

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
    clusters: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"params": self.params, "counts": self.counts, "clusters": self.clusters}


def _pick(policy: str, groups: np.ndarray, lengths: np.ndarray, members: np.ndarray) -> dict:
    """The kept member of each group: {group label: document id}. Vectorised (one sort)."""
    if policy not in KEEP_POLICIES:
        raise ValueError(f"unknown keep policy {policy!r}; known: {', '.join(KEEP_POLICIES)}")
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


def dedup_texts(
    texts: Sequence[str],
    languages: str | Sequence[str | None] | None = None,
    *,
    threshold: float = 0.7,
    num_perm: int = 256,
    ngram: int = 5,
    bands: int | None = None,
    rows: int | None = None,
    verify: bool = False,
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
    hasher = MinHasher(num_perm, ngram, threshold=threshold, bands=bands, rows=rows, seed=seed, scheme=scheme)
    texts = list(texts)
    n = len(texts)
    if engine == "local":
        sigs, counts = hasher.signatures_and_counts(texts, languages)
        hashes = _core.content_hashes(texts, normalize_whitespace)
    elif engine == "ray":
        from codemill._dedup_ray import ray_signatures

        sigs, counts, hashes = ray_signatures(hasher, texts, languages, normalize_whitespace, ray_shards)
    else:
        raise ValueError(f"unknown engine {engine!r}; known: local, ray")
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    return _decide(
        hasher,
        sigs,
        counts,
        hashes,
        lengths,
        texts,
        languages,
        verify=verify,
        keep=keep,
        exact=exact,
        engine=engine,
        names=names,
        ray_shards=ray_shards,
        normalize_whitespace=normalize_whitespace,
    )


def _decide(
    hasher: MinHasher,
    sigs: np.ndarray,
    counts: np.ndarray,
    hashes: np.ndarray,
    lengths: np.ndarray,
    texts: Sequence[str],
    languages: Any,
    *,
    verify: bool,
    keep: str,
    exact: bool,
    engine: str,
    names: Sequence[str] | None,
    ray_shards: int | None,
    normalize_whitespace: bool,
) -> DedupResult:
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
        from codemill._dedup_ray import ray_edges

        edges = ray_edges(hasher, sigs, active, ray_shards)
    else:
        edges = hasher.candidate_pairs(sigs, active)
    candidates = len(edges)
    rejected = 0
    if verify and len(edges):
        true = _core.exact_jaccard_pairs(list(texts), edges, languages, hasher.ngram)
        ok = true >= hasher.threshold
        rejected = int((~ok).sum())
        edges = np.ascontiguousarray(edges[ok])
    labels = _core.connected_components(n, np.ascontiguousarray(edges, dtype=np.uint32))
    labels = labels.astype(np.int64)

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

    # A removed representative takes its exact duplicates with it (they are already gone).
    def name(i: int) -> str | int:
        return names[i] if names is not None else i

    if len(members):
        order = np.lexsort((members, labels[members]))
        members_sorted = members[order]
        kept_ids = np.array([kept_of[int(labels[m])] for m in members_sorted.tolist()])
        est = (sigs[members_sorted] == sigs[kept_ids]).mean(axis=1)
        true_sim = None
        if verify:
            pairs = np.stack([kept_ids, members_sorted], axis=1).astype(np.uint32)
            true_sim = _core.exact_jaccard_pairs(list(texts), pairs, languages, hasher.ngram)
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
        "candidate_pairs": candidates,
        "candidate_pairs_rejected_by_verify": rejected,
        "near_clusters": sum(1 for c in clusters if c["kind"] == "near"),
    }
    params = {
        "threshold": hasher.threshold,
        "num_perm": hasher.num_perm,
        "ngram": hasher.ngram,
        "bands": hasher.bands,
        "rows": hasher.rows,
        "seed": hasher.seed,
        "scheme": hasher.scheme,
        "verify": verify,
        "keep": keep,
        "exact": exact,
        "normalize_whitespace": normalize_whitespace,
        "engine": engine,
    }
    return DedupResult(keep_mask, labels, exact_of, sigs, clusters, result_counts, params)


def dedup(
    inputs: str | Path | Iterable[str | Path],
    output: str | Path | None = None,
    *,
    threshold: float = 0.7,
    num_perm: int = 256,
    ngram: int = 5,
    bands: int | None = None,
    rows: int | None = None,
    verify: bool = False,
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

    Documents whose shingle sets have (estimated) Jaccard similarity at or above
    `threshold` are clustered; one per cluster is kept by `keep` (first, last, longest,
    shortest). With `output`, the kept documents are written there in each input's format
    (JSONL lines verbatim, files copied under the input's name) plus `dedup_report.json`.
    Returns the report: parameters, counts (skipped inputs with reasons) and clusters.
    """
    paths = [Path(inputs)] if isinstance(inputs, str | Path) else [Path(p) for p in inputs]
    if not paths:
        raise ValueError("no inputs given")
    check_inputs(paths)
    if keep not in KEEP_POLICIES:
        raise ValueError(f"unknown keep policy {keep!r}; known: {', '.join(KEEP_POLICIES)}")
    skips = Skips()
    docs = list(read_documents(paths, skips, text_field))
    texts = [d.text for d in docs]
    langs = [d.language for d in docs]
    names = [
        f"{paths[d.source]}:{d.where + 1}"
        if isinstance(d.where, int)
        else (str(paths[d.source] / d.where) if paths[d.source].is_dir() else str(paths[d.source]))
        for d in docs
    ]
    result = dedup_texts(
        texts,
        langs,
        threshold=threshold,
        num_perm=num_perm,
        ngram=ngram,
        bands=bands,
        rows=rows,
        verify=verify,
        keep=keep,
        exact=exact,
        normalize_whitespace=normalize_whitespace,
        seed=seed,
        scheme=scheme,
        engine=engine,
        names=names,
        ray_shards=ray_shards,
    )
    report = result.report()
    report["inputs"] = [str(p) for p in paths]
    report["counts"]["skipped"] = skips.as_dict()
    report["counts"]["skipped_total"] = sum(skips.counts.values())
    if output is not None:
        outdir = Path(output)
        outdir.mkdir(parents=True, exist_ok=True)
        kept: dict[int, set] = {}
        for d, k in zip(docs, result.keep.tolist(), strict=True):
            if k:
                kept.setdefault(d.source, set()).add(d.where)
        report["outputs"] = write_kept(paths, outdir, kept)
        with open(outdir / REPORT_NAME, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return report


class _CallableModule(types.ModuleType):
    """`codemill.dedup` is both this module and the function: importing the module (as
    `codemill.MinHasher` does) binds the name to the module, so the module calls through."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dedup(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
