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
    "CodeTokenizer": "codemill.tokenizer",
    "SPECIAL_TOKENS": "codemill.tokenizer",
    "CodemillError": "codemill.errors",
    "TokenizerFileError": "codemill.errors",
    "detect_language": "codemill.languages",
    "LANGUAGES": "codemill.languages",
    "MinHasher": "codemill.near_dup",
    "dedup": "codemill.near_dup",
    "DedupResult": "codemill.near_dup",
    "HybridIndex": "codemill.index",
    "SearchResult": "codemill.index",
    "IndexFormatError": "codemill.index",
    "Chunk": "codemill.chunking",
    "chunk_text": "codemill.chunking",
    "make_embedder": "codemill.embed",
    "ImportGraph": "codemill.context",
    "ContextBuilder": "codemill.context",
    "CodeAssistant": "codemill.assistant",
    "ChatClient": "codemill.assistant",
    "Hit": "codemill.assistant",
    "Retriever": "codemill.assistant",
    "IndexRetriever": "codemill.assistant",
    "Preparer": "codemill.prepare",
    "PrepareConfig": "codemill.prepare",
    "FilterConfig": "codemill.filters",
    "SampleBuilder": "codemill.samples",
    "tokenize_corpus": "codemill.shards",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    # Redundant aliases mark re-exports for type checkers and linters.
    from codemill.assistant import ChatClient as ChatClient
    from codemill.assistant import CodeAssistant as CodeAssistant
    from codemill.assistant import Hit as Hit
    from codemill.assistant import IndexRetriever as IndexRetriever
    from codemill.assistant import Retriever as Retriever
    from codemill.chunking import Chunk as Chunk
    from codemill.chunking import chunk_text as chunk_text
    from codemill.context import ContextBuilder as ContextBuilder
    from codemill.context import ImportGraph as ImportGraph
    from codemill.embed import make_embedder as make_embedder
    from codemill.errors import CodemillError as CodemillError
    from codemill.errors import TokenizerFileError as TokenizerFileError
    from codemill.filters import FilterConfig as FilterConfig
    from codemill.index import HybridIndex as HybridIndex
    from codemill.index import IndexFormatError as IndexFormatError
    from codemill.index import SearchResult as SearchResult
    from codemill.languages import LANGUAGES as LANGUAGES
    from codemill.languages import detect_language as detect_language
    from codemill.near_dup import DedupResult as DedupResult
    from codemill.near_dup import MinHasher as MinHasher
    from codemill.near_dup import dedup as dedup
    from codemill.prepare import PrepareConfig as PrepareConfig
    from codemill.prepare import Preparer as Preparer
    from codemill.samples import SampleBuilder as SampleBuilder
    from codemill.shards import tokenize_corpus as tokenize_corpus
    from codemill.tokenizer import SPECIAL_TOKENS as SPECIAL_TOKENS
    from codemill.tokenizer import CodeTokenizer as CodeTokenizer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codemill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
