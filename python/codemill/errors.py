"""codemill's exceptions, all under :class:`CodemillError` (a ValueError, so callers can catch
bad input broadly). Messages speak the library's words; the CLI adds its flag names."""

from __future__ import annotations

from codemill._core import CodemillError, TokenizerFileError

__all__ = [
    "AssistantError",
    "ChatError",
    "CodemillError",
    "GraphFormatError",
    "IndexFormatError",
    "TokenizerFileError",
]


class IndexFormatError(CodemillError):
    """An index directory that is missing, corrupt, or of another format version."""


class GraphFormatError(CodemillError):
    """A saved repository graph that is missing, corrupt, or of another format version."""


class AssistantError(CodemillError):
    """A prompt that cannot be built, or a retriever that cannot be loaded."""


class ChatError(AssistantError):
    """The chat-completions endpoint could not be reached or answered with an error."""
