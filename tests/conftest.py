from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from codemill import CodeTokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tok() -> CodeTokenizer:
    return CodeTokenizer.default()


@pytest.fixture(scope="session")
def small_tok() -> CodeTokenizer:
    """A small tokenizer trained in the test on real code (the stdlib's json package)."""
    return CodeTokenizer.train([STDLIB / "json", STDLIB / "email" / "mime"], vocab_size=2048, identifier_vocab_size=128)
