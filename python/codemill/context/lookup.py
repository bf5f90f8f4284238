"""Definitions a search query names, found through the repository graph's symbol table, and
search results with those definitions first.

A query names a definition when it holds an identifier shaped like code (``parse_config``,
``getUserById``, ``HybridIndex``, ``Cart.total``, anything in backticks, or a query that is one
identifier alone) that some file defines. Where several files define the name, the one the
repository leans on most comes first: the definition's rank in a PageRank over the joint
file+definition graph restarting at every file (:mod:`codemill.context.ranking`). Files the
build leaves out and generated files are not offered, as in context.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemill.context.definitions import Definition
    from codemill.context.graph import ImportGraph
    from codemill.index.chunking import Chunk
    from codemill.index.hybrid import SearchResult

_BACKTICKED = re.compile(r"`([^`]+)`")
# Dotted names, and paths of Rust and C++ (`Cart::total`), kept whole.
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::)[A-Za-z_][A-Za-z0-9_]*)*")
_HUMP = re.compile(r"[a-z0-9][A-Z]")


@dataclass(frozen=True)
class NamedDefinition:
    """A definition the query names: where it is and how central it is in the repository."""

    path: str
    definition: Definition
    rank: float


def code_identifiers(query: str) -> list[str]:
    """The identifiers of ``query`` shaped like code, dotted names kept whole, in order."""
    quoted = [w for q in _BACKTICKED.findall(query) for w in _DOTTED.findall(q)]
    words = _DOTTED.findall(_BACKTICKED.sub(" ", query))
    alone = len(words) == 1 and not quoted
    shaped = [w for w in words if alone or "_" in w or "." in w or "::" in w or _HUMP.search(w)]
    return list(dict.fromkeys(quoted + shaped))


def _owned_by(d: Definition, path: str, owner: str) -> bool:
    """Whether ``owner`` (``Cart`` of ``Cart.total``) is the definition's class or impl (of a
    generic type too, ``Stack<T>``; a trait's impl for it too, ``Display for Cart``), its Go
    receiver, or its module (the file's stem)."""
    trait, _, ty = (d.parent or "").rpartition(" for ")  # `PartialEq<Feet> for Meters`, `Stack<T>`
    return owner in (_type_name(ty), _type_name(trait), d.owner) or owner in _module_names(path)


def _module_names(path: str) -> tuple[str, ...]:
    """The names a file's module goes by: its stem, and its folder's for a folder's own module
    file (`net/mod.rs`, `pkg/__init__.py`, `lib/index.js`)."""
    folder, _, base = path.rpartition("/")
    stem = base.split(".")[0]
    return (stem, folder.rpartition("/")[2]) if stem in ("mod", "__init__", "index") and folder else (stem,)


def _type_name(text: str) -> str:
    """A type or trait without its parameters and path: ``Stack`` of ``Stack<T>``, ``Display``
    of ``std::fmt::Display``; "" for none."""
    return text.split("<", 1)[0].strip().rsplit("::", 1)[-1]


def named_definitions(graph: ImportGraph, query: str) -> list[NamedDefinition]:
    """The definitions ``query`` names (see the module's description), most central first."""
    found: list[tuple[str, int, Definition]] = []
    owned: set[tuple[str, int]] = set()  # (path, index) of definitions the path's owner names
    for ident in code_identifiers(query):
        *parents, name = ident.replace("::", ".").split(".")
        owner = parents[-1] if parents else None
        # A C++ method defined out of its class is named `Cart::total` itself (under any namespace).
        parts = ident.split("::")
        whole = [hit for i in range(len(parts) - 1) for hit in graph.definitions_named("::".join(parts[i:]))]
        for path, j, _top in [*graph.definitions_named(name), *whole]:
            if path in graph.exclusions:
                continue
            d = graph.symbols[path].definitions[j]
            if owner is None or "::" in d.name or _owned_by(d, path, owner):
                found.append((path, j, d))
                owned.add((path, j))
            elif "::" in ident:
                # A path of modules may reach it through a re-export (`crate::net::get_url` of
                # net/http.rs): the name alone names it too, after what the path's owner names.
                found.append((path, j, d))
    if not found:
        return []
    g = graph.rank_graph()
    ranks = graph.rank_nodes(dict.fromkeys(range(len(g.files)), 1.0))
    out = [NamedDefinition(p, d, ranks.definition(p, j) if ranks is not None else 0.0) for p, j, d in found]
    out = list({(n.path, n.definition.start_line, n.definition.name): n for n in out}.values())
    first = {(p, d.start_line, d.name) for p, j, d in found if (p, j) in owned}
    # equal ranks (a file that names both reaches both): a top-level definition before a member
    return sorted(
        out,
        key=lambda n: (
            (n.path, n.definition.start_line, n.definition.name) not in first,
            -n.rank,
            n.definition.parent is not None,
            n.path,
            n.definition.start_line,
        ),
    )


def definitions_first(
    results: Sequence[SearchResult], named: Sequence[NamedDefinition], chunks: Mapping[int, Chunk], k: int
) -> list[SearchResult]:
    """``results`` (an index's search results) with the chunks holding the ``named``
    definitions first (marked ``named``), at most ``k`` in all. ``chunks`` are the index's
    chunks; a named definition no chunk holds is left out, one the search did not find comes
    with score 0."""
    from codemill.index.hybrid import SearchResult  # here: an index's retriever imports this module

    wanted = {n.path for n in named}
    by_path: dict[str, list[Chunk]] = {}
    for c in chunks.values():
        if c.path in wanted:
            by_path.setdefault(c.path, []).append(c)
    found = {_key(r.chunk): r for r in results}
    first: list[SearchResult] = []
    for n in named:
        d = n.definition
        holding = [c for c in by_path.get(n.path, []) if c.start_line <= d.start_line <= c.end_line]
        # the chunk of the definition itself before one that merely contains it
        holding.sort(key=lambda c: (c.symbol != d.name, c.end_line - c.start_line, c.start_line))
        if holding and not any(_key(r.chunk) == _key(holding[0]) for r in first):
            r = found.get(_key(holding[0]))
            first.append(replace(r, named=True) if r is not None else SearchResult(holding[0], 0.0, named=True))
    taken = {_key(r.chunk) for r in first}
    return (first + [r for r in results if _key(r.chunk) not in taken])[:k]


def named_first_in(
    directory: str | os.PathLike[str], index: Any, query: str, results: Sequence[SearchResult], k: int
) -> tuple[list[SearchResult], str | None]:
    """`definitions_first` with the repository graph kept in the index ``directory`` (what
    `codemill search` and `codemill ask` both show); without a readable graph, the results as
    they are and why (an index from before the graph, or one to rebuild)."""
    from codemill.context.graph import ImportGraph
    from codemill.context.graph_store import GRAPH_FILE
    from codemill.errors import GraphFormatError

    if not code_identifiers(query):
        return list(results), None
    try:
        named = named_definitions(ImportGraph.load(os.path.join(directory, GRAPH_FILE)), query)
    except GraphFormatError as exc:
        return list(results), str(exc)
    return definitions_first(results, named, index.chunks, k), None


def _key(chunk: Chunk) -> tuple[str, int, int]:
    return (chunk.path, chunk.start_line, chunk.end_line)
