"""codemill's exceptions. All derive from ValueError so callers can catch bad input broadly."""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError

__all__ = ["CodemillError", "ModelDirError", "TokenizerFileError"]


class ModelDirError(CodemillError):
    """A model directory that misses a file, holds an unsupported architecture, or whose
    tokenizer does not belong to its weights."""
