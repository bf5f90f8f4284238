"""codemill's exceptions. All derive from ValueError so callers can catch bad input broadly."""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError

__all__ = ["CodemillError", "TokenizerFileError"]
