"""Ranking the files of an import graph: a weighted graph of imports (and, weaker, who imports
me and same-package siblings) and a personalised PageRank over it, restarting at the seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph

# Weights of the ranking graph: an import counts fully from importer to imported file; the
# reverse direction (who uses me) and same-package siblings count less.
IMPORT_WEIGHT = 1.0
DEFINITION_WEIGHT = 1.0
REVERSE_WEIGHT = 0.1
PACKAGE_WEIGHT = 0.2
DAMPING = 0.85


def ranking_graph(graph: ImportGraph) -> Any:
    """A ``networkx.DiGraph`` of the graph's files with the ranking weights."""
    import networkx as nx  # type: ignore[import-untyped, unused-ignore]

    g = nx.DiGraph()
    g.add_nodes_from(graph.files)

    def add(a: str, b: str, w: float) -> None:
        prev = g.get_edge_data(a, b)
        g.add_edge(a, b, weight=w + (prev["weight"] if prev else 0.0))

    for src, out in graph.edges().items():
        for dst, w in out.items():
            if dst.startswith("external:"):
                continue
            add(src, dst, w)
            add(dst, src, w * REVERSE_WEIGHT)
    for f in graph.files:
        for sib in graph.package_siblings(f):
            add(f, sib, PACKAGE_WEIGHT)
    return g


def personalized_rank(g: Any, seeds: Mapping[str, float] | Sequence[str], nodes: Mapping[str, Any]) -> dict[str, float]:
    """Personalised PageRank over ``g``, the random walk restarting at ``seeds`` (those among
    ``nodes``)."""
    import networkx as nx  # type: ignore[import-untyped, unused-ignore]

    weights = dict(seeds) if isinstance(seeds, Mapping) else dict.fromkeys(seeds, 1.0)
    weights = {s: w for s, w in weights.items() if s in nodes}
    if not weights or g.number_of_edges() == 0:
        return dict.fromkeys(weights, 1.0)
    try:
        ranks: dict[str, float] = nx.pagerank(
            g, alpha=DAMPING, personalization=weights, weight="weight", max_iter=200, tol=1e-8
        )
    except nx.PowerIterationFailedConvergence:
        ranks = nx.pagerank(g, alpha=DAMPING, personalization=weights, weight="weight", max_iter=1000, tol=1e-6)
    return ranks
