"""Code chunks for retrieval: functions, methods and classes from tree-sitter, with fallbacks.

Each definition becomes one chunk with its signature, docstring and the comments or
decorators/attributes right above it. A definition longer than ``max_lines`` is split at the
boundaries of its top-level statements (each part keeps the symbol name). A class chunk holds
what its methods do not (header, docstring, fields); methods are chunks of their own, named
``Class.method``. Top-level code outside any definition is grouped into ``code`` chunks of at
most ``max_lines``. Languages without an installed grammar are cut into line windows.
Whatever the line structure, no chunk holds more than ``MAX_CHUNK_CHARS`` characters: a
longer run of lines is cut at line ends, a longer line (minified code, a data blob) into
pieces that share its line number. Lines are 1-based and inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from codemill.errors import ConfigError
from codemill.syntax.definitions import TABLES, Found, find_definitions
from codemill.syntax.lines import source_lines
from codemill.syntax.parsers import parse_file

DEFAULT_MAX_LINES = 80
# About 2,000 tokens of code: past what embedders read (they truncate), so the bound only
# keeps a one-line 9 MB file from becoming one chunk that no search can rank.
MAX_CHUNK_CHARS = 8192


@dataclass(frozen=True)
class Chunk:
    """A piece of a file for the index: where it is, what it defines, and its text."""

    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str
    """A definition kind of :mod:`codemill.syntax.definitions`, ``code`` (top-level code
    outside definitions) or ``lines`` (a window of a file without a grammar)."""
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Def:
    kind: str
    symbol: str | None
    start: int  # 0-based rows, inclusive
    end: int
    body_rows: list[int]  # rows where the body's top-level statements start (split points)
    children: list[_Def]


def _defs(found: list[Found], prefix: str | None) -> list[_Def]:
    """The chunked definitions: variables join the code around them, and a namespace only
    prefixes the names of what it holds."""
    out: list[_Def] = []
    for f in found:
        symbol = f"{prefix}.{f.name}" if prefix and f.name else (f.name or prefix)
        if f.kind == "namespace":
            out.extend(_defs(f.children, symbol))
            continue
        if f.kind == "variable":
            continue
        body = f.body
        rows = [c.start_point[0] for c in body.named_children] if body is not None else []
        out.append(_Def(f.kind, symbol, f.start_row, f.end_row, rows, _defs(f.children, symbol)))
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
        if len(text) <= MAX_CHUNK_CHARS:
            self.chunks.append(Chunk(self.path, self.language, rows[0] + 1, rows[-1] + 1, symbol, kind, text))
            return
        run: list[int] = []
        size = 0
        for r in rows:
            line = self.lines[r]
            if run and size + len(line) > MAX_CHUNK_CHARS:
                self.emit(run, symbol, kind)
                run, size = [], 0
            if len(line) > MAX_CHUNK_CHARS:
                for i in range(0, len(line), MAX_CHUNK_CHARS):
                    piece = line[i : i + MAX_CHUNK_CHARS]
                    if piece.strip():
                        self.chunks.append(Chunk(self.path, self.language, r + 1, r + 1, symbol, kind, piece))
                continue
            run.append(r)
            size += len(line)
        if run:
            self.emit(run, symbol, kind)

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
        raise ConfigError(f"max_lines must be at least 1, got {max_lines}")
    lines = source_lines(text, keepends=True)
    builder = _Builder(path, language, lines, max_lines)
    grammar, tree = parse_file(text, path, language)
    if grammar not in TABLES:
        tree = None
    if tree is None:
        size = window or max_lines
        for s in range(0, len(lines), size):
            builder.emit(list(range(s, min(s + size, len(lines)))), None, "lines")
        return builder.chunks
    covered: set[int] = set()
    for d in _defs(find_definitions(tree.root_node, grammar), None):
        covered |= builder.definition(d)
    builder.leftover(0, len(lines) - 1, covered, None, "code")
    builder.chunks.sort(key=lambda c: (c.start_line, c.end_line))
    return builder.chunks


def chunk_files(files: Iterable[tuple[str, str, str]], max_lines: int = DEFAULT_MAX_LINES) -> Iterator[Chunk]:
    """Chunks of (path, language, text) triples."""
    for path, language, text in files:
        yield from chunk_text(text, language, path, max_lines)
