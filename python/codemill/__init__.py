"""codemill: turn source code into material for code LLMs, fast.

The public API is imported lazily so that `import codemill` (and the CLI) start fast and a
sub-package such as `codemill.evaluate` does not load the native core it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "CodeTokenizer": "codemill.tokenizer.code_tokenizer",
    "SPECIAL_TOKENS": "codemill.tokenizer.code_tokenizer",
    "CodemillError": "codemill.errors",
    "TokenizerFileError": "codemill.errors",
    "detect_language": "codemill.languages",
    "LANGUAGES": "codemill.languages",
    "MinHasher": "codemill.near_dup.minhash",
    "dedup": "codemill.near_dup.api",
    "DedupConfig": "codemill.near_dup.config",
    "DedupResult": "codemill.near_dup.result",
    "HybridIndex": "codemill.index.hybrid",
    "SearchResult": "codemill.index.hybrid",
    "IndexFormatError": "codemill.errors",
    "Chunk": "codemill.index.chunking",
    "chunk_text": "codemill.index.chunking",
    "make_embedder": "codemill.index.embed",
    "ImportGraph": "codemill.context.graph",
    "ContextBuilder": "codemill.context.builder",
    "CodeAssistant": "codemill.context.assistant",
    "ChatClient": "codemill.context.chat",
    "Hit": "codemill.context.retrieval",
    "Retriever": "codemill.context.retrieval",
    "IndexRetriever": "codemill.context.retrieval",
    "Preparer": "codemill.finetune.pipeline",
    "PrepareConfig": "codemill.finetune.config",
    "FilterConfig": "codemill.finetune.filters",
    "SampleBuilder": "codemill.finetune.samples",
    "tokenize_corpus": "codemill.corpus.job",
    "prepare": "codemill.finetune.pipeline",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    # Redundant aliases mark re-exports for type checkers and linters.
    from codemill.context.assistant import CodeAssistant as CodeAssistant
    from codemill.context.builder import ContextBuilder as ContextBuilder
    from codemill.context.chat import ChatClient as ChatClient
    from codemill.context.graph import ImportGraph as ImportGraph
    from codemill.context.retrieval import Hit as Hit
    from codemill.context.retrieval import IndexRetriever as IndexRetriever
    from codemill.context.retrieval import Retriever as Retriever
    from codemill.corpus.job import tokenize_corpus as tokenize_corpus
    from codemill.errors import CodemillError as CodemillError
    from codemill.errors import IndexFormatError as IndexFormatError
    from codemill.errors import TokenizerFileError as TokenizerFileError
    from codemill.finetune.config import PrepareConfig as PrepareConfig
    from codemill.finetune.filters import FilterConfig as FilterConfig
    from codemill.finetune.pipeline import Preparer as Preparer
    from codemill.finetune.pipeline import prepare as prepare
    from codemill.finetune.samples import SampleBuilder as SampleBuilder
    from codemill.index.chunking import Chunk as Chunk
    from codemill.index.chunking import chunk_text as chunk_text
    from codemill.index.embed import make_embedder as make_embedder
    from codemill.index.hybrid import HybridIndex as HybridIndex
    from codemill.index.hybrid import SearchResult as SearchResult
    from codemill.languages import LANGUAGES as LANGUAGES
    from codemill.languages import detect_language as detect_language
    from codemill.near_dup.api import dedup as dedup
    from codemill.near_dup.config import DedupConfig as DedupConfig
    from codemill.near_dup.minhash import MinHasher as MinHasher
    from codemill.near_dup.result import DedupResult as DedupResult
    from codemill.tokenizer.code_tokenizer import SPECIAL_TOKENS as SPECIAL_TOKENS
    from codemill.tokenizer.code_tokenizer import CodeTokenizer as CodeTokenizer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codemill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
