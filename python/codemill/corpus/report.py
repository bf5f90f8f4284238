"""Tokenize code (trees, JSONL, Parquet) and report per-language files, bytes, tokens, bytes/token
and speed (`codemill tokenize` without -o).

Documents are read in batches of about ``batch_bytes`` and encoded in parallel, so memory stays
bounded however large the tree. Skipped files are counted with their reason.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from codemill.corpus.manifest import SKIPPED_LIST_LIMIT, LineOffsets
from codemill.corpus.plan import Task, plan_tasks, task_documents
from codemill.corpus.settings import Specials, allowed_specials
from codemill.progress import Progress
from codemill.sources import DEFAULT_MAX_BYTES, Document, Skips
from codemill.sources.names import printable
from codemill.sources.skips import renumber
from codemill.tokenizer import CodeTokenizer
from codemill.tokenizer.code_tokenizer import AllowedSpecial


def _batches(
    tasks: list[Task], specials: Specials, batch_bytes: int, skips: Skips, max_bytes: int
) -> Iterator[tuple[list[Document], tuple[str, ...]]]:
    """The documents of the run's tasks, read as a run reads them (`task_documents`), in batches
    of about ``batch_bytes`` that share their special tokens (a prepared file's are its own)."""
    batch: list[Document] = []
    allowed: tuple[str, ...] = ()
    size = 0
    offsets = LineOffsets()
    for task in tasks:
        own = Skips(limit=skips.limit)
        docs, reader = task_documents(task, own, max_bytes)
        task_allowed = specials.for_task(task)
        for doc in docs:
            if batch and (size >= batch_bytes or task_allowed != allowed):
                yield batch, allowed
                batch, size = [], 0
            allowed = task_allowed
            batch.append(doc)
            size += doc.size
        # The file's line numbers, as a run's manifest has them.
        offset = offsets.next(task.kind, task.path, reader.lines if reader is not None else 0)
        skips.update(own.counts, renumber(own.items, printable(task.path), offset))
    if batch:
        yield batch, allowed


def tokenize_report(
    tok: CodeTokenizer,
    inputs: list[str],
    threads: int | None = None,
    batch_bytes: int = 16 << 20,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool | None = None,
    allowed_special: AllowedSpecial | None = None,
) -> dict[str, Any]:
    """Per-language documents, bytes, tokens and speed of ``inputs``; skips counted and listed.

    ``progress``: progress on stderr (`codemill.progress`; default on). ``allowed_special``: as
    for `codemill.corpus.job.tokenize_corpus`, so a report counts the tokens a run writes.
    """
    skips = Skips(limit=SKIPPED_LIST_LIMIT)
    tasks = plan_tasks(inputs, None, skips)  # as a run lists its inputs, so its documents are the run's
    specials = allowed_specials(tok, inputs, allowed_special, tasks)
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    encode_seconds = 0.0
    t0 = time.perf_counter()
    bar = Progress("tokenize report", unit="documents", enabled=True if progress is None else progress)
    for batch, allowed in _batches(tasks, specials, batch_bytes, skips, max_file_bytes):
        texts = [d.text or "" for d in batch]
        langs = [d.language for d in batch]
        t = time.perf_counter()
        counts = tok.count_batch(texts, langs, num_threads=threads, allowed_special=allowed)
        encode_seconds += time.perf_counter() - t
        for d, n in zip(batch, counts, strict=True):
            s = stats[d.language]
            s["documents"] += 1
            s["bytes"] += d.size
            s["tokens"] += n
        total = sum(s["bytes"] for s in stats.values())
        bar.update(sum(s["documents"] for s in stats.values()), f"{total / 1e6:.1f} MB")
    bar.close()
    wall = time.perf_counter() - t0
    languages = {
        lang: {**s, "bytes_per_token": round(s["bytes"] / max(s["tokens"], 1), 3)} for lang, s in sorted(stats.items())
    }
    total_bytes = sum(s["bytes"] for s in stats.values())
    total_tokens = sum(s["tokens"] for s in stats.values())
    return {
        "inputs": [printable(os.fspath(p)) for p in inputs],
        "tokenizer": {"vocab_size": tok.vocab_size, "hash": tok.hash},
        "documents": sum(s["documents"] for s in stats.values()),
        "bytes": total_bytes,
        "tokens": total_tokens,
        "bytes_per_token": round(total_bytes / max(total_tokens, 1), 3),
        "seconds": round(wall, 3),
        "encode_seconds": round(encode_seconds, 3),
        "encode_mb_per_s": round(total_bytes / 1e6 / max(encode_seconds, 1e-9), 1),
        "languages": languages,
        "skipped": skips.as_dict(),
        "skipped_items": skips.items,
    }


def language_table(languages: Mapping[str, Mapping[str, Any]], documents: int, nbytes: int, tokens: int) -> list[str]:
    """Documents, MB, tokens and bytes/token per language and in total, one line each."""
    rows = [(lang, st["documents"], st["bytes"], st["tokens"]) for lang, st in languages.items()]
    rows.append(("total", documents, nbytes, tokens))
    lines = [f"{'language':<12}{'documents':>11}{'MB':>10}{'tokens':>14}{'bytes/token':>13}"]
    for name, n, b, t in rows:
        lines.append(f"{name:<12}{n:>11}{b / 1e6:>10.2f}{t:>14}{b / max(t, 1):>13.2f}")
    return lines


def format_tokenize_report(r: dict[str, Any]) -> str:
    lines = language_table(r["languages"], r["documents"], r["bytes"], r["tokens"])
    lines.append(
        f"encoded at {r['encode_mb_per_s']} MB/s ({r['encode_seconds']}s encoding, {r['seconds']}s in all, "
        f"reading included)"
    )
    if r["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in r["skipped"].items()))
    return "\n".join(lines)
