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
        if size >= max_bytes or len(batch) >= max_items:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def full(batch: list[T], max_bytes: int, max_items: int, size_of: Callable[[T], int]) -> bool:
    """Whether `batches` closed ``batch`` at a limit (more items may follow), not at the end of
    its items: a batch under both limits is the last one."""
    return len(batch) >= max_items or sum(size_of(item) for item in batch) >= max_bytes
