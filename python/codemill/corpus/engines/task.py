"""One corpus task: read its documents streaming, encode them in batches, write its shards.

The same function runs in-process, in a pool worker or as a Ray task. Its output depends only
on the task and the settings, never on where or when it runs.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from codemill._io import atomic_write_json, fsync_dir
from codemill.corpus.shards import TASKS_DIR, ShardWriter
from codemill.sources.documents import Document, Skips, Task, iter_task_documents

# Tokenizers by hash, loaded once per worker process.
_TOKENIZERS: dict[str, Any] = {}


def worker_tokenizer(tokenizer_json: str, expected_hash: str) -> Any:
    tok = _TOKENIZERS.get(expected_hash)
    if tok is None:
        from codemill.tokenizer.code_tokenizer import CodeTokenizer

        tok = CodeTokenizer.from_json(tokenizer_json, source="<corpus worker>")
        _TOKENIZERS[expected_hash] = tok
    return tok


def task_prefix(index: int) -> str:
    return f"shard-{index:05d}"


def record_path(outdir: Path, index: int) -> Path:
    return outdir / TASKS_DIR / f"task-{index:05d}.json"


def remove_task_outputs(outdir: Path, index: int) -> None:
    """Deletes what an unfinished earlier attempt at this task left (shards, temporaries)."""
    prefix = task_prefix(index) + "-"
    for p in outdir.iterdir():
        name = p.name.lstrip(".")
        if name.startswith(prefix):
            p.unlink(missing_ok=True)


def _prefetch(it: Iterator[list[Document]], depth: int = 2) -> Iterator[list[Document]]:
    """Reads up to ``depth`` batches ahead in a thread, so that file reads and JSON parsing
    overlap encoding (which drops the GIL); memory stays at a few batches."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    t = threading.Thread(target=produce, name="codemill-reader", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _batches(docs: Iterator[Document], batch_bytes: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    size = 0
    for d in docs:
        batch.append(d)
        size += d.nbytes
        if size >= batch_bytes or len(batch) >= 8192:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def run_task(task: Task, settings: dict[str, Any], tok: Any, outdir: str | os.PathLike[str]) -> dict[str, Any]:
    """Runs one task and commits it: shards renamed into place, then the task record.

    Returns the record: the task, its shards, document/token/byte counts, per-language
    statistics and skipped items.
    """
    outdir = Path(outdir)
    remove_task_outputs(outdir, task.index)
    skips = Skips(limit=settings.get("skipped_list_limit", 1000))
    writer = ShardWriter(
        outdir,
        task_prefix(task.index),
        fmt=settings["format"],
        dtype=np.dtype(settings["dtype"]),
        shard_tokens=settings["shard_tokens"],
        eot_id=settings["eot_id"],
    )
    langs: dict[str, Counter[str]] = defaultdict(Counter)
    threads = settings.get("threads_per_worker", 1)
    docs = iter_task_documents(task, skips, settings["max_file_bytes"])
    try:
        for batch in _prefetch(_batches(docs, settings["batch_bytes"])):
            texts = [d.text for d in batch]
            languages = [d.language for d in batch]
            ids, offsets = tok.encode_batch_flat(texts, languages, num_threads=threads)
            nbytes = np.fromiter((d.nbytes for d in batch), dtype=np.int64, count=len(batch))
            writer.add(ids, offsets, nbytes)
            counts = np.diff(offsets)
            for d, n in zip(batch, counts.tolist(), strict=True):
                s = langs[d.language]
                s["documents"] += 1
                s["bytes"] += d.nbytes
                s["tokens"] += n
        shards = writer.close()
    except BaseException:
        writer.abort()
        raise
    record = {
        "task": task.describe(),
        "documents": sum(s["documents"] for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "bytes": sum(s["bytes"] for s in shards),
        "shards": shards,
        "languages": {k: dict(v) for k, v in sorted(langs.items())},
        "skipped": dict(sorted(skips.counts.items())),
        "skipped_items": skips.items,
    }
    path = record_path(outdir, task.index)
    atomic_write_json(path, record)
    fsync_dir(outdir)
    fsync_dir(path.parent)
    return record
