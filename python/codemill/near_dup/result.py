"""DedupResult and the typed shapes of a dedup report (clusters, counts, the whole report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

import numpy as np

from codemill.near_dup.config import DedupParams
from codemill.sources.skips import SkippedItem

__all__ = ["Cluster", "DedupCounts", "DedupReport", "DedupResult", "DocRef"]


class DocRef(TypedDict):
    id: int
    name: str | int  # the input's name for it (path, path:line), or its position


class KeptRef(DocRef):
    kept: bool  # an exact group's representative may itself be a near duplicate


class NearRemoved(DocRef):
    estimated: float  # signature estimate of its Jaccard with the kept document
    jaccard: NotRequired[float]  # the exact Jaccard (verify=True)


class NearCluster(TypedDict):
    kind: Literal["near"]
    kept: DocRef
    removed: list[NearRemoved]


class ExactCluster(TypedDict):
    kind: Literal["exact"]
    kept: KeptRef
    removed: list[DocRef]


Cluster = NearCluster | ExactCluster


class DedupCounts(TypedDict):
    documents: int
    empty_documents: int
    exact_duplicates_removed: int
    near_duplicates_removed: int
    kept: int
    candidate_pairs: int
    candidate_pairs_skipped_by_window: int
    candidate_pairs_rejected_by_estimate: int
    candidate_pairs_verified: int
    candidate_pairs_rejected_by_verify: int
    duplicate_pairs: int
    near_clusters: int
    # Inputs passed over before the decision (`dedup` on files), by reason.
    skipped: NotRequired[dict[str, int]]
    skipped_total: NotRequired[int]


class DedupReport(TypedDict):
    params: DedupParams
    counts: DedupCounts
    clusters: list[Cluster]
    inputs: NotRequired[list[str]]
    outputs: NotRequired[list[str]]
    skipped_items: NotRequired[list[SkippedItem]]
    tasks_per_node: NotRequired[dict[str, int]]  # Ray: sign, reduce and output tasks per node id


@dataclass
class DedupResult:
    """What a dedup run decided: `keep[i]` per document, clusters, counts and parameters."""

    keep: np.ndarray  # bool per document
    labels: np.ndarray  # near-duplicate cluster label per document (smallest member id)
    exact_of: np.ndarray  # for each document, the id of its exact-duplicate representative
    signatures: np.ndarray
    pairs: np.ndarray  # (k, 2) uint32: the accepted duplicate pairs (edges of the clusters)
    clusters: list[Cluster]
    counts: DedupCounts
    params: DedupParams
    tasks_per_node: dict[str, int] = field(default_factory=dict)  # Ray: tasks per node id

    @property
    def exact_removed(self) -> np.ndarray:
        """Ids of the documents removed as exact duplicates."""
        return np.flatnonzero(self.exact_of != np.arange(len(self.exact_of)))

    @property
    def near_removed(self) -> np.ndarray:
        """Ids of the documents removed as near duplicates (exact representatives only)."""
        return np.flatnonzero((self.exact_of == np.arange(len(self.exact_of))) & ~self.keep)

    def report(self) -> DedupReport:
        return {"params": self.params, "counts": self.counts, "clusters": self.clusters}
