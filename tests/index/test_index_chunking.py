"""Chunk boundaries on each supported language (fixtures) and the fallbacks."""

from __future__ import annotations

import pytest
from codemill.index.chunking import chunk_text
from conftest import FIXTURES

LANGS = {
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "java": "java",
    "go": "go",
    "rs": "rust",
    "c": "c",
    "cpp": "cpp",
}

# (language, symbol, kind, first line, last line) that each fixture must yield.
EXPECTED = [
    ("python", "Parser", "class", 12, 20),
    ("python", "Parser.__init__", "method", 17, 19),
    ("python", "Parser.parse", "method", 21, 29),
    ("javascript", "resolveId", "function", 4, 12),
    ("typescript", "User", "interface", 3, 3),
    ("typescript", "loadUsers", "function", 5, 10),
    ("java", "RecentItems", "class", 6, 26),
    ("java", "RecentItems.add", "method", 13, 22),
    ("java", "RecentItems.toString", "method", 24, 25),
    ("go", "Greeter", "type", 8, 11),
    ("go", "Greet", "method", 13, 23),
    ("rust", "Counter", "struct", 4, 8),
    ("rust", "Counter<'a>.add", "method", 11, 20),
    ("c", "sum", "function", 4, 11),
    ("c", "main", "function", 13, 17),
    ("cpp", "demo.Stack.push", "method", 8, 8),
    ("cpp", "main", "function", 16, 16),
]


def _chunks(language: str):
    ext = next(e for e, lang in LANGS.items() if lang == language)
    path = FIXTURES / f"sample.{ext}"
    return path.read_text(encoding="utf-8"), chunk_text(path.read_text(encoding="utf-8"), language, path.name, 30)


@pytest.mark.parametrize(("language", "symbol", "kind", "start", "end"), EXPECTED)
def test_definitions_have_their_lines(language, symbol, kind, start, end):
    text, chunks = _chunks(language)
    found = [c for c in chunks if c.symbol == symbol and c.kind == kind]
    assert [(c.start_line, c.end_line) for c in found] == [(start, end)]
    lines = text.splitlines(keepends=True)
    if kind not in ("class", "impl"):  # class chunks leave their methods out
        assert found[0].text == "".join(lines[start - 1 : end])


@pytest.mark.parametrize("language", sorted(set(LANGS.values())))
def test_every_nonblank_line_is_in_some_chunk(language):
    text, chunks = _chunks(language)
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            assert n in covered, (language, n, line)
    assert all(c.language == language and c.path.startswith("sample.") for c in chunks)


def test_comments_and_docstrings_stay_with_their_definition():
    _, chunks = _chunks("javascript")
    fn = next(c for c in chunks if c.symbol == "resolveId")
    assert fn.text.startswith("/**")
    src = (
        'class A:\n    """Doc of A."""\n    x = 1\n\n'
        '    @property\n    def f(self):\n        """Doc of f."""\n        return 1\n'
    )
    chunks = chunk_text(src, "python")
    assert [(c.symbol, c.kind, c.start_line, c.end_line) for c in chunks] == [
        ("A", "class", 1, 4),
        ("A.f", "method", 5, 8),
    ]
    assert chunks[1].text.startswith("    @property\n") and "Doc of f." in chunks[1].text


def test_long_function_splits_at_statement_boundaries():
    body = "".join(f"    x{i} = {i}\n" for i in range(50))
    block = "    if x:\n" + "".join(f"        y{i} = {i}\n" for i in range(8))
    src = "def big(x):\n" + body + block + "    return x\n"
    chunks = chunk_text(src, "python", max_lines=20)
    assert all(c.symbol == "big" and c.kind == "function" for c in chunks)
    assert all(c.end_line - c.start_line + 1 <= 20 for c in chunks)
    assert "".join(c.text for c in chunks) == src
    # The `if` block is never cut in the middle.
    owner = [c for c in chunks if "    if x:\n" in c.text]
    assert len(owner) == 1 and "        y7 = 7\n" in owner[0].text


def test_top_level_code_is_grouped_and_unknown_languages_get_line_windows():
    src = "import os\nX = 1\n\n\ndef f():\n    pass\nY = 2\n"
    chunks = chunk_text(src, "python")
    assert [(c.kind, c.start_line, c.end_line) for c in chunks] == [("code", 1, 4), ("function", 5, 6), ("code", 7, 7)]
    text = "".join(f"line {i}\n" for i in range(25))
    windows = chunk_text(text, "generic", "notes.txt", max_lines=10)
    assert [(c.kind, c.start_line, c.end_line) for c in windows] == [
        ("lines", 1, 10),
        ("lines", 11, 20),
        ("lines", 21, 25),
    ]
    assert chunk_text("", "python") == [] and chunk_text("\n\n", "go") == []
    with pytest.raises(ValueError, match="max_lines"):
        chunk_text(src, "python", max_lines=0)


def test_a_one_line_file_is_cut_into_bounded_chunks() -> None:
    """A 9 MB one-line file (minified code) must not become one chunk."""
    from codemill.index.chunking import MAX_CHUNK_CHARS

    text = "var a=[" + ",".join(str(i) for i in range(1_500_000)) + "];\n"
    assert len(text) > 9_000_000
    for language, path in (("javascript", "big.min.js"), ("generic", "big.txt")):
        chunks = chunk_text(text, language, path)
        assert all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
        assert "".join(c.text for c in chunks) == text  # nothing lost
        assert {(c.start_line, c.end_line) for c in chunks} == {(1, 1)}
