"""File names as text that can be written."""

from __future__ import annotations


def printable(name: str) -> str:
    """A file name as text that encodes to UTF-8: bytes of a name that are not UTF-8 (which
    Python holds as lone surrogates, and which cannot be written, hashed as UTF-8 or tokenized)
    are spelled ``\\xNN``. For the names that outputs and reports show; reading uses the real one."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no byte decodes to (a JSON "\ud800" in a record's path)
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
