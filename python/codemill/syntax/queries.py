"""Compiled tree-sitter queries, built once per (grammar, query text) and shared by every caller."""

from __future__ import annotations

import functools
from typing import Any

from codemill.syntax.parsers import language_for


@functools.cache
def compiled(grammar: str, source: str) -> Any | None:
    """The compiled query ``source`` for ``grammar``, or None when the grammar is not installed."""
    lang = language_for(grammar)
    if lang is None:
        return None
    import tree_sitter

    return tree_sitter.Query(lang, source)


def captures(root: Any, grammar: str, source: str) -> dict[str, list[Any]]:
    """capture name -> nodes, for the query ``source`` run over the tree below ``root``."""
    query = compiled(grammar, source)
    if query is None:
        return {}
    import tree_sitter

    found: dict[str, list[Any]] = tree_sitter.QueryCursor(query).captures(root)
    return found
