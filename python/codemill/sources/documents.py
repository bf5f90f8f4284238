"""The index's and the repository graph's tree readers, until they read through
:func:`codemill.sources.iter_documents` like the other commands (regroup in progress)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from codemill.languages import EXTENSIONS

# Directories that hold tooling state, caches or vendored copies rather than the project's code.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", "target", ".mypy_cache"}
)

# Reasons a file is skipped (the keys of skip counters in reports).
TOO_LARGE = "too_large"
BINARY = "binary"
NOT_UTF8 = "invalid_utf8"
UNREADABLE = "unreadable"
EMPTY = "empty"


def iter_code_files(root: str | os.PathLike[str], all_files: bool = False) -> Iterator[Path]:
    """Files under ``root`` in a stable (sorted) order; a file root yields itself.

    Directories are walked for files with a known code extension (all files with
    ``all_files``), skipping hidden and cache directories. Symlinked directories are not
    followed, so link loops cannot trap the walk. A directory that cannot be listed is yielded
    as a path, so that reading it reports it as unreadable.
    """
    root = Path(root)
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or directory")
    # A directory that cannot be listed is yielded itself: reading it fails, so every caller
    # counts it as unreadable instead of losing its files silently.
    unlisted: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted.append):
        while unlisted:
            yield Path(unlisted.pop(0).filename)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if all_files or os.path.splitext(name)[1].lower() in EXTENSIONS:
                yield Path(dirpath, name)
    while unlisted:
        yield Path(unlisted.pop(0).filename)


def read_code_file(path: Path, max_bytes: int = 10_000_000) -> tuple[str | None, str | None]:
    """(text, None) for a readable UTF-8 text file, else (None, reason)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, TOO_LARGE
        data = path.read_bytes()
    except OSError:
        return None, UNREADABLE
    if not data:
        return None, EMPTY
    if b"\0" in data[:8192]:
        return None, BINARY
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, NOT_UTF8
