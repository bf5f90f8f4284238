"""Invariants on arbitrary and pathological inputs: lossless, boundary-anchored, no blow-up."""

from __future__ import annotations

import base64
import random

from codemill import CodeTokenizer
from codemill._core import identifier_parts
from hypothesis import given, settings
from hypothesis import strategies as st

LANGS = ["python", "javascript", "java", "go", "rust", "c", "generic"]


@settings(max_examples=300, deadline=None)
@given(text=st.text(), lang=st.sampled_from(LANGS))
def test_round_trip_arbitrary_text(small_tok: CodeTokenizer, text: str, lang: str) -> None:
    assert small_tok.decode(small_tok.encode(text, lang)) == text


CODEY = st.text(alphabet=st.sampled_from(list("abcXYZ_09 \t\n\r'\"`#/*\\{}()[];:.,=<>!&|+-r$é€😀")), max_size=300)


@settings(max_examples=300, deadline=None)
@given(text=CODEY, lang=st.sampled_from(LANGS))
def test_round_trip_code_like_text(tok: CodeTokenizer, text: str, lang: str) -> None:
    ids = tok.encode(text, lang, allowed_special="all")
    assert tok.decode(ids) == text
    assert "".join(tok.pretokenize(text, lang)) == text


PARTS = st.lists(
    st.sampled_from(["get", "User", "user", "By", "Id", "id", "data", "meta", "HTTP", "_", "2", "x"]),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(parts=PARTS)
def test_identifier_tokens_never_cross_sub_identifier_boundaries(tok: CodeTokenizer, parts: list[str]) -> None:
    ident = "".join(parts)
    if not (ident[0].isalpha() or ident[0] == "_"):
        ident = "v" + ident
    boundaries = {0}
    for p in identifier_parts(ident):
        boundaries.add(max(boundaries) + len(p))
    first_ident = 256
    last_ident = 256 + tok.identifier_vocab_size
    pos = 0
    # A lone identifier is one piece: its stage-1 tokens are what the vocabulary produced.
    for i in tok.encode(ident, "python").tolist():
        n = len(tok.id_to_bytes(i))
        if first_ident <= i < last_ident:
            assert pos in boundaries and pos + n in boundaries, (ident, tok.id_to_token(i), pos)
        pos += n
    assert pos == len(ident.encode())


def _pathological() -> dict[str, str]:
    rng = random.Random(7)
    return {
        "one_char": "a" * 1_000_000,
        "identifier": "x"
        + "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") for _ in range(1_000_000)
        ),
        "spaces": " " * 1_000_000,
        "newlines": "\n" * 1_000_000,
        "nesting": "(" * 300_000 + "x" + ")" * 300_000 + "[{" * 100_000,
        "minified_js": ";".join(f'var a{i}=function(b){{return b*{i}+"s{i}"}}' for i in range(25_000)),
        "base64": base64.b64encode(rng.randbytes(750_000)).decode(),
        "unterminated_string": '"' + 'abc \\" def ' * 80_000,
        "unterminated_comment": "/*" + "note " * 200_000,
        "emoji": "😀é中" * 100_000,
    }


def test_pathological_inputs_round_trip(tok: CodeTokenizer) -> None:
    # Speed on these lives in benches/bench_tokenizer.py; here: lossless and sane output size.
    for name, text in _pathological().items():
        for lang in ("python", "javascript", "rust"):
            ids = tok.encode(text, lang)
            assert tok.decode(ids) == text, name
            assert len(ids) <= len(text.encode()), name
