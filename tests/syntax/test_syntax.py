from __future__ import annotations

from codemill.syntax.parsers import GRAMMARS, available_languages, parse, parser_for
from conftest import FIXTURES


def test_every_grammar_is_installed_and_parses_its_fixture() -> None:
    assert set(available_languages()) == set(GRAMMARS)
    for lang, ext in [
        ("python", "py"),
        ("javascript", "js"),
        ("typescript", "ts"),
        ("java", "java"),
        ("go", "go"),
        ("rust", "rs"),
        ("c", "c"),
        ("cpp", "cpp"),
    ]:
        tree = parse((FIXTURES / f"sample.{ext}").read_text(), lang)
        assert tree is not None and tree.root_node.child_count > 0, lang


def test_unknown_language_has_no_parser() -> None:
    assert parser_for("cobol") is None and parse("x", "generic") is None
