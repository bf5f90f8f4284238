"""The persistent form of an import graph (``graph.json``, kept in the index directory by
``codemill index``), so that a context call loads it instead of parsing the repository.

One file: a line of JSON (the header: format, root, every file's language, content hash, stamp
(mtime, size) and where its detail and its edges lie, and where the ranking arrays lie)
followed by each file's detail (imports, symbols, resolutions) and edges as compact JSON, back
to back, then the ranking arrays as raw little-endian bytes, then the symbol table (definition
name -> where) that ``codemill search`` reads. Loading maps the file and parses the header
only; a file's detail and edges are parsed when first read, and the ranking arrays are handed to
the native ranking as they lie in the file until the graph changes. JSON and plain numbers,
safe to load from anywhere."""

from __future__ import annotations

import json
import mmap
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from codemill.context import symbol_table
from codemill.context.definitions import Definition
from codemill.context.imports import FileImports, Import, Resolution
from codemill.context.ranking import saved_form
from codemill.context.symbols import EXCLUSIONS, FileSymbols
from codemill.errors import GraphFormatError

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph

V = TypeVar("V")
Body = bytes | memoryview
"""The details of a saved graph: a view into the mapped file."""

# /5: a Go method's receiver is noted as its owner (`Cart.Total`), and the project files the
# resolvers read are noted: an older graph is built again (a /4 one, of a build in between,
# made the receiver the method's parent, which dropped Go methods out of context).
FORMAT = "codemill-graph/5"
GRAPH_FILE = "graph.json"


def _import(i: Import) -> list[Any]:
    return [i.module, i.line, [list(n) for n in i.names], i.level, i.alias, i.kind, list(i.scope)]


def _definition(d: Definition) -> list[Any]:
    return [d.name, d.kind, d.start_line, d.end_line, d.signature_end, d.parent, d.container, d.owner]


def _resolution(r: Resolution) -> list[Any]:
    return [list(r.files), [list(d) for d in r.definitions], r.external, r.in_repo]


def dump(graph: ImportGraph) -> dict[str, Any]:
    """The content of a saved graph, each file's detail as a JSON string and the ranking arrays
    as bytes (:func:`dumps` moves both out of the header)."""
    files = {}
    for rel, lang in sorted(graph.files.items()):
        info = graph.infos[rel]
        sym = graph.symbols.get(rel, FileSymbols())
        detail = {
            "imports": [_import(i) for i in info.imports],
            "defines": sorted(info.defines),
            "package": info.package,
            "types": list(info.types),
            "mod_paths": info.mod_paths,
            "definitions": [_definition(d) for d in sym.definitions],
            "references": " ".join(sorted(sym.references)),
            "resolutions": [_resolution(r) for _, r in graph.resolutions.get(rel, [])],
        }
        stamp = graph.stamps.get(rel)
        files[rel] = {
            "language": lang,
            "excluded": sym.excluded,
            "hash": graph.hashes.get(rel),
            "stamp": list(stamp) if stamp is not None else None,
            "detail": _compact(detail),
        }
    return {
        "format": FORMAT,
        "root": str(graph.root.resolve()),
        "exclude": list(graph.exclude),
        "languages": sorted(graph.languages) if graph.languages is not None else None,
        "skipped": dict(sorted(graph.skipped.items())),
        "configs": {rel: _config(seen) for rel, seen in sorted(graph.configs.items())},
        "files": files,
        "edges": {src: dict(out) for src, out in sorted(graph.edges().items())},
        "rank": saved_form(graph.exact_rank_graph()),
        "names": symbol_table.saved_form(graph.symbol_table(exact=True)),
    }


def _config(seen: tuple[tuple[int, int] | None, str] | None) -> list[Any] | None:
    """A project file as `ImportGraph.configs` notes it, saved: [stamp or null, digest] or null."""
    if seen is None:
        return None
    stamp, digest = seen
    return [list(stamp) if stamp is not None else None, digest]


def _stamp_of(saved: Any) -> tuple[int, int] | None:
    """A saved [mtime in ns, size] as a stamp (null: none)."""
    if saved is None:
        return None
    mtime, size = saved
    return (int(mtime), int(size))


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def dumps(graph: ImportGraph) -> bytes:
    """The saved form: the header line, then the details it points into (``[offset, length]``
    in bytes after the header line)."""
    doc = dump(graph)
    details = []
    offset = 0
    for f in doc["files"].values():
        detail = f["detail"].encode("utf-8")
        f["detail"] = [offset, len(detail)]
        details.append(detail)
        offset += len(detail)
    for src, out in doc["edges"].items():
        raw = _compact(out).encode("utf-8")
        doc["edges"][src] = [offset, len(raw)]
        details.append(raw)
        offset += len(raw)
    for key, raw in doc["rank"].items():
        doc["rank"][key] = [offset, len(raw)]
        details.append(raw)
        offset += len(raw)
    for key, raw in doc["names"].items():
        doc["names"][key] = [offset, len(raw)]
        details.append(raw)
        offset += len(raw)
    # Compact JSON escapes every newline, so the header is exactly the first line.
    return _compact(doc).encode("utf-8") + b"\n" + b"".join(details)


class LazyMap(MutableMapping[str, V]):
    """A mapping whose values are built from their saved form on first access: a context call
    reads a few files' symbols, not the whole repository's."""

    def __init__(self, raw: dict[str, Any], build: Callable[[str, Any], V], source: str) -> None:
        self._raw = raw
        self._build = build
        self._source = source
        self._built: dict[str, V] = {}

    def __getitem__(self, key: str) -> V:
        if key in self._built:
            return self._built[key]
        saved = self._raw[key]
        try:
            value = self._build(key, saved)
        except (KeyError, TypeError, ValueError) as e:
            raise GraphFormatError(f"{self._source}: corrupt graph at {key}: {type(e).__name__}: {e}") from e
        self._built[key] = value
        return value

    def __setitem__(self, key: str, value: V) -> None:
        self._raw[key] = None
        self._built[key] = value

    def __delitem__(self, key: str) -> None:
        del self._raw[key]
        self._built.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._raw  # Mapping's would build the value

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _detail(rel: str, raw: bytes) -> dict[str, Any]:
    detail = json.loads(raw)
    if len(detail["imports"]) != len(detail["resolutions"]):
        raise ValueError(f"{rel}: {len(detail['imports'])} imports but {len(detail['resolutions'])} resolutions")
    return dict(detail)


def _edges(raw: bytes) -> dict[str, float]:
    out = json.loads(raw)
    if not isinstance(out, dict) or not all(isinstance(w, (int, float)) for w in out.values()):
        raise TypeError("edges are not target -> weight")
    return {t: float(w) for t, w in out.items()}


def _file_imports(rel: str, language: str, f: dict[str, Any]) -> FileImports:
    imports = [
        Import(m, line, tuple((a, b) for a, b in names), level, alias, kind, tuple(scope))
        for m, line, names, level, alias, kind, scope in f["imports"]
    ]
    return FileImports(rel, language, imports, frozenset(f["defines"]), f["package"], tuple(f["types"]), f["mod_paths"])


def _file_symbols(f: dict[str, Any], excluded: Any) -> FileSymbols:
    refs = f["references"]
    if excluded not in EXCLUSIONS:
        raise ValueError(f"unknown exclusion {excluded!r}")
    return FileSymbols(tuple(Definition(*d) for d in f["definitions"]), frozenset(refs.split()), excluded)


def _within(span: Any, body: Body) -> bool:
    """Whether a saved ``[offset, length]`` lies inside the details."""
    offset, length = span
    return isinstance(offset, int) and isinstance(length, int) and 0 <= offset <= offset + length <= len(body)


def restore(graph: ImportGraph, data: Any, body: Body, source: str) -> None:
    """Fills an empty graph from a saved header and the details after it (``source`` names the
    file in errors); each file's imports, symbols and resolutions are built when first read."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise GraphFormatError(
            f"{source}: graph format {found!r} is not supported (expected {FORMAT!r}); "
            "run `codemill index` on the repository again to build it anew"
        )
    try:
        graph.exclude = tuple(data["exclude"])
        graph.languages = frozenset(data["languages"]) if data["languages"] is not None else None
        graph.skipped = dict(data["skipped"])
        for rel, seen in dict(data["configs"]).items():
            graph.configs[rel] = None if seen is None else (_stamp_of(seen[0]), str(seen[1]))
        files: dict[str, Any] = data["files"]
        edges = data["edges"]
        for rel, f in files.items():
            graph.files[rel] = f["language"]
            if f["excluded"] is not None:
                graph.exclusions[rel] = f["excluded"]
            if f["hash"] is not None:
                graph.hashes[rel] = f["hash"]
            stamp = _stamp_of(f["stamp"])
            if stamp is not None:
                graph.stamps[rel] = stamp
            if not _within(f["detail"], body):
                raise ValueError(f"{rel}: detail at {f['detail']} is outside the file")
        if not isinstance(edges, dict):
            raise TypeError("edges is not an object")
        for src, span in edges.items():
            if not _within(span, body):
                raise ValueError(f"{src}: edges at {span} are outside the file")
        rank = {}
        for key, span in data["rank"].items():
            if not _within(span, body):
                raise ValueError(f"ranking array {key} at {span} is outside the file")
            rank[key] = bytes(body[span[0] : span[0] + span[1]])
        names = {}
        for key, span in data["names"].items():
            if not _within(span, body):
                raise ValueError(f"symbol table {key} at {span} is outside the file")
            names[key] = bytes(body[span[0] : span[0] + span[1]])
    except (KeyError, TypeError, ValueError) as e:
        raise GraphFormatError(f"{source}: corrupt graph: {type(e).__name__}: {e}") from e
    spans = {rel: f["detail"] for rel, f in files.items()}
    details = LazyMap(spans, lambda rel, span: _detail(rel, bytes(body[span[0] : span[0] + span[1]])), source)
    infos = LazyMap(dict(files), lambda rel, f: _file_imports(rel, f["language"], details[rel]), source)

    def resolutions(rel: str, f: dict[str, Any]) -> list[tuple[Import, Resolution]]:
        found = [
            Resolution(tuple(targets), tuple((a, b) for a, b in defs), external, in_repo)
            for targets, defs, external, in_repo in details[rel]["resolutions"]
        ]
        return list(zip(infos[rel].imports, found, strict=True))

    graph.infos = infos
    graph.symbols = LazyMap(dict(files), lambda rel, f: _file_symbols(details[rel], f["excluded"]), source)
    graph.resolutions = LazyMap(dict(files), resolutions, source)
    graph.set_edges(LazyMap(dict(edges), lambda rel, span: _edges(bytes(body[span[0] : span[0] + span[1]])), source))
    graph.set_saved_rank(rank, source)
    graph.set_saved_names(names, source)


def parse(raw: bytes | mmap.mmap, source: str) -> tuple[Any, Body]:
    """The header of a saved graph and the details that follow it, a view into ``raw`` (not a
    copy); ``source`` names the file in errors."""
    end = raw.find(b"\n")
    end = len(raw) if end < 0 else end
    try:
        return json.loads(raw[:end]), memoryview(raw)[end + 1 :]
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GraphFormatError(f"{source}: corrupt graph: {e}") from e


def read(path: Path) -> bytes | mmap.mmap:
    """The bytes of a saved graph, mapped rather than read where the system allows: a context
    call reads the header and a few files' details of a file of several megabytes."""
    with open(path, "rb") as fh:
        try:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty, or a file that cannot be mapped
            return fh.read()


def root_of(data: Any, source: str) -> str:
    """The repository root a saved graph was built from."""
    root = data.get("root") if isinstance(data, dict) else None
    if not isinstance(root, str):
        raise GraphFormatError(f"{source}: corrupt graph: no repository root")
    return root
