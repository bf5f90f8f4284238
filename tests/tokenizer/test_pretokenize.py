"""The scanner through Python: pieces per language, kinds, identifier parts."""

from __future__ import annotations

import pytest
from codemill import CodemillError, detect_language
from codemill._core import count_pieces, identifier_parts, pretokenize
from conftest import FIXTURES


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("sample.*")), ids=lambda p: p.suffix)
def test_pieces_partition_every_language(path) -> None:
    text = path.read_text(encoding="utf-8")
    pieces = pretokenize(text, detect_language(path))
    assert "".join(pieces) == text
    assert count_pieces(text, detect_language(path)) == len(pieces)


def test_language_specific_pieces() -> None:
    assert "<-" in pretokenize("x := <-ch", "go") and ":=" in pretokenize("x := <-ch", "go")
    assert "::" in pretokenize("std::vector<int>", "cpp")
    kinds = pretokenize("fn f<'a>(s: &'a str) -> &'a str { s }", "rust", with_kinds=True)
    assert ("fn", "keyword") in kinds and ("->", "operator") in kinds
    text = "x = 'it''s' # note: done\n"
    kinds = pretokenize(text, "python", with_kinds=True)
    assert ("#", "comment_delim") in kinds and (" note", "comment") in kinds
    assert ("    ", "indent") in pretokenize("if x:\n    y", "python", with_kinds=True)


def test_identifier_parts() -> None:
    assert identifier_parts("getHTTPResponse2") == ["get", "HTTP", "Response", "2"]
    assert identifier_parts("__init__") == ["__", "init", "__"]


def test_language_detection(tmp_path) -> None:
    assert detect_language("a/b.tsx") == "typescript"
    assert detect_language("x.hpp") == "cpp"
    assert detect_language("Makefile") == "generic"
    assert detect_language("run", b"#!/usr/bin/env python3\nprint(1)") == "python"
    assert detect_language("run", b"#!/usr/bin/node\n") == "javascript"
    with pytest.raises(CodemillError, match="unknown language"):
        pretokenize("x", "klingon")


def test_core_and_package_read_one_language_table() -> None:
    """The core compiles in the table the package reads (data/languages.json): every name and
    alias the package knows is one the core accepts, and names that share a scanner table
    (typescript/javascript, cpp/c) pretokenize alike."""
    from codemill.languages import ALIASES, LANGUAGES, normalize_language

    text = "x = `a` + 'b' // c\n# d\n"
    for alias, name in ALIASES.items():
        assert name in LANGUAGES
        assert pretokenize(text, alias) == pretokenize(text, name), alias
        assert normalize_language(alias.upper()) == name
    assert pretokenize(text, "typescript") == pretokenize(text, "javascript")
    assert pretokenize(text, "cpp") == pretokenize(text, "c")
    assert pretokenize(text, "python") != pretokenize(text, "javascript")
    with pytest.raises(CodemillError, match="known: python, javascript, typescript"):
        pretokenize("x", "cobol")
