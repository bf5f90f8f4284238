"""The hand-written split scanners against fancy-regex running the same pattern, piece for
piece, on real code and on generated text."""

from __future__ import annotations

import pytest
from base_samples import CODE, TEXT
from codemill import _core
from hypothesis import given, settings
from hypothesis import strategies as st

PATTERNS = dict(_core.BaseTokenizer.split_patterns())
TOKENS: list[bytes | None] = [bytes([b]) for b in range(256)]


def _splitters(name: str) -> tuple[_core.BaseTokenizer, _core.BaseTokenizer]:
    fast = _core.BaseTokenizer(TOKENS, None, True, [("known", name)], [], [])
    slow = _core.BaseTokenizer(TOKENS, None, True, [("fancy", PATTERNS[name])], [], [])
    return fast, slow


SPLITTERS = {name: _splitters(name) for name in PATTERNS}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_scanner_equals_regex_on_real_code(name: str) -> None:
    fast, slow = SPLITTERS[name]
    for file, text in CODE:
        assert fast.pieces(text) == slow.pieces(text), f"{name} on {file}"


@settings(max_examples=500, deadline=None)
@given(text=TEXT)
def test_scanners_equal_regex_on_generated_text(text: str) -> None:
    for name, (fast, slow) in SPLITTERS.items():
        assert fast.pieces(text) == slow.pieces(text), name


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_scanners_equal_regex_on_any_unicode(text: str) -> None:
    for name, (fast, slow) in SPLITTERS.items():
        assert fast.pieces(text) == slow.pieces(text), name
