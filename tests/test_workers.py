"""`codemill._workers.WorkerPool`: what the stdlib's process pool gets wrong on Python 3.11."""

from __future__ import annotations

import os
import signal
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
