"""The corpus job: plan tasks, resume what an earlier run finished, run the rest, merge.

The output is a local directory or a URL prefix (``s3://bucket/prefix``,
:class:`codemill.sources.fs.Directory`). Every file is published whole (written under a
temporary name, fsynced and renamed; or one completed upload); a task counts as done only once
its record is published, after its shards, so a run killed at any moment and run again redoes
exactly the unfinished tasks and ends byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from codemill._cpus import single_threaded, usable_cpus, usable_workers
from codemill._io import fsync_dir, remove_tree
from codemill.corpus.layout import MANIFEST_FORMAT, MANIFEST_NAME, TASKS_DIR, json_bytes, record_name
from codemill.corpus.manifest import SKIPPED_LIST_LIMIT, TaskRecord, merge
from codemill.corpus.plan import Task, plan_tasks
from codemill.corpus.progress import TaskProgress
from codemill.corpus.settings import ENGINES, FORMATS, Engine, ShardFormat, TaskSettings, allowed_specials
from codemill.corpus.shards import token_dtype
from codemill.errors import CodemillError, OutputError
from codemill.outputs import OVERWRITE_HINT, check_output
from codemill.sources import DEFAULT_MAX_BYTES, Skips, check_inputs
from codemill.sources.fs import Directory, FileInfo, abort_left_uploads, as_local, import_filesystems, is_url
from codemill.sources.names import printable
from codemill.tokenizer import CodeTokenizer, TokenizerArg, load_tokenizer
from codemill.tokenizer.code_tokenizer import AllowedSpecial

# What a manifest says a run is: the same three, the same run (resumed); else another.
_RUN_KEYS = ("inputs", "tokenizer", "settings")


def _valid_record(task: Task, files: dict[str, FileInfo], data: bytes | None) -> TaskRecord | None:
    """The record of ``task`` (its bytes ``data``, read from the listed output ``files``) if it
    still commits the task: the same task and inputs, its shards there as it describes them."""
    listed = files.get(record_name(task.index))
    try:
        rec = json.loads(data) if data is not None else None
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("task") != task.describe() or "lines" not in rec:
        return None
    if rec.get("stamp") != task.stamp:
        return None  # an input was edited since (in place, maybe to the same size)
    for shard in rec.get("shards", ()):
        tokens, index = shard["files"]
        if tokens not in files or files[tokens].size != shard["size"] or index not in files:
            return None
        # A task's record is published after its shards: a shard written later was changed
        # after the task committed (rewritten in place, even to the same size), so it is redone.
        if any(_newer(files[name], listed) for name in (tokens, index)):
            return None
    return rec  # type: ignore[return-value]


def _newer(file: FileInfo, record: FileInfo | None) -> bool:
    """Whether ``file`` was written after ``record`` (a time the store does not give: no)."""
    if record is None or file.modified is None or record.modified is None:
        return False
    return file.modified > record.modified


def _task_index(name: str, prefix: str) -> int | None:
    """The task index in an output file's name (``shard-00012-0003.npy``, ``task-00012.json``,
    a temporary's leading dot ignored; more than 5 digits past task 99,999), else None."""
    name = name.lstrip(".")
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix) :].split("-", 1)[0].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


def _stale(files: dict[str, FileInfo], ntasks: int) -> list[str]:
    """Temporaries of killed runs, and outputs of tasks the plan no longer has."""
    out = []
    for rel in files:
        folder, _, name = rel.rpartition("/")
        prefix = {"": "shard-", TASKS_DIR: "task-"}.get(folder)
        if prefix is None:
            continue
        index = _task_index(name, prefix)
        if (index is not None and index >= ntasks) or (name.startswith(".") and ".tmp" in name):
            out.append(rel)
    return out


def _leftovers(files: dict[str, FileInfo], pending: list[Task]) -> list[str]:
    """The shards of tasks about to run: what an earlier attempt left, which no valid record
    names. A task redone after its input changed may make fewer shards than before, and the
    extra ones would stay beside the new output."""
    redo = {t.index for t in pending}
    return sorted(rel for rel in files if "/" not in rel and _task_index(rel, "shard-") in redo)


def _has_records(out: Directory) -> bool:
    """Whether any task committed in ``out``: asked of the disk or the store, as a worker may
    have committed a task whose record this process never received (the run failed first)."""
    try:
        if out.path is not None:
            names = os.listdir(out.path / TASKS_DIR)
        else:
            names = [rel.split("/", 1)[1] for rel in out.files() if rel.startswith(TASKS_DIR + "/")]
    except FileNotFoundError:
        return False
    except (OSError, CodemillError):
        return True  # cannot tell: keep it
    return any(not n.startswith(".") and _task_index(n, "task-") is not None for n in names)


def _parse_manifest(data: bytes | None) -> dict[str, Any] | None:
    """A manifest's content; None when there is none or it is not a JSON object (a torn write
    cannot happen: a rename, one upload; but a hand-edited file can)."""
    if data is None:
        return None
    try:
        old = json.loads(data)
    except ValueError:
        return None
    return old if isinstance(old, dict) else None


def _old_manifest(outdir: Path) -> dict[str, Any] | None:
    try:
        return _parse_manifest((outdir / MANIFEST_NAME).read_bytes())
    except OSError:
        return None


def _is_run(outdir: Path) -> bool:
    """The output contract's test: a directory holding a tokenize run's manifest, or what a run
    killed before its first manifest was in place leaves (its temporary; an empty tasks/ folder,
    which runs before this one made first): the same command resumes there."""
    old = _old_manifest(outdir)
    if old is not None:
        return old.get("format") == MANIFEST_FORMAT
    return all(_left_before_a_manifest(entry) for entry in outdir.iterdir())


def _left_before_a_manifest(entry: Path) -> bool:
    if entry.name == TASKS_DIR:
        return entry.is_dir() and not entry.is_symlink() and not any(entry.iterdir())
    return entry.name.startswith(f".{MANIFEST_NAME}.tmp") and entry.is_file() and not entry.is_symlink()


def _same_run(outdir: Path, head: dict[str, Any]) -> bool:
    return _is_same_run(_old_manifest(outdir), head)


def _is_same_run(old: dict[str, Any] | None, head: dict[str, Any]) -> bool:
    """Whether the manifest ``old`` (None: none) is of the run ``head`` describes (resumable)."""
    return old is not None and all(_recorded(old, key) == head[key] for key in _RUN_KEYS)


def _recorded(old: dict[str, Any], key: str) -> Any:
    """``old``'s value of a run key, its inputs named as a manifest names them now: before
    6499908 a name that is not UTF-8 was written as it was (a lone surrogate)."""
    value = old.get(key)
    if key == "inputs" and isinstance(value, list):
        return [printable(name) if isinstance(name, str) else name for name in value]
    return value


def _check_resumable(
    out: Directory, head: dict[str, Any], files: dict[str, FileInfo], old: dict[str, Any] | None
) -> None:
    """``old``: the manifest in ``out`` (None: none, or not JSON)."""
    if old is not None:
        for key in _RUN_KEYS:
            if _recorded(old, key) != head[key]:
                raise OutputError(
                    f"{out}: holds a run with different {key} ({old.get(key)!r}); use another output "
                    f"directory, or {OVERWRITE_HINT}"
                )
    elif any(rel.startswith("shard-") for rel in files):
        raise OutputError(f"{out}: holds shards but no manifest; use an empty output, or {OVERWRITE_HINT}")


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
    allowed_special: AllowedSpecial | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Tokenizes code corpora into token shards under ``output_dir``; returns the manifest.

    ``inputs``: directory trees, code files, JSONL(.gz/.zst) and Parquet files. ``tokenizer``:
    a `CodeTokenizer`, a tokenizer file, or None for the bundled one. Work is split into
    deterministic tasks of about ``task_bytes`` of input (default: derived from the total input
    size, see :func:`codemill.sources.parts.task_size`), run by ``workers`` processes
    (``engine="local"``; under `codemill.corpus.engines.local.POOL_MIN_BYTES` of input by this
    process alone with every worker's encoder threads, as processes would take longer to start
    than they save) or on Ray (``engine="ray"``).
    Running again on the same directory with the same arguments resumes: finished tasks are
    kept, the rest redone; the result is byte-identical to an uninterrupted run. ``progress``:
    True for stderr, or a stream.

    ``allowed_special``: special tokens encoded as themselves where the text holds them
    ("all", or names); None: those that the inputs' descriptions record (`codemill prepare`
    writes one beside its output, naming the FIM markers its samples use), else none.
    ``output_dir`` follows the output contract (`codemill.outputs`): a directory that holds
    anything but an earlier run's shards is refused unless ``overwrite``; one inside an input
    tree always.

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
    check_inputs(names)  # before the output is checked against them
    output_dir = as_local(output_dir)
    # A URL prefix (s3://...) is checked against the inputs only; the run owns its commit (task records).
    checked = check_output(
        output_dir, command="tokenize", kind="dir", is_ours=_is_run, inputs=names, overwrite=overwrite, in_place=True
    )
    local = None if is_url(output_dir) else checked
    t0 = time.perf_counter()
    one_thread = single_threaded()  # the caller's threads, before the loader's starts
    loading = _Loading(tokenizer)
    starter = None
    if engine == "local":
        from codemill.corpus.engines.local import PoolStarter

        workers = usable_workers(workers)
        urls = [n for n in [*names, os.fspath(output_dir)] if is_url(n)]
        if not one_thread or urls:
            # A process that runs threads spawns its workers while the inputs are read, once
            # they are large enough to use them. One that runs one thread forks them, ready at
            # once: once the plan is made (`run_local`), or, in a run that reads or writes a URL,
            # now, before its storage client starts a thread at the first request. Its package
            # is imported first, so each worker has it too: a spawned one paid ~0.5 s of CPU
            # (a Python, codemill, the tokenizer, ~0.3 s of `import s3fs`) and took its first
            # task 0.75 s after this process did (200 MB of JSONL in a bucket, 2 workers).
            starter = PoolStarter(workers, loading.result(), os.fspath(output_dir))
            if one_thread:
                import_filesystems(urls)
                starter.fork_now()
    bar: TaskProgress | None = None
    try:
        out = Directory(output_dir)  # a local path or a URL (s3://bucket/prefix)
        plan_skips = Skips(limit=SKIPPED_LIST_LIMIT)
        # Once the inputs listed hold enough bytes, the starter starts the workers, and they walk
        # the rest of the trees beside this process until the run.
        tasks = plan_tasks(names, task_bytes, plan_skips, starter or loading.check)
        tok = loading.result()
        specials = allowed_specials(tok, names, allowed_special, tasks)
        settings = TaskSettings(
            format=format,
            dtype=token_dtype(tok.vocab_size, format),
            eot_id=int(tok.eot_id),
            shard_tokens=int(shard_tokens),
            task_bytes=task_bytes,  # None: derived from the input size, so a grown input re-plans
            max_file_bytes=int(max_file_bytes),
            batch_bytes=int(batch_bytes),
            threads_per_worker=int(threads_per_worker),
            specials=specials,
        )
        head: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "complete": False,
            "inputs": [printable(n) for n in names],  # as reports show names: strict JSON
            "tokenizer": {"hash": tok.hash, "vocab_size": tok.vocab_size, "eot_id": int(tok.eot_id)},
            "settings": settings.output(),
            "layout": "each document's tokens are followed by one eot_id; documents are never split across shards",
            "tasks_planned": len(tasks),
        }
        fresh = made = False
        if local is not None:
            if overwrite and local.exists() and not _same_run(local, head):
                # Asked for: start afresh rather than mix two runs. Through a link (to a bigger
                # disk, say) its target is emptied and the link kept, as every output is.
                for child in list(local.iterdir()) if local.is_symlink() else [local]:
                    remove_tree(child)
            made = not local.exists()
            # A directory made for the run beforehand (empty) gets back to empty after a failure.
            fresh = made or (local.is_dir() and not any(local.iterdir()))
        files = out.ensure()  # a local directory is created; a bucket must answer
        if local is None:
            fresh = not files
        old = _parse_manifest(out.read_bytes(MANIFEST_NAME) if MANIFEST_NAME in files else None)
        if local is None and files and not overwrite and (old is None or old.get("format") != MANIFEST_FORMAT):
            # As a local directory is checked (`_is_run`): objects there, and no run's manifest.
            raise OutputError(f"{out}: exists and was not written by `codemill tokenize`; {OVERWRITE_HINT}")
        if local is None and overwrite and files and not _is_same_run(old, head):
            out.remove(sorted(files))  # asked for: start afresh rather than mix two runs
            files, old = {}, None
            fresh = True  # as a local directory replaced whole is
        _check_resumable(out, head, files, old)  # before anything is written in it
        if local is None:
            abort_left_uploads(out.name)  # a killed run's, billed until removed
        # The manifest first: a run killed between the two leaves a directory the same command
        # takes as its own (`_is_run`).
        out.write_bytes(MANIFEST_NAME, json_bytes(head))
        if local is not None:
            (local / TASKS_DIR).mkdir(exist_ok=True)
        stale = _stale(files, len(tasks))
        out.remove(stale)
        files = {k: v for k, v in files.items() if k not in stale}
        outdir = out.name

        records: dict[int, TaskRecord] = {}
        pending = []
        if progress:
            bar = TaskProgress(sum(t.size for t in tasks), len(tasks), None if progress is True else progress)
        record_bytes = out.read_all([record_name(t.index) for t in tasks if record_name(t.index) in files])
        for task in tasks:
            rec = _valid_record(task, files, record_bytes.get(record_name(task.index)))
            if rec is None:
                pending.append(task)
            else:
                records[task.index] = rec
                if bar:
                    bar.resumed(rec)
        # Once, from the listing made at the start: not per task (a listing of the output each).
        # The records of the tasks about to run go first: a record must never outlive its shards,
        # or a run killed while redoing the task, its new shards in place, would leave a record
        # a later run trusts (the same sizes) for shards it no longer describes.
        out.remove([rel for t in pending if (rel := record_name(t.index)) in files])
        if local is not None:
            fsync_dir(local / TASKS_DIR)
        out.remove(_leftovers(files, pending))

        def on_done(rec: TaskRecord) -> None:
            records[rec["task"]["index"]] = rec
            if bar:
                bar.update(rec)

        per_node: dict[str, int] = {}
        processes: int | None = None  # stays None on Ray (its workers are its own)
        t_run = time.perf_counter()
        try:
            if engine == "ray":
                from codemill.corpus.engines.ray import run_ray

                per_node = run_ray(pending, tok, settings, outdir, workers, on_done, address=ray_address)
            else:
                from codemill.corpus.engines.local import run_local

                processes = run_local(
                    pending, tok, settings, outdir, workers, on_done, starter.pool if starter else None
                )
        except BaseException:
            if fresh and not _has_records(out):
                # Nothing to resume: leave no debris (finished tasks are kept). A manifest left in
                # a prefix made the corrected run's inputs "a different run" there.
                if local is not None:
                    for child in [local] if made else list(local.iterdir()):
                        remove_tree(child)
                else:
                    with contextlib.suppress(CodemillError, OSError):  # the run's own error comes first
                        out.remove(sorted(out.files()))
            raise
        run_seconds = time.perf_counter() - t_run
        if local is not None:
            # Every task is committed and none writes any more, but an attempt that died while
            # the run went on (a Ray task killed, then retried elsewhere) left its temporaries:
            # a complete output holds none. (A bucket holds none: each upload is whole or not.)
            out.remove(_stale(out.files(), len(tasks)))
        if bar:
            bar.close()
        manifest = merge(head, [records[t.index] for t in tasks], plan_skips)
        out.write_bytes(MANIFEST_NAME, json_bytes(manifest))
        run_bytes = sum(records[t.index]["bytes"] for t in pending)
        manifest["run"] = {
            "engine": engine,
            "workers": workers,
            "processes": processes,  # local processes that ran tasks (1 for a small input: threads)
            "tasks_run": len(pending),
            "tasks_resumed": len(tasks) - len(pending),
            "seconds": round(time.perf_counter() - t0, 3),
            "tokenize_seconds": round(run_seconds, 3),
            "mb_per_s": round(run_bytes / 1e6 / max(run_seconds, 1e-9), 2),
            "tasks_per_node": per_node,  # Ray node id -> tasks run there (empty for the local engine)
        }
        return manifest
    except BaseException:
        if bar is not None:
            bar.fail()
        loading.close()
        if starter is not None and starter.pool is not None:
            starter.pool.discard()  # planning or the output checks failed: the workers were never used
        raise


class _Loading:
    """A run's tokenizer, loaded while its inputs are planned: on a thread of its own where this
    process may use two CPUs (a file's tokenizer is built in the core without the GIL: the
    bundled one took ~25 ms of a 2-core run's start-up, planning a 40 MB tree ~30 ms), else at
    once. `result` joins the thread, so a process that ran one thread runs one again (it forks
    its workers)."""

    def __init__(self, tokenizer: TokenizerArg) -> None:
        self._loader: ThreadPoolExecutor | None = None
        self._tok: CodeTokenizer | None = None
        if isinstance(tokenizer, CodeTokenizer) or usable_cpus() < 2:
            self._tok = load_tokenizer(tokenizer)
            return
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="codemill-tokenizer")
        self._future = self._loader.submit(load_tokenizer, tokenizer)

    def result(self) -> CodeTokenizer:
        """The tokenizer (its load's error raised), the thread ended."""
        if self._tok is None:
            self.close()
            self._tok = self._future.result()
        return self._tok

    def check(self, found: int) -> None:
        """Raises the load's error as soon as it fails, not once a long plan is done: asked
        between directories (as `plan_tasks` asks for a pool to share the walk with: none)."""
        if self._tok is None and self._future.done() and self._future.exception() is not None:
            self.result()

    def close(self) -> None:
        if self._loader is not None:
            self._loader.shutdown(wait=True)
            self._loader = None
