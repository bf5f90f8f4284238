"""Reading tree-sitter nodes for import extraction: text, line, a string literal's value."""

from __future__ import annotations

from typing import Any

# captured name -> nodes, as codemill.syntax.queries.captures returns them
Captures = dict[str, list[Any]]


def text(node: Any) -> str:
    return bytes(node.text).decode("utf-8", "replace")


def line(node: Any) -> int:
    return int(node.start_point[0]) + 1


def string_value(node: Any) -> str:
    """The content of a string literal node, quotes removed."""
    t = text(node)
    if len(t) >= 2 and t[0] in "\"'`" and t[-1] == t[0]:
        return t[1:-1]
    return t


def dotted(node: Any) -> str:
    """A dotted or scoped name as written, without the spaces a line break may leave."""
    return text(node).replace(" ", "")
