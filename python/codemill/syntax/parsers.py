"""tree-sitter parsers for the languages codemill chunks and splits at syntax boundaries.

Grammars come from the per-language PyPI packages (``tree-sitter-python`` ...), which ship
compiled grammars: nothing is fetched at run time, so this works air-gapped. Install them with
``pip install 'codemill[syntax]'``. A language without an installed grammar gets ``None`` from
:func:`parser_for`, and callers fall back to line-based handling.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

# language -> (grammar module, function returning the language pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "java": ("tree_sitter_java", "language"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}


@functools.cache
def language_for(language: str) -> Any | None:
    """The tree-sitter ``Language`` for a codemill language name, or None if not installed."""
    spec = GRAMMARS.get(language)
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec[0])
        return tree_sitter.Language(getattr(module, spec[1])())
    except (ImportError, AttributeError, ValueError):
        return None


def parser_for(language: str) -> Any | None:
    """A new tree-sitter ``Parser`` (parsers are not thread-safe), or None without a grammar."""
    lang = language_for(language)
    if lang is None:
        return None
    import tree_sitter

    return tree_sitter.Parser(lang)


def parse(text: str | bytes, language: str) -> Any | None:
    """The syntax tree of ``text``, or None when the language has no installed grammar."""
    parser = parser_for(language)
    if parser is None:
        return None
    return parser.parse(text.encode("utf-8") if isinstance(text, str) else text)


def available_languages() -> list[str]:
    return [lang for lang in GRAMMARS if language_for(lang) is not None]
