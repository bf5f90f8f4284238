"""The one ``Document`` type every command reads, and reading a code file into one.

A document is a code file on disk or a record of a JSONL / Parquet corpus. Files may be listed
first and read later (``text`` None until :func:`load_text`), so a pass over a large tree
holds names, not contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codemill._core import SNIFF, decode_code, read_code_files
from codemill.sources import skips as reasons
from codemill.sources.fs import GONE, fetched, is_url, read_urls

DEFAULT_MAX_BYTES = 100 << 20  # larger files and records are skipped as too_large


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
    """(text, None) for usable code bytes, else (None, reason): not empty, at most ``max_bytes``,
    no NUL byte in the first 8 KiB, UTF-8 (the rules of `read_code_files`, in the Rust core)."""
    return decode_code(data, max_bytes)


def read_file(
    path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, data: bytes | None = None
) -> tuple[str | None, str | None]:
    """(text, None) for a readable UTF-8 code file (a local path or a URL), else (None, reason).
    Opens only regular files (never a FIFO or a device). ``data``: the bytes of a URL's object,
    fetched already (`fetched` with ``max_bytes`` as its limit; `GONE`: not there)."""
    if isinstance(path, str) and is_url(path):
        if data is GONE:  # removed since it was listed, as a local file gone is unreadable
            return None, reasons.UNREADABLE
        if data is None:
            # At most one byte past the limit; a storage failure raises: it is not a property of the file.
            data = read_urls([path], max_bytes)[0]
        return decode(data, max_bytes)
    text, reason, _ = read_code_files([path], max_bytes, 0)[0]
    return text, reason


# Local files read per call of `read_code_files` by `read_texts`, at most, and the bytes of text
# past which a call stops early (it reads at least one file): the reads run without the GIL (a
# reading thread of a task leaves it to the encoder threads and the other tasks), and a group
# of large files is not held at once.
READ_GROUP = 32
READ_BUDGET = 1 << 20

# A file as `read_texts` gives it: (name, text, None, UTF-8 bytes) or (name, None, reason, 0).
_Read = tuple[str, str | None, str | None, int]


def read_texts(names: Iterable[str], max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[_Read]:
    """``(name, text, None, size)`` for each readable code file of ``names`` (local paths and
    URLs, objects fetched concurrently), else ``(name, None, reason, 0)``, in order; ``size``:
    its bytes. As `read_file` reads each, with local files read a group at a time."""
    group: list[str] = []
    for name, data in fetched(names, max_bytes, gone_ok=True):
        if data is None:  # a local file
            group.append(name)
            if len(group) < READ_GROUP:
                continue
        if group:
            yield from _read_group(group, max_bytes)
            group = []
        if data is not None:
            text, reason = read_file(name, max_bytes, data)
            yield name, text, reason, len(data) if text is not None else 0
    if group:
        yield from _read_group(group, max_bytes)


def _read_group(names: list[str], max_bytes: int) -> Iterator[_Read]:
    while names:
        read = read_code_files(names, max_bytes, READ_BUDGET)
        for name, (text, reason, size) in zip(names, read, strict=False):
            yield name, text, reason, size
        names = names[len(read) :]


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8. An ASCII str (most code) is its own size, and CPython knows
    it is ASCII without a scan: no encode per file of a tree."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def check_text(text: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[int, str | None]:
    """(UTF-8 size, None) for a usable record text, else (0, reason)."""
    if not text:
        return 0, reasons.EMPTY
    try:
        n = utf8_size(text)  # an ASCII text without a copy of it
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
