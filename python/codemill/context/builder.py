"""Budgeted context for one file of a repository, aider's repo-map idea.

A personalised PageRank over the joint graph of files and definitions
(:mod:`codemill.context.ranking`), restarting at the file, the definitions it uses and those the
question names, ranks each definition (:mod:`codemill.context.definitions`); scored by that rank
and by whether the file imports or mentions them, they are packed into a token budget counted
with codemill's tokenizer: first the best definition of each imported file, then the others
the file or the question names, then more signatures and docstrings, then whole bodies while
they fit (nothing below the relevance floor of :mod:`codemill.context.relevance`). Every piece is labelled with
its path and lines, and the rendered context never exceeds the budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any, TypeVar

from codemill.context.definitions import Definition, definitions
from codemill.context.graph import ImportGraph
from codemill.context.ranking import Ranks
from codemill.context.relevance import Focus, asked_names, focus, uses
from codemill.errors import CodemillError
from codemill.syntax.lines import source_lines

T = TypeVar("T")

# Scoring of definitions in the context.
IMPORTED_BOOST = 20.0
MENTIONED_BOOST = 4.0
KIND_WEIGHT: dict[str, float] = {
    **dict.fromkeys(("class", "interface", "trait", "impl", "namespace", "function"), 1.0),
    **dict.fromkeys(("struct", "enum", "union", "type", "macro"), 0.9),
    "method": 0.6,  # reached through its class
    "variable": 0.4,
    "module": 0.5,
}
# Joint ranking: where the walk restarts besides the file (each as much as the file), and how
# much of its file's rank a definition inherits (orders the definitions nothing references).
SEED_USED = 1.0
SEED_ASKED = 1.0
FILE_RANK_SHARE = 0.01
RANKINGS = ("joint", "file")
HEAD_LINES = 12
MAX_RELATED_FILES = 40
MAX_ASKED_FILES = 20
"""Files defining what the question names that join however they rank (the best ranked)."""
# Code not named by the file, its imports or the question must score at least this share of
# the best candidate: past it, context would be filler.
RELEVANCE_FLOOR = 0.02


@dataclass
class ContextItem:
    path: str
    start_line: int
    end_line: int
    name: str
    kind: str
    level: str
    """signature | body | head"""
    text: str
    tokens: int
    score: float

    @property
    def label(self) -> str:
        what = f" {self.kind} {self.name}" if self.name else ""
        return f"==> {self.path}:{self.start_line}-{self.end_line}{what} ({self.level}) <=="


@dataclass
class RepoContext:
    """Budgeted context for one file."""

    file: str
    budget: int
    tokens: int
    items: list[ContextItem]
    ranked: list[tuple[str, float]]
    text: str

    def files(self) -> list[str]:
        return list(dict.fromkeys(i.path for i in self.items))

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "budget": self.budget,
            "tokens": self.tokens,
            "files": self.files(),
            "items": [
                {k: v for k, v in asdict(i).items() if k != "text"} | {"label": i.label, "text": i.text}
                for i in self.items
            ],
            "ranked": [{"path": p, "score": round(s, 6)} for p, s in self.ranked],
            "text": self.text,
        }


class _Priority(IntEnum):
    """The order context is packed in (highest first), by score within each."""

    REST = 0
    """Further along the imports, above the relevance floor."""
    IMPORTED_FILE = 1
    """The rest of a file the file imports."""
    USED_FURTHER = 2
    """Named by the file, defined further along its imports (or in its package)."""
    NAMED = 3
    """Imported by name, or used from an imported module, or named by the question."""
    BEST_OF_IMPORTED_FILE = 4
    """The best definition of each file the file imports, usually one it names (breadth
    before depth: every imported file shows something before any shows more)."""


@dataclass
class _Candidate:
    path: str
    definition: Definition
    score: float
    priority: _Priority = _Priority.REST
    level: str = ""
    item: ContextItem | None = None


class ContextBuilder:
    """Builds budgeted context for files of one repository."""

    def __init__(self, graph: ImportGraph, tokenizer: Any = None, *, ranking: str = "joint") -> None:
        """``ranking``: ``joint`` scores each definition by its own rank in the file+definition
        graph; ``file`` (the earlier ranking, kept for comparison) by its file's rank in the
        graph of files and whether the file names it."""
        if ranking not in RANKINGS:
            raise CodemillError(f"ranking must be one of {', '.join(RANKINGS)}, got {ranking!r}")
        self.graph = graph
        self.ranking = ranking
        from codemill.tokenizer import load_tokenizer

        self.tokenizer = load_tokenizer(tokenizer)
        # Per file, with the stamp it had on disk when read (`ImportGraph.disk_stamp`): a server
        # answers for hours, and a dependency edited meanwhile showed its old lines.
        self._defs: dict[str, tuple[tuple[int, int] | None, list[Definition]]] = {}
        self._lines: dict[str, tuple[tuple[int, int] | None, list[str]]] = {}
        self._stamps: dict[str, tuple[int, int] | None] | None = None  # within a context call

    @classmethod
    def for_repo(cls, root: str | os.PathLike[str], tokenizer: Any = None, **build: Any) -> ContextBuilder:
        return cls(ImportGraph.build(root, **build), tokenizer)

    def count(self, text: str) -> int:
        return int(self.tokenizer.count_tokens(text))

    def definitions(self, rel: str) -> list[Definition]:
        """A file's definitions: from the graph (saved with it) while the file is as it was
        read, else parsed now (saved line ranges on a changed file showed other lines)."""

        def parsed() -> list[Definition]:
            sym = self.graph.symbols.get(rel)
            if sym is not None and self.graph.current(rel):
                return list(sym.definitions)
            return definitions(self.graph.text(rel) or "", self.graph.files.get(rel, "generic"), rel)

        return self._fresh(self._defs, rel, parsed)

    def _file_lines(self, rel: str) -> list[str]:
        return self._fresh(self._lines, rel, lambda: source_lines(self.graph.text(rel) or ""))

    def _fresh(self, cache: dict[str, tuple[tuple[int, int] | None, T]], rel: str, make: Callable[[], T]) -> T:
        """``cache``'s value for the file ``rel`` while its stamp on disk is the one it was made
        at, else ``make()``'s, kept with the stamp (made again each time while the stamp cannot
        be trusted: None)."""
        stamp = self._stamp(rel)
        cached = cache.get(rel)
        if cached is not None and stamp is not None and cached[0] == stamp:
            return cached[1]
        value = make()
        cache[rel] = (stamp, value)
        return value

    def _snippet(self, rel: str, start: int, end: int, elided: bool) -> str:
        lines = self._file_lines(rel)[start - 1 : end]
        if elided and lines:
            indent = len(lines[-1]) - len(lines[-1].lstrip())
            lines = [*lines, " " * (indent if indent else 4) + "..."]
        return "\n".join(lines)

    def _make_item(self, cand: _Candidate, level: str) -> ContextItem:
        d = cand.definition
        if d.kind == "module":
            end, elided, level = d.signature_end, False, "head"
        elif level == "body" or d.signature_end >= d.end_line:
            end, elided, level = d.end_line, False, "body"  # shown whole
        else:
            end, elided = d.signature_end, True
        text = self._snippet(cand.path, d.start_line, end, elided)
        item = ContextItem(cand.path, d.start_line, end, d.qualname, d.kind, level, text, 0, cand.score)
        item.tokens = self.count(item.label + "\n" + text + "\n\n")
        return item

    def related(self, rel: str, extra_seeds: dict[str, float] | None = None) -> list[tuple[str, float]]:
        """Files ranked by personalised PageRank from ``rel`` (``rel`` itself excluded)."""
        seeds = {rel: 1.0, **(extra_seeds or {})}
        ranks = self.graph.rank(seeds, joint=self.ranking == "joint")
        ranked = sorted(((f, s) for f, s in ranks.items() if f != rel and s > 0), key=lambda kv: (-kv[1], kv[0]))
        return ranked

    def context(
        self,
        path: str | os.PathLike[str],
        budget: int = 2000,
        *,
        query: str | None = None,
        include_self: bool = False,
        extra_seeds: dict[str, float] | None = None,
    ) -> RepoContext:
        """The definitions ``path`` depends on, within ``budget`` tokens (counted with the
        builder's tokenizer over the rendered text): first those the file references (and the
        ``query`` names), then the rest of the files it imports, then code further along its
        imports while it stays relevant. Nothing outside :func:`~codemill.context.relevance.focus`
        is offered: a file with nothing to follow gets an empty context."""
        self._stamps = {}  # each file's stamp looked at once a call (snippets asked hundreds)
        try:
            return self._context(path, budget, query, include_self, extra_seeds)
        finally:
            self._stamps = None

    def _stamp(self, rel: str) -> tuple[int, int] | None:
        if self._stamps is None:
            return self.graph.disk_stamp(rel)
        if rel not in self._stamps:
            self._stamps[rel] = self.graph.disk_stamp(rel)
        return self._stamps[rel]

    def _context(
        self,
        path: str | os.PathLike[str],
        budget: int,
        query: str | None,
        include_self: bool,
        extra_seeds: dict[str, float] | None,
    ) -> RepoContext:
        if budget < 0:
            raise CodemillError(f"the token budget must be >= 0, got {budget}")
        rel = self.graph.ensure(path)  # the file being worked on, parsed again if it changed
        f = focus(self.graph, rel, query)
        ranks: Ranks | None = None
        if self.ranking == "joint":
            ranks = self.graph.rank_nodes(self._seeds(rel, f, extra_seeds))
            found = ranks.files() if ranks is not None else {}
            ranked = sorted(((p, r) for p, r in found.items() if p in f.allowed), key=lambda kv: (-kv[1], kv[0]))
        else:
            seeds = {rel: 1.0, **dict.fromkeys(f.asked & f.allowed, 1.0), **(extra_seeds or {})}
            ranked = [(p, r) for p, r in self.related(rel, seeds) if p in f.allowed]
        files = [p for p, _ in ranked[:MAX_RELATED_FILES]]
        asked = f.asked & f.allowed
        if ranks is not None and len(asked) > MAX_ASKED_FILES:
            # a common name the question asks about: the definitions the walk ranks highest
            best: dict[str, float] = {}
            for p, j in f.asked_definitions:
                if p in asked:
                    best[p] = max(best.get(p, 0.0), ranks.definition(p, j))
            asked = set(sorted(best, key=lambda p: (-best[p], p))[:MAX_ASKED_FILES])
        files += sorted((f.direct | asked) & f.allowed - set(files))  # however they rank
        rank = dict(ranked)
        top = max(rank.values(), default=1.0)
        if include_self:
            files.insert(0, rel)
            rank[rel] = top * 2
        candidates: list[_Candidate] = []
        for p in files:
            candidates.extend(self._candidates(p, f, rank.get(p, 0.0) or top * 0.01, top, ranks))
        floor = RELEVANCE_FLOOR * max((c.score for c in candidates), default=0.0)
        candidates = [c for c in candidates if c.priority > _Priority.REST or c.score >= floor]
        return self._pack(rel, budget, candidates, ranked)

    def _seeds(self, rel: str, f: Focus, extra: dict[str, float] | None) -> dict[int, float]:
        """Where the joint walk restarts: the file, the definitions it uses and those the
        question names (each group as much as the file), and any ``extra`` files."""
        g = self.graph.rank_graph()
        seeds: dict[int, float] = {}

        def spread(nodes: list[tuple[int | None, float]], total: float) -> None:
            found = [(n, w) for n, w in nodes if n is not None and w > 0.0]
            mass = sum(w for _, w in found)
            if not found:
                return
            for n, w in found:
                seeds[n] = seeds.get(n, 0.0) + total * w / mass

        spread([(g.index.get(rel), 1.0)], 1.0)
        # the definitions it uses: its reference edges, as the graph holds them
        node = g.index.get(rel)
        used = g.out_edges(node) if node is not None else []
        spread([(t, w) for t, w in used if g.is_definition(t)], SEED_USED)
        asked = [(g.definition_node(p, j), 1.0) for p, j in sorted(f.asked_definitions) if p in f.allowed]
        spread(asked, SEED_ASKED)
        for p, w in (extra or {}).items():
            spread([(g.index.get(p), 1.0)], w)
        return seeds

    def _candidates(self, path: str, f: Focus, r: float, top: float, ranks: Ranks | None) -> list[_Candidate]:
        """The definitions of one related file, scored and given a packing priority (see
        :class:`_Priority`): by their own rank in the joint graph (``ranks``), else by their
        file's rank ``r`` and whether the file names them."""
        is_direct = path in f.direct
        if is_direct:
            r += top  # a directly imported file outranks anything reached by a walk
        names = f.imported.get(path, set())
        asked = asked_names([d.name for d in self.definitions(path)], f.terms)
        out: list[_Candidate] = []
        best: _Candidate | None = None
        for j, (d, is_asked) in enumerate(zip(self.definitions(path), asked, strict=True)):
            # a method outside any class (Go) is as much the API as a function
            kind = KIND_WEIGHT["function" if d.parent is None and d.kind == "method" else d.kind]
            imported = d.name in names and d.parent is None
            used = uses(d, f.references, is_direct)
            # its own rank (or its file's), more when the file imports or mentions it by name
            s = kind * ((ranks.definition(path, j) + FILE_RANK_SHARE * r) if ranks is not None else r)
            if imported:
                s *= IMPORTED_BOOST
            elif used or is_asked:
                s *= MENTIONED_BOOST
            if d.name.startswith("__") and d.kind == "variable":
                s *= 0.1  # __all__, __version__: little to learn from
            elif d.name.startswith("_") and not d.name.startswith("__"):
                s *= 0.5
            if imported or is_asked or (used and is_direct):
                priority = _Priority.NAMED
            elif used:
                priority = _Priority.USED_FURTHER
            else:
                priority = _Priority.IMPORTED_FILE if is_direct else _Priority.REST
            c = _Candidate(path, d, s, priority=priority)
            out.append(c)
            if best is None or s > best.score:
                best = c
        if best is None and is_direct:
            n = len(self._file_lines(path))
            if n:
                best = _Candidate(path, Definition("", "module", 1, n, min(n, HEAD_LINES)), r * KIND_WEIGHT["module"])
                out.append(best)
        if best is not None and is_direct:
            best.priority = max(best.priority, _Priority.BEST_OF_IMPORTED_FILE)
        return out

    def _pack(
        self, rel: str, budget: int, candidates: list[_Candidate], ranked: list[tuple[str, float]]
    ) -> RepoContext:
        used = 0
        chosen: list[_Candidate] = []
        # Signatures first, by priority, by score within each.
        misses = 0
        for c in sorted(candidates, key=lambda c: (-c.priority, -c.score)):
            if misses > 200:
                break
            item = self._make_item(c, "signature")
            if used + item.tokens <= budget:
                c.item, c.level = item, item.level
                used += item.tokens
                chosen.append(c)
            else:
                misses += 1
        # 3. bodies, best first, while they fit
        misses = 0
        for c in sorted(chosen, key=lambda c: -c.score):
            if misses > 100:
                break
            assert c.item is not None
            if c.item.level in ("body", "head") or c.definition.container:
                continue
            item = self._make_item(c, "body")
            if used - c.item.tokens + item.tokens <= budget:
                used += item.tokens - c.item.tokens
                c.item, c.level = item, "body"
            else:
                misses += 1
        # Drop container signatures made redundant by a chosen body? Bodies of classes are
        # never chosen, so method items never overlap; only nested functions could.
        order = {f: i for i, (f, _) in enumerate(ranked)}
        chosen.sort(key=lambda c: (order.get(c.path, -1), c.path, c.definition.start_line))
        # The sum of per-item counts is an estimate of the whole; check the rendered text and
        # drop the weakest items until it fits.
        while True:
            text = "".join(c.item.label + "\n" + c.item.text + "\n\n" for c in chosen if c.item is not None)
            total = self.count(text)
            if total <= budget or not chosen:
                break
            weakest = min(chosen, key=lambda c: c.score)
            chosen.remove(weakest)
        if not chosen:
            text, total = "", 0
        items = [c.item for c in chosen if c.item is not None]
        return RepoContext(rel, budget, total, items, ranked, text)
