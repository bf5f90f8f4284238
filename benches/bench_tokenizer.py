"""pytest-benchmark suite: encode speed of codemill and its peers on the same held-back files.

    pytest benches/bench_tokenizer.py --benchmark-enable --benchmark-columns=median,ops

Peers use codemill's own vocabulary (tiktoken, pure-Python BPE) or are trained on the same
data at the same size (HF tokenizers with the GPT-4 split regex). One thread each.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # an idle BLAS pool must not steal a core

import corpus
from codemill import CodeTokenizer, _core
from codemill.bench import peers as peer_mod

MAX_BYTES = int(os.environ.get("CODEMILL_BENCH_BYTES", "300000"))


@pytest.fixture(scope="module")
def docs() -> list[tuple[str, str]]:
    data = corpus.load("test", MAX_BYTES)
    if not data:
        pytest.skip("benchmark sources missing: run benches/fetch_corpus.sh")
    return [(text, lang) for files in data.values() for _, text, lang in files]


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return CodeTokenizer.default()


def test_codemill_steady(benchmark, tok, docs) -> None:
    benchmark(lambda: [tok.encode(t, lang) for t, lang in docs])


def test_codemill_first_pass(benchmark, tok, docs) -> None:
    js = tok.to_json()

    def setup():
        return (CodeTokenizer.from_json(js),), {}

    benchmark.pedantic(lambda fresh: [fresh.encode(t, lang) for t, lang in docs], setup=setup, rounds=5)


def test_tiktoken_same_vocab(benchmark, tok, docs) -> None:
    enc = peer_mod.tiktoken_encoding(tok)
    benchmark(lambda: [enc.encode_ordinary(t) for t, _ in docs])


def test_pretokenizer_alone(benchmark, docs) -> None:
    benchmark(lambda: [_core.count_pieces(t, lang) for t, lang in docs])


def test_pure_python_same_vocab(benchmark, tok, docs) -> None:
    py = peer_mod.PurePythonBpe(peer_mod.codemill_ranks(tok))
    sample = docs[:10]
    benchmark.pedantic(lambda: [py.encode(t) for t, _ in sample], rounds=1)


@pytest.mark.parametrize("threads", [1, 2])
def test_codemill_batch(benchmark, tok, docs, threads) -> None:
    texts = [t for t, _ in docs]
    langs = [lang for _, lang in docs]
    benchmark(lambda: tok.encode_batch_flat(texts, langs, num_threads=threads))
