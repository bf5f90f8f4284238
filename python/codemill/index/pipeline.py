"""The embedding throughput pipeline: tokenizer and model at the same time.

Texts are cut into groups in input order. A producer thread tokenizes one group with the
model's tokenizer and packs it into length-sorted, token-budgeted batches (Rust, GIL
released) while the model runs the batches of the group before it: one worker thread per
ONNX Runtime session (``session.run`` releases the GIL too). Each row is written back to its
input position, so the result does not depend on grouping, batching or scheduling order.

Grouping trades padding for overlap: sorting the whole input pads least but leaves the model
idle until every text is tokenized; a group of a few thousand texts already sorts well.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codemill.progress import Progress

DEFAULT_GROUP = 4096
# Up to this many texts run inline on the caller's thread.
SMALL = 64

# (input_ids, attention_mask) of one padded batch -> (rows, dim) float32 outputs.
RunBatch = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class PipelineStats:
    """What one run did; ``waste`` is the share of padded cells the model computed on."""

    texts: int = 0
    batches: int = 0
    truncated: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    naive_padded_tokens: int = 0
    seconds: float = 0.0
    tokenize_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def waste(self) -> float:
        return 1.0 - self.real_tokens / self.padded_tokens if self.padded_tokens else 0.0

    @property
    def naive_waste(self) -> float:
        return 1.0 - self.real_tokens / self.naive_padded_tokens if self.naive_padded_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "texts": self.texts,
            "batches": self.batches,
            "truncated": self.truncated,
            "real_tokens": self.real_tokens,
            "padded_tokens": self.padded_tokens,
            "padding_waste": round(self.waste, 4),
            "naive_padding_waste": round(self.naive_waste, 4),
            "seconds": round(self.seconds, 3),
            "tokenize_seconds": round(self.tokenize_seconds, 3),
            "chunks_per_s": round(self.texts / self.seconds, 1) if self.seconds else None,
        }


def run_pipeline(
    texts: Sequence[str],
    batcher: Any,
    sessions: Sequence[Any],
    run_batch: RunBatch,
    dim: int,
    *,
    group_size: int = DEFAULT_GROUP,
    tokenizer_threads: int | None = 1,
    progress: bool = False,
) -> tuple[np.ndarray, PipelineStats]:
    """Embeds ``texts``: an (n, dim) float32 array in input order, and what the run did.

    ``batcher`` is a :class:`codemill._core.EmbeddingBatcher`; ``run_batch(session, ids,
    mask)`` runs one batch on one session. Groups are tokenized on ``tokenizer_threads``
    threads while the sessions work.
    """
    n = len(texts)
    out = np.zeros((n, dim), dtype=np.float32)
    stats = PipelineStats(texts=n)
    if n == 0:
        return out, stats
    start = time.perf_counter()
    if n <= SMALL and not progress:
        # A query or a handful of chunks: threads would cost more than they overlap.
        batches, s = batcher.batches(list(texts), tokenizer_threads)
        _count(stats, s)
        for ids, mask, idx in batches:
            out[idx] = run_batch(sessions[0], ids, mask)
        stats.seconds = time.perf_counter() - start
        return out, stats
    # Bounded: the producer runs at most a group or so ahead of the model (memory stays flat).
    work: queue.Queue[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = queue.Queue(maxsize=64)
    errors: list[BaseException] = []
    bar = Progress("embedding", n, "chunks", enabled=progress)
    lock = threading.Lock()

    def produce() -> None:
        try:
            for lo in range(0, n, group_size):
                t0 = time.perf_counter()
                batches, s = batcher.batches(list(texts[lo : lo + group_size]), tokenizer_threads)
                stats.tokenize_seconds += time.perf_counter() - t0
                _count(stats, s)
                for ids, mask, idx in batches:
                    if errors:
                        return
                    work.put((ids, mask, idx + lo))
        except BaseException as e:  # handed to the caller's thread below
            errors.append(e)
        finally:
            for _ in sessions:
                work.put(None)

    def consume(session: Any) -> None:
        try:
            while (item := work.get()) is not None:
                if errors:
                    continue  # drain so the producer never blocks
                ids, mask, idx = item
                out[idx] = run_batch(session, ids, mask)
                with lock:
                    rate = (bar.done + len(idx)) / max(time.perf_counter() - start, 1e-9)
                    bar.advance(len(idx), f"{rate:.0f} chunks/s")
        except BaseException as e:
            errors.append(e)
            while work.get() is not None:
                pass

    threads = [threading.Thread(target=produce, name="codemill-tokenize", daemon=True)]
    threads += [threading.Thread(target=consume, args=(s,), name="codemill-embed", daemon=True) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    if errors:
        raise errors[0]
    stats.seconds = time.perf_counter() - start
    return out, stats


def _count(stats: PipelineStats, s: dict[str, Any]) -> None:
    stats.batches += s["batches"]
    stats.truncated += s["truncated"]
    stats.real_tokens += s["real_tokens"]
    stats.padded_tokens += s["padded_tokens"]
    stats.naive_padded_tokens += s["naive_padded_tokens"]
