"""Extraction: the imports of one file, read by its language family's query and extractor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codemill.context.imports import c, go, java, javascript, python, rust
from codemill.context.imports.model import FileImports
from codemill.context.imports.nodes import Captures
from codemill.syntax import queries
from codemill.syntax.parsers import grammar_for_path, parse_file

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


def extract(text: str | bytes, path: str, language: str, parsed: tuple[str, Any | None] | None = None) -> FileImports:
    """The imports of one file (an empty list for a language without a grammar or query).
    ``parsed``: the file's grammar and syntax tree (`parse_file`) when the caller has them."""
    info = FileImports(path, language)
    if parsed is None:
        if grammar_for_path(path, language) not in _EXTRACTORS:
            return info
        parsed = parse_file(text, path, language)
    grammar, tree = parsed
    spec = _EXTRACTORS.get(grammar)
    if spec is None or tree is None:
        return info
    query, extractor = spec
    extractor(tree.root_node, queries.captures(tree.root_node, grammar, query), info)
    info.imports.sort(key=lambda i: i.line)
    return info
