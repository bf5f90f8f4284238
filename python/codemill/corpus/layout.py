"""Names inside a token output directory (one place, read by the job, the tasks and readers).

Layout::

    manifest.json                  inputs, settings, tokenizer hash, shards, per-language stats,
                                   skipped items, completion state
    tasks/task-00003.json          the record of a completed task (the resume state)
    shard-00003-0000.npy           token ids of task 3's first shard (uint16 or uint32)
    shard-00003-0000.docs.npy      its document index: uint64 start offsets, one more than docs
    shard-00003-0000.bin / .idx    the same shard in Megatron-LM's indexed-dataset format
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codemill._json import json_text

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "codemill-shards/1"
TASKS_DIR = "tasks"


def task_prefix(index: int) -> str:
    """The name prefix of task ``index``'s shards."""
    return f"shard-{index:05d}"


def record_path(outdir: Path, index: int) -> Path:
    """Where task ``index``'s record goes; its presence commits the task."""
    return outdir / record_name(index)


def record_name(index: int) -> str:
    """Task ``index``'s record, relative to the output directory."""
    return f"{TASKS_DIR}/task-{index:05d}.json"


def json_bytes(obj: Any) -> bytes:
    """The bytes of a record or manifest (the same wherever it is written)."""
    return json_text(obj).encode("utf-8")
