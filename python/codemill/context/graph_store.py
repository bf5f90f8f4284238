"""The persistent form of an import graph: one JSON document (``graph.json``, kept in the index
directory by ``codemill index``) holding every file's language, content hash, imports,
symbols and resolutions, so that a context call loads it instead of parsing the repository."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from codemill.context.definitions import Definition
from codemill.context.imports import FileImports, Import, Resolution
from codemill.context.symbols import FileSymbols
from codemill.errors import GraphFormatError

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph

V = TypeVar("V")

FORMAT = "codemill-graph/1"
GRAPH_FILE = "graph.json"


def _import(i: Import) -> list[Any]:
    return [i.module, i.line, [list(n) for n in i.names], i.level, i.alias, i.kind, list(i.scope)]


def _definition(d: Definition) -> list[Any]:
    return [d.name, d.kind, d.start_line, d.end_line, d.signature_end, d.parent, d.container]


def _resolution(r: Resolution) -> list[Any]:
    return [list(r.files), [list(d) for d in r.definitions], r.external, r.in_repo]


def dump(graph: ImportGraph) -> dict[str, Any]:
    """The JSON document of a graph."""
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
            "excluded": sym.excluded,
            "resolutions": [_resolution(r) for _, r in graph.resolutions.get(rel, [])],
        }
        # Each file's detail is a JSON string of its own: loading parses it only when the file
        # is read, so that a context call does not pay for the whole repository.
        files[rel] = {"language": lang, "hash": graph.hashes.get(rel), "detail": _compact(detail)}
    return {
        "format": FORMAT,
        "root": str(graph.root.resolve()),
        "exclude": list(graph.exclude),
        "languages": sorted(graph.languages) if graph.languages is not None else None,
        "skipped": dict(sorted(graph.skipped.items())),
        "files": files,
        "edges": graph.edges(),
    }


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def dumps(graph: ImportGraph) -> bytes:
    return _compact(dump(graph)).encode("utf-8")


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

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _detail(rel: str, raw: str) -> dict[str, Any]:
    detail = json.loads(raw)
    if len(detail["imports"]) != len(detail["resolutions"]):
        raise ValueError(f"{rel}: {len(detail['imports'])} imports but {len(detail['resolutions'])} resolutions")
    return dict(detail)


def _file_imports(rel: str, language: str, f: dict[str, Any]) -> FileImports:
    imports = [
        Import(m, line, tuple((a, b) for a, b in names), level, alias, kind, tuple(scope))
        for m, line, names, level, alias, kind, scope in f["imports"]
    ]
    return FileImports(rel, language, imports, frozenset(f["defines"]), f["package"], tuple(f["types"]), f["mod_paths"])


def _file_symbols(f: dict[str, Any]) -> FileSymbols:
    refs = f["references"]
    return FileSymbols(tuple(Definition(*d) for d in f["definitions"]), frozenset(refs.split()), f["excluded"])


def restore(graph: ImportGraph, data: Any, source: str) -> None:
    """Fills an empty graph from a JSON document (``source`` names it in errors); each file's
    imports, symbols and resolutions are built when first read."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise GraphFormatError(f"{source}: graph format {found!r} is not supported (expected {FORMAT!r})")
    try:
        graph.exclude = tuple(data["exclude"])
        graph.languages = frozenset(data["languages"]) if data["languages"] is not None else None
        graph.skipped = dict(data["skipped"])
        files: dict[str, Any] = data["files"]
        edges = data["edges"]
        for rel, f in files.items():
            graph.files[rel] = f["language"]
            if f["hash"] is not None:
                graph.hashes[rel] = f["hash"]
            if not isinstance(f["detail"], str):
                raise TypeError(f"{rel}: no detail")
        if not isinstance(edges, dict):
            raise TypeError("edges is not an object")
    except (KeyError, TypeError, ValueError) as e:
        raise GraphFormatError(f"{source}: corrupt graph: {type(e).__name__}: {e}") from e
    details = LazyMap({rel: f["detail"] for rel, f in files.items()}, _detail, source)
    infos = LazyMap(dict(files), lambda rel, f: _file_imports(rel, f["language"], details[rel]), source)

    def resolutions(rel: str, f: dict[str, Any]) -> list[tuple[Import, Resolution]]:
        found = [
            Resolution(tuple(targets), tuple((a, b) for a, b in defs), external, in_repo)
            for targets, defs, external, in_repo in details[rel]["resolutions"]
        ]
        return list(zip(infos[rel].imports, found, strict=True))

    graph.infos = infos
    graph.symbols = LazyMap(dict(files), lambda rel, f: _file_symbols(details[rel]), source)
    graph.resolutions = LazyMap(dict(files), resolutions, source)
    graph.set_edges(edges)


def parse(raw: bytes, source: str) -> Any:
    """The JSON document of a saved graph (``source`` names it in errors)."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GraphFormatError(f"{source}: corrupt graph: {e}") from e


def root_of(data: Any, source: str) -> str:
    """The repository root a saved graph was built from."""
    root = data.get("root") if isinstance(data, dict) else None
    if not isinstance(root, str):
        raise GraphFormatError(f"{source}: corrupt graph: no repository root")
    return root
