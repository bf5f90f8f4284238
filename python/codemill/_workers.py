"""Worker processes that do not need the caller's ``if __name__ == "__main__":`` guard.

codemill spawns its workers (a forked copy of a process whose native thread pools are running
can hang). A spawned child normally re-runs the parent's main script to rebuild its globals,
so a script that calls `tokenize_corpus` or `prepare` at top level, as the README's example
does, would call it again in every child: a multiprocessing traceback and a hang. Our workers
run only codemill's own functions, so the children need nothing from the main script: while
a worker starts, the main module's file and spec are hidden and the child skips it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["WorkerPool"]

_lock = threading.Lock()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _lock:
        saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


class WorkerPool(ProcessPoolExecutor):
    """A spawn-context `ProcessPoolExecutor` whose children never import the main script."""

    def __init__(
        self, max_workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
    ) -> None:
        super().__init__(max_workers, multiprocessing.get_context("spawn"), initializer, initargs)

    def _spawn_process(self) -> None:
        with _main_hidden():
            super()._spawn_process()  # type: ignore[misc]
