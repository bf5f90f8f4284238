"""codemill's exceptions. All derive from ValueError so callers can catch bad input broadly."""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError

__all__ = ["CodemillError", "ConfigError", "OutputError", "TokenizerFileError"]


class ConfigError(CodemillError):
    """A parameter that cannot work (out of range, unknown choice); the message names it."""


class OutputError(CodemillError):
    """An output path that cannot be written as asked (it would replace what is not ours)."""
