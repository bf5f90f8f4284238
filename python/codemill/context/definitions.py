"""The definitions of a file for context, read from the one syntax table
(:mod:`codemill.syntax.definitions`), with the line ranges shown at each level of detail: the
signature (and docstring), or the whole body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

# The syntax table is imported where definitions are found, not when this module loads: a
# context call on a saved graph reads definitions without parsing anything.
if TYPE_CHECKING:
    from codemill.syntax.definitions import DefinitionKind, Found

SIGNATURE_MAX_LINES = 12
DOCSTRING_MAX_LINES = 6


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
    owner: str | None = None
    """The type a Go method is declared on (its receiver): not its parent, as the method stands
    at the top level of its file, but what a query of ``Cart.Total`` names."""

    @property
    def qualname(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


def definitions(text: str | bytes, language: str, path: str = "") -> list[Definition]:
    """The definitions of a file: top-level functions, classes, types and variables, and the
    members of classes/impls/traits/namespaces, with the line ranges to show at each level of
    detail."""
    from codemill.syntax.definitions import TABLES
    from codemill.syntax.parsers import parse, parse_file

    grammar, tree = parse_file(text, path, language) if path else (language, parse(text, language))
    if grammar not in TABLES or tree is None:
        return []
    return definitions_of_tree(tree.root_node, grammar)


def definitions_of_tree(root: Any, grammar: str) -> list[Definition]:
    """The definitions below ``root`` of a tree parsed with ``grammar``, members after their
    container."""
    from codemill.syntax.definitions import find_definitions

    out: list[Definition] = []
    _flatten(find_definitions(root, grammar), grammar, None, out)
    return out


def _flatten(found: list[Found], grammar: str, parent: str | None, out: list[Definition]) -> None:
    from codemill.syntax.definitions import FUNCTION_KINDS, receiver_type

    for f in found:
        if f.name is None:
            continue
        owner = receiver_type(f.node) if grammar == "go" else None  # (a Go method's type)
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
            out.append(Definition(f.name, f.kind, start, end, min(sig_end, end), parent, owner=owner))
            continue
        out.append(
            Definition(f.name, f.kind, start, end, min(end, start + SIGNATURE_MAX_LINES - 1), parent, owner=owner)
        )


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
