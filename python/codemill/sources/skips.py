"""The one skip vocabulary: every input that is not read is counted under one of these reasons.

Every command's report lists ``skipped`` (reason -> count) and ``skipped_items`` (the first
ones, ``{"path": where, "reason": reason}``) with these words, so the same tree gives the same
counts whichever command reads it. ``where`` is a file path, or ``path:N`` for the N-th line of a
JSONL file or the N-th row of a Parquet file (1-based).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TypedDict

from codemill.sources.names import printable

# Files (and records) that were found but not read.
TOO_LARGE = "too_large"  # over the reader's max_bytes
BINARY = "binary"  # a NUL byte in its first 8 KiB
INVALID_UTF8 = "invalid_utf8"  # not UTF-8 text (or a lone surrogate escape in JSON)
UNREADABLE = "unreadable"  # the OS refused to list or read it
EMPTY = "empty"  # zero bytes / an empty text field / a blank JSONL line
NOT_A_FILE = "not_a_file"  # a FIFO, socket or device: never opened (a FIFO would block)
SYMLINK = "symlink"  # trees store links, not their targets; a link loop cannot trap a walk
UNSUPPORTED_LANGUAGE = "unsupported_language"  # no code extension and no known shebang
LOCK_FILE = "lock_file"  # package-manager lock files are generated, not code
GITIGNORED = "gitignored"  # matched by .gitignore / .git/info/exclude
# Directories passed over whole (counted once per directory, with a trailing "/").
VCS = "vcs"
VENDORED = "vendored"
BUILD_OUTPUT = "build_output"
TOOL_STATE = "tool_state"
# Records of JSONL / Parquet inputs.
INVALID_JSON = "invalid_json"  # a line that is not a JSON object
NO_TEXT = "no_text"  # no string "content" / "text" / "code" field
# A record file that cannot be read through (truncated, corrupt compression or Parquet): the
# repository tools skip the rest of it; corpus jobs stop on it, naming it.
DAMAGED = "damaged"

REASONS: dict[str, str] = {
    TOO_LARGE: "larger than the size limit",
    BINARY: "binary data (a NUL byte in the first 8 KiB)",
    INVALID_UTF8: "not valid UTF-8",
    UNREADABLE: "could not be listed or read",
    EMPTY: "empty",
    NOT_A_FILE: "not a regular file (FIFO, socket or device)",
    SYMLINK: "a symbolic link (not followed)",
    UNSUPPORTED_LANGUAGE: "not a code file of a known language",
    LOCK_FILE: "a package-manager lock file",
    GITIGNORED: "ignored by .gitignore",
    VCS: "version-control state",
    VENDORED: "vendored or third-party code",
    BUILD_OUTPUT: "build output",
    TOOL_STATE: "tool state or a virtual environment",
    INVALID_JSON: "a JSONL line that is not a JSON object",
    NO_TEXT: "a record without a text field",
    DAMAGED: "a record file that cannot be read through (truncated or corrupt)",
}

DEFAULT_LISTED = 1000


class SkippedItem(TypedDict):
    path: str
    reason: str


class Skips:
    """Skipped inputs counted by reason, the first ``limit`` of them listed in order."""

    def __init__(self, limit: int = DEFAULT_LISTED) -> None:
        self.counts: Counter[str] = Counter()
        self.items: list[SkippedItem] = []
        self.limit = limit

    def add(self, where: str, reason: str) -> None:
        self._count(reason)
        if len(self.items) < self.limit:
            self.items.append({"path": printable(where), "reason": reason})

    def update(self, counts: dict[str, int], items: Iterable[SkippedItem] = (), at: int | None = None) -> None:
        """Adds the counts and listed items of another reader (a worker's, a task's): at the
        end, or before what was listed from item ``at`` on (as `insert` puts them)."""
        self.counts.update(counts)
        if at is not None:
            self._put(at, list(items))
            return
        for item in items:
            if len(self.items) >= self.limit:
                break
            self.items.append(item)

    def insert(self, at: int, skipped: list[tuple[str, str]]) -> None:
        """Counts ``(where, reason)`` pairs that come before what was listed from item ``at`` on
        (files read elsewhere while the listing went on)."""
        for _, reason in skipped:
            self._count(reason)
        self._put(at, [{"path": printable(where), "reason": reason} for where, reason in skipped])

    def _put(self, at: int, items: list[SkippedItem]) -> None:
        """Lists ``items`` before item ``at``; the list keeps its first ``limit``."""
        if at < self.limit:
            self.items[at:at] = items
            del self.items[self.limit :]

    def _count(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")  # a programming error, never input
        self.counts[reason] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def __repr__(self) -> str:
        return f"Skips({self.as_dict()})"


class Placing:
    """The skipped items of a listing whose items are read out of its order (by Ray tasks, or
    read ahead), each put where a run that reads every item as it is listed lists them: before
    what the listing passed over after that item. `listed` notes where the listing stands as an
    item is listed; `insert` and `update` put the item's skips there once it is read, the items
    in the listing's order."""

    def __init__(self, skips: Skips) -> None:
        self.skips = skips
        self.placed = 0  # skipped items put among the listing's own

    def listed(self) -> int:
        """The listing's own skipped items so far: where those of the item it lists now go."""
        return len(self.skips.items) - self.placed

    def insert(self, listed: int, skipped: list[tuple[str, str]]) -> None:
        """`Skips.insert` of an item noted at ``listed``."""
        self.skips.insert(listed + self.placed, skipped)
        self.placed += len(skipped)

    def update(self, listed: int, counts: dict[str, int], items: list[SkippedItem]) -> None:
        """`Skips.update` of an item noted at ``listed``: another reader's counts and items."""
        self.skips.update(counts, items, at=listed + self.placed)
        self.placed += len(items)


def renumber(items: list[SkippedItem], path: str, offset: int) -> list[SkippedItem]:
    """Turns line numbers counted from a task's start into line numbers of its file."""
    out: list[SkippedItem] = []
    for item in items:
        where, _, n = item["path"].rpartition(":")
        if offset and where == path and n.isdigit():
            item = {"path": f"{where}:{int(n) + offset}", "reason": item["reason"]}
        out.append(item)
    return out
