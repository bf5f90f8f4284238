"""The local engine: tasks in this process (one worker) or in a pool of worker processes.

Worker processes are started with ``spawn`` (no fork of a threaded parent) and die with their
parent (``PR_SET_PDEATHSIG``), so a killed run leaves no worker writing behind it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from codemill.corpus import Task
from codemill.engines.task import run_task, worker_tokenizer

_WORKER: dict[str, Any] = {}


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a stray worker only finishes its task
        pass


def _init_worker(tokenizer_json: str, tokenizer_hash: str, settings: dict[str, Any], outdir: str) -> None:
    _die_with_parent()
    _WORKER.update(tok=worker_tokenizer(tokenizer_json, tokenizer_hash), settings=settings, outdir=outdir)


def _run(task: Task) -> dict[str, Any]:
    return run_task(task, _WORKER["settings"], _WORKER["tok"], _WORKER["outdir"])


def run_local(
    tasks: list[Task],
    tok: Any,
    settings: dict[str, Any],
    outdir: str | os.PathLike[str],
    workers: int,
    on_done: Callable[[dict[str, Any]], None],
) -> None:
    """Runs ``tasks``; ``on_done`` gets each task's record as it completes (in any order)."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            on_done(run_task(task, settings, tok, outdir))
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(tok.to_json(), tok.hash, settings, os.fspath(outdir)),
    ) as pool:
        try:
            for rec in _bounded(pool, tasks, 2 * workers):
                on_done(rec)
        except BrokenProcessPool:
            raise ChildProcessError(
                "a worker process died (killed, or out of memory?); finished tasks are kept: "
                "run the same command again to resume"
            ) from None
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _bounded(pool: ProcessPoolExecutor, tasks: list[Task], in_flight: int) -> Iterator[dict[str, Any]]:
    pending: set[Future[dict[str, Any]]] = set()
    it = iter(tasks)
    for task in it:
        pending.add(pool.submit(_run, task))
        if len(pending) >= in_flight:
            break
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            yield fut.result()
            nxt = next(it, None)
            if nxt is not None:
                pending.add(pool.submit(_run, nxt))
