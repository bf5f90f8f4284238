"""Code chunks for retrieval: functions, methods and classes from tree-sitter, with fallbacks.

Each definition becomes one chunk with its signature, docstring and the comments or
decorators/attributes right above it. A definition longer than ``max_lines`` is split at the
boundaries of its top-level statements (each part keeps the symbol name). A class chunk holds
what its methods do not (header, docstring, fields); methods are chunks of their own, named
``Class.method``. Top-level code outside any definition is grouped into ``code`` chunks of at
most ``max_lines``. Languages without an installed grammar are cut into line windows.
Lines are 1-based and inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from codemill.syntax import parsers as syntax

DEFAULT_MAX_LINES = 80

# node type -> chunk kind, per language. "@wrap" nodes are looked through (export, template,
# decorators); "@container" nodes only hold definitions (namespaces).
_COMMON_JS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "abstract_class_declaration": "class",
    "method_definition": "method",
    "export_statement": "@wrap",
}
_DEFS: dict[str, dict[str, str]] = {
    "python": {
        "function_definition": "function",
        "class_definition": "class",
        "decorated_definition": "@wrap",
    },
    "javascript": _COMMON_JS,
    "typescript": {**_COMMON_JS, "interface_declaration": "interface", "enum_declaration": "enum"},
    "tsx": {**_COMMON_JS, "interface_declaration": "interface", "enum_declaration": "enum"},
    "java": {
        "class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "class",
        "method_declaration": "method",
        "constructor_declaration": "method",
    },
    "go": {"function_declaration": "function", "method_declaration": "method", "type_declaration": "type"},
    "rust": {
        "function_item": "function",
        "impl_item": "impl",
        "trait_item": "trait",
        "struct_item": "struct",
        "enum_item": "enum",
        "mod_item": "@container",
    },
    "c": {"function_definition": "function"},
    "cpp": {
        "function_definition": "function",
        "class_specifier": "class",
        "struct_specifier": "class",
        "namespace_definition": "@container",
        "template_declaration": "@wrap",
    },
}
# Kinds whose body holds methods.
_CLASS_KINDS = frozenset({"class", "interface", "impl", "trait", "enum"})
# Siblings right above a definition that belong to it.
_LEADING = frozenset({"comment", "line_comment", "block_comment", "attribute_item", "decorator"})
_NAME_TYPES = frozenset(
    {"identifier", "field_identifier", "type_identifier", "qualified_identifier", "destructor_name", "operator_name"}
)


@dataclass(frozen=True)
class Chunk:
    """A piece of a file for the index: where it is, what it defines, and its text."""

    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _end_row(node: Any) -> int:
    # A node ending at column 0 ends on the line before.
    row: int = node.end_point[0]
    if node.end_point[1] == 0 and row > node.start_point[0]:
        row -= 1
    return row


def _name(node: Any, src: bytes) -> str | None:
    name = node.child_by_field_name("name")
    if name is not None:
        return src[name.start_byte : name.end_byte].decode("utf-8", "replace")
    if node.type == "impl_item":
        ty = node.child_by_field_name("type")
        trait = node.child_by_field_name("trait")
        if ty is not None:
            t = src[ty.start_byte : ty.end_byte].decode("utf-8", "replace")
            if trait is not None:
                return f"{src[trait.start_byte : trait.end_byte].decode('utf-8', 'replace')} for {t}"
            return t
    if node.type == "type_declaration":
        for child in node.named_children:
            if child.type in ("type_spec", "type_alias"):
                return _name(child, src)
    # C/C++ functions: the name sits at the bottom of a declarator chain.
    decl = node.child_by_field_name("declarator")
    while decl is not None:
        if decl.type in _NAME_TYPES:
            return src[decl.start_byte : decl.end_byte].decode("utf-8", "replace")
        decl = decl.child_by_field_name("declarator") or next(
            (c for c in decl.named_children if c.type in _NAME_TYPES), None
        )
    return None


@dataclass
class _Def:
    node: Any
    kind: str
    symbol: str | None
    start: int  # 0-based rows, inclusive
    end: int
    body_rows: list[int]  # rows where the body's top-level statements start (split points)
    children: list[_Def]


def _collect(node: Any, lang: str, src: bytes, prefix: str | None, in_class: bool) -> list[_Def]:
    """Definitions among the children of ``node`` (recursing into classes and containers)."""
    table = _DEFS[lang]
    out: list[_Def] = []
    pending_start: int | None = None
    prev_end = -2
    for child in node.named_children:
        kind = table.get(child.type)
        if child.type in _LEADING:
            if pending_start is None or child.start_point[0] > prev_end + 1:
                pending_start = child.start_point[0]
            prev_end = _end_row(child)
            continue
        lead = pending_start if pending_start is not None and child.start_point[0] <= prev_end + 1 else None
        pending_start = None
        if kind is None:
            continue
        if kind in ("@wrap", "@container"):
            target = child.child_by_field_name("body") if kind == "@container" else child
            if target is None:
                continue
            sub_prefix = prefix
            if kind == "@container":
                nm = _name(child, src)
                sub_prefix = f"{prefix}.{nm}" if prefix and nm else (nm or prefix)
            found = _collect(target, lang, src, sub_prefix, in_class)
            if found and kind == "@wrap":
                # The wrapper's own lines (decorators, `export`, `template<...>`) and comments
                # above it belong to the first definition inside it.
                found[0].start = min(found[0].start, child.start_point[0], lead if lead is not None else 1 << 30)
                found[-1].end = max(found[-1].end, _end_row(child))
            out.extend(found)
            continue
        name = _name(child, src)
        symbol = f"{prefix}.{name}" if prefix and name else (name or prefix)
        if kind == "function" and in_class:
            kind = "method"
        body = child.child_by_field_name("body")
        start = child.start_point[0] if lead is None else lead
        d = _Def(child, kind, symbol, start, _end_row(child), [], [])
        if body is not None:
            d.body_rows = [c.start_point[0] for c in body.named_children]
            if kind in _CLASS_KINDS:
                d.children = _collect(body, lang, src, symbol, True)
        out.append(d)
    return out


def _segments(start: int, end: int, cuts: list[int], max_lines: int) -> list[tuple[int, int]]:
    """[start, end] split at rows in ``cuts`` into runs of at most ``max_lines`` (where possible),
    then any run still too long cut into windows."""
    points = sorted({c for c in cuts if start < c <= end})
    out: list[tuple[int, int]] = []
    seg_start = start
    last_cut = start
    for c in [*points, end + 1]:
        if c - seg_start > max_lines and last_cut > seg_start:
            out.append((seg_start, last_cut - 1))
            seg_start = last_cut
        last_cut = c
    out.append((seg_start, end))
    windows: list[tuple[int, int]] = []
    for s, e in out:
        while e - s + 1 > max_lines:
            windows.append((s, s + max_lines - 1))
            s += max_lines
        windows.append((s, e))
    return windows


class _Builder:
    def __init__(self, path: str, language: str, lines: list[str], max_lines: int) -> None:
        self.path, self.language, self.lines, self.max_lines = path, language, lines, max_lines
        self.chunks: list[Chunk] = []

    def emit(self, rows: list[int], symbol: str | None, kind: str) -> None:
        rows = [r for r in rows if r < len(self.lines)]
        text = "".join(self.lines[r] for r in rows)
        if not text.strip():
            return
        self.chunks.append(Chunk(self.path, self.language, rows[0] + 1, rows[-1] + 1, symbol, kind, text))

    def leftover(self, start: int, end: int, covered: set[int], symbol: str | None, kind: str) -> None:
        """Rows of [start, end] outside ``covered``: one chunk for a class, runs for a module."""
        free = [r for r in range(start, end + 1) if r not in covered]
        if kind != "code":
            if free:
                for s, e in _segments(0, len(free) - 1, [], self.max_lines):
                    self.emit(free[s : e + 1], symbol, kind)
            return
        run: list[int] = []
        for r in [*free, -1]:
            if run and (r != run[-1] + 1 or len(run) >= self.max_lines):
                self.emit(run, None, "code")
                run = []
            if r >= 0:
                run.append(r)

    def definition(self, d: _Def) -> set[int]:
        rows = set(range(d.start, d.end + 1))
        if d.children:
            covered: set[int] = set()
            for c in d.children:
                covered |= self.definition(c)
            self.leftover(d.start, d.end, covered, d.symbol, d.kind)
        else:
            for s, e in _segments(d.start, d.end, d.body_rows, self.max_lines):
                self.emit(list(range(s, e + 1)), d.symbol, d.kind)
        return rows


def chunk_text(
    text: str, language: str, path: str = "", max_lines: int = DEFAULT_MAX_LINES, window: int | None = None
) -> list[Chunk]:
    """Chunks of one file's text, in file order of their first line."""
    if max_lines < 1:
        raise ValueError(f"max_lines must be at least 1, got {max_lines}")
    lines = text.splitlines(keepends=True)
    builder = _Builder(path, language, lines, max_lines)
    tree = syntax.parse(text, language) if language in _DEFS else None
    if tree is None:
        size = window or max_lines
        for s in range(0, len(lines), size):
            builder.emit(list(range(s, min(s + size, len(lines)))), None, "lines")
        return builder.chunks
    src = text.encode("utf-8")
    covered: set[int] = set()
    for d in _collect(tree.root_node, language, src, None, False):
        covered |= builder.definition(d)
    builder.leftover(0, len(lines) - 1, covered, None, "code")
    builder.chunks.sort(key=lambda c: (c.start_line, c.end_line))
    return builder.chunks


def chunk_files(files: Iterable[tuple[str, str, str]], max_lines: int = DEFAULT_MAX_LINES) -> Iterator[Chunk]:
    """Chunks of (path, language, text) triples."""
    for path, language, text in files:
        yield from chunk_text(text, language, path, max_lines)
