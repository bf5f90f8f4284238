"""The one ``Document`` type every command reads, and reading a code file into one.

A document is a code file on disk or a record of a JSONL / Parquet corpus. Files may be listed
first and read later (``text`` None until :func:`load_text`), so a pass over a large tree
holds names, not contents.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from codemill.sources import skips as reasons
from codemill.sources.fs import is_url, read_urls

DEFAULT_MAX_BYTES = 100 << 20  # larger files and records are skipped as too_large
SNIFF = 8192  # a NUL byte in this many leading bytes marks binary data


@dataclass
class Document:
    """One document: where it came from, its language and (once read) its text."""

    where: str  # for reports: the file's path, or "path:N" for the N-th line / row of a record file
    path: str  # posix path inside its repository (trees), the file's name, or a record's path field
    repository: str  # the tree's directory name, a record's repository field, or the record file's name
    language: str  # a codemill language name ("generic" when unknown)
    source: int = 0  # index of the input it came from
    origin: str = ""  # posix path, relative to that input, of the file holding it (a code or record file)
    file: str | None = None  # path on disk of a code file (None for records)
    record: int | None = None  # 1-based line (JSONL) or row (Parquet) number of a record
    text: str | None = None  # None until read
    size: int = 0  # bytes on disk (files) or UTF-8 bytes (records, read files)
    index: int = 0  # position in the stream of documents of one read
    # Where a record's line starts in a plain local JSONL file, to re-read it alone (-1: no such place).
    offset: int = -1


def decode(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str | None, str | None]:
    """(text, None) for usable code bytes, else (None, reason)."""
    if not data:
        return None, reasons.EMPTY
    if len(data) > max_bytes:
        return None, reasons.TOO_LARGE
    if b"\0" in data[:SNIFF]:
        return None, reasons.BINARY
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, reasons.INVALID_UTF8


def read_file(
    path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, data: bytes | None = None
) -> tuple[str | None, str | None]:
    """(text, None) for a readable UTF-8 code file (a local path or a URL), else (None, reason).
    Opens only regular files (never a FIFO or a device). ``data``: the bytes of a URL's object,
    fetched already (`fetched` with ``max_bytes`` as its limit)."""
    if isinstance(path, str) and is_url(path):
        if data is None:
            # At most one byte past the limit; a storage failure raises: it is not a property of the file.
            data = read_urls([path], max_bytes)[0]
        return decode(data, max_bytes)
    data, reason = _read_local(path, max_bytes)
    if data is None:
        return None, reason
    return decode(data, max_bytes)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_local(path: str | Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The bytes of a regular local file, else (None, reason). One stat, then for a regular file
    one open and (nearly always) one read: this runs once per file of a tree, where pathlib's
    stat + is_file + read_bytes took ~3x the system calls and ~1.7x the time.

    Only a regular file is opened. Opening a FIFO waits for a writer, or (non-blocking) lets a
    waiting writer go on into the SIGPIPE of our close; opening a device can act on it (a tape
    rewinds); and a non-blocking open fails at once on a file another process holds a lease on
    (Samba, NFS), which a plain open waits for. The stat follows links, as a read does."""
    try:
        st = os.stat(path)
    except OSError:
        return None, reasons.UNREADABLE
    if not stat.S_ISREG(st.st_mode):
        return None, reasons.NOT_A_FILE
    if st.st_size > max_bytes:
        return None, reasons.TOO_LARGE
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return None, reasons.UNREADABLE
    try:
        data = os.read(fd, st.st_size + 1)
        if len(data) != st.st_size:
            # A short read (one read returns at most ~2 GiB on Linux) or a file that changed
            # since the stat: read on, as a plain read of the file would, but never more than
            # one byte past the limit (which `decode` then refuses).
            parts, total = [data], len(data)
            while total <= max_bytes and (chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total))):
                parts.append(chunk)
                total += len(chunk)
            data = b"".join(parts)
        return data, None
    except OSError:
        return None, reasons.UNREADABLE
    finally:
        os.close(fd)


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8. An ASCII str (most code) is its own size, and CPython knows
    it is ASCII without a scan: no encode per file of a tree."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def check_text(text: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[int, str | None]:
    """(UTF-8 size, None) for a usable record text, else (0, reason)."""
    if not text:
        return 0, reasons.EMPTY
    try:
        n = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates from JSON "\\ud800" escapes
        return 0, reasons.INVALID_UTF8
    if n > max_bytes:
        return 0, reasons.TOO_LARGE
    if "\0" in text[:SNIFF]:
        return 0, reasons.BINARY
    return n, None


def load_text(doc: Document, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Reads a listed file document's text into ``doc.text``; returns the skip reason, if any."""
    if doc.text is not None or doc.file is None:
        return None
    text, reason = read_file(doc.file, max_bytes)
    if text is None:
        return reason
    doc.text = text
    doc.size = utf8_size(text)
    return None
