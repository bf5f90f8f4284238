"""The local engine: tasks in this process (one worker, or a run too small to pay for starting
processes: the workers' encoder threads) or also in a pool of worker processes.

Every worker, this process included, takes tasks from one queue and runs them with
`run_tasks` (several at a time, so that reads and commits overlap encoding), and sends each
committed task's record back. Worker processes are forked from a process that runs one
thread (ready at once, with its modules and tokenizer), spawned from one that runs threads (no
fork of a threaded parent), and die with their parent (`codemill._workers.WorkerPool`), so a
killed run leaves no worker writing behind it.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemill._cpus import single_threaded, usable_cpus
from codemill.corpus.engines.task import run_tasks, share_tokenizer, tasks_in_flight, worker_tokenizer
from codemill.corpus.manifest import TaskRecord
from codemill.corpus.plan import Task
from codemill.corpus.settings import TaskSettings
from codemill.sources.fs import connect, is_url
from codemill.tokenizer import CodeTokenizer

if TYPE_CHECKING:
    from codemill._workers import WorkerPool

_WORKER: dict[str, Any] = {}

# How long the records of tasks that finished are waited for once every worker has returned
# (they travel through a pipe apart from the workers' own results).
_LAST_RECORDS_S = 30.0


@dataclass
class LocalPool:
    """The worker processes of a local run and the queues they share with this process:
    ``feed`` hands out tasks (None: no more for the worker that reads it), ``done`` brings back
    the records of committed tasks, ``stop`` set (by an error or an interrupt anywhere): take no
    more tasks and leave those under way before their next batch."""

    workers: WorkerPool
    feed: Any
    done: Any
    stop: Any

    def discard(self) -> None:
        self.workers.discard()
        # Tasks may wait in the feed that no one will read: not flushed at exit.
        self.feed.cancel_join_thread()
        self.done.cancel_join_thread()


def _init_worker(tokenizer_file: str | None, tokenizer_hash: str, outdir: str, feed: Any, done: Any, stop: Any) -> None:
    """``tokenizer_file`` None: a forked worker, which has the tokenizer (`share_tokenizer`)."""
    text = None if tokenizer_file is None else Path(tokenizer_file).read_text(encoding="utf-8")
    tok = worker_tokenizer(text, tokenizer_hash)
    _WORKER.update(tok=tok, outdir=outdir, feed=feed, done=done, stop=stop)
    # At exit this process must not wait to flush records nobody reads any more (after an error
    # the parent stops reading; a full pipe would hold the exit, and the parent's shutdown,
    # forever). On success the parent has read them all before it shuts the pool down.
    done.cancel_join_thread()
    if is_url(outdir):
        connect(outdir)  # while the job plans, not in the first task


def _work(settings: TaskSettings, in_flight: int) -> None:
    """A worker process's part of a run: tasks from the feed until it hands out None."""
    w = _WORKER
    run_tasks(_queued(w["feed"], w["stop"]), settings, w["tok"], w["outdir"], w["done"].put, in_flight, w["stop"])


def _queued(feed: Any, stop: Any) -> Iterator[Task]:
    """The tasks ``feed`` hands out, up to its None for this worker or until ``stop`` is set."""
    while not stop.is_set():
        # In short waits: a worker killed while reading the queue leaves its lock taken, and the
        # others must still see ``stop`` rather than wait for that lock forever.
        try:
            task: Task | None = feed.get(timeout=0.1)
        except queue.Empty:
            continue
        if task is None:
            return
        yield task


_END = "end"  # put on the records queue by this process: its reader thread stops there


def _read_records(done: Any, records: queue.Queue[Any]) -> None:
    """Hands what the workers put on ``done`` to ``records``, in a thread of its own: a worker
    killed halfway through sending a record leaves a message that never completes, and a read of
    it waits forever; the run's loop, waiting on ``records`` in short steps, still sees the
    worker's death and stops. What cannot be read (the rest of a stream after such a message)
    goes to ``records`` as the error, and reading ends."""
    while True:
        try:
            item = done.get()
        except Exception as e:  # handed over, to be raised by the run
            records.put(e)
            return
        if item == _END:
            return
        records.put(item)


def _raise_dead_worker(loops: list[Future[None]], wait_s: float) -> None:
    """Raises the error of a worker loop that failed, if one does within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        for loop in loops:
            if loop.done() and loop.exception() is not None:
                loop.result()
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)


# Input below which a run's worker processes cost more than they give: a spawned worker takes
# ~0.15 s of CPU to start (a Python, the imports, the tokenizer; ~0.3 s while tokenize imported
# numpy), while this process's encoder threads start at once but share its GIL for reading and
# writing (one process with 2 threads ran a 40 MB tree 1.3x as fast as one thread, 2 spawned
# processes ~1.05x, 2 forked after the plan as fast as the threads; at 80 MB they were level,
# at 160 MB the processes were ahead). Below it, this process runs every worker's encoder threads.
POOL_MIN_BYTES = 64 << 20


def uses_pool(tasks: list[Task], workers: int) -> bool:
    """Whether a local run of ``tasks`` on ``workers`` uses worker processes (else threads)."""
    return workers > 1 and len(tasks) > 1 and sum(t.size for t in tasks) >= POOL_MIN_BYTES


def start_pool(
    workers: int, tok: CodeTokenizer, outdir: str | os.PathLike[str], fork: bool = False
) -> LocalPool | None:
    """The ``workers - 1`` worker processes of a local run (None for one worker), started now:
    spawned, or with ``fork`` forked (from a `single_threaded` process; they have the tokenizer
    and every module already). The settings go with the run (they depend on the inputs'
    descriptions, read after this)."""
    if workers <= 1:
        return None
    # Here, not at import: a run under POOL_MIN_BYTES starts no process, nor pays for these
    # imports (~10-15 ms of each run).
    import multiprocessing

    from codemill._workers import WorkerPool, worker_file

    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    feed, done, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    if fork:
        share_tokenizer(tok)
        path = None
    else:
        # The tokenizer goes to the workers as a file: as an argument (~400 KB) it would hold
        # this process until each child had started and read it (see WorkerPool.start).
        path = worker_file("tokenizer", tok.to_json())
    pool = WorkerPool(workers - 1, _init_worker, (path, tok.hash, os.fspath(outdir), feed, done, stop), fork)
    if path is not None:
        pool.temp_files.append(path)
    return LocalPool(pool.start(), feed, done, stop)


class PoolStarter:
    """Starts a run's spawned worker processes while its inputs are planned (a local run that
    forks them does so after the plan, in `run_local`), once those listed so far hold
    `POOL_MIN_BYTES` (asked by the walk between directories, and after each input): their
    start-up (~0.15 s of CPU each) overlaps the rest of the planning, and a smaller run, which
    will not use them, never pays for it (starting and stopping them cost a 40 MB tree on 2
    cores ~0.1 s of its ~1 s). Or forks them at once (`fork_now`). ``pool``: the started ones."""

    def __init__(self, workers: int, tok: CodeTokenizer, outdir: str | os.PathLike[str]) -> None:
        self.workers, self.tok, self.outdir = workers, tok, outdir
        self.pool: LocalPool | None = None
        self._walks = True  # whether the pool's workers walk local trees beside this process

    def fork_now(self) -> None:
        """Forks the workers now, from a process that runs one thread: before a run's storage
        client starts its thread, the input's size still unknown (a small input discards them
        in `run_local`, which costs the forks: milliseconds). A local tree is then walked here
        alone, listed ahead on another core: a 1 GB tree took 0.58-0.65 s so, 1.0 s shared
        with a worker forked at the start (3 runs each)."""
        if self.pool is None and self.workers > 1:
            self.pool = start_pool(self.workers, self.tok, self.outdir, fork=True)
            self._walks = False

    def __call__(self, found: int) -> WorkerPool | None:
        """The workers to share the walk with, started once ``found`` bytes of input justify them."""
        if self.pool is None and self.workers > 1 and found >= POOL_MIN_BYTES:
            self.pool = start_pool(self.workers, self.tok, self.outdir)
        return self.pool.workers if self.pool is not None and self._walks else None


def run_local(
    tasks: list[Task],
    tok: CodeTokenizer,
    settings: TaskSettings,
    outdir: str | os.PathLike[str],
    workers: int,
    on_done: Callable[[TaskRecord], None],
    pool: LocalPool | None = None,
) -> int:
    """Runs ``tasks``; ``on_done`` gets each task's record as it completes (in any order).
    Returns the number of processes that ran them.

    ``workers`` > 1: ``workers - 1`` pool processes plus this process, which has the tokenizer
    loaded already (the encoder drops the GIL), so one fewer process starts. ``pool``: those
    processes from :func:`start_pool` (the run shuts it down), else started here. Under
    `POOL_MIN_BYTES` of tasks the pool is not used (stopped): this process runs the workers'
    encoder threads instead. The output is the same either way.
    """
    if not uses_pool(tasks, workers):
        if pool is not None:
            pool.discard()
        # The workers' encoder threads and tasks in flight, all in this process (as many
        # workers' worth as the CPUs take: 2 tasks per encoder thread keep it busy). The
        # settings were written to the manifest already: the thread count here changes no byte.
        per = settings.threads_per_worker
        share = min(workers, max(1, usable_cpus() // per))
        threaded = dataclasses.replace(settings, threads_per_worker=per * share)
        run_tasks(iter(tasks), threaded, tok, outdir, on_done, tasks_in_flight(tasks, outdir, share))
        return 1
    # Forked where this process runs one thread (the job's plan leaves none running): the
    # workers start in milliseconds instead of ~0.15 s of CPU each.
    pool = pool or start_pool(workers, tok, outdir, fork=single_threaded())
    assert pool is not None
    in_flight = tasks_in_flight(tasks, outdir)
    from concurrent.futures.process import BrokenProcessPool  # with the pool (see start_pool)

    here = ThreadPoolExecutor(1, thread_name_prefix="codemill-local-worker")
    records: queue.Queue[Any] = queue.Queue()
    reader = threading.Thread(target=_read_records, args=(pool.done, records), name="codemill-records", daemon=True)
    reader.start()
    remaining = len(tasks)
    ended: float | None = None
    try:
        for task in tasks:
            pool.feed.put(task)
        for _ in range(workers):  # a None for each worker: the pool's and this process's
            pool.feed.put(None)
        # Inside the try: a pool broken while the job planned (a worker killed) is one line,
        # and the queues' feeder threads are not waited for at exit.
        loops: list[Future[None]] = [pool.workers.submit(_work, settings, in_flight) for _ in range(workers - 1)]
        mine = _queued(pool.feed, pool.stop)
        loops.append(here.submit(run_tasks, mine, settings, tok, outdir, pool.done.put, in_flight, pool.stop))
        while remaining:
            _raise_dead_worker(loops, 0)  # a worker's error, raised here at once
            try:
                record = records.get(timeout=0.05)
            except queue.Empty:
                if ended is None and all(loop.done() for loop in loops):
                    ended = time.monotonic()
                if ended is not None and time.monotonic() - ended > _LAST_RECORDS_S:
                    raise ChildProcessError(
                        f"{remaining} task records never came back from the workers; finished tasks are "
                        "kept: run the same command again to resume"
                    ) from None
                continue
            if isinstance(record, BaseException):
                # A garbled stream: nearly always a worker killed while sending; say that if so.
                _raise_dead_worker(loops, 2.0)
                raise ChildProcessError(
                    f"the workers' task records could not be read ({record}); finished tasks are kept: "
                    "run the same command again to resume"
                ) from None
            on_done(record)
            remaining -= 1
    except BrokenProcessPool:
        raise ChildProcessError(
            "a worker process died (killed, or out of memory?); finished tasks are kept: "
            "run the same command again to resume"
        ) from None
    finally:
        # First: what is left in the queues (after an error) is not flushed at exit, even if a
        # second Ctrl-C cuts what follows short (a feeder thread, or `stop.set()`, may be stuck
        # on a lock a killed worker held).
        pool.feed.cancel_join_thread()
        pool.done.cancel_join_thread()
        pool.stop.set()  # after an error: workers take no more tasks and leave theirs at a batch
        here.shutdown(wait=True)
        pool.workers.shutdown(wait=True, cancel_futures=True)
        pool.done.put(_END)  # the reader stops (unless it waits on a message that never ends)
    return workers
