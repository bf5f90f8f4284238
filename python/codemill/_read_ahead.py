"""Reading ahead of a consumer in a thread: how the corpus jobs hide object storage's round trips."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def read_ahead(it: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """The items of ``it``, up to ``depth`` of them read ahead in a thread, so that reads from
    object storage (round trips) overlap the work on the items before (encoding, signing, which
    drop the GIL); memory stays at a few items. An error of ``it`` is raised in its place."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item: Any) -> bool:
        # In short waits: once the consumer has gone (an error, an abandoned task) nothing takes
        # from the queue, and a plain put would hold this thread and its batches forever.
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in it:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer
            put(exc)

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
