"""Ranking the files and definitions of a repository: a joint file+symbol graph and a
personalised PageRank over it (aider's repository map is the model).

Nodes are the files (in path order), then each file's definitions (file by file, in the order
of its symbols). Edges, weighted:

- file -> file: what it imports (each import, and each name imported from a file), weaker the
  reverse (who imports me) and same-package siblings;
- file -> definition: the definitions its identifiers name in the files it may depend on
  (:func:`codemill.context.relevance.referenced_definitions`), a name's weight shared among
  the definitions it may mean;
- definition -> its file.

The walk restarts (the personalisation) at the current file, the definitions it uses and those
a question names, so a definition's own rank says how much the file (and the question) lead to
it. The arrays are built once and saved with the repository graph as raw little-endian bytes
(:func:`saved_form`); a context call hands them to the native core
(:func:`codemill._core.personalized_pagerank`) without numpy. The file being edited is ranked
from its new edges over the saved arrays (:func:`with_out_edges`), not by rebuilding them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codemill import _core
from codemill.context.relevance import referenced_definitions

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph

# Weights of the ranking graph: an import counts fully from importer to imported file; the
# reverse direction (who uses me) and same-package siblings count less; a referenced name as
# much as an import, shared among the definitions it may mean.
IMPORT_WEIGHT = 1.0
DEFINITION_WEIGHT = 1.0
REVERSE_WEIGHT = 0.1
PACKAGE_WEIGHT = 0.2
REFERENCE_WEIGHT = 1.0
OWNER_WEIGHT = 1.0
DAMPING = 0.85
MAX_ITERATIONS = 200
TOLERANCE = 1e-8  # per node, as networkx's pagerank


@dataclass(frozen=True)
class RankGraph:
    """The ranking graph as raw arrays: node ``i < len(files)`` is the ``i``-th file in path
    order, file ``k``'s ``j``-th definition is node ``first_def[k] + j``; edges are
    little-endian uint32 sources and targets (sorted by source) and float64 weights."""

    files: list[str]
    first_def: list[int]
    """Node of each file's first definition, and one past the last definition node."""
    src: bytes
    dst: bytes
    weight: bytes
    index: dict[str, int] = field(default_factory=dict)
    """File -> node (files added since the arrays were built come after the definitions)."""
    stale: frozenset[str] = frozenset()
    """Files edited since the arrays were built: their definition nodes are out of date."""

    def __post_init__(self) -> None:
        if not self.index:
            self.index.update((f, i) for i, f in enumerate(self.files))

    @property
    def nodes(self) -> int:
        return max(self.first_def[-1], max(self.index.values(), default=-1) + 1)

    def edges(self) -> int:
        return len(self.src) // 4

    def out_edges(self, node: int) -> list[tuple[int, float]]:
        """(target, weight) of the edges leaving ``node`` (the sources are sorted)."""
        sources = memoryview(self.src).cast("I")
        lo, hi = bisect_left(sources, node), bisect_right(sources, node)
        targets, weights = memoryview(self.dst).cast("I"), memoryview(self.weight).cast("d")
        return [(targets[e], weights[e]) for e in range(lo, hi)]

    def is_definition(self, node: int) -> bool:
        return len(self.files) <= node < self.first_def[-1]

    def definition_node(self, path: str, j: int) -> int | None:
        """The node of ``path``'s ``j``-th definition (None: not a node, or out of date)."""
        k = self.index.get(path)
        if k is None or k >= len(self.files) or path in self.stale:
            return None
        node = self.first_def[k] + j
        return node if node < self.first_def[k + 1] else None


class Ranks:
    """The PageRank of every node of a :class:`RankGraph` (read without numpy)."""

    def __init__(self, g: RankGraph, values: memoryview[float]) -> None:
        self.graph = g
        self._values = values

    def file(self, path: str) -> float:
        i = self.graph.index.get(path)
        return self._values[i] if i is not None else 0.0

    def definition(self, path: str, j: int) -> float:
        node = self.graph.definition_node(path, j)
        return self._values[node] if node is not None else 0.0

    def files(self) -> dict[str, float]:
        """Files with a positive rank."""
        v = self._values
        return {f: v[i] for f, i in self.graph.index.items() if v[i] > 0.0}


def _file_edges(graph: ImportGraph, f: str) -> dict[str, float]:
    """File -> file out-weights of ``f`` in the ranking graph (imports, who imports it, its
    package siblings)."""
    out: dict[str, float] = {}
    for dst, w in graph.edges().get(f, {}).items():
        if not dst.startswith("external:") and dst != f:
            out[dst] = out.get(dst, 0.0) + w
    return out


def ranking_graph(graph: ImportGraph) -> RankGraph:
    """The joint ranking graph of an import graph (see the module's description). Nodes in path
    order and edges sorted, so that equal graphs give equal arrays (a saved graph keeps them)."""
    files = sorted(graph.files)
    index = {f: i for i, f in enumerate(files)}
    first_def: list[int] = []
    n = len(files)
    for f in files:
        first_def.append(n)
        n += len(graph.symbols[f].definitions)
    first_def.append(n)
    weights: dict[tuple[int, int], float] = {}

    def add(a: int, b: int, w: float) -> None:
        weights[a, b] = weights.get((a, b), 0.0) + w

    names: dict[str, dict[str, list[int]]] = {}  # each file's name -> definitions, shared
    edges = graph.edges()
    for src in sorted(edges):
        if src not in index:
            continue
        for dst, w in sorted(_file_edges(graph, src).items()):
            if dst in index:
                add(index[src], index[dst], w)
                add(index[dst], index[src], w * REVERSE_WEIGHT)
    for k, f in enumerate(files):
        for sib in graph.package_siblings(f):
            if sib in index:
                add(k, index[sib], PACKAGE_WEIGHT)
        for node in range(first_def[k], first_def[k + 1]):
            add(node, k, OWNER_WEIGHT)
        for target, j, w in referenced_definitions(graph, f, names=names):
            t = index.get(target)
            if t is not None and first_def[t] + j < first_def[t + 1]:
                add(k, first_def[t] + j, w * REFERENCE_WEIGHT)
    return _arrays(files, first_def, sorted(weights.items()))


def _arrays(
    files: list[str], first_def: list[int], edges: Iterable[tuple[tuple[int, int], float]], **kw: Any
) -> RankGraph:
    src, dst, weight = array("I"), array("I"), array("d")
    for (a, b), w in edges:
        src.append(a)
        dst.append(b)
        weight.append(w)
    return RankGraph(files, first_def, little_endian(src), little_endian(dst), little_endian(weight), **kw)


def little_endian(a: array[Any]) -> bytes:
    """The array's bytes, little-endian whatever the machine's order."""
    import sys

    if sys.byteorder != "little":
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def with_out_edges(g: RankGraph, path: str, out: Mapping[int, float]) -> RankGraph:
    """``g`` with the out-edges of ``path`` (a new file: a new node) replaced by ``out``
    (target node -> weight): the file being edited ranked from its new imports and references
    while the rest of the graph stays as saved."""
    index = dict(g.index)
    node = index.setdefault(path, g.nodes)
    sources = memoryview(g.src).cast("I")
    lo, hi = bisect_left(sources, node), bisect_right(sources, node)
    new = sorted(out.items())
    block = _arrays([], [0], (((node, t), w) for t, w in new))
    return RankGraph(
        g.files,
        g.first_def,
        g.src[: 4 * lo] + block.src + g.src[4 * hi :],
        g.dst[: 4 * lo] + block.dst + g.dst[4 * hi :],
        g.weight[: 8 * lo] + block.weight + g.weight[8 * hi :],
        index,
        g.stale | {path},
    )


def out_edges(graph: ImportGraph, g: RankGraph, path: str) -> dict[int, float]:
    """The out-edges of ``path`` in the joint graph ``g`` (target node -> weight), from the
    graph's current state: what :func:`ranking_graph` would give it."""
    out: dict[int, float] = {}

    def add(t: int | None, w: float) -> None:
        if t is not None:
            out[t] = out.get(t, 0.0) + w

    for dst, w in _file_edges(graph, path).items():
        add(g.index.get(dst), w)
    for src in graph.importers_of(path):
        if src != path:
            add(g.index.get(src), _file_edges(graph, src).get(path, 0.0) * REVERSE_WEIGHT)
    for sib in graph.package_siblings(path):
        add(g.index.get(sib), PACKAGE_WEIGHT)
    for target, j, w in referenced_definitions(graph, path):
        add(g.definition_node(target, j), w * REFERENCE_WEIGHT)
    return {t: w for t, w in out.items() if w > 0.0}


def files_only(g: RankGraph) -> RankGraph:
    """The graph of the files alone (the edges between files, no definitions): the file-level
    ranking that the joint one replaced, kept for comparison."""
    n = len(g.files)
    keep = [
        (e, (s, t))
        for e, (s, t) in enumerate(zip(memoryview(g.src).cast("I"), memoryview(g.dst).cast("I"), strict=True))
        if (s < n or s >= g.first_def[-1]) and (t < n or t >= g.first_def[-1])
    ]
    weight = memoryview(g.weight).cast("d")
    out = _arrays(list(g.files), [n] * (n + 1), (((s, t), weight[e]) for e, (s, t) in keep))
    return RankGraph(out.files, out.first_def, out.src, out.dst, out.weight, dict(g.index), g.stale)


def saved_form(g: RankGraph) -> dict[str, bytes]:
    """The arrays of a ranking graph, and the number of definition nodes of each file, as
    little-endian bytes: saved with the graph, so that a context call hands them to the native
    ranking as they were read instead of rebuilding them."""
    counts = array("I", (b - a for a, b in zip(g.first_def, g.first_def[1:], strict=False)))
    return {"definitions": little_endian(counts), "src": g.src, "dst": g.dst, "weight": g.weight}


def from_saved(files: list[str], saved: Any) -> RankGraph:
    """The ranking graph saved by :func:`saved_form` over ``files`` (in path order);
    ValueError, KeyError or TypeError if the arrays are not what was saved (the native ranking
    checks the nodes the edges name)."""
    raw = {k: saved[k] for k in ("definitions", "src", "dst", "weight")}
    if not all(isinstance(v, bytes) for v in raw.values()):
        raise TypeError("ranking arrays are not bytes")
    if len(raw["definitions"]) != 4 * len(files):
        raise ValueError(f"ranking arrays count definitions of {len(raw['definitions']) // 4} files, not {len(files)}")
    if not len(raw["src"]) % 4 == len(raw["dst"]) % 4 == len(raw["weight"]) % 8 == 0:
        raise ValueError("ranking arrays are not whole numbers of their items")
    if not len(raw["src"]) // 4 == len(raw["dst"]) // 4 == len(raw["weight"]) // 8:
        raise ValueError("ranking arrays differ in length")
    first_def, n = [], len(files)
    for c in memoryview(raw["definitions"]).cast("I"):
        first_def.append(n)
        n += c
    first_def.append(n)
    return RankGraph(files, first_def, raw["src"], raw["dst"], raw["weight"])


def personalized_rank(g: RankGraph, seeds: Mapping[int, float]) -> Ranks | None:
    """Personalised PageRank over ``g``, the random walk restarting at ``seeds`` (node ->
    weight), as networkx's ``pagerank`` computes it (dangling nodes restart at the seeds);
    None without a seed of positive weight."""
    seeds = {s: w for s, w in seeds.items() if w > 0.0}
    if not seeds:
        return None
    values = _core.personalized_pagerank(
        g.nodes, g.src, g.dst, g.weight, sorted(seeds.items()), DAMPING, MAX_ITERATIONS, TOLERANCE
    )
    return Ranks(g, memoryview(values).cast("d"))
