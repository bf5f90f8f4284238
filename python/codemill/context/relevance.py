"""What may go into a file's context: the relevance floor.

Context is code the file depends on, or code the question names. So only these files may give
context: the files it imports (and what they import, up to :data:`MAX_HOPS`), the other files
of its package where the language needs no import between them (Go, Java), the implementation
beside an imported C/C++ header, and the files defining an identifier of the question. Never:
files its language's build leaves out (Go ``//go:build ignore``), generated files, and test
files when the file itself is not a test. A file with nothing to follow gets no context at all
rather than unrelated code.
"""

from __future__ import annotations

import bisect
import itertools
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codemill.context.definitions import Definition
    from codemill.context.graph import ImportGraph

MAX_HOPS = 2
"""How far along imports a dependency may sit (the file's imports are hop 1)."""

_C_HEADERS = frozenset({".h", ".hh", ".hpp", ".hxx"})
_C_SOURCES = (".c", ".cc", ".cpp", ".cxx")
_QUERY_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec"})


def is_test(path: str) -> bool:
    """A test file by its name or directory (``test_x.py``, ``x_test.go``, ``X.spec.ts``, ``tests/``)."""
    parts = path.split("/")
    name = parts[-1]
    return (
        any(p in _TEST_DIRS for p in parts[:-1])
        or name.startswith("test_")
        or name.split(".")[0].endswith(("_test", ".test", ".spec", "Test", "Tests"))
    )


def query_terms(query: str | None) -> frozenset[str]:
    """The identifiers of a question, and their parts, lowercased (``getUserById`` gives
    ``getuserbyid``, ``get``, ``user``, ``id``)."""
    if not query:
        return frozenset()
    from codemill import _core

    words = _QUERY_WORD.findall(query)
    terms = {t for row in _core.code_terms(words) for t in row}
    return frozenset(t for t in terms if len(t) >= 3)


def asked_names(names: list[str], terms: frozenset[str]) -> list[bool]:
    """Which definition names a question asks about: the question holds the name itself, or
    most of its parts (``parse_config`` for "where is the config parsed", through the stems
    that :func:`codemill._core.code_terms` adds)."""
    out = [False] * len(names)
    if not terms or not names:
        return out
    from codemill import _core

    # A name's parts and their stems are pieces of the lowercased name, so a name none of the
    # terms is a piece of cannot be asked about: only the others are split.
    blob = "\n".join(names).lower()
    starts = list(itertools.accumulate((len(n) + 1 for n in names[:-1]), initial=0))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))
    maybe = sorted({bisect.bisect_right(starts, m.start()) - 1 for m in pattern.finditer(blob)})
    for i, row in zip(maybe, _core.code_terms([names[i] for i in maybe]), strict=True):
        whole, *parts = row or [""]
        hits = sum(p in terms for p in parts)
        out[i] = whole in terms or (hits >= 2 and 2 * hits >= len(parts))
    return out


@dataclass
class Focus:
    """What a file (and a question) point at."""

    file: str
    references: frozenset[str]
    """Identifiers the file uses (from its syntax tree)."""
    terms: frozenset[str]
    """The question's terms (see :func:`query_terms`)."""
    direct: set[str] = field(default_factory=set)
    """Files the file imports."""
    imported: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """File -> the names imported from it."""
    allowed: set[str] = field(default_factory=set)
    """Files that may give context."""
    asked: set[str] = field(default_factory=set)
    """Files defining something the question names."""
    asked_definitions: set[tuple[str, int]] = field(default_factory=set)
    """(file, position in its symbols) of the top-level definitions the question names."""


def focus(graph: ImportGraph, rel: str, query: str | None = None) -> Focus:
    """The relevance floor of ``rel``'s context (see the module's description)."""
    sym = graph.symbols.get(rel)
    f = Focus(rel, sym.references if sym is not None else frozenset(), query_terms(query))
    for _imp, res in graph.resolutions.get(rel, []):
        f.direct.update(res.files)
        for name, target in res.definitions:
            f.imported[target].add(name)
            f.direct.add(target)
    f.direct.discard(rel)
    edges = graph.edges()
    reach = set(f.direct)
    frontier = set(f.direct)
    for _ in range(MAX_HOPS - 1):
        frontier = {t for s in frontier for t in edges.get(s, {}) if not t.startswith("external:")} - reach
        reach |= frontier
    reach.update(graph.package_siblings(rel))
    reach.update(_companions(graph, reach))
    if f.terms:
        # the symbol table's names, not every file's symbols: a loaded graph parses no file to
        # find what the question asks about
        names = graph.definition_names()
        for name, yes in zip(names, asked_names(names, f.terms), strict=True):
            if yes:
                f.asked_definitions.update((other, j) for other, j, top in graph.definitions_named(name) if top)
        f.asked = {other for other, _ in f.asked_definitions}
        reach |= f.asked
    own_test = is_test(rel)
    for other in reach:
        if other == rel or other not in graph.files or other in graph.exclusions:
            continue
        if is_test(other) and not own_test:
            continue
        f.allowed.add(other)
    return f


def uses(d: Definition, references: frozenset[str], is_direct: bool) -> bool:
    """Whether a file with ``references`` uses definition ``d`` (of a file it imports directly
    or not): it names it, and names its class too unless the file imports the class's file."""
    return d.name in references and (d.parent is None or d.parent in references or is_direct)


def referenced_definitions(
    graph: ImportGraph, rel: str, f: Focus | None = None, names: dict[str, dict[str, list[int]]] | None = None
) -> list[tuple[str, int, float]]:
    """``(file, j, weight)`` of the definitions ``rel`` uses among the files it may depend on
    (:func:`focus`), ``j`` the definition's position in its file's symbols: each name ``rel``
    references shares a weight of 1 among the definitions it may mean. ``names`` caches each
    file's name -> positions across calls."""
    f = f if f is not None else focus(graph, rel)
    if not f.references:
        return []
    names = names if names is not None else {}
    found: list[tuple[str, int, str]] = []
    for other in sorted(f.allowed):
        by_name = names.get(other)
        if by_name is None:
            by_name = names[other] = defaultdict(list)
            for j, d in enumerate(graph.symbols[other].definitions):
                by_name[d.name].append(j)
        hits = f.references & by_name.keys()
        if not hits:
            continue
        defs = graph.symbols[other].definitions
        is_direct = other in f.direct
        found.extend((other, j, n) for n in hits for j in by_name[n] if uses(defs[j], f.references, is_direct))
    meanings: dict[str, int] = defaultdict(int)
    for _, _, n in found:
        meanings[n] += 1
    return sorted((other, j, 1.0 / meanings[n]) for other, j, n in found)


def _companions(graph: ImportGraph, files: set[str]) -> set[str]:
    """The C/C++ sources beside the headers among ``files`` (``a.h`` -> ``a.c``)."""
    out: set[str] = set()
    for h in files:
        stem, ext = posixpath.splitext(h)
        if ext in _C_HEADERS:
            out.update(stem + e for e in _C_SOURCES if stem + e in graph.files)
    return out
