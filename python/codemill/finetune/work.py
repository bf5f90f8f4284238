"""Prepare's worker side: filter a batch of documents, sign it for dedup, build its samples.

Runs in the pool's processes (or in the main one with one worker); `init` sets up each
process once with the run's config.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

from codemill.finetune import filters
from codemill.finetune.config import PrepareConfig
from codemill.finetune.filters import FilterConfig
from codemill.finetune.samples import SampleBuilder
from codemill.near_dup.signing import Signed, sign_texts
from codemill.sources import DEFAULT_MAX_BYTES, Document, read_file, utf8_size
from codemill.sources.fs import fetched

__all__ = [
    "ADDED_DURING_RUN",
    "CHANGED_DURING_RUN",
    "REMOVED_DURING_RUN",
    "Built",
    "Loaded",
    "Scanned",
    "Work",
    "build",
    "init",
    "scan",
]

# A document and, in pass 2 after dedup, the digest of the text pass 1 kept.
Work = tuple[Document, bytes | None]

# Why pass 2 after dedup passes over a file: its text changed since pass 1, it was not there
# for pass 1 (not read), or pass 1 kept it and it is gone.
CHANGED_DURING_RUN = "changed_during_run"
ADDED_DURING_RUN = "added_during_run"
REMOVED_DURING_RUN = "removed_during_run"


@dataclass
class _State:
    config: PrepareConfig
    builder: SampleBuilder


_STATE: list[_State] = []  # this process's one state, set by `init`


def init(config: PrepareConfig) -> None:
    _STATE[:] = [_State(config, config.builder())]


class Loaded(NamedTuple):
    """A document's cleaned text, or why not: a reader's skip or a filter's reason."""

    text: str | None
    reason: str | None
    size: int
    skipped: bool = False  # reason is a skip (codemill.sources.skips), not a filter


def _fetched(docs: list[Work], max_bytes: int) -> list[bytes | None]:
    """The bytes of each document in a bucket that is still to be read (fetched together,
    as the corpus reader does; at most one byte past ``max_bytes``); None for the rest (local
    files, records; `GONE` for an object removed since it was listed)."""
    names = [(d.file or d.where) if d.text is None else "" for d, _ in docs]
    return [data for _, data in fetched(names, max_bytes, gone_ok=True)]


def _load(
    doc: Document,
    config: FilterConfig,
    digest: bytes | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    data: bytes | None = None,
) -> Loaded:
    """The cleaned text of a document that is read and passes the filters, else why not.

    Documents are read as every command reads them, before any filter, so the same inputs
    give the same skips (unreadable, empty, binary, non-UTF-8, too large) here as everywhere.
    ``data``: the object's bytes, for a document in a bucket fetched already.
    """
    if doc.text is None:
        text, skip = read_file(doc.file or doc.where, max_file_bytes, data)
        if text is None:
            return Loaded(None, skip, max(doc.size, 0), True)
    else:
        text = doc.text  # a record: the reader already checked its text
    size = utf8_size(text)
    reason = (
        filters.check_path(doc.path)
        or filters.check_size(size, config)
        or filters.check_bytes(text[:8192].encode("utf-8"))
    )
    if reason:
        return Loaded(None, reason, size)
    text = filters.clean_text(text.removeprefix("\ufeff"))
    if digest is not None:
        # Pass 2 after dedup: pass 1 ran the content filters on this very text.
        return Loaded(text, None, size) if _digest(text) == digest else Loaded(None, CHANGED_DURING_RUN, size)
    reason = filters.check_text(text, doc.language, config)
    return Loaded(None, reason, size) if reason else Loaded(text, None, size)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class Scanned:
    """Pass 1's verdict on one document: its filter reason, or its digest and length."""

    index: int
    reason: str | None
    size: int
    skipped: bool = False
    digest: bytes = b""
    length: int = 0  # characters of the cleaned text


def scan(docs: list[Work]) -> tuple[list[Scanned], Signed | None]:
    """Pass 1 with dedup: filter, then what the dedup decision needs of the texts that passed."""
    config = _STATE[0].config
    assert config.dedup is not None
    out, texts = [], []
    for (doc, _), data in zip(docs, _fetched(docs, config.max_file_bytes), strict=True):
        text, reason, size, skipped = _load(doc, config.filters, None, config.max_file_bytes, data)
        s = Scanned(doc.index, reason, size, skipped)
        if text is not None:
            s.digest = _digest(text)
            s.length = len(text)
            texts.append(text)
        out.append(s)
    if not texts:
        return out, None
    return out, sign_texts(config.dedup, texts)


@dataclass
class Built:
    index: int
    reason: str | None
    size: int
    language: str
    samples: list[dict[str, Any]]
    missed: Counter[str]
    skipped: bool = False


def build(docs: list[Work]) -> list[Built]:
    """Filter (or, after pass 1, check the content is unchanged) and build each document's samples."""
    config, builder = _STATE[0].config, _STATE[0].builder
    out = []
    for (doc, digest), data in zip(docs, _fetched(docs, config.max_file_bytes), strict=True):
        text, reason, size, skipped = _load(doc, config.filters, digest, config.max_file_bytes, data)
        if text is None:
            out.append(Built(doc.index, reason, size, doc.language, [], Counter(), skipped))
            continue
        samples, missed = builder.build(text, doc.language, doc.path, doc.repository)
        out.append(Built(doc.index, None, size, doc.language, samples, missed))
    return out
