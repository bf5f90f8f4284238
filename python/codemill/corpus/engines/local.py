"""The local engine: tasks in this process (one worker) or also in a pool of worker processes.

Worker processes are started with ``spawn`` (no fork of a threaded parent) and die with their
parent (`codemill._workers.WorkerPool`), so a killed run leaves no worker writing behind it.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from codemill._workers import WorkerPool, worker_file
from codemill.corpus.engines.task import run_task, worker_tokenizer
from codemill.corpus.manifest import TaskRecord
from codemill.corpus.plan import Task
from codemill.corpus.settings import TaskSettings
from codemill.sources.fs import connect, is_url
from codemill.tokenizer import CodeTokenizer

_WORKER: dict[str, Any] = {}


def _init_worker(tokenizer_file: str, tokenizer_hash: str, outdir: str) -> None:
    tok = worker_tokenizer(Path(tokenizer_file).read_text(encoding="utf-8"), tokenizer_hash)
    _WORKER.update(tok=tok, outdir=outdir)
    if is_url(outdir):
        connect(outdir)  # while the job plans, not in the first task


def _run(task: Task, settings: TaskSettings) -> TaskRecord:
    return run_task(task, settings, _WORKER["tok"], _WORKER["outdir"])


def start_pool(workers: int, tok: CodeTokenizer, outdir: str | os.PathLike[str]) -> WorkerPool | None:
    """The ``workers - 1`` worker processes of a local run (None for one worker), started now:
    a job starts them before it reads its inputs, so their start-up overlaps the planning. The
    settings go with each task (they depend on the inputs' descriptions, read after this)."""
    if workers <= 1:
        return None
    # The tokenizer goes to the workers as a file: as an argument (~400 KB) it would hold this
    # process until each child had started and read it (see WorkerPool.start).
    path = worker_file("tokenizer", tok.to_json())
    pool = WorkerPool(workers - 1, _init_worker, (path, tok.hash, os.fspath(outdir)))
    pool.temp_files.append(path)
    return pool.start()


def run_local(
    tasks: list[Task],
    tok: CodeTokenizer,
    settings: TaskSettings,
    outdir: str | os.PathLike[str],
    workers: int,
    on_done: Callable[[TaskRecord], None],
    pool: WorkerPool | None = None,
) -> None:
    """Runs ``tasks``; ``on_done`` gets each task's record as it completes (in any order).

    ``workers`` > 1: ``workers - 1`` pool processes plus a thread of this process, which has
    the tokenizer loaded already (the encoder drops the GIL), so one fewer process starts.
    ``pool``: those processes from :func:`start_pool` (the run shuts it down), else started here.
    """
    if workers <= 1 or len(tasks) <= 1:
        if pool is not None:
            pool.discard()
        for task in tasks:
            on_done(run_task(task, settings, tok, outdir))
        return
    lock = threading.Lock()
    stop = threading.Event()
    it = iter(tasks)

    def take() -> Task | None:
        with lock:
            return None if stop.is_set() else next(it, None)

    local_results: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def local_worker() -> None:
        try:
            while (task := take()) is not None:
                local_results.put((True, run_task(task, settings, tok, outdir)))
        except BaseException as exc:  # handed to the main thread
            local_results.put((False, exc))

    pool = pool or start_pool(workers, tok, outdir)
    assert pool is not None
    thread = threading.Thread(target=local_worker, name="codemill-local-worker", daemon=True)
    pending: set[Future[TaskRecord]] = set()
    remaining = len(tasks)
    try:
        thread.start()
        while remaining:
            # One task per process at a time: the parent's thread takes the rest, so that no task
            # waits queued behind a busy process while the thread idles at the end.
            while len(pending) < workers - 1 and (nxt := take()) is not None:
                pending.add(pool.submit(_run, nxt, settings))
            if pending:
                done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            else:
                done = set()
                time.sleep(0.01)
            for fut in done:
                on_done(fut.result())
                remaining -= 1
            while True:
                try:
                    ok, value = local_results.get_nowait()
                except queue.Empty:
                    break
                if not ok:
                    raise value
                on_done(value)
                remaining -= 1
    except BrokenProcessPool:
        stop.set()
        thread.join()
        raise ChildProcessError(
            "a worker process died (killed, or out of memory?); finished tasks are kept: "
            "run the same command again to resume"
        ) from None
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        thread.join()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
