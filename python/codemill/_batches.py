"""Cutting a stream of items into batches of about a size: the one rule the corpus jobs batch by."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batches(items: Iterable[T], max_bytes: int, max_items: int, size_of: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` in order, in lists closed once they hold ``max_bytes`` (by ``size_of``; the item
    that reaches it included) or ``max_items``; the last one may be smaller. Never empty."""
    batch: list[T] = []
    size = 0
    for item in items:
        batch.append(item)
        size += size_of(item)
        if _closes(size, len(batch), max_bytes, max_items):
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def full(batch: list[T], max_bytes: int, max_items: int, size_of: Callable[[T], int]) -> bool:
    """Whether `batches` closed ``batch`` at a limit (more items may follow), not at the end of
    its items: a batch under both limits is the last one."""
    return _closes(sum(size_of(item) for item in batch), len(batch), max_bytes, max_items)


def _closes(size: int, count: int, max_bytes: int, max_items: int) -> bool:
    """Whether a batch of ``count`` items and ``size`` bytes is closed: the one rule of both."""
    return size >= max_bytes or count >= max_items
