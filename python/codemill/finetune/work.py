"""Prepare's worker side: filter a batch of documents, sign it for dedup, build its samples.

Runs in the pool's processes (or in the main one with one worker); `init` sets up each
process once with the run's config.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from codemill.finetune import filters
from codemill.finetune.config import PrepareConfig
from codemill.finetune.filters import FilterConfig
from codemill.finetune.samples import SampleBuilder
from codemill.near_dup.signing import Signed, sign_texts
from codemill.sources.discovery import Document

__all__ = ["Built", "Scanned", "build", "init", "scan"]


@dataclass
class _State:
    config: PrepareConfig
    builder: SampleBuilder


_STATE: list[_State] = []  # this process's one state, set by `init`


def init(config: PrepareConfig) -> None:
    _STATE[:] = [_State(config, config.builder())]


def _load(doc: Document, config: FilterConfig) -> tuple[str | None, str | None, int]:
    """(cleaned text, None, bytes) for a document that passes the filters, else (None, reason, bytes)."""
    reason = filters.check_path(doc.path)
    if reason:
        return None, reason, 0
    if doc.text is None:
        assert doc.file is not None
        reason = filters.check_size(doc.size, config) if doc.size >= 0 else None
        if reason:
            return None, reason, 0  # not read
        try:
            with open(doc.file, "rb") as f:
                data = f.read(config.max_bytes + 1)
        except OSError:
            return None, "unreadable", 0
        reason = filters.check_size(len(data), config) or filters.check_bytes(data)
        if reason:
            return None, reason, len(data)
        text, reason = filters.decode(data)
        if text is None:
            return None, reason, len(data)
        size = len(data)
    else:
        text, size = doc.text, doc.size
        reason = filters.check_size(size, config) or ("binary" if "\0" in text[:8192] else None)
        if reason:
            return None, reason, size
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a JSON escape: not text
            return None, filters.INVALID_ENCODING, size
        if text.startswith("\ufeff"):
            text = text[1:]
    text = filters.clean_text(text)
    if doc.digest is not None:
        # Pass 2 after dedup: pass 1 ran the content filters on this very text.
        return (text, None, size) if _digest(text) == doc.digest else (None, "changed_during_run", size)
    reason = filters.check_text(text, doc.language, config)
    return (None, reason, size) if reason else (text, None, size)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class Scanned:
    """Pass 1's verdict on one document: its filter reason, or its digest and length."""

    index: int
    reason: str | None
    size: int
    digest: bytes = b""
    length: int = 0  # characters of the cleaned text


def scan(docs: list[Document]) -> tuple[list[Scanned], Signed | None]:
    """Pass 1 with dedup: filter, then what the dedup decision needs of the texts that passed."""
    config = _STATE[0].config
    assert config.dedup is not None
    out, texts, langs = [], [], []
    for doc in docs:
        text, reason, size = _load(doc, config.filters)
        s = Scanned(doc.index, reason, size)
        if text is not None:
            s.digest = _digest(text)
            s.length = len(text)
            texts.append(text)
            langs.append(doc.language)
        out.append(s)
    if not texts:
        return out, None
    return out, sign_texts(config.dedup, texts, langs)


@dataclass
class Built:
    index: int
    reason: str | None
    size: int
    language: str
    samples: list[dict[str, Any]]
    missed: Counter[str]


def build(docs: list[Document]) -> list[Built]:
    """Filter (or, after pass 1, check the content is unchanged) and build each document's samples."""
    config, builder = _STATE[0].config, _STATE[0].builder
    out = []
    for doc in docs:
        text, reason, size = _load(doc, config.filters)
        if text is None:
            out.append(Built(doc.index, reason, size, doc.language, [], Counter()))
            continue
        samples, missed = builder.build(text, doc.language, doc.path, doc.repository)
        out.append(Built(doc.index, None, size, doc.language, samples, missed))
    return out
