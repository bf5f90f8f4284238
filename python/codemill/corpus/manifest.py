"""The shapes of a task record and of ``manifest.json``, and merging records into a manifest."""

from __future__ import annotations

from typing import Any, TypedDict

from codemill.sources.names import printable
from codemill.sources.skips import SkippedItem, renumber

SKIPPED_LIST_LIMIT = 10_000


class ShardInfo(TypedDict):
    name: str
    files: list[str]
    documents: int
    tokens: int
    bytes: int
    size: int


class LanguageStats(TypedDict):
    documents: int
    bytes: int
    tokens: int


class TaskRecord(TypedDict):
    """What a finished task wrote to ``tasks/task-NNNNN.json``."""

    task: dict[str, Any]  # Task.describe()
    stamp: str  # Task.stamp: when its inputs last changed (checked on resume, not in the manifest)
    documents: int
    tokens: int
    bytes: int
    lines: int  # lines (rows) of a record file the task passed; 0 for code files and whole record files
    shards: list[ShardInfo]
    languages: dict[str, LanguageStats]
    skipped: dict[str, int]
    skipped_items: list[SkippedItem]


class LineOffsets:
    """Where each task's line numbers start in its file: a JSONL task numbers its lines from its
    own start, after the lines of the file's earlier tasks (given in order)."""

    def __init__(self) -> None:
        self._before: dict[str, int] = {}  # JSONL path -> lines of its tasks so far

    def next(self, kind: str, path: str, lines: int) -> int:
        """The offset of a task's line numbers (0 but for JSONL); its ``lines`` count for the next."""
        if kind != "jsonl":
            return 0
        offset = self._before.get(path, 0)
        self._before[path] = offset + lines
        return offset


def merge(head: dict[str, Any], records: list[TaskRecord], plan_skips: Any) -> dict[str, Any]:
    """The complete manifest: ``head`` plus totals, per-language stats, shards and skips.

    ``plan_skips`` (a :class:`codemill.sources.Skips`) holds what the listing passed over.
    """
    langs: dict[str, dict[str, Any]] = {}
    skipped: dict[str, int] = dict(plan_skips.counts)
    items: list[SkippedItem] = list(plan_skips.items[:SKIPPED_LIST_LIMIT])
    # The list is the first skips of the run, without gaps: it stops where a part's own list
    # (the listing's, then each task's in order) stopped short of its count.
    listing = len(items) == sum(skipped.values())
    shards: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    offsets = LineOffsets()
    for rec in records:
        task = rec["task"]
        index = task["index"]
        for sh in rec["shards"]:
            shards.append({"task": index, **sh})
        for lang, stats in rec["languages"].items():
            acc = langs.setdefault(lang, {"documents": 0, "bytes": 0, "tokens": 0})
            acc["documents"] += stats["documents"]
            acc["bytes"] += stats["bytes"]
            acc["tokens"] += stats["tokens"]
        for reason, n in rec["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + n
        offset = offsets.next(task["kind"], task["path"], rec["lines"])
        if listing:
            own = rec["skipped_items"][: SKIPPED_LIST_LIMIT - len(items)]
            items.extend(renumber(own, printable(task["path"]), offset))
            listing = len(own) == sum(rec["skipped"].values())
        tasks.append({**task, "documents": rec["documents"], "tokens": rec["tokens"], "shards": len(rec["shards"])})
    for s in langs.values():
        s["bytes_per_token"] = round(s["bytes"] / max(s["tokens"], 1), 4)
    documents = sum(r["documents"] for r in records)
    nbytes = sum(r["bytes"] for r in records)
    text_tokens = sum(s["tokens"] for s in langs.values())
    return {
        **head,
        "complete": True,
        "totals": {
            "documents": documents,
            "tokens": sum(r["tokens"] for r in records),
            "text_tokens": text_tokens,
            "bytes": nbytes,
            "bytes_per_token": round(nbytes / max(text_tokens, 1), 4),
            "shards": len(shards),
            "skipped": sum(skipped.values()),
        },
        "languages": dict(sorted(langs.items())),
        "skipped": dict(sorted(skipped.items())),
        "skipped_items": items,
        "skipped_items_truncated": sum(skipped.values()) > len(items),
        "shards": shards,
        "tasks": tasks,
    }
