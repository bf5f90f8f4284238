"""Repository context: the import graph of a repository and budgeted context for one file.

:class:`ImportGraph` scans a repository, extracts every file's imports with tree-sitter and
resolves them (:mod:`codemill.context.imports`) into a directed graph of files, with the imports that
leave the repository kept as external nodes.

:class:`ContextBuilder` picks what a model should see next to a file, aider's repo-map idea:
a personalised PageRank over the graph, seeded at the file, ranks the related files; their
definitions are scored by that rank and by whether the file imports or mentions them, then
packed into a token budget counted with codemill's tokenizer: first the best definition of
each related file, then more signatures and docstrings, then whole bodies while they fit.
Every piece is labelled with its path and lines, and the rendered context never exceeds the
budget.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from codemill.context.imports import (
    FileImports,
    Import,
    Resolution,
    Resolver,
    extract,
    grammar_for_path,
)
from codemill.syntax import parsers as syntax
from codemill.syntax.definitions import FUNCTION_KINDS, TABLES, DefinitionKind, Found, find_definitions

# Weights of the ranking graph: an import counts fully from importer to imported file; the
# reverse direction (who uses me) and same-package siblings count less.
IMPORT_WEIGHT = 1.0
DEFINITION_WEIGHT = 1.0
REVERSE_WEIGHT = 0.1
PACKAGE_WEIGHT = 0.2
DAMPING = 0.85

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
SIGNATURE_MAX_LINES = 12
DOCSTRING_MAX_LINES = 6
HEAD_LINES = 12
MAX_RELATED_FILES = 40

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "package.json", "go.mod", "Cargo.toml", "pom.xml")


def _rel(path: str | os.PathLike[str], root: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path}: not inside the repository {root}") from None


def find_repo_root(path: str | os.PathLike[str]) -> Path:
    """The repository a file belongs to: the nearest ancestor with ``.git``/``.hg``, else the
    outermost ancestor with a project file (pyproject.toml, package.json, go.mod ...), else the
    file's directory."""
    p = Path(path).resolve()
    start = p if p.is_dir() else p.parent
    outermost = None
    for d in (start, *start.parents):
        if (d / ".git").exists() or (d / ".hg").exists():
            return d
        if any((d / m).exists() for m in PROJECT_MARKERS):
            outermost = d
    return outermost or start


# --------------------------------------------------------------------------------------------
# the graph


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


class ImportGraph:
    """The files of a repository and the imports between them."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.files: dict[str, str] = {}
        self.infos: dict[str, FileImports] = {}
        self.resolutions: dict[str, list[tuple[Import, Resolution]]] = {}
        self.skipped: dict[str, str] = {}
        self.seconds = 0.0
        self._texts: dict[str, str] = {}
        self._resolver: Resolver | None = None
        self._edges: dict[str, dict[str, float]] | None = None
        self._rank_graph: Any = None

    @classmethod
    def build(
        cls,
        root: str | os.PathLike[str],
        *,
        exclude: Sequence[str] = (),
        languages: Iterable[str] | None = None,
    ) -> ImportGraph:
        """Scans ``root`` for source files (skipping hidden, vendored and cache directories and
        the ``exclude`` glob patterns, matched against repository-relative paths) and resolves
        every import."""
        from codemill.languages import detect_language
        from codemill.sources.documents import EMPTY, iter_code_files, read_code_file

        t0 = time.perf_counter()
        graph = cls(root)
        root_path = Path(root)
        if not root_path.is_dir():
            raise FileNotFoundError(f"{root}: no such directory")
        wanted = set(languages) if languages is not None else None
        for path in iter_code_files(root_path):
            rel = path.relative_to(root_path).as_posix()
            if any(_glob_match(rel, pat) for pat in exclude):
                continue
            lang = detect_language(path)
            if lang == "generic" or (wanted is not None and lang not in wanted):
                continue
            text, reason = read_code_file(path)
            if reason == EMPTY:
                text = ""  # an empty __init__.py still makes a package
            if text is None:
                graph.skipped[rel] = reason or "unreadable"
                continue
            graph.files[rel] = lang
            graph._texts[rel] = text
            graph.infos[rel] = extract(text, rel, lang)
        graph._resolve_all()
        graph.seconds = time.perf_counter() - t0
        return graph

    # -- construction

    @property
    def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver(self.files, self.infos, self._read_any)
        return self._resolver

    def _read_any(self, rel: str) -> str | None:
        if rel in self._texts:
            return self._texts[rel]
        try:
            return (self.root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def _resolve_all(self) -> None:
        resolver = self.resolver
        for rel, info in self.infos.items():
            self.resolutions[rel] = [(imp, resolver.resolve(rel, imp)) for imp in info.imports]
        self._edges = None
        self._rank_graph = None

    def text(self, rel: str) -> str | None:
        """The text of a repository file (cached), or None if it cannot be read."""
        return self._read_any(rel)

    def ensure(self, path: str | os.PathLike[str]) -> str:
        """The repository-relative path of ``path``, adding the file to the graph if it was not
        scanned (an excluded or new file); raises ValueError for a file outside the repository."""
        key = Path(path).as_posix() if not Path(path).is_absolute() else None
        if key in self.files:
            return key  # already repository-relative
        rel = _rel(path, self.root)
        if rel in self.files:
            return rel
        from codemill.languages import detect_language
        from codemill.sources.documents import read_code_file

        full = self.root / rel
        if not full.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        text, reason = read_code_file(full)
        if text is None:
            raise ValueError(f"{path}: cannot read ({reason})")
        lang = detect_language(full, text[:128].encode())
        self.files[rel] = lang
        self._texts[rel] = text
        self.infos[rel] = info = extract(text, rel, lang)
        self._resolver = None
        self.resolutions[rel] = [(imp, self.resolver.resolve(rel, imp)) for imp in info.imports]
        self._edges = None
        self._rank_graph = None
        return rel

    # -- edges

    def edges(self) -> dict[str, dict[str, float]]:
        """source file -> {target: weight}; targets are files or ``external:NAME`` nodes."""
        if self._edges is None:
            edges: dict[str, dict[str, float]] = defaultdict(dict)
            for src, items in self.resolutions.items():
                out = edges[src]
                for imp, res in items:
                    if res.external and not res.files:
                        key = f"external:{res.external}"
                        out[key] = out.get(key, 0.0) + 1.0
                        continue
                    for f in res.files:
                        if f != src:
                            out[f] = out.get(f, 0.0) + IMPORT_WEIGHT
                    for _name, f in res.definitions:
                        if f != src:
                            out[f] = out.get(f, 0.0) + DEFINITION_WEIGHT
                    del imp
            self._edges = dict(edges)
        return self._edges

    def package_siblings(self, rel: str) -> list[str]:
        """Files that share a package without importing each other (Go directories, Java packages)."""
        lang = self.files.get(rel)
        if lang == "go":
            d = os.path.dirname(rel)
            test = rel.endswith("_test.go")
            return [
                f
                for f in self.resolver._by_dir.get(d, ())
                if f != rel and f.endswith(".go") and (test or not f.endswith("_test.go"))
            ]
        if lang == "java":
            return self.resolver.java_package_files(rel)
        return []

    def imports_of(self, rel: str) -> list[str]:
        """The repository files ``rel`` imports, strongest first."""
        out = self.edges().get(rel, {})
        return [t for t, _ in sorted(out.items(), key=lambda kv: -kv[1]) if not t.startswith("external:")]

    def importers_of(self, rel: str) -> list[str]:
        return sorted(s for s, out in self.edges().items() if rel in out)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph``: file nodes (``language``) and external nodes (``external=True``);
        edges weighted by the number of imports and imported names."""
        import networkx as nx

        g = nx.DiGraph()
        for f, lang in self.files.items():
            g.add_node(f, language=lang, external=False)
        for src, out in self.edges().items():
            for dst, w in out.items():
                if dst.startswith("external:") and dst not in g:
                    g.add_node(dst, external=True)
                g.add_edge(src, dst, weight=w)
        return g

    def _ranking_graph(self) -> Any:
        if self._rank_graph is None:
            import networkx as nx

            g = nx.DiGraph()
            g.add_nodes_from(self.files)

            def add(a: str, b: str, w: float) -> None:
                prev = g.get_edge_data(a, b)
                g.add_edge(a, b, weight=w + (prev["weight"] if prev else 0.0))

            for src, out in self.edges().items():
                for dst, w in out.items():
                    if dst.startswith("external:"):
                        continue
                    add(src, dst, w)
                    add(dst, src, w * REVERSE_WEIGHT)
            for f in self.files:
                for sib in self.package_siblings(f):
                    add(f, sib, PACKAGE_WEIGHT)
            self._rank_graph = g
        return self._rank_graph

    def rank(self, seeds: dict[str, float] | Sequence[str]) -> dict[str, float]:
        """Personalised PageRank of the files, the random walk restarting at ``seeds``."""
        import networkx as nx

        if not isinstance(seeds, dict):
            seeds = dict.fromkeys(seeds, 1.0)
        seeds = {s: w for s, w in seeds.items() if s in self.files}
        g = self._ranking_graph()
        if not seeds or g.number_of_edges() == 0:
            return dict.fromkeys(seeds, 1.0)
        try:
            return nx.pagerank(g, alpha=DAMPING, personalization=seeds, weight="weight", max_iter=200, tol=1e-8)
        except nx.PowerIterationFailedConvergence:
            return nx.pagerank(g, alpha=DAMPING, personalization=seeds, weight="weight", max_iter=1000, tol=1e-6)

    # -- reports

    def stats(self) -> GraphStats:
        by_lang: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        externals: set[str] = set()
        for src, items in self.resolutions.items():
            lang = self.files[src]
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
        edges = sum(1 for out in self.edges().values() for t in out if not t.startswith("external:"))
        total = {k: sum(d[k] for d in by_lang.values()) for k in ("imports", "in_repo", "resolved")}
        skipped: dict[str, int] = defaultdict(int)
        for reason in self.skipped.values():
            skipped[reason] += 1
        return GraphStats(
            files=len(self.files),
            edges=edges,
            external_nodes=len(externals),
            imports=total["imports"],
            in_repo_imports=total["in_repo"],
            resolved_imports=total["resolved"],
            seconds=round(self.seconds, 3),
            by_language={k: dict(v) for k, v in sorted(by_lang.items())},
            skipped=dict(skipped),
        )

    def unresolved(self) -> list[tuple[str, Import]]:
        """In-repository imports that did not resolve to a file (for diagnosis)."""
        return [
            (src, imp)
            for src, items in sorted(self.resolutions.items())
            for imp, res in items
            if res.in_repo and not res.resolved
        ]

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats()
        return {
            "root": str(self.root),
            "stats": {**asdict(stats), "resolved_share": round(stats.resolved_share, 4)},
            "nodes": [{"id": f, "language": lang} for f, lang in sorted(self.files.items())]
            + [
                {"id": e, "external": True}
                for e in sorted({t for out in self.edges().values() for t in out if t.startswith("external:")})
            ],
            "edges": [
                {"source": s, "target": t, "weight": w}
                for s, out in sorted(self.edges().items())
                for t, w in sorted(out.items())
            ],
            "unresolved": [{"file": f, "line": i.line, "import": i.module} for f, i in self.unresolved()],
        }

    def to_dot(self, externals: bool = False) -> str:
        def q(s: str) -> str:
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = ["digraph imports {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
        for f in sorted(self.files):
            lines.append(f"  {q(f)};")
        ext: set[str] = set()
        for s, out in sorted(self.edges().items()):
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


def _glob_match(rel: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    pattern = pattern.rstrip("/")
    return fnmatchcase(rel, pattern) or fnmatchcase(rel, pattern + "/*") or rel.startswith(pattern + "/")


# --------------------------------------------------------------------------------------------
# definitions


@dataclass(frozen=True)
class Definition:
    """A definition in a file, with the lines of its signature (and docstring) and of its body."""

    name: str
    kind: DefinitionKind | Literal["module"]
    """A definition kind of :mod:`codemill.syntax.definitions`; ``module`` stands for the head
    of a file that defines nothing."""
    start_line: int
    end_line: int
    signature_end: int
    """Last line of the signature and docstring (== end_line when nothing is elided)."""
    parent: str | None = None
    container: bool = False
    """Shown as its header: its members are definitions of their own."""

    @property
    def qualname(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


def definitions(text: str | bytes, language: str, path: str = "") -> list[Definition]:
    """The definitions of a file: top-level functions, classes, types and variables, and the
    members of classes/impls/traits/namespaces, with the line ranges to show at each level of
    detail."""
    grammar = grammar_for_path(path, language) if path else language
    if grammar not in TABLES:
        return []
    tree = syntax.parse(text, grammar)
    if tree is None:
        return []
    out: list[Definition] = []
    _flatten(find_definitions(tree.root_node, grammar), grammar, None, out)
    return out


def _flatten(found: list[Found], grammar: str, parent: str | None, out: list[Definition]) -> None:
    for f in found:
        if f.name is None:
            continue
        start, end = f.start_row + 1, f.end_row + 1
        body = f.body
        if f.container:
            members: list[Definition] = []
            _flatten(f.children, grammar, f.name, members)
            if members:
                sig_end = _header_end(f.node, body, grammar)
                out.append(Definition(f.name, f.kind, start, end, sig_end, parent, container=True))
                out.extend(members)
                continue
            # without member definitions (fields only) a container is shown like a type
        elif f.kind in FUNCTION_KINDS and body is not None:
            sig_end = _header_end(f.node, body, grammar)
            out.append(Definition(f.name, f.kind, start, end, min(sig_end, end), parent))
            continue
        out.append(Definition(f.name, f.kind, start, end, min(end, start + SIGNATURE_MAX_LINES - 1), parent))


def _header_end(node: Any, body: Any, grammar: str) -> int:
    """Last line of the signature: the line before the body starts (or the body's first line
    for a `{` on the header line), extended over a Python docstring."""
    body_first = body.start_point[0]
    if grammar == "python":
        first = body.named_children[0] if body.named_children else None
        if (
            first is not None
            and first.type == "expression_statement"
            and first.named_children
            and first.named_children[0].type == "string"
        ):
            # the docstring, its first lines only when it is long (the signature stays small)
            return min(first.end_point[0] + 1, first.start_point[0] + DOCSTRING_MAX_LINES)
        return max(node.start_point[0] + 1, body_first)  # the line before the body (1-based)
    # brace languages: the header ends on the line the body's `{` opens
    return body_first + 1


# --------------------------------------------------------------------------------------------
# context


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


@dataclass
class _Candidate:
    path: str
    definition: Definition
    score: float
    priority: int = 0
    """2: the best definition of an imported file, 1: another imported name, 0: the rest."""
    level: str = ""
    item: ContextItem | None = None


class ContextBuilder:
    """Builds budgeted context for files of one repository."""

    def __init__(self, graph: ImportGraph, tokenizer: Any = None) -> None:
        self.graph = graph
        if tokenizer is None:
            from codemill.tokenizer.code_tokenizer import CodeTokenizer

            tokenizer = CodeTokenizer.default()
        self.tokenizer = tokenizer
        self._defs: dict[str, list[Definition]] = {}
        self._lines: dict[str, list[str]] = {}

    @classmethod
    def for_repo(cls, root: str | os.PathLike[str], tokenizer: Any = None, **build: Any) -> ContextBuilder:
        return cls(ImportGraph.build(root, **build), tokenizer)

    def count(self, text: str) -> int:
        return int(self.tokenizer.count_tokens(text))

    def definitions(self, rel: str) -> list[Definition]:
        if rel not in self._defs:
            text = self.graph.text(rel) or ""
            self._defs[rel] = definitions(text, self.graph.files.get(rel, "generic"), rel)
        return self._defs[rel]

    def _file_lines(self, rel: str) -> list[str]:
        if rel not in self._lines:
            self._lines[rel] = (self.graph.text(rel) or "").splitlines()
        return self._lines[rel]

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
        ranks = self.graph.rank(seeds)
        ranked = sorted(((f, s) for f, s in ranks.items() if f != rel and s > 0), key=lambda kv: (-kv[1], kv[0]))
        return ranked

    def context(
        self,
        path: str | os.PathLike[str],
        budget: int = 2000,
        *,
        include_self: bool = False,
        extra_seeds: dict[str, float] | None = None,
    ) -> RepoContext:
        """The most relevant definitions of the files related to ``path``, within ``budget``
        tokens (counted with the builder's tokenizer over the rendered text)."""
        if budget < 0:
            raise ValueError(f"budget must be >= 0, got {budget}")
        rel = self.graph.ensure(path)
        ranked = self.related(rel, extra_seeds)
        imported: dict[str, set[str]] = defaultdict(set)  # file -> names imported from it
        direct: set[str] = set()
        for _imp, res in self.graph.resolutions.get(rel, []):
            direct.update(res.files)
            for name, f in res.definitions:
                imported[f].add(name)
                direct.add(f)
        mentioned = _identifiers(self.graph.text(rel) or "")
        files = [f for f, _ in ranked[:MAX_RELATED_FILES]]
        for f in direct:  # every imported file is a candidate, however it ranks
            if f not in files and f != rel:
                files.append(f)
        if include_self:
            files.insert(0, rel)
        rank = dict(ranked)
        top = max(rank.values(), default=1.0)
        if include_self:
            rank[rel] = top * 2
        candidates: list[_Candidate] = []
        own_test = _is_test(rel)
        for f in files:
            r = rank.get(f, 0.0) or top * 0.01
            is_direct = f in direct
            if is_direct:
                r += top  # a directly imported file outranks anything reached by a walk
            elif _is_test(f) and not own_test:
                r *= 0.3  # tests are a hub that many walks reach, rarely what a module needs
            names = imported.get(f, set())
            best: _Candidate | None = None
            for d in self.definitions(f):
                # a method outside any class (Go) is as much the API as a function
                s = r * KIND_WEIGHT["function" if d.parent is None and d.kind == "method" else d.kind]
                wanted = d.name in names and d.parent is None
                if wanted:
                    s *= IMPORTED_BOOST
                elif d.name in mentioned:
                    # `mod.attr` of an imported module is a strong hint; a word that merely
                    # also occurs in a file further away is a weak one
                    s *= MENTIONED_BOOST if is_direct else 1.5
                if d.name.startswith("__") and d.kind == "variable":
                    s *= 0.1  # __all__, __version__: little to learn from
                elif d.name.startswith("_") and not d.name.startswith("__"):
                    s *= 0.5
                c = _Candidate(f, d, s, priority=1 if wanted else 0)
                candidates.append(c)
                if best is None or s > best.score:
                    best = c
            if best is None:
                n = len(self._file_lines(f))
                if n:
                    best = _Candidate(f, Definition("", "module", 1, n, min(n, HEAD_LINES)), r * KIND_WEIGHT["module"])
                    candidates.append(best)
            if best is not None and is_direct:
                best.priority = 2
        return self._pack(rel, budget, candidates, ranked)

    def _pack(
        self, rel: str, budget: int, candidates: list[_Candidate], ranked: list[tuple[str, float]]
    ) -> RepoContext:
        used = 0
        chosen: list[_Candidate] = []
        # Signatures first: 1. the best definition of each imported file (breadth), 2. the other
        # imported names, 3. everything else; by score within each tier.
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


def _is_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(p in ("test", "tests", "testing", "__tests__", "spec") for p in parts[:-1])
        or name.startswith("test_")
        or name.split(".")[0].endswith(("_test", ".test", ".spec", "Test", "Tests"))
    )


def _identifiers(text: str) -> set[str]:
    """Words that may name a definition: identifiers, attribute and type names, also those in
    comments and docstrings (a mention there is a hint too)."""
    return set(_IDENT.findall(text))


_IDENT = re.compile(r"[^\W\d]\w*")
