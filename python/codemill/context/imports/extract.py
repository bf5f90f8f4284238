"""Extraction: the imports of one file, read by its language family's query and extractor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codemill.context.imports import c, go, java, javascript, python, rust
from codemill.context.imports.model import FileImports
from codemill.context.imports.nodes import Captures
from codemill.syntax import queries
from codemill.syntax.parsers import grammar_for_path, parse

# Languages whose imports are resolved (the grammar names of codemill.syntax.parsers).
IMPORT_LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp")

Extractor = Callable[[Any, Captures, FileImports], None]

# grammar -> (query, extractor)
_EXTRACTORS: dict[str, tuple[str, Extractor]] = {
    "python": (python.QUERY, python.extract),
    "javascript": (javascript.QUERY, javascript.extract),
    "typescript": (javascript.QUERY, javascript.extract),
    "tsx": (javascript.QUERY, javascript.extract),
    "go": (go.QUERY, go.extract),
    "rust": (rust.QUERY, rust.extract),
    "java": (java.QUERY, java.extract),
    "c": (c.QUERY, c.extract),
    "cpp": (c.QUERY, c.extract),
}


def extract(text: str | bytes, path: str, language: str, tree: Any | None = None) -> FileImports:
    """The imports of one file (an empty list for a language without a grammar or query).
    ``tree``: the file's syntax tree when the caller has parsed it already."""
    grammar = grammar_for_path(path, language)
    info = FileImports(path, language)
    spec = _EXTRACTORS.get(grammar)
    if spec is None:
        return info
    if tree is None:
        tree = parse(text, grammar)
    if tree is None:
        return info
    query, extractor = spec
    extractor(tree.root_node, queries.captures(tree.root_node, grammar, query), info)
    info.imports.sort(key=lambda i: i.line)
    return info
