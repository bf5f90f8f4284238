"""A file parsed for samples, and its boundaries: statements and definitions that sit directly
in a block-like container, so that a split never lands inside a for-header, a parameter list or
an expression."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from codemill.syntax import queries
from codemill.syntax.definitions import function_node_kinds
from codemill.syntax.parsers import first_error_byte, language_for

# Containers whose children are statements or definitions: a boundary must sit in one.
_CONTAINER = re.compile(
    r"^(module|program|source_file|translation_unit|block|statement_block|compound_statement|"
    r"declaration_list|field_declaration_list|class_body|interface_body|enum_body|"
    r"enum_body_declarations|constructor_body|switch_block_statement_group|switch_case|"
    r"switch_default|statement_list|expression_case|default_case|type_case|communication_case|"
    r"case_statement|preproc_if|preproc_ifdef|preproc_else|preproc_elif|preproc_elifdef|"
    r"namespace_definition|linkage_specification|labeled_statement)$"
)
STATEMENT = re.compile(r"(_statement|_definition|_declaration|_item|^declaration)$")
NOT_STATEMENT = frozenset(
    {
        "with_item",
        "attribute_item",
        "inner_attribute_item",
        "compound_statement",
        "parameter_declaration",
        "optional_parameter_declaration",
        "variadic_parameter_declaration",
        "type_parameter_declaration",
        "optional_type_parameter_declaration",
        "variadic_type_parameter_declaration",
        "template_template_parameter_declaration",
        "init_statement",
        "empty_statement",
        "attribute_declaration",
    }
)


def is_statement(kind: str) -> bool:
    return bool(STATEMENT.search(kind)) and kind not in NOT_STATEMENT


@functools.cache
def _query_source(grammar: str) -> str | None:
    """The query text for a grammar: every statement kind (@s) and function kind (@f)."""
    lang = language_for(grammar)
    if lang is None:
        return None
    kinds = {
        lang.node_kind_for_id(i)
        for i in range(lang.node_kind_count)
        if lang.node_kind_is_named(i) and lang.node_kind_is_visible(i)
    }
    stmts = sorted(k for k in kinds if is_statement(k))
    funcs = [k for k in function_node_kinds(grammar) if k in kinds]
    source = "[" + " ".join(f"({k})" for k in stmts) + "] @s"
    if funcs:
        source += "\n[" + " ".join(f"({k})" for k in funcs) + "] @f"
    return source


def captures(root: Any, grammar: str) -> tuple[list[Any], list[Any]]:
    """(statement nodes, function nodes) of a tree, each in document order (one tree walk)."""
    source = _query_source(grammar)
    if source is None:
        return [], []
    found = queries.captures(root, grammar, source)
    out = []
    for name in ("s", "f"):
        nodes = found.get(name, [])
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
        out.append(nodes)
    return out[0], out[1]


def statement_nodes(root: Any, language: str) -> list[Any]:
    """Statement/definition nodes that sit directly in a block-like container, in order.

    Nodes at or after the first syntax error are left out: boundaries past an error are guesses.
    """
    return boundary_nodes(captures(root, language)[0], first_error_byte(root))


def boundary_nodes(nodes: list[Any], limit: int | None) -> list[Any]:
    out = []
    for node in nodes:
        if limit is not None and node.end_byte > limit:
            continue
        parent = node.parent
        if parent is None or node.has_error:
            continue
        if parent.parent is None or _CONTAINER.match(parent.type):
            out.append(node)
    return out


@dataclass
class SourceFile:
    """One file being cut into samples: its text, bytes and (once parsed) boundaries."""

    text: str
    data: bytes
    grammar: str
    path: str
    repository: str
    tree: Any = None
    error_at: int | None = None  # first syntax error's byte
    stmts: list[Any] = field(default_factory=list)
    funcs: list[Any] = field(default_factory=list)
    # byte offset -> char offset, built on demand
    _char_of: dict[int, int] = field(default_factory=dict)

    def chars(self, byte: int) -> int:
        got = self._char_of.get(byte)
        if got is None:
            got = len(self.data[:byte].decode("utf-8"))
            self._char_of[byte] = got
        return got

    def slice(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8")


def line_end_after(data: bytes, pos: int) -> int:
    """``pos`` moved past trailing spaces and one newline when the rest of the line is blank."""
    i = pos
    n = len(data)
    while i < n and data[i] in b" \t":
        i += 1
    if i < n and data[i] == 10:
        return i + 1
    if i == n:
        return n
    return pos


def next_line(data: bytes, pos: int) -> int:
    """The start of the line after the one holding ``pos`` (``len(data)`` on the last line);
    ``pos`` itself where it already starts a line."""
    if pos > 0 and data[pos - 1] == 10:
        return pos
    i = data.find(b"\n", pos)
    return len(data) if i < 0 else i + 1


def line_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\n", 0, pos) + 1
