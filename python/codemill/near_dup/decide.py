"""The one near-duplicate decision: exact groups, LSH pairs, estimate or exact Jaccard, union-find.

`dedup`, `dedup_texts` and prepare's dedup stage all sign their texts (`signer`, or
`signing.sign_texts`) and call `decide` on the result, so one rule decides duplicates
everywhere (see `DedupConfig` for the rule). `decide` needs no text until it verifies a
pair: `fetch` re-reads the texts of just the documents in the pairs to verify, so the caller
may hold signatures on disk (a memmap) and the texts nowhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from codemill import _core
from codemill.errors import ConfigError
from codemill.near_dup.config import ENGINES, DedupConfig, Engine, KeepPolicy, Verify
from codemill.near_dup.minhash import MinHasher
from codemill.near_dup.result import Cluster, DedupCounts, DedupResult, ExactCluster, NearCluster, NearRemoved
from codemill.near_dup.signing import SHINGLE_SCANNER, Signed, Signer, local_signatures

__all__ = [
    "VERIFY_BATCH_CHARS",
    "Fetch",
    "Signed",
    "check_engine",
    "decide",
    "settle_pairs",
    "signer",
    "true_jaccard",
]

# The texts of the given sorted document ids, re-read on demand.
Fetch = Callable[[np.ndarray], list[str]]

# Characters of text re-read at once to verify pairs, where a document can be re-read alone
# (`decide`'s `verify_batch_chars`); their shingle sets take about twice as much. Verifying all
# pairs at once held the texts of every document in them and their shingles: memory that grew
# with the corpus (~100 MB at 616 MB of input, doubling with it). The batches were the peak of a
# dedup of 1.24 GB once its pairs were merged band by band: 244-245 MB at 32M characters,
# 229-235 MB at 8M, in the same time (a batch still holds at least one pair).
VERIFY_BATCH_CHARS = 8 << 20


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")


def signer(
    config: DedupConfig,
    engine: Engine = "local",
    ray_shards: int | None = None,
    nodes: Counter[str] | None = None,
) -> Signer:
    """What signs texts for `decide`, each distinct text once, on the local cores or on Ray
    (whose tasks are counted per node in `nodes`)."""
    check_engine(engine)
    if ray_shards is not None and ray_shards < 1:  # a negative one cut a file into a task a byte
        raise ConfigError(f"ray_shards must be a positive number of parts, got {ray_shards}")
    if engine == "ray":
        from codemill.near_dup.ray import ray_signatures

        counted = Counter() if nodes is None else nodes
        return Signer(config, lambda texts: ray_signatures(config, texts, ray_shards, counted))
    return Signer(config, local_signatures(config))


def settle_pairs(
    hasher: MinHasher, estimates: np.ndarray, verify: Verify, min_estimate: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """`(check, ok)` per candidate pair: whose true Jaccard decides, and who is accepted as is.

    Pairs whose true Jaccard decides: all with `verify=True`, the unsure ones (estimate within
    two standard errors of the threshold; those above are accepted) with "borderline", none
    with `False` (accepted: estimate >= `min_estimate`, or every pair when it is None).
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


def _kept_of(policy: KeepPolicy, groups: np.ndarray, lengths: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The kept member of each group of ``members``, indexed by group label (-1 for a label no
    member has). Vectorised (one sort): a dict of every group, and a Python int per lookup, cost
    ~190 bytes a document in a corpus's exact groups (see `_exact_groups`)."""
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
    kept = np.full(int(groups.max()) + 1 if len(groups) else 0, -1, dtype=np.int64)
    kept[g[first]] = ids[order][first]
    return kept


def _local(docs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """`pairs` of document ids as positions in the sorted id array `docs`."""
    return np.ascontiguousarray(np.searchsorted(docs, pairs), dtype=np.uint32).reshape(-1, 2)


def true_jaccard(
    pairs: np.ndarray, lengths: np.ndarray, fetch: Fetch, ngram: int, batch_chars: int | None
) -> np.ndarray:
    """The true Jaccard of each `(k, 2)` pair of document ids, re-reading their texts in batches
    of at most `batch_chars` (None: one batch; a pair is never split, a document in two batches
    is read twice), in the order of the pairs' first documents so that a group's pairs share a
    batch."""
    out = np.empty(len(pairs), dtype=np.float64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    start = 0
    while start < len(order):
        end = len(order) if batch_chars is None else _batch_end(pairs, order, start, lengths, batch_chars)
        batch = order[start:end]
        docs = np.unique(pairs[batch]).astype(np.int64)
        texts = fetch(docs)
        out[batch] = _core.exact_jaccard_pairs(texts, _local(docs, pairs[batch]), SHINGLE_SCANNER, ngram)
        start = end
    return out


def _batch_end(pairs: np.ndarray, order: np.ndarray, start: int, lengths: np.ndarray, budget: int) -> int:
    """End of the batch of `pairs[order[start:]]` whose new documents' characters stay within
    `budget` (at least one pair). Pairs are read a slice at a time, not listed all at once: a
    Python list of every pair took ~120 bytes a pair."""
    seen: set[int] = set()
    chars = 0
    end = start
    step = 4096
    while end < len(order):
        for a, b in pairs[order[end : end + step]].tolist():
            add = sum(int(lengths[d]) for d in {a, b} - seen)
            if end > start and chars + add > budget:
                return end
            seen.update((a, b))
            chars += add
            end += 1
    return end


class _Held:
    """A `Fetch` that serves the documents it holds without reading them again and fetches the
    rest. Worth it for documents whose fetch streams a whole input (records of compressed or
    remote files, which cannot be re-read one at a time): each batch that asked for them would
    read those inputs again. ``hold_fetched``: also keep what later calls fetch (the unbatched
    case, where the report's pairs then need no second read)."""

    def __init__(self, fetch: Fetch, hold_fetched: bool) -> None:
        self._fetch = fetch
        self._hold_fetched = hold_fetched
        self._held: dict[int, str] = {}

    def hold(self, ids: np.ndarray) -> None:
        """Reads documents ``ids`` now and keeps them."""
        if len(ids):
            self._held.update(self._read(ids))

    def _read(self, ids: np.ndarray) -> dict[int, str]:
        return dict(zip(ids.tolist(), self._fetch(ids), strict=True))

    def __call__(self, ids: np.ndarray) -> list[str]:
        missing = np.fromiter((i not in self._held for i in ids.tolist()), dtype=bool, count=len(ids))
        fetched = self._read(ids[missing]) if missing.any() else {}
        if self._hold_fetched:
            self._held.update(fetched)
        return [self._held[i] if i in self._held else fetched[i] for i in ids.tolist()]


def _exact_groups(config: DedupConfig, hashes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """For each document, the id of its exact-duplicate representative (itself when unique)."""
    n = len(hashes)
    ids = np.arange(n, dtype=np.int64)
    if not config.exact or not n:
        return ids
    # Grouped by a sort of the two halves, not `np.unique` of them as one structured value, whose
    # sort compares field by field, and only groups of two or more go through the keep policy:
    # 5 M hashes (10% copies) took 16 s and +946 MB with np.unique and a dict of the groups, 3 s
    # and +168 MB so.
    h = np.ascontiguousarray(hashes)
    order = np.lexsort((h[:, 1], h[:, 0]))
    by_hash = h[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (by_hash[1:] != by_hash[:-1]).any(axis=1)
    del by_hash
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(starts) - 1
    del order, starts
    # Most documents are alone in their group, and represent themselves.
    copied = ids[np.bincount(group)[group] > 1]
    exact_of = ids
    exact_of[copied] = _kept_of(config.keep, group[copied], lengths, copied)[group[copied]]
    return exact_of


def decide(
    config: DedupConfig,
    signed: Signed,
    lengths: np.ndarray,
    fetch: Fetch,
    name: Callable[[int], str | int] | None = None,
    *,
    engine: Engine = "local",
    ray_shards: int | None = None,
    nodes: Counter[str] | None = None,
    verify_batch_chars: int | None = None,
    streamed: np.ndarray | None = None,
) -> DedupResult:
    """Which documents to keep, by `config`'s rule; `name(i)` labels document `i` in clusters.

    `verify_batch_chars`: the texts `fetch` returns at once to verify pairs are kept under this
    many characters (see `VERIFY_BATCH_CHARS`); None fetches them all at once, for a `fetch`
    that reads its inputs whole each time. `streamed` (a bool per document): documents that
    `fetch` can only give by reading their whole input; those in checked pairs are read once,
    before the batches, and held until the report is made (the others stay in bounded batches).

    `signed` is `sign`'s output for the documents in id order (it may be a memmap) and
    `lengths` their lengths (for the "longest"/"shortest" keep policies). With Ray, `nodes`
    holds the tasks per node of the signing (if any) and gains those of the pairing.
    """
    nodes = Counter() if nodes is None else nodes
    check_engine(engine)
    hasher = MinHasher.from_config(config)
    sigs, counts, hashes = signed
    label = name if name is not None else int
    n = len(sigs)
    ids = np.arange(n, dtype=np.int64)
    exact_of = _exact_groups(config, hashes, lengths)
    representative = exact_of == ids
    active = representative & (counts > 0)

    if engine == "ray":
        from codemill.near_dup.ray import ray_pairs

        pairs, skipped = ray_pairs(hasher, sigs, active, ray_shards, config.window, nodes)
    else:
        pairs, skipped = hasher.pairs(sigs, active, config.window)
    estimates = _core.signature_estimates(np.ascontiguousarray(sigs), pairs)
    rejected_estimate = rejected_verify = 0
    check, ok = settle_pairs(hasher, estimates, config.verify, config.min_estimate)
    # Neither accepted nor checked: the estimate alone rejected them (with "borderline", those
    # more than two standard errors below the threshold), so that the report's counts add up.
    rejected_estimate = int((~check & ~ok).sum())
    # Only the texts of documents in checked pairs are re-read. Unbatched, they are read once
    # for the checks and the report (every reported document is in a checked pair); batched,
    # the streamed ones among them are.
    if verify_batch_chars is None:
        fetch = _Held(fetch, hold_fetched=True)
    elif streamed is not None and check.any():
        needed = np.unique(pairs[check]).astype(np.int64)
        needed = needed[streamed[needed]]
        if len(needed):
            held = _Held(fetch, hold_fetched=False)
            held.hold(needed)
            fetch = held
    if check.any():
        true = true_jaccard(pairs[check], lengths, fetch, hasher.ngram, verify_batch_chars)
        ok[check] = true >= hasher.threshold
        rejected_verify = int((true < hasher.threshold).sum())
    edges = np.ascontiguousarray(pairs[ok])
    labels = _core.connected_components(n, edges).astype(np.int64)

    keep_mask = representative.copy()
    clusters: list[Cluster] = []
    # Near clusters: components with more than one active member.
    sizes = np.bincount(labels[active], minlength=n) if n else np.zeros(0, dtype=np.int64)
    in_cluster = active & (sizes[labels] > 1)
    members = ids[in_cluster]
    kept_of = _kept_of(config.keep, labels[members], lengths, members)
    keep_mask[members[kept_of[labels[members]] != members]] = False

    if len(members):
        order = np.lexsort((members, labels[members]))
        members_sorted = members[order]
        kept_ids = kept_of[labels[members_sorted]]
        report_pairs = np.stack([kept_ids, members_sorted], axis=1).astype(np.uint32)
        est = _core.signature_estimates(np.ascontiguousarray(sigs), report_pairs)
        true_sim = None
        if config.verify is True:
            true_sim = true_jaccard(report_pairs, lengths, fetch, hasher.ngram, verify_batch_chars)
        current: NearCluster | None = None
        for k, m in enumerate(members_sorted.tolist()):
            kid = int(kept_ids[k])
            if current is None or current["kept"]["id"] != kid:
                current = {"kind": "near", "kept": {"id": kid, "name": label(kid)}, "removed": []}
                clusters.append(current)
            if m == kid:
                continue
            entry: NearRemoved = {"id": m, "name": label(m), "estimated": round(float(est[k]), 4)}
            if true_sim is not None:
                entry["jaccard"] = round(float(true_sim[k]), 4)
            current["removed"].append(entry)
    if config.exact:
        # Each representative's copies, in id order, the groups by representative.
        removed = ids[~representative]
        reps = exact_of[removed]
        order = np.argsort(reps, kind="stable")
        removed, reps = removed[order].tolist(), reps[order]
        starts = np.flatnonzero(np.r_[True, reps[1:] != reps[:-1]]) if len(reps) else reps
        bounds = [*starts.tolist(), len(removed)]
        for r, a, b in zip(reps[starts].tolist(), bounds, bounds[1:], strict=False):
            exact: ExactCluster = {
                "kind": "exact",
                "kept": {"id": r, "name": label(r), "kept": bool(keep_mask[r])},
                "removed": [{"id": d, "name": label(d)} for d in removed[a:b]],
            }
            clusters.append(exact)

    result_counts: DedupCounts = {
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
    return DedupResult(
        keep_mask, labels, exact_of, sigs, edges, clusters, result_counts, config.params(engine), dict(nodes)
    )
