"""The corpus job: plan tasks, resume what an earlier run finished, run the rest, merge.

The output is a local directory or a URL prefix (``s3://bucket/prefix``,
:class:`codemill.sources.fs.Directory`). Every file is published whole (written under a
temporary name, fsynced and renamed; or one completed upload); a task counts as done only once
its record is published, after its shards, so a run killed at any moment and run again redoes
exactly the unfinished tasks and ends byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, TextIO

from codemill.corpus.layout import MANIFEST_FORMAT, MANIFEST_NAME, TASKS_DIR, json_bytes, record_name
from codemill.corpus.manifest import TaskRecord, merge
from codemill.corpus.plan import Task, plan_tasks
from codemill.corpus.progress import Progress
from codemill.corpus.settings import ENGINES, FORMATS, Engine, ShardFormat, TaskSettings
from codemill.corpus.shards import token_dtype
from codemill.errors import CodemillError
from codemill.sources import DEFAULT_MAX_BYTES, Skips
from codemill.sources.fs import Directory
from codemill.tokenizer import CodeTokenizer

TokenizerArg = CodeTokenizer | str | os.PathLike[str] | None


def load_tokenizer(tokenizer: TokenizerArg) -> CodeTokenizer:
    """A CodeTokenizer from an instance, a tokenizer file, or None (the bundled one)."""
    if tokenizer is None:
        return CodeTokenizer.default()
    if isinstance(tokenizer, str | os.PathLike):
        return CodeTokenizer.load(tokenizer)
    return tokenizer


def _valid_record(out: Directory, task: Task, files: dict[str, int]) -> TaskRecord | None:
    data = out.read_bytes(record_name(task.index)) if record_name(task.index) in files else None
    try:
        rec = json.loads(data) if data is not None else None
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("task") != task.describe() or "lines" not in rec:
        return None
    for shard in rec.get("shards", ()):
        tokens, index = shard["files"]
        if files.get(tokens) != shard["size"] or index not in files:
            return None
    return rec  # type: ignore[return-value]


def _stale(files: dict[str, int], ntasks: int) -> list[str]:
    """Temporaries of killed runs, and outputs of tasks the plan no longer has."""
    out = []
    for rel in files:
        folder, _, name = rel.rpartition("/")
        prefix = {"": "shard-", TASKS_DIR: "task-"}.get(folder)
        if prefix is None:
            continue
        k = len(prefix)
        stale = name.startswith(prefix) and name[k : k + 5].isdigit() and int(name[k : k + 5]) >= ntasks
        if stale or (name.startswith(".") and ".tmp" in name):
            out.append(rel)
    return out


def _check_resumable(out: Directory, head: dict[str, Any], files: dict[str, int]) -> None:
    data = out.read_bytes(MANIFEST_NAME) if MANIFEST_NAME in files else None
    if data is not None:
        try:
            old = json.loads(data)
        except ValueError:
            old = None  # a torn write cannot happen (rename), but a hand-edited file can
        if isinstance(old, dict):
            for key in ("inputs", "tokenizer", "settings"):
                if old.get(key) != head[key]:
                    raise CodemillError(
                        f"{out}: holds a run with different {key} ({old.get(key)!r}); "
                        "use another output directory to start afresh"
                    )
    elif any(rel.startswith("shard-") for rel in files):
        raise CodemillError(f"{out}: holds shards but no manifest; use an empty output directory")


def tokenize_corpus(
    inputs: list[str | os.PathLike[str]] | str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    tokenizer: TokenizerArg = None,
    workers: int = 1,
    shard_tokens: int = 100_000_000,
    format: ShardFormat = "npy",
    engine: Engine = "local",
    ray_address: str | None = None,
    task_bytes: int | None = None,
    batch_bytes: int = 4 << 20,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    threads_per_worker: int = 1,
    progress: bool | TextIO = False,
) -> dict[str, Any]:
    """Tokenizes code corpora into token shards under ``output_dir``; returns the manifest.

    ``inputs``: directory trees, code files, JSONL(.gz/.zst) and Parquet files. ``tokenizer``:
    a `CodeTokenizer`, a tokenizer file, or None for the bundled one. Work is split into
    deterministic tasks of about ``task_bytes`` of input (default: derived from the total input
    size, see :func:`codemill.corpus.plan.task_size`), run by ``workers`` processes
    (``engine="local"``) or on Ray (``engine="ray"``). Running again on the same directory with
    the same arguments resumes: finished tasks are kept, the rest redone; the result is
    byte-identical to an uninterrupted run. ``progress``: True for stderr, or a stream.

    The returned manifest equals ``manifest.json`` plus a ``"run"`` entry (timings, tasks run
    and resumed) that is not written, so that the file stays deterministic.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    names = [os.fspath(p) for p in inputs]
    if not names:
        raise CodemillError("no inputs given")
    if format not in FORMATS:
        raise CodemillError(f"unknown format {format!r} (npy or megatron)")
    if engine not in ENGINES:
        raise CodemillError(f"unknown engine {engine!r} (local or ray)")
    if workers < 1:
        raise CodemillError(f"workers must be at least 1, got {workers}")
    for name, value in (
        ("shard_tokens", shard_tokens),
        ("batch_bytes", batch_bytes),
        ("max_file_bytes", max_file_bytes),
        ("threads_per_worker", threads_per_worker),
    ):
        if value <= 0:
            raise CodemillError(f"{name} must be positive, got {value}")
    t0 = time.perf_counter()
    tok = load_tokenizer(tokenizer)
    plan_skips = Skips(limit=10_000)
    tasks = plan_tasks(names, task_bytes, plan_skips)
    settings = TaskSettings(
        format=format,
        dtype=token_dtype(tok.vocab_size, format).name,
        eot_id=int(tok.eot_id),
        shard_tokens=int(shard_tokens),
        task_bytes=task_bytes,  # None: derived from the input size, so a grown input re-plans
        max_file_bytes=int(max_file_bytes),
        batch_bytes=int(batch_bytes),
        threads_per_worker=int(threads_per_worker),
    )
    head: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "complete": False,
        "inputs": names,
        "tokenizer": {"hash": tok.hash, "vocab_size": tok.vocab_size, "eot_id": int(tok.eot_id)},
        "settings": settings.output(),
        "layout": "each document's tokens are followed by one eot_id; documents are never split across shards",
        "tasks_planned": len(tasks),
    }
    out = Directory(output_dir)  # a local path or a URL (s3://bucket/prefix)
    out.ensure()
    files = out.files()
    _check_resumable(out, head, files)
    if out.path is not None:
        (out.path / TASKS_DIR).mkdir(exist_ok=True)
    out.write_bytes(MANIFEST_NAME, json_bytes(head))
    stale = _stale(files, len(tasks))
    out.remove(stale)
    files = {k: v for k, v in files.items() if k not in stale}
    outdir = out.name

    records: dict[int, TaskRecord] = {}
    pending = []
    bar = None
    if progress:
        bar = Progress(sum(t.size for t in tasks), len(tasks), None if progress is True else progress)
    for task in tasks:
        rec = _valid_record(out, task, files)
        if rec is None:
            pending.append(task)
        else:
            records[task.index] = rec
            if bar:
                bar.resumed(rec)

    def on_done(rec: TaskRecord) -> None:
        records[rec["task"]["index"]] = rec
        if bar:
            bar.update(rec)

    per_node: dict[str, int] = {}
    t_run = time.perf_counter()
    if engine == "ray":
        from codemill.corpus.engines.ray import run_ray

        per_node = run_ray(pending, tok, settings, outdir, workers, on_done, address=ray_address)
    else:
        from codemill.corpus.engines.local import run_local

        run_local(pending, tok, settings, outdir, workers, on_done)
    run_seconds = time.perf_counter() - t_run
    if bar and not pending:
        bar.show(time.monotonic())  # everything was done already: say so once
    manifest = merge(head, [records[t.index] for t in tasks], plan_skips)
    out.write_bytes(MANIFEST_NAME, json_bytes(manifest))
    run_bytes = sum(records[t.index]["bytes"] for t in pending)
    manifest["run"] = {
        "engine": engine,
        "workers": workers,
        "tasks_run": len(pending),
        "tasks_resumed": len(tasks) - len(pending),
        "seconds": round(time.perf_counter() - t0, 3),
        "tokenize_seconds": round(run_seconds, 3),
        "mb_per_s": round(run_bytes / 1e6 / max(run_seconds, 1e-9), 2),
        "tasks_per_node": per_node,  # Ray node id -> tasks run there (empty for the local engine)
    }
    return manifest
