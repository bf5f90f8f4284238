"""Reports on an import graph: statistics, the unresolved imports, JSON, Graphviz DOT and a
networkx graph (``codemill graph``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph
    from codemill.context.imports import Import


@dataclass
class GraphStats:
    files: int
    edges: int
    external_nodes: int
    imports: int
    in_repo_imports: int
    resolved_imports: int
    seconds: float
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def resolved_share(self) -> float:
        return self.resolved_imports / self.in_repo_imports if self.in_repo_imports else 1.0


def stats(graph: ImportGraph) -> GraphStats:
    """Files, edges, external nodes, imports (resolved, per language) and skipped files."""
    by_lang: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    externals: set[str] = set()
    for src, items in graph.resolutions.items():
        lang = graph.files[src]
        for _imp, res in items:
            d = by_lang[lang]
            d["imports"] += 1
            if res.in_repo:
                d["in_repo"] += 1
                if res.resolved:
                    d["resolved"] += 1
            elif res.external:
                d["external"] += 1
                externals.add(res.external)
    edges = sum(1 for out in graph.edges().values() for t in out if not t.startswith("external:"))
    total = {k: sum(d[k] for d in by_lang.values()) for k in ("imports", "in_repo", "resolved")}
    skipped: dict[str, int] = defaultdict(int)
    for reason in graph.skipped.values():
        skipped[reason] += 1
    return GraphStats(
        files=len(graph.files),
        edges=edges,
        external_nodes=len(externals),
        imports=total["imports"],
        in_repo_imports=total["in_repo"],
        resolved_imports=total["resolved"],
        seconds=round(graph.seconds, 3),
        by_language={k: dict(v) for k, v in sorted(by_lang.items())},
        skipped=dict(skipped),
    )


def unresolved(graph: ImportGraph) -> list[tuple[str, Import]]:
    """In-repository imports that did not resolve to a file (for diagnosis)."""
    return [
        (src, imp)
        for src, items in sorted(graph.resolutions.items())
        for imp, res in items
        if res.in_repo and not res.resolved
    ]


def to_dict(graph: ImportGraph) -> dict[str, Any]:
    """Root, statistics, nodes, edges and unresolved imports (``codemill graph --json``)."""
    summary = stats(graph)
    return {
        "root": str(graph.root),
        "stats": {**asdict(summary), "resolved_share": round(summary.resolved_share, 4)},
        "nodes": [{"id": f, "language": lang} for f, lang in sorted(graph.files.items())]
        + [
            {"id": e, "external": True}
            for e in sorted({t for out in graph.edges().values() for t in out if t.startswith("external:")})
        ],
        "edges": [
            {"source": s, "target": t, "weight": w}
            for s, out in sorted(graph.edges().items())
            for t, w in sorted(out.items())
        ],
        "unresolved": [{"file": f, "line": i.line, "import": i.module} for f, i in unresolved(graph)],
    }


def to_dot(graph: ImportGraph, externals: bool = False) -> str:
    """Graphviz DOT of the files (and, with ``externals``, the external nodes)."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph imports {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for f in sorted(graph.files):
        lines.append(f"  {q(f)};")
    ext: set[str] = set()
    for s, out in sorted(graph.edges().items()):
        for t, w in sorted(out.items()):
            if t.startswith("external:"):
                if not externals:
                    continue
                ext.add(t)
            attr = f" [weight={w:g}, penwidth={min(1 + w / 2, 4):g}]" if w != 1 else ""
            lines.append(f"  {q(s)} -> {q(t)}{attr};")
    for t in sorted(ext):
        lines.append(f"  {q(t)} [shape=ellipse, style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_networkx(graph: ImportGraph) -> Any:
    """A ``networkx.DiGraph``: file nodes (``language``) and external nodes (``external=True``);
    edges weighted by the number of imports and imported names."""
    import networkx as nx  # type: ignore[import-untyped, unused-ignore]

    g = nx.DiGraph()
    for f, lang in graph.files.items():
        g.add_node(f, language=lang, external=False)
    for src, out in graph.edges().items():
        for dst, w in out.items():
            if dst.startswith("external:") and dst not in g:
                g.add_node(dst, external=True)
            g.add_edge(src, dst, weight=w)
    return g
