"""Dedup's input readers: directory trees, source files and JSONL(.gz/.zst).

Internal to `codemill.near_dup` until the one source layer (`codemill.sources`) replaces
them. Every skipped item is counted with its reason; nothing is dropped silently.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Extension -> scanner language; anything else is scanned with the generic table.
_EXT_LANG = {
    "py": "python",
    "pyi": "python",
    "pyw": "python",
    "pyx": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "javascript",
    "ts": "javascript",
    "tsx": "javascript",
    "java": "java",
    "go": "go",
    "rs": "rust",
    "c": "c",
    "h": "c",
    "cc": "c",
    "cpp": "c",
    "cxx": "c",
    "hpp": "c",
    "hh": "c",
    "hxx": "c",
}
_KNOWN_LANG = {"python", "javascript", "typescript", "java", "go", "rust", "c", "cpp"}
TEXT_FIELDS = ("content", "text")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")
_SNIFF = 8192


def language_of(path: str) -> str | None:
    """The scanner language of a file name, None (generic) when unknown."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
    return _EXT_LANG.get(ext)


def is_jsonl(path: Path) -> bool:
    return path.name.lower().endswith(_JSONL_SUFFIXES)


def _open_binary(path: Path, mode: str = "rb") -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, mode)  # type: ignore[return-value]
    if name.endswith(".zst"):
        try:
            import zstandard
        except ImportError as exc:
            raise ValueError(f"{path}: reading .zst needs the 'zstandard' package") from exc
        raw = open(path, mode)  # noqa: SIM115 - closed with the returned stream
        if "r" in mode:
            return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return zstandard.ZstdCompressor().stream_writer(raw, closefd=True)
    return open(path, mode)


@dataclass
class Doc:
    """One document: which input it came from, where in it, and its text."""

    source: int  # index of the input
    where: str | int  # relative path (trees, files) or 0-based line number (JSONL)
    text: str
    language: str | None


@dataclass
class Skips:
    """Skipped items by reason, with the first few examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 20:
            self.examples[reason].append(where)

    def as_dict(self) -> dict:
        return {
            reason: {"count": n, "examples": self.examples.get(reason, [])} for reason, n in sorted(self.counts.items())
        }


def decode_file(path: Path, skips: Skips, label: str) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        skips.add(f"unreadable ({exc.strerror or exc})", label)
        return None
    if not data:
        skips.add("empty file", label)
        return None
    if b"\0" in data[:_SNIFF]:
        skips.add("binary", label)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        skips.add("invalid UTF-8", label)
        return None


def _walk(root: Path) -> Iterator[Path]:
    # Sorted, so document ids (and "keep first") are the same on every run and machine.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def jsonl_docs(path: Path, source: int, skips: Skips, text_field: str | None) -> Iterator[Doc]:
    fields = (text_field,) if text_field else TEXT_FIELDS
    with _open_binary(path) as raw:
        for lineno, line in enumerate(io.BufferedReader(raw)):  # type: ignore[type-var]
            label = f"{path}:{lineno + 1}"
            if not line.strip():
                skips.add("blank line", label)
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                skips.add("invalid JSON", label)
                continue
            if not isinstance(obj, dict):
                skips.add("JSON line is not an object", label)
                continue
            text = next((obj[f] for f in fields if f in obj), None)
            if not isinstance(text, str):
                skips.add(f"no string field {' or '.join(fields)}", label)
                continue
            if not text:
                skips.add("empty text", label)
                continue
            lang = obj.get("language") or obj.get("lang")
            lang = lang.lower() if isinstance(lang, str) else None
            if lang not in _KNOWN_LANG:
                p = obj.get("path") or obj.get("max_stars_repo_path")
                lang = language_of(p) if isinstance(p, str) else None
            yield Doc(source, lineno, text, lang)


def read_documents(inputs: list[Path], skips: Skips, text_field: str | None = None) -> Iterator[Doc]:
    """Documents of every input in order: trees (sorted walk), source files, JSONL files."""
    for source, path in enumerate(inputs):
        if path.is_dir():
            for f in _walk(path):
                rel = f.relative_to(path).as_posix()
                text = decode_file(f, skips, str(f))
                if text is not None:
                    yield Doc(source, rel, text, language_of(f.name))
        elif is_jsonl(path):
            yield from jsonl_docs(path, source, skips, text_field)
        else:
            text = decode_file(path, skips, str(path))
            if text is not None:
                yield Doc(source, path.name, text, language_of(path.name))


def check_inputs(inputs: list[Path]) -> None:
    for p in inputs:
        if not p.exists():
            raise FileNotFoundError(f"input not found: {p}")
