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
    "MinHasher": "codemill.dedup",
    "dedup": "codemill.dedup",
    "DedupResult": "codemill.dedup",
    "tokenize_corpus": "codemill.shards",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    # Redundant aliases mark re-exports for type checkers and linters.
    from codemill.dedup import DedupResult as DedupResult
    from codemill.dedup import MinHasher as MinHasher
    from codemill.dedup import dedup as dedup
    from codemill.errors import CodemillError as CodemillError
    from codemill.errors import TokenizerFileError as TokenizerFileError
    from codemill.languages import LANGUAGES as LANGUAGES
    from codemill.languages import detect_language as detect_language
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
