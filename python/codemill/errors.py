"""codemill's exceptions, all in this one module, all under ``CodemillError``.

``CodemillError`` derives from ``ValueError`` so callers can catch bad input broadly; messages
are in library words and name the file or argument at fault (the CLI adds its flag names).
"""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError


class SourceError(CodemillError):
    """An input that cannot be read at all: a corrupt compressed stream or Parquet file, a
    missing optional reader (pyarrow, zstandard), a path that is neither file nor directory."""


class InputNotFoundError(SourceError, FileNotFoundError):
    """An input path that does not exist (also a ``FileNotFoundError``)."""


__all__ = ["CodemillError", "InputNotFoundError", "SourceError", "TokenizerFileError"]
