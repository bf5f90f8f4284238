"""The Ray engine: the same tasks as Ray tasks, each writing its own shards to the output.

A Ray task runs a few consecutive tasks at once (`run_tasks`, as a local worker does: their
encodes take turns, their reads and commits overlap them), up to as many as a local worker
would, while there are enough tasks for every CPU.

The output must be reachable from every node: a URL prefix (``s3://...``; each node reads its
credentials from its own environment) or a shared file system. The driver collects the task
records and writes the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from codemill._ray import Spread, connect, in_driver_dir, ray, stop_tasks, task_result
from codemill.corpus.engines.task import run_tasks, tasks_in_flight, worker_tokenizer
from codemill.corpus.manifest import TaskRecord
from codemill.corpus.plan import Task, portable
from codemill.corpus.settings import TaskSettings
from codemill.tokenizer import CodeTokenizer


@ray.remote(num_cpus=1)
def _ray_task(
    tasks: list[Task], settings: TaskSettings, tokenizer_json: str, tokenizer_hash: str, outdir: str, cwd: str
) -> Any:
    records: list[TaskRecord] = []
    in_driver_dir(cwd, [outdir, *(t.path for t in tasks)])
    tok = worker_tokenizer(tokenizer_json, tokenizer_hash)
    run_tasks(iter(tasks), settings, tok, outdir, records.append, len(tasks))
    return records, ray.get_runtime_context().get_node_id()


def run_ray(
    tasks: list[Task],
    tok: CodeTokenizer,
    settings: TaskSettings,
    outdir: str | os.PathLike[str],
    workers: int,
    on_done: Callable[[TaskRecord], None],
    address: str | None = None,
) -> dict[str, int]:
    """Runs ``tasks`` on Ray (``address``; default: the running Ray, else a local one); returns
    the number of tasks each node ran (by Ray node id)."""
    started = connect(address, workers)
    pending: list[Any] = []
    try:
        tok_ref = ray.put(tok.to_json())
        spread = Spread()
        cpus = max(1, spread.cpus)
        # Ray tasks submitted ahead of those running, so a CPU that frees up finds one queued.
        ahead = max(2, 2 * cpus)
        # Groups only while every CPU still gets one: fewer groups than CPUs would leave some idle.
        group = max(1, min(tasks_in_flight(tasks, outdir), len(tasks) // cpus))
        queue = [tasks[i : i + group] for i in range(0, len(tasks), group)][::-1]
        per_node: dict[str, int] = {}
        while queue or pending:
            while queue and len(pending) < ahead:
                # Names spooled by a large plan go inline: the spool is this machine's file.
                group_tasks = [portable(t) for t in queue.pop()]
                task = _ray_task.options(scheduling_strategy=spread())
                ref = task.remote(group_tasks, settings, tok_ref, tok.hash, os.fspath(outdir), os.getcwd())
                pending.append(ref)
            done, pending = ray.wait(pending, num_returns=1)
            # A worker or node lost: one line, as the local engine's.
            recs, node = task_result(done[0], "; finished tasks are kept: run the same command again to resume")
            per_node[node] = per_node.get(node, 0) + len(recs)
            for rec in recs:
                on_done(rec)
        return per_node
    except BaseException:
        # A task's error, Ctrl-C, anything: stop the rest and let those under way end before
        # saying so, as one still committing must not write into an output the job may clean up.
        if pending:
            stop_tasks(pending)
        raise
    finally:
        if started:
            ray.shutdown()
