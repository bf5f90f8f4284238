"""Tokenize code (trees, JSONL, Parquet) and report per-language files, bytes, tokens, bytes/token
and speed (`codemill tokenize` without -o).

Documents are read in batches of about ``batch_bytes`` and encoded in parallel, so memory stays
bounded however large the tree. Skipped files are counted with their reason.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from codemill.sources.documents import Skips, iter_documents


def _batches(inputs: Iterable[str], batch_bytes: int, skips: Skips) -> Iterator[list[tuple[str, str, int]]]:
    batch: list[tuple[str, str, int]] = []
    size = 0
    for doc in iter_documents(inputs, skips, max_bytes=10_000_000):
        batch.append((doc.text, doc.language, doc.nbytes))
        size += doc.nbytes
        if size >= batch_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def tokenize_report(
    tok: Any, inputs: list[str], threads: int | None = None, batch_bytes: int = 16 << 20
) -> dict[str, Any]:
    for root in inputs:
        if not Path(root).exists():
            raise FileNotFoundError(f"{root}: no such file or directory")
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    skips = Skips(limit=1000)
    encode_seconds = 0.0
    t0 = time.perf_counter()
    show = sys.stderr.isatty()
    for batch in _batches(inputs, batch_bytes, skips):
        texts = [t for t, _, _ in batch]
        langs = [lang for _, lang, _ in batch]
        t = time.perf_counter()
        _, offsets = tok.encode_batch_flat(texts, langs, num_threads=threads)
        encode_seconds += time.perf_counter() - t
        counts = offsets[1:] - offsets[:-1]
        for (_, lang, nbytes), n in zip(batch, counts.tolist(), strict=True):
            s = stats[lang]
            s["files"] += 1
            s["bytes"] += nbytes
            s["tokens"] += n
        if show:
            total = sum(s["bytes"] for s in stats.values())
            print(f"\r{sum(s['files'] for s in stats.values())} files, {total / 1e6:.1f} MB", end="", file=sys.stderr)
    if show:
        print(file=sys.stderr)
    wall = time.perf_counter() - t0
    languages = {
        lang: {**s, "bytes_per_token": round(s["bytes"] / max(s["tokens"], 1), 3)} for lang, s in sorted(stats.items())
    }
    total_bytes = sum(s["bytes"] for s in stats.values())
    total_tokens = sum(s["tokens"] for s in stats.values())
    return {
        "inputs": inputs,
        "tokenizer": {"vocab_size": tok.vocab_size, "hash": tok.hash},
        "files": sum(s["files"] for s in stats.values()),
        "bytes": total_bytes,
        "tokens": total_tokens,
        "bytes_per_token": round(total_bytes / max(total_tokens, 1), 3),
        "seconds": round(wall, 3),
        "encode_seconds": round(encode_seconds, 3),
        "encode_mb_per_s": round(total_bytes / 1e6 / max(encode_seconds, 1e-9), 1),
        "languages": languages,
        "skipped": dict(sorted(skips.counts.items())),
        "skipped_files": skips.items,
    }


def format_tokenize_report(r: dict[str, Any]) -> str:
    lines = [f"{'language':<12}{'files':>8}{'MB':>10}{'tokens':>12}{'bytes/token':>13}"]
    for lang, s in r["languages"].items():
        lines.append(
            f"{lang:<12}{s['files']:>8}{s['bytes'] / 1e6:>10.2f}{s['tokens']:>12}{s['bytes_per_token']:>13.2f}"
        )
    lines.append(f"{'total':<12}{r['files']:>8}{r['bytes'] / 1e6:>10.2f}{r['tokens']:>12}{r['bytes_per_token']:>13.2f}")
    lines.append(
        f"encoded at {r['encode_mb_per_s']} MB/s ({r['encode_seconds']}s encoding, {r['seconds']}s in all, "
        f"reading included)"
    )
    if r["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in r["skipped"].items()))
    return "\n".join(lines)
