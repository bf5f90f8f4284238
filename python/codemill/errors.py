"""codemill's exceptions, all in this one module, all under ``CodemillError``.

``CodemillError`` derives from ``ValueError`` so callers can catch bad input broadly; messages
are in library words and name the file or argument at fault (the CLI adds its flag names).
"""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError


class UsageError(CodemillError):
    """A command line that cannot work as given (the command names the flag at fault)."""


class ConfigError(CodemillError):
    """A parameter that cannot work (out of range, unknown choice); the message names it."""


class OutputError(CodemillError):
    """An output path that cannot be written as asked (it would replace what is not ours)."""


class SourceError(CodemillError):
    """An input that cannot be read at all: a corrupt compressed stream or Parquet file, a
    missing optional reader (pyarrow, zstandard), a path that is neither file nor directory."""


class StorageError(SourceError):
    """Object storage (or another filesystem URL) that failed: a missing bucket, access denied,
    a failed upload, an unknown protocol or its missing package."""


class InputNotFoundError(SourceError, FileNotFoundError):
    """An input path that does not exist (also a ``FileNotFoundError``)."""


class IndexFormatError(CodemillError):
    """An index directory that is missing, corrupt, or of another format version."""


class GraphFormatError(CodemillError):
    """A saved repository graph that is missing, corrupt, or of another format version."""


class ModelDirError(CodemillError):
    """A model directory that misses a file, holds an unsupported architecture, or whose
    tokenizer does not belong to its weights."""


class UnsupportedTokenizerError(TokenizerFileError):
    """A tokenizer file uses a component codemill cannot reproduce exactly (it names it)."""


class AssistantError(CodemillError):
    """A prompt that cannot be built, or a retriever that cannot be loaded."""


class ChatError(AssistantError):
    """The chat-completions endpoint could not be reached or answered with an error."""


__all__ = [
    "AssistantError",
    "ChatError",
    "CodemillError",
    "ConfigError",
    "GraphFormatError",
    "IndexFormatError",
    "InputNotFoundError",
    "ModelDirError",
    "OutputError",
    "SourceError",
    "StorageError",
    "TokenizerFileError",
    "UnsupportedTokenizerError",
    "UsageError",
]
