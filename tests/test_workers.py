"""`codemill._workers.WorkerPool`: what the stdlib's process pool gets wrong on Python 3.11."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import pytest
from codemill._workers import WorkerPool


def test_a_task_cancelled_before_its_pool_broke_ends_no_thread(monkeypatch):
    # Python 3.11 set the broken pool's error on a task cancelled meanwhile too: its manager
    # thread died of InvalidStateError (a traceback) before stopping the other workers.
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    with WorkerPool(1) as pool:
        pool.start()
        busy = pool.submit(time.sleep, 30)
        queued = [pool.submit(int) for _ in range(4)]  # past the call queue: still cancellable
        while not busy.running():
            time.sleep(0.01)
        assert queued[-1].cancel()
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            busy.result(timeout=30)
        for future in queued[:-1]:
            with pytest.raises(BrokenProcessPool):
                future.result(timeout=30)
        assert queued[-1].cancelled()
    assert died == []


def test_pools_started_at_once_each_get_the_mended_manager_and_leave_the_stdlib_as_it_was():
    # The mended manager thread was put in by swapping the stdlib's module global for the
    # start: two pools started at once could leave it swapped for every later pool.
    from concurrent.futures import ProcessPoolExecutor, process

    stock = process._ExecutorManagerThread
    for _ in range(5):
        pools = [WorkerPool(1) for _ in range(4)]
        go = threading.Barrier(len(pools))

        def start(pool: WorkerPool, go: threading.Barrier) -> None:
            go.wait()
            pool.start()

        threads = [threading.Thread(target=start, args=(p, go)) for p in pools]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        managers = {type(p._executor_manager_thread).__name__ for p in pools}  # type: ignore[attr-defined]
        for p in pools:
            p.shutdown()
        assert process._ExecutorManagerThread is stock
        assert managers == ({"_ManagerThread"} if sys.version_info < (3, 12) else {stock.__name__})
    with ProcessPoolExecutor(1) as plain:
        assert plain.submit(int, "7").result() == 7
        assert type(plain._executor_manager_thread) is stock  # type: ignore[attr-defined]
