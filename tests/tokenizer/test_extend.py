"""Identifier extension of a base vocabulary: new ids after the base, sub-identifier
boundaries only, lossless, fewer tokens; `codemill extend` and the new rows' base ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from base_fixtures import cl100k, cl100k_path  # noqa: F401 (fixtures)
from base_samples import CODE, STDLIB, TEXT
from codemill import CodeTokenizer
from codemill.cli import main
from codemill.errors import CodemillError
from hypothesis import given, settings


@pytest.fixture(scope="module")
def extended(cl100k: CodeTokenizer) -> CodeTokenizer:
    return CodeTokenizer.extend(cl100k, [STDLIB / "json", STDLIB / "email"], identifier_vocab_size=300)


def test_new_ids_follow_the_base_and_save_tokens(cl100k: CodeTokenizer, extended: CodeTokenizer) -> None:
    assert extended.vocab_size == cl100k.vocab_size + extended.identifier_vocab_size
    assert 0 < extended.identifier_vocab_size <= 300
    text = (STDLIB / "email" / "message.py").read_text()
    ids = extended.encode(text)
    assert extended.decode(ids) == text
    assert (ids >= cl100k.vocab_size).any()
    assert len(ids) < len(cl100k.encode(text))
    # Text without any identifier keeps the base ids exactly.
    assert extended.encode("1 + 2 == (3)\n").tolist() == cl100k.encode("1 + 2 == (3)\n").tolist()


def test_matches_only_at_sub_identifier_boundaries(extended: CodeTokenizer) -> None:
    new = {t for t, _ in extended.identifier_tokens}  # type: ignore[attr-defined]
    word = next(t.strip() for t in new if t.strip().isalpha() and t.strip().islower() and len(t.strip()) > 3)
    inside = f"x{word}y"
    first_new = extended.vocab_size - extended.identifier_vocab_size
    assert not (extended.encode(inside) >= first_new).any()


@settings(max_examples=200, deadline=None)
@given(text=TEXT)
def test_lossless_on_generated_text(text: str, extended: CodeTokenizer) -> None:
    assert extended.decode(extended.encode(text)) == text


def test_lossless_on_real_code(extended: CodeTokenizer) -> None:
    for _, text in CODE[:60]:
        assert extended.decode(extended.encode(text)) == text


def test_round_trip_and_refusals(extended: CodeTokenizer, tmp_path: Path, tok: CodeTokenizer) -> None:
    extended.save(tmp_path / "x.json")
    again = CodeTokenizer.load(tmp_path / "x.json")
    text = CODE[1][1]
    assert again.encode(text).tolist() == extended.encode(text).tolist()
    with pytest.raises(CodemillError, match="extended already"):
        CodeTokenizer.extend(extended, ["x = 1"], 10)
    with pytest.raises(CodemillError, match="only a base vocabulary"):
        CodeTokenizer.extend(tok, ["x = 1"], 10)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"num_threads": -1}, "num_threads must be at least 1"),
        ({"min_count": -1}, "min_count must be at least 1"),
        ({"max_file_bytes": -1}, "max_file_bytes must be at least 1"),
        ({"identifier_vocab_size": 0}, "identifier_vocab_size must be at least 1"),
        ({"identifier_vocab_size": 2**64}, "identifier_vocab_size must be at most"),
        ({"identifier_vocab_size": "100"}, "identifier_vocab_size must be an integer"),
    ],
)
def test_bad_arguments_are_one_error_naming_them(cl100k: CodeTokenizer, kwargs: dict, says: str) -> None:
    # They were a bare OverflowError or TypeError from the core (the CLI checked them).
    with pytest.raises(CodemillError, match=says):
        CodeTokenizer.extend(cl100k, ["user_name = 1\n" * 3], **({"identifier_vocab_size": 10} | kwargs))


def test_a_lone_surrogate_in_the_corpus_is_one_clear_error(cl100k: CodeTokenizer) -> None:
    # As train says it: the core's UnicodeEncodeError went out as it was.
    with pytest.raises(CodemillError, match="corpus text is not valid Unicode"):
        CodeTokenizer.extend(cl100k, [("user_name = 1 \ud800\n" * 3, "python")], 10)


def test_cli_extend_writes_new_token_base_ids(
    cl100k_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cl100k-ext.json"
    assert (
        main(["extend", str(cl100k_path), str(STDLIB / "json"), "-o", str(out), "--identifiers", "50", "--json"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] > 0
    init = json.loads((tmp_path / "cl100k-ext.new_tokens.json").read_text())
    base = CodeTokenizer.from_tiktoken(cl100k_path)
    assert init["base_vocab_size"] == base.vocab_size
    for row in init["new_tokens"]:
        assert base.decode(row["base_ids"]) == row["token"]
        assert row["id"] >= base.vocab_size
    assert CodeTokenizer.load(out).identifier_vocab_size == summary["added"] == len(init["new_tokens"])


def test_cli_errors_name_the_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extend", str(tmp_path / "missing.tiktoken"), str(tmp_path), "-o", str(tmp_path / "o.json")]) == 2
    assert "missing.tiktoken" in capsys.readouterr().err
