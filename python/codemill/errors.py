"""codemill's exceptions. All derive from ValueError so callers can catch bad input broadly."""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError

__all__ = ["CodemillError", "TokenizerFileError"]


class UnsupportedTokenizerError(TokenizerFileError):
    """A tokenizer file uses a component codemill cannot reproduce exactly (it names it)."""


__all__ += ["UnsupportedTokenizerError"]
