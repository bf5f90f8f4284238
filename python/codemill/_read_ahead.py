"""Reading ahead of a consumer in a thread, and many reads at once: how the corpus jobs hide
object storage's round trips."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Item = TypeVar("Item")


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


def each_at_once(
    work: Callable[[Item], T], items: Sequence[Item], costs: Sequence[int], budget: int, most: int, name: str
) -> list[T]:
    """``work`` of each of ``items`` in threads (named ``name``), its results in order: up to
    ``most`` at once whose ``costs`` (the bytes each holds while it runs) add up to at most
    ``budget``, and one alone whatever its cost. So that the round trips of reads from object
    storage overlap, as many as memory allows. The first failed item's error is raised; the items
    not begun by then are not begun."""
    if not items:
        return []
    pool = ThreadPoolExecutor(max(1, min(most, len(items))), thread_name_prefix=name)
    running: deque[tuple[Future[T], int]] = deque()
    held = 0  # the costs of ``running``
    out: list[T] = []
    try:
        for item, cost in zip(items, costs, strict=True):
            while running and (len(running) >= most or held + cost > budget):
                done, its_cost = running.popleft()  # the oldest: results are taken in order
                out.append(done.result())
                held -= its_cost
            running.append((pool.submit(work, item), cost))
            held += cost
        out.extend(done.result() for done, _ in running)
        return out
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
