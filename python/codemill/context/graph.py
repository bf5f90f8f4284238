"""The import graph of a repository: its source files, their imports resolved to files
(:mod:`codemill.context.imports`) and their symbols (:mod:`codemill.context.symbols`), the
imports that leave the repository kept as external nodes; with reports
(:mod:`codemill.context.graph_report`), the joint file+definition ranking of
:mod:`codemill.context.ranking`, the symbol table, and persistence
(:mod:`codemill.context.graph_store`) with incremental updates."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from codemill.context import graph_report, graph_store
from codemill.context.graph_report import GraphStats
from codemill.context.imports import FileImports, Import, Resolution, Resolver, extract
from codemill.context.imports.resolver import has_package_siblings
from codemill.context.ranking import (
    DEFINITION_WEIGHT,
    IMPORT_WEIGHT,
    RankGraph,
    Ranks,
    files_only,
    from_saved,
    out_edges,
    personalized_rank,
    ranking_graph,
    with_out_edges,
)
from codemill.context.symbol_table import SymbolTable
from codemill.context.symbol_table import from_saved as symbols_from_saved
from codemill.context.symbols import Exclusion, FileSymbols, file_symbols
from codemill.errors import CodemillError, GraphFormatError, InputNotFoundError
from codemill.languages import detect_language
from codemill.sources import DEFAULT_MAX_BYTES, Skips, list_documents, load_text, read_file
from codemill.sources.names import printable
from codemill.sources.skips import EMPTY
from codemill.syntax.parsers import parse_file

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "package.json", "go.mod", "Cargo.toml", "pom.xml")


_T = TypeVar("_T")


def _rel(path: str | os.PathLike[str], root: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise CodemillError(f"{path}: not inside the repository {root}") from None


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


RACY_NS = 2_000_000_000
"""Stamps younger than this (2 s) at a scan are not kept."""


@dataclass
class UpdateReport:
    """What an incremental update did."""

    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    seconds: float = 0.0


class ImportGraph:
    """The files of a repository and the imports between them."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.files: dict[str, str] = {}
        self.infos: MutableMapping[str, FileImports] = {}
        self.resolutions: MutableMapping[str, list[tuple[Import, Resolution]]] = {}
        self.skipped: dict[str, str] = {}
        self.symbols: MutableMapping[str, FileSymbols] = {}
        self.exclusions: dict[str, Exclusion] = {}
        """file -> why it is never ranked as a dependency (its symbols say the same; kept apart
        so that a loaded graph answers without parsing every file's symbols)"""
        self.hashes: dict[str, str] = {}
        """file -> sha256 of its text, for incremental updates"""
        self.stamps: dict[str, tuple[int, int]] = {}
        """file -> (mtime in ns, size) when its text was hashed: an update does not read a file
        whose stamp is unchanged"""
        self.configs: dict[str, tuple[tuple[int, int] | None, str] | None] = {}
        """project file the resolvers read or looked for (go.mod, package.json, tsconfig.json,
        Cargo.toml ...) -> (its stamp, sha256 of its text) as first read, None where it gave no
        text: where imports lead depends on them, so an update resolves every import again when
        one is not as it was, though no source file changed"""
        self._configs_mixed = False
        """Whether a resolution read a project file otherwise than `configs` notes it"""
        self.exclude: tuple[str, ...] = ()
        self.languages: frozenset[str] | None = None
        self.max_file_bytes = DEFAULT_MAX_BYTES
        self.seconds = 0.0
        self._texts: dict[str, str] = {}
        # Files whose names are not UTF-8: the graph's key (printable, `codemill.sources.names`)
        # -> the real relative name the file is read by.
        self._real: dict[str, str] = {}
        self._resolver: Resolver | None = None
        self._edges: MutableMapping[str, dict[str, float]] | None = None
        self._rank_graph: RankGraph | None = None
        self._saved_rank: tuple[str, Any, list[str]] | None = None
        """(file, ranking arrays, the files they rank) of a loaded graph, until it changes"""
        self._edited: list[str] = []
        """Files re-read by :meth:`ensure` since the ranking arrays were built or loaded: ranked
        from their new edges over those arrays"""
        self._edited_rank: RankGraph | None = None
        self._files_only: tuple[RankGraph, RankGraph] | None = None
        self._saved_names: tuple[str, Any, list[str]] | None = None
        """(file, symbol table sections, the files they name) of a loaded graph, until it changes"""
        self._symbol_table: SymbolTable | None = None

    @classmethod
    def build(
        cls,
        root: str | os.PathLike[str],
        *,
        exclude: Sequence[str] = (),
        languages: Iterable[str] | None = None,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
    ) -> ImportGraph:
        """Scans ``root`` for source files (skipping hidden, vendored and cache directories and
        the ``exclude`` glob patterns, matched against repository-relative paths) and resolves
        every import."""
        t0 = time.perf_counter()
        graph = cls(root)
        graph.exclude = tuple(exclude)
        graph.languages = frozenset(languages) if languages is not None else None
        graph.max_file_bytes = max_file_bytes
        for rel, lang, text, stamp in graph._scan():
            graph._add(rel, lang, text or "", stamp)
        graph._resolve_all()
        graph.seconds = time.perf_counter() - t0
        return graph

    def _scan(self, trust_stamps: bool = False) -> Iterable[tuple[str, str, str | None, tuple[int, int] | None]]:
        """(path, language, text, stamp) of every source file of the repository, read like
        every command reads a tree (:mod:`codemill.sources`); what is not read is recorded in
        :attr:`skipped` with its reason. An empty file is skipped like everywhere, but still
        yielded with no text: an empty ``__init__.py`` makes a package. With ``trust_stamps``,
        a known file whose stamp is unchanged is not read (text None)."""
        root_path = self.root
        if not root_path.is_dir():
            raise InputNotFoundError(f"{root_path}: no such directory")
        skips = Skips(limit=1 << 62)
        wanted = self.languages
        # A file changed within the clock's granularity of its last stamp could keep the same
        # stamp (git's "racily clean" files): stamps this recent are not kept.
        trusted_before = time.time_ns() - RACY_NS
        for doc in list_documents([root_path], skips, max_bytes=self.max_file_bytes, skip_damaged=True):
            rel = doc.path if doc.record is None else f"{printable(doc.origin)}:{doc.record}"
            if doc.file is not None and doc.record is None and "\\x" in rel:
                with contextlib.suppress(ValueError):
                    self._real[rel] = Path(doc.file).relative_to(root_path).as_posix()
            if any(_glob_match(rel, pat) for pat in self.exclude):
                continue
            if wanted is not None and doc.language not in wanted:
                continue
            stamp = _stamp(doc.file, trusted_before) if doc.file is not None else None
            if (
                trust_stamps
                and stamp is not None
                and self.stamps.get(rel) == stamp
                and self.files.get(rel) == doc.language
            ):
                if stamp[1] == 0:
                    skips.add(doc.where, EMPTY)
                yield rel, doc.language, None, stamp
                continue
            reason = load_text(doc, self.max_file_bytes)
            if reason == EMPTY:
                skips.add(doc.where, reason)
                yield rel, doc.language, "", stamp
            elif reason:
                skips.add(doc.where, reason)
            else:
                yield rel, doc.language, doc.text or "", stamp
        self.skipped = {item["path"]: item["reason"] for item in skips.items}

    def _add(self, rel: str, lang: str, text: str, stamp: tuple[int, int] | None = None) -> FileImports:
        """Parses one file once for its imports and its symbols."""
        grammar, tree = parse_file(text, rel, lang)
        self.files[rel] = lang
        self._texts[rel] = text
        self.hashes[rel] = _digest(text)
        self._set_stamp(rel, stamp)
        self.infos[rel] = info = extract(text, rel, lang, (grammar, tree))
        self.symbols[rel] = sym = file_symbols(text, lang, grammar, tree)
        if sym.excluded is not None:
            self.exclusions[rel] = sym.excluded
        else:
            self.exclusions.pop(rel, None)
        return info

    def update(self) -> UpdateReport:
        """Brings the graph in line with the repository: files whose content changed are parsed
        again, new ones added, deleted ones dropped, and every import resolved again (a new
        file can change where another file's import leads). Equal to a fresh build."""
        t0 = time.perf_counter()
        report = UpdateReport()
        seen: set[str] = set()
        for rel, lang, text, stamp in self._scan(trust_stamps=True):
            seen.add(rel)
            if text is None or (self.files.get(rel) == lang and self.hashes.get(rel) == _digest(text)):
                self._set_stamp(rel, stamp)
                report.unchanged += 1
                continue
            self._add(rel, lang, text, stamp)
            report.changed += 1
        gone = [rel for rel in self.files if rel not in seen]
        for rel in gone:
            for table in (
                self.files,
                self.infos,
                self.symbols,
                self.exclusions,
                self.hashes,
                self.stamps,
                self._texts,
                self.resolutions,
            ):
                # del, not pop: MutableMapping.pop builds a LazyMap's value first, and the
                # resolutions of a file read its infos, gone by then.
                if rel in table:
                    del table[rel]
        report.removed = len(gone)
        report.skipped = len(self.skipped)
        if report.changed or report.removed or self._configs_mixed or self._configs_changed():
            self._resolver = None
            self.resolutions = {}
            self.configs = {}
            self._configs_mixed = False
            self._resolve_all()
        report.seconds = time.perf_counter() - t0
        self.seconds = report.seconds
        return report

    def _set_stamp(self, rel: str, stamp: tuple[int, int] | None) -> None:
        if stamp is None:
            self.stamps.pop(rel, None)
        else:
            self.stamps[rel] = stamp

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the graph to one file (atomically: the old file or the whole new one)."""
        from codemill._io import atomic_write_bytes

        atomic_write_bytes(path, graph_store.dumps(self))

    def dumps(self) -> bytes:
        """The saved form of the graph (what :meth:`save` writes)."""
        return graph_store.dumps(self)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ImportGraph:
        """A graph saved by :meth:`save` (``codemill index`` keeps one as ``graph.json`` in the
        index directory); file texts are read from the repository when needed."""
        p = Path(path)
        try:
            raw = graph_store.read(p)
        except FileNotFoundError:
            raise GraphFormatError(f"{p}: no saved repository graph (build the index again to add one)") from None
        data, body = graph_store.parse(raw, str(p))
        graph = cls(graph_store.root_of(data, str(p)))
        graph_store.restore(graph, data, body, str(p))
        return graph

    # -- construction

    @property
    def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver(self.files, self.infos, self._read_config)
        return self._resolver

    def _read_config(self, rel: str) -> str | None:
        """A project file's text for the resolvers, noted in `configs` as first read: a read
        after an edit (a context call resolving one file) must not hide the edit from the next
        update, as the resolutions made before it saw the file as it was. A read that differs
        from the note marks the graph's resolutions as mixed (`_configs_mixed`): the edit put
        back by then, the note reads the same, but that call's file was resolved with the edit."""
        if rel in self.configs:
            text = self._read_any(rel)
            seen = self.configs[rel]
            if (None if text is None else _digest(text)) != (None if seen is None else seen[1]):
                self._configs_mixed = True
            return text
        stamp = _stamp(os.path.join(self.root, rel), time.time_ns() - RACY_NS)  # before the read
        text = self._read_any(rel)
        self.configs[rel] = None if text is None else (stamp, _digest(text))
        return text

    def _configs_changed(self) -> bool:
        """Whether a project file in `configs` would read otherwise now: a stat each (the
        resolvers look for them in every folder), a read only where the stamp differs. One that
        reads the same gets its stamp as now (as an update keeps a source file's)."""
        trusted_before = time.time_ns() - RACY_NS
        for rel, seen in list(self.configs.items()):
            path = os.path.join(self.root, rel)
            if seen is None:
                if os.path.lexists(path) and self._read_any(rel) is not None:
                    return True
                continue
            stamp, digest = seen
            now = _stamp(path, trusted_before)
            if now is not None and now == stamp:
                continue
            text = self._read_any(rel)
            if text is None or _digest(text) != digest:
                return True
            self.configs[rel] = (now, digest)
        return False

    def _read_any(self, rel: str) -> str | None:
        path = self.root / self._real.get(rel, rel)
        if rel in self._texts:
            stamp = self.disk_stamp(rel)
            # The text read with the graph while the file is as it was then (a server answers
            # for hours: an edited dependency showed its old text), or gone from the disk.
            if (stamp is not None and stamp == self.stamps.get(rel)) or not path.exists():
                return self._texts[rel]
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def disk_stamp(self, rel: str) -> tuple[int, int] | None:
        """A file's (mtime in ns, size) on disk now; None where it cannot show a change (gone,
        or written too recently for its mtime to be trusted)."""
        return _stamp(str(self.root / self._real.get(rel, rel)), time.time_ns() - RACY_NS)

    def _resolve_all(self) -> None:
        resolver = self.resolver
        for rel, info in self.infos.items():
            self.resolutions[rel] = [(imp, resolver.resolve(rel, imp)) for imp in info.imports]
        self._edges = None
        self._forget_rank()

    def text(self, rel: str) -> str | None:
        """The text of a repository file (cached), or None if it cannot be read."""
        return self._read_any(rel)

    def current(self, rel: str) -> bool:
        """Whether a file's saved symbols (their line ranges) are of its text on disk: its stamp
        unchanged since it was read, else the same hash. A file gone keeps its saved state."""
        stamp = self.disk_stamp(rel)
        if stamp is not None and self.stamps.get(rel) == stamp:
            return True
        text = self.text(rel)
        return text is None or self.hashes.get(rel) == _digest(text)

    def ensure(self, path: str | os.PathLike[str]) -> str:
        """The repository-relative path of ``path``, with the graph up to date for it: a file
        that was not scanned (excluded or new) is added, and one that changed since the graph
        was built or saved (the file being edited) is parsed and resolved again. Raises
        CodemillError for a file outside the repository."""
        given = Path(path).as_posix() if not Path(path).is_absolute() else None
        real = given if given is not None and given in self.files else _rel(path, self.root)
        rel = printable(real)  # the graph's key; the file is read by its real name
        if rel != real:
            self._real[rel] = real
        full = self.root / real
        if not full.is_file():
            if rel in self.files:
                return rel  # known, though gone from the disk: its saved state is all there is
            raise InputNotFoundError(f"{path}: no such file")
        stamp = _stamp(str(full), time.time_ns() - RACY_NS)
        if stamp is not None and rel in self.files and self.stamps.get(rel) == stamp:
            return rel  # unchanged since it was read (the rule of update())
        text, reason = read_file(full, self.max_file_bytes)
        if text is None:
            if rel in self.files:
                return rel
            raise CodemillError(f"{path}: cannot read ({reason})")
        if rel in self.files and self.hashes.get(rel) == _digest(text):
            return rel
        lang = detect_language(full, text[:128].encode())
        info = self._add(rel, lang, text)
        self._resolver = None
        self.resolutions[rel] = items = [(imp, self.resolver.resolve(rel, imp)) for imp in info.imports]
        if self._edges is not None:
            self._edges[rel] = _file_edges(rel, items)
        if self._rank_graph is None and self._saved_rank is None:
            self._forget_rank()  # nothing built yet: built with the new state when needed
        else:
            if rel not in self._edited:
                self._edited.append(rel)
            self._edited_rank = None
            self._symbol_table = None
        return rel

    # -- edges

    def set_edges(self, edges: MutableMapping[str, dict[str, float]]) -> None:
        """Edges known already (a loaded graph saves computing them from every resolution)."""
        self._edges = edges
        self._forget_rank()

    def edges(self) -> MutableMapping[str, dict[str, float]]:
        """source file -> {target: weight}; targets are files or ``external:NAME`` nodes."""
        if self._edges is None:
            self._edges = {src: _file_edges(src, items) for src, items in self.resolutions.items()}
        return self._edges

    def package_siblings(self, rel: str) -> list[str]:
        """Files that share a package without importing each other (Go directories, Java packages)."""
        if not has_package_siblings(self.files.get(rel, "")):
            return []
        return self.resolver.package_siblings(rel)

    def imports_of(self, rel: str) -> list[str]:
        """The repository files ``rel`` imports, strongest first."""
        out = self.edges().get(rel, {})
        return [t for t, _ in sorted(out.items(), key=lambda kv: -kv[1]) if not t.startswith("external:")]

    def importers_of(self, rel: str) -> list[str]:
        return sorted(s for s, out in self.edges().items() if rel in out)

    def rank(self, seeds: dict[str, float] | Sequence[str], joint: bool = True) -> dict[str, float]:
        """Personalised PageRank of the files (positive ranks only), the random walk restarting
        at the files ``seeds``: over the joint graph of files and definitions, or (``joint``
        False) over the files alone."""
        weights = dict(seeds) if isinstance(seeds, dict) else dict.fromkeys(seeds, 1.0)
        g = self.rank_graph()
        if not joint:
            if self._files_only is None or self._files_only[0] is not g:
                self._files_only = (g, files_only(g))
            g = self._files_only[1]
        ranks = self.rank_nodes({g.index[f]: w for f, w in weights.items() if f in g.index}, g)
        return ranks.files() if ranks is not None else {}

    def rank_nodes(self, seeds: dict[int, float], g: RankGraph | None = None) -> Ranks | None:
        """Personalised PageRank over the joint file+definition graph of :meth:`rank_graph`
        (or over ``g``), restarting at ``seeds`` (node -> weight); None without a seed."""
        g = g if g is not None else self.rank_graph()
        try:
            return personalized_rank(g, seeds)
        except CodemillError as e:  # the arrays name nodes they do not have
            source = self._saved_rank[0] if self._saved_rank is not None else "ranking graph"
            raise GraphFormatError(f"{source}: corrupt graph: ranking arrays: {e}") from e

    def rank_graph(self) -> RankGraph:
        """The joint ranking graph of files and definitions (:mod:`codemill.context.ranking`):
        the one saved with a loaded graph while nothing changed, else built (once) from the
        graph; files re-read by :meth:`ensure` since then are ranked from their new edges."""
        base = self.base_rank_graph()
        if not self._edited:
            return base
        if self._edited_rank is None:
            g = base
            for rel in self._edited:
                g = with_out_edges(g, rel, out_edges(self, g, rel))
            self._edited_rank = g
        return self._edited_rank

    def base_rank_graph(self) -> RankGraph:
        """The ranking graph as saved or built, without the files edited since."""
        if self._rank_graph is None:
            if self._saved_rank is not None:
                self._rank_graph = _decode_saved(self._saved_rank, from_saved, "ranking arrays")
            else:
                self._rank_graph = ranking_graph(self)
        return self._rank_graph

    def exact_rank_graph(self) -> RankGraph:
        """The ranking graph a fresh build would give (what is saved)."""
        if self._edited:
            self._forget_rank()
        return self.base_rank_graph()

    def set_saved_rank(self, saved: Any, source: str) -> None:
        """Ranking arrays saved with the graph (:func:`codemill.context.ranking.saved_form`),
        read from ``source``, over the graph's files as they are now."""
        self._forget_rank()
        self._saved_rank = (source, saved, sorted(self.files))

    def set_saved_names(self, saved: Any, source: str) -> None:
        """The symbol table saved with the graph (:func:`codemill.context.symbol_table.saved_form`),
        read from ``source``, over the graph's files as they are now."""
        self._symbol_table = None
        self._saved_names = (source, saved, sorted(self.files))

    def symbol_table(self, exact: bool = False) -> SymbolTable:
        """Definition name -> where it is defined: the table saved with a loaded graph while
        nothing changed (or, with ``exact``, while no file was re-read by :meth:`ensure`), else
        built from every file's symbols."""
        if exact and self._edited:
            self._symbol_table = None
        if self._symbol_table is None:
            if self._saved_names is not None and not (exact and self._edited):
                self._symbol_table = _decode_saved(self._saved_names, symbols_from_saved, "symbol table")
            else:
                self._symbol_table = SymbolTable.build(self)
        return self._symbol_table

    def definition_names(self) -> list[str]:
        """Every name some file defines, sorted."""
        return self.symbol_table().names

    def definitions_named(self, name: str) -> list[tuple[str, int, bool]]:
        """(file, position in the file's symbols, whether top-level) of every definition called
        ``name``, files in path order (see :meth:`symbol_table`)."""
        try:
            return self.symbol_table().named(name)
        except ValueError as e:
            source = self._saved_names[0] if self._saved_names is not None else "symbol table"
            raise GraphFormatError(f"{source}: corrupt graph: symbol table: {e}") from e

    def _forget_rank(self) -> None:
        """The graph changed: what was saved or built from it is out of date."""
        self._rank_graph = None
        self._saved_rank = None
        self._edited = []
        self._edited_rank = None
        self._saved_names = None
        self._symbol_table = None

    # -- reports (codemill.context.graph_report)

    def stats(self) -> GraphStats:
        return graph_report.stats(self)

    def unresolved(self) -> list[tuple[str, Import]]:
        """In-repository imports that did not resolve to a file (for diagnosis)."""
        return graph_report.unresolved(self)

    def to_dict(self) -> dict[str, Any]:
        return graph_report.to_dict(self)

    def to_dot(self, externals: bool = False) -> str:
        return graph_report.to_dot(self, externals)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph``: file nodes (``language``) and external nodes (``external=True``);
        edges weighted by the number of imports and imported names."""
        return graph_report.to_networkx(self)


def _decode_saved(saved: tuple[str, Any, list[str]], decode: Callable[[list[str], Any], _T], what: str) -> _T:
    """What ``decode`` makes of a part saved with the graph (``saved``: the file it was read
    from, the saved form, the graph's files); a corrupt part is one GraphFormatError line."""
    source, data, files = saved
    try:
        return decode(files, data)
    except (KeyError, TypeError, ValueError) as e:
        raise GraphFormatError(f"{source}: corrupt graph: {what}: {e}") from e


def _file_edges(src: str, items: list[tuple[Import, Resolution]]) -> dict[str, float]:
    """The out-edges of one file: imported files and defining files, external nodes."""
    out: dict[str, float] = {}
    for _imp, res in items:
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
    return out


def _stamp(path: str, trusted_before: int) -> tuple[int, int] | None:
    """(mtime in ns, size) of a file, or None where it cannot be trusted to show a change."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st.st_mtime_ns < trusted_before else None


def _digest(text: str) -> str:
    import hashlib  # here: a context call on an unchanged file hashes nothing

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _glob_match(rel: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    pattern = pattern.rstrip("/")
    return fnmatchcase(rel, pattern) or fnmatchcase(rel, pattern + "/*") or rel.startswith(pattern + "/")
