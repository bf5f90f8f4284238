"""Worker processes that do not need the caller's ``if __name__ == "__main__":`` guard.

codemill spawns its workers (a forked copy of a process whose native thread pools are running
can hang), unless the caller forks them from a process that runs one thread only
(`single_threaded`). A spawned child normally re-runs the parent's main script to rebuild its globals,
so a script that calls `tokenize_corpus` or `prepare` at top level, as the README's example
does, would call it again in every child: a multiprocessing traceback and a hang. Our workers
run only codemill's own functions, so the children need nothing from the main script: while
a worker starts, the main module's file and spec are hidden and the child skips it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures import process as _process
from typing import Any

from codemill._leftovers import hold, remove_orphans
from codemill._malloc import tune_malloc

__all__ = ["WorkerPool", "drop_worker_file", "worker_file"]

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


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ctrl-C ignored while a worker is spawned: the child inherits that through exec, so one
    still importing does not die with a traceback either (see `_start_worker`). Only the main
    thread may change a handler; a pool started elsewhere leaves it to `_start_worker`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _die_with_parent(parent: int) -> None:
    """Has the kernel kill this worker when its parent dies (``PR_SET_PDEATHSIG``), so a killed
    run leaves no worker behind: one would wait forever for work, holding both ends of its
    queue's pipe. A parent that died while this worker was starting is not signalled for: the
    worker checks and goes."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a stray worker only finishes its task
        return
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    _die_with_parent(parent)
    # A worker's malloc is set as the command's is (a library caller's own process is left as
    # it is, but its workers are codemill's).
    tune_malloc()
    # Ctrl-C reaches the whole process group: the parent answers it (stops the run, says how to
    # resume, shuts the pool down); a worker waiting for work would die with a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A spawned worker ends with a full interpreter teardown, which its pool's shutdown waits
    # for: its objects are left out of that teardown's collections (as `codemill.cli.run` does),
    # ~0.2 s of CPU with botocore loaded. Last of the exit handlers (they run last-in first-out).
    atexit.register(gc.freeze)
    if initializer is not None:
        initializer(*initargs)


def worker_file(kind: str, text: str) -> str:
    """A temporary file holding ``text`` for a pool's workers: its path goes to their initializer
    and then to `WorkerPool.temp_files`, which removes it. It is named after this process, and
    the files of the same ``kind`` left by processes that are gone (killed with kill -9 before
    their workers had started, the one moment a pool cannot clean up) are removed first."""
    prefix = f"codemill-{kind}-"
    remove_orphans(prefix)
    fd, path = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".json")
    hold(fd)  # until removed (`drop_worker_file`): another run sharing the directory leaves it
    data = memoryview(text.encode("utf-8"))
    while data:
        data = data[os.write(fd, data) :]
    _HELD[path] = fd
    return path


_HELD: dict[str, int] = {}


def drop_worker_file(path: str) -> None:
    """Removes a file `worker_file` made, and lets it go."""
    with contextlib.suppress(OSError):
        os.unlink(path)
    fd = _HELD.pop(path, None)
    if fd is not None:
        os.close(fd)


def _set_error_unless_cancelled(future: Future[Any], exc: BaseException) -> None:
    with contextlib.suppress(InvalidStateError):  # cancelled meanwhile: nothing to tell
        Future.set_exception(future, exc)


class _ManagerThread(_process._ExecutorManagerThread):
    """The pool's manager thread, which on Python 3.11 set a broken pool's error on each
    waiting task, one cancelled meanwhile too (a shared walk takes back the runs the pool has
    not started): an InvalidStateError ended the thread with a traceback, before it stopped
    the other workers. Python 3.12 ignores that error, as this does."""

    def terminate_broken(self, cause: Any) -> None:
        executor = self.executor_reference()
        if executor is not None:
            # Broken first, under the lock a submit holds (as Python 3.12 does): no task is added
            # while the waiting ones are gone through.
            with executor._shutdown_lock:
                executor._broken = "A child process terminated abruptly, the process pool is not usable anymore"
                executor._shutdown_thread = True
            del executor
        for item in list(self.pending_work_items.values()):
            item.future.set_exception = functools.partial(_set_error_unless_cancelled, item.future)  # type: ignore[method-assign]
        super().terminate_broken(cause)


class WorkerPool(ProcessPoolExecutor):
    """A spawn-context `ProcessPoolExecutor` whose children never import the main script and
    die with this process. ``fork``: the children are forked instead (only from a process that
    is `single_threaded`)."""

    def __init__(
        self,
        max_workers: int,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        fork: bool = False,
    ) -> None:
        ctx = multiprocessing.get_context("fork" if fork else "spawn")
        super().__init__(max_workers, ctx, _start_worker, (os.getpid(), initializer, initargs))
        self.temp_files: list[str] = []
        """Files made for the workers (removed at shutdown)."""
        self._started: list[Future[Any]] = []

    def _start_executor_manager_thread(self) -> None:
        if sys.version_info >= (3, 12):
            super()._start_executor_manager_thread()
            return
        # Python 3.11's own, with `_ManagerThread` for its manager.
        if self._executor_manager_thread is None:
            if not self._safe_to_dynamically_spawn_children:  # forked: their sentinels known first
                self._launch_processes()
            self._executor_manager_thread = _ManagerThread(self)
            self._executor_manager_thread.start()
            _process._threads_wakeups[self._executor_manager_thread] = self._executor_manager_thread_wakeup

    def _spawn_process(self) -> None:
        with _main_hidden(), _sigint_ignored():
            super()._spawn_process()  # type: ignore[misc]

    def start(self) -> WorkerPool:
        """Starts every worker now rather than at the first submit, so that their start-up
        (a Python, the imports, the initializer: about half a second) overlaps the caller's own
        preparation instead of delaying the first task. Keep the initializer's arguments small
        (under a pipe's 64 KB): a child is handed them through a pipe that it reads only once
        started, and until then this call would block."""
        started = [self.submit(int) for _ in range(self._max_workers)]  # type: ignore[attr-defined]
        self._started = started
        if len(started) == 1:
            # Each submit spawns a process while none is idle. A sole worker that has run a job
            # has run its initializer: the files made for it can go now, so that a run killed
            # later leaves none. (With more workers one may run several of these jobs before
            # another has started: their files stay until shutdown.)
            started[0].add_done_callback(lambda _: self._remove_temp_files())
        return self

    def ready(self) -> bool:
        """Whether every worker `start` started has finished starting (True if none was)."""
        return all(f.done() for f in self._started)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait, cancel_futures=cancel_futures)
        self._remove_temp_files()

    def _remove_temp_files(self) -> None:
        while self.temp_files:
            drop_worker_file(self.temp_files.pop())

    def discard(self) -> None:
        """Stops workers that were started but will not be used: they are killed rather than
        waited for, as they may still be importing."""
        processes = list((self._processes or {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.kill()
