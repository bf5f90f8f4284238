"""One corpus task: read its documents streaming, encode them in batches, write its shards.

The same function runs in-process, in a pool worker or as a Ray task. Its output depends only
on the task and the settings, never on where or when it runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from codemill._batches import batches
from codemill._io import fsync_dir
from codemill._leftovers import scratch_dir
from codemill._read_ahead import read_ahead
from codemill.corpus.layout import json_bytes, record_name, task_prefix
from codemill.corpus.manifest import LanguageStats, TaskRecord
from codemill.corpus.plan import Task, file_language, record_reader, task_documents, task_reader
from codemill.corpus.settings import TaskSettings
from codemill.corpus.shards import ShardWriter
from codemill.sources import Document, Skips
from codemill.sources.files_ahead import WHOLE_FILE_BYTES, files_ahead
from codemill.sources.fs import Directory, is_url
from codemill.sources.records import RecordReader
from codemill.tokenizer import CodeTokenizer

T = TypeVar("T")

# Tokenizers by hash, loaded once per worker process.
_TOKENIZERS: dict[str, CodeTokenizer] = {}


def worker_tokenizer(tokenizer_json: str | None, expected_hash: str) -> CodeTokenizer:
    """The tokenizer of ``expected_hash``, built from ``tokenizer_json`` once per process (None:
    a process forked after `share_tokenizer`, which has it already)."""
    tok = _TOKENIZERS.get(expected_hash)
    if tok is None:
        if tokenizer_json is None:
            raise RuntimeError(f"tokenizer {expected_hash[:12]} was neither shared nor given")
        tok = CodeTokenizer.from_json(tokenizer_json, source="<corpus worker>")
        _TOKENIZERS[expected_hash] = tok
    return tok


def share_tokenizer(tok: CodeTokenizer) -> None:
    """Makes ``tok`` the one `worker_tokenizer` gives for its hash, here and in the processes
    forked from here (they read no file and build no trie)."""
    _TOKENIZERS.setdefault(tok.hash, tok)


# A task is read in at least this many batches (none under MIN_BATCH_BYTES), so that reading
# the next batch overlaps encoding this one: a task in one batch read all its files first and
# encoded after, ~20% of a task's time on a 40 MB tree (37 tasks of ~1 MB) spent only reading.
BATCHES_PER_TASK = 4
MIN_BATCH_BYTES = 256 << 10
MAX_BATCH_DOCUMENTS = 8192


def batch_size(task: Task, batch_bytes: int) -> int:
    """Bytes of input per encode call for ``task``: ``batch_bytes`` at most (memory), and small
    enough for a task to be read in several batches. Batches never change the output."""
    return min(batch_bytes, max(MIN_BATCH_BYTES, task.size // BATCHES_PER_TASK))


class Abandoned(Exception):
    """A task left before its next batch because its run is stopping (nothing of it committed)."""


def run_task(
    task: Task, settings: TaskSettings, tok: CodeTokenizer, outdir: str | os.PathLike[str], stop: Any = None
) -> TaskRecord:
    """Runs one task and commits it: shards published, then the task record.

    ``outdir`` is a local directory (shards are renamed into place there) or a URL prefix
    (shards are written to a local scratch directory, then uploaded, each upload atomic).
    Returns the record: the task, its shards, document/token/byte counts, per-language
    statistics and skipped items. ``stop`` set: raises `Abandoned` before the next batch.
    """
    out = Directory(outdir)
    if out.path is not None:
        record = _write_task(task, settings, tok, out.path, stop, durable=True)
        fsync_dir(out.path)
    else:
        with scratch_dir("task") as scratch:
            record = _write_task(task, settings, tok, Path(scratch), stop, durable=False)
            out.publish_all([(Path(scratch) / name, name) for shard in record["shards"] for name in shard["files"]])
    # Published last: its presence commits the task.
    out.write_bytes(record_name(task.index), json_bytes(record))
    return record


# Tasks a worker runs at once (`run_tasks`). Their encodes take turns on the process's encoder
# threads (`threads_per_worker` of them: the core's pool for that count), so a worker still uses
# that many cores for encoding, but while one task encodes the others read their input or
# commit their output. On local disk two keep the encoder busy across task boundaries; on
# object storage reads and commits are round trips (tens of ms each on S3) and four hide them
# (see `tasks_in_flight`). Each task in flight holds a few batches of text (`batch_bytes`).
IN_FLIGHT_LOCAL = 2
IN_FLIGHT_REMOTE = 4
# Small tasks (a small run's) spend most of their time on those round trips: a task's reads, its
# shards' uploads, then its record's. So remotely a process runs more of them at once, up to
# MOST_IN_FLIGHT_REMOTE, as long as their inputs together stay within REMOTE_BYTES_IN_FLIGHT:
# 283 objects of 264 KB (57 tasks) written to a bucket answering 20 ms late took 3.1-3.4 s on one
# core with 4 at once, 2.4-2.8 s with 16. The count of a process is bounded, not a worker's: each
# task holds ~7 files open (its scratch shards, connections), and 32 at once (2 workers' worth in
# one process) ran out of 256 descriptors (macOS's default limit), which 8 had not.
MOST_IN_FLIGHT_REMOTE = 16
REMOTE_BYTES_IN_FLIGHT = 64 << 20


def tasks_in_flight(tasks: list[Task], outdir: str | os.PathLike[str], workers: int = 1) -> int:
    """Tasks a process running ``workers`` workers' tasks runs at once for this run: more when
    its input or output is a URL, and more still (up to `MOST_IN_FLIGHT_REMOTE`) when its tasks
    are small."""
    if not (is_url(os.fspath(outdir)) or any(is_url(t.path) for t in tasks)):
        return IN_FLIGHT_LOCAL * workers
    largest = max((t.size for t in tasks), default=0)
    small = min(MOST_IN_FLIGHT_REMOTE, REMOTE_BYTES_IN_FLIGHT // max(1, largest))
    return max(IN_FLIGHT_REMOTE * workers, small)


def run_tasks(
    tasks: Iterator[Task],
    settings: TaskSettings,
    tok: CodeTokenizer,
    outdir: str | os.PathLike[str],
    on_done: Callable[[TaskRecord], None],
    in_flight: int = IN_FLIGHT_LOCAL,
    stop: Any = None,
) -> None:
    """Runs the tasks of the iterator ``tasks`` (over a list, or reading a queue shared with
    other workers), ``in_flight`` at a time in threads, each committed as :func:`run_task`
    does. ``on_done`` gets each record once its task is committed (one call at a time, in any
    order). After an error (or an interrupt) no task starts, those under way stop before their
    next batch (a committed one is kept), and the error is raised. ``stop``: a threading or
    multiprocessing Event shared with other workers (an error here stops them too, theirs stop
    this one); default: this call's own."""
    lock = threading.Lock()
    if stop is None:
        stop = threading.Event()

    def next_task() -> Task | None:
        # One thread at a time; an iterator once exhausted stays so (a queue is read no further).
        with lock:
            return None if stop.is_set() else next(tasks, None)

    def loop() -> None:
        try:
            while (task := next_task()) is not None:
                record = run_task(task, settings, tok, outdir, stop)
                with lock:
                    on_done(record)
        except Abandoned:
            return  # the error (or interrupt) that set ``stop`` is the one raised
        except BaseException:
            stop.set()
            raise

    pool = ThreadPoolExecutor(in_flight, thread_name_prefix="codemill-task")
    try:
        loops = [pool.submit(loop) for _ in range(in_flight)]
        for f in loops:
            f.result()
    except BaseException:
        # Only on an error or an interrupt: ``stop`` may be shared with workers still running
        # their last tasks, which a worker that simply ran out of tasks must not abandon.
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)


# A batch encoded: its ids packed as a shard stores them, each document's length in ids (its
# EOT included), UTF-8 size and language.
_Encoded = tuple[bytes, list[int], list[int], list[str]]


def _read_ahead(batches: Iterator[T], task: Task) -> Iterator[T]:
    """A task's batches, read ahead in a thread (`read_ahead`) where they come from a bucket.
    Not for local input: there the other tasks in flight encode while one reads, and a reader
    thread per task cost more in hand-offs of the GIL than it hid (a 40 MB tree's tasks took
    0.25 s without against 0.27 s on 2 cores, 0.47 against 0.49 s on one)."""
    return read_ahead(batches) if is_url(task.path) else batches


def _encode(docs: list[Document], task: Task, settings: TaskSettings, tok: CodeTokenizer, width: int) -> _Encoded:
    languages = [d.language for d in docs]
    tokens, lengths = tok.encode_batch_packed(
        [d.text or "" for d in docs],
        languages,
        num_threads=settings.threads_per_worker,
        eot_id=settings.eot_id,
        width=width,
        allowed_special=settings.specials.for_task(task),
    )
    return tokens, lengths, [d.size for d in docs], languages


def _documents(
    docs: Iterator[Document], task: Task, settings: TaskSettings, tok: CodeTokenizer, width: int, stop: Any
) -> Generator[_Encoded, None, None]:
    """The documents of a Parquet file or of files in a bucket, encoded batch by batch."""
    size = batch_size(task, settings.batch_bytes)
    for batch in _read_ahead(batches(docs, size, MAX_BATCH_DOCUMENTS, _document_size), task):
        _check_stop(stop, task)
        yield _encode(batch, task, settings, tok, width)


def _document_size(doc: Document) -> int:
    return doc.size


def _records(
    reader: RecordReader, task: Task, settings: TaskSettings, tok: CodeTokenizer, width: int, stop: Any
) -> Generator[_Encoded, None, None]:
    """The records of a JSONL task, parsed and encoded in the core a batch of lines at a time: no
    Python object is made of a record (with them, 200 MB of JSONL took 2.45 s on one core against
    2.38 s). A line the core leaves (one its JSON parser refuses, a path that is not a string ...)
    is read by ``reader``, as `task_documents` reads every line: the same ids, sizes, languages
    and skips, in order, either way."""
    lines = reader.line_batches(task.start, task.stop, batch_size(task, settings.batch_bytes), MAX_BATCH_DOCUMENTS)
    return _record_batches(((reader, batch) for batch in lines), task, settings, tok, width, stop)


def _record_batches(
    batches: Iterator[tuple[RecordReader, list[Any]]],
    task: Task,
    settings: TaskSettings,
    tok: CodeTokenizer,
    width: int,
    stop: Any,
) -> Generator[_Encoded, None, None]:
    """`_records` of batches of lines, each with the reader of its file, read ahead (`_read_ahead`)
    across the files of a task."""
    allowed = settings.specials.for_task(task)
    for reader, batch in _read_ahead(batches, task):
        _check_stop(stop, task)
        tokens, lengths, sizes, languages, reasons, left = tok.encode_records_packed(
            reader.line_bytes(batch),
            reader.fields,
            reader.max_bytes,
            num_threads=settings.threads_per_worker,
            eot_id=settings.eot_id,
            width=width,
            allowed_special=allowed,
        )
        # The core's records go out in order; a line left to the reader (rare) goes in its place.
        done = passed = start = 0  # the core's records yielded and passed; where the next one's ids start
        for _, doc in reader.parsed(batch, reasons, left):
            if doc is None:
                passed += 1
                continue
            if passed > done:
                end = start + sum(lengths[done:passed]) * width
                yield tokens[start:end], lengths[done:passed], sizes[done:passed], languages[done:passed]
                done, start = passed, end
            yield _encode([doc], task, settings, tok, width)
        if passed > done:
            yield tokens[start:] if start else tokens, lengths[done:], sizes[done:], languages[done:]


def _record_files(
    task: Task, settings: TaskSettings, tok: CodeTokenizer, width: int, skips: Skips, stop: Any
) -> Generator[_Encoded, None, None]:
    """The records of a task's whole JSONL files, each file read as a JSONL task of its own would
    be, in turn; from a bucket the next file is read while this one is encoded, and small ones
    (under `WHOLE_FILE_BYTES` on average) several at once, as many as their batches' bytes
    allow (`files_ahead`). With a read-ahead restarted at each file, 62 tasks of two 8 MB
    objects took 11.4-12.0 s on one core against 10.8-11.5 s for 124 of one; read ahead across
    files, 10.4-11.1 against 10.6-11.3 s, and 13.0 against 12.2 s several at once (more threads,
    no round trip saved). A file at a time, 283 objects of 264 KB took 4.9 s on one core from a
    server answering 20 ms late (2.1 s from local disk), 3.8 s several at once."""
    size = batch_size(task, settings.batch_bytes)
    files = tuple(task.files)  # read once, from the plan's spool where they are there
    readers = (record_reader(path, skips, settings.max_file_bytes) for path in files)

    def batches() -> Iterator[tuple[RecordReader, list[Any]]]:
        if is_url(task.path) and task.size < WHOLE_FILE_BYTES * len(files):
            with contextlib.closing(files_ahead(((r, None) for r in readers), size, MAX_BATCH_DOCUMENTS)) as ahead:
                for (reader, _), lines in ahead:
                    for batch in lines:
                        yield reader, batch
            return
        for reader in readers:
            for batch in reader.line_batches(0, None, size, MAX_BATCH_DOCUMENTS):
                yield reader, batch

    return _record_batches(batches(), task, settings, tok, width, stop)


def _local_files(
    task: Task, settings: TaskSettings, tok: CodeTokenizer, width: int, skips: Skips, stop: Any
) -> Generator[_Encoded, None, None]:
    """The files of a task on local disk, read and encoded in the core a batch at a time: no
    Python string or document is made of a file (with them, a 40 MB tree's tasks took 0.64 s on
    one core against 0.50 s, and held the GIL the threads of a small run share). The same ids,
    sizes, languages and skips as `task_documents` gives them."""
    files = tuple(task.files)  # read once, from the plan's spool where they are there (a tuple: itself)
    languages = [file_language(name) for name in files]
    budget = batch_size(task, settings.batch_bytes)
    allowed = settings.specials.for_task(task)
    i = 0
    while i < len(files):
        _check_stop(stop, task)
        end = i + MAX_BATCH_DOCUMENTS
        taken, tokens, lengths, sizes, reasons = tok.encode_files_packed(
            files[i:end],
            languages[i:end],
            settings.max_file_bytes,
            budget,
            num_threads=settings.threads_per_worker,
            eot_id=settings.eot_id,
            width=width,
            allowed_special=allowed,
        )
        read = []
        for name, language, reason in zip(files[i : i + taken], languages[i : i + taken], reasons, strict=True):
            if reason is None:
                read.append(language)
            else:
                skips.add(name, reason)
        i += taken
        if read:
            yield tokens, lengths, sizes, read


def _check_stop(stop: Any, task: Task) -> None:
    if stop is not None and stop.is_set():
        raise Abandoned(f"task {task.index}")


def _write_task(
    task: Task, settings: TaskSettings, tok: CodeTokenizer, outdir: Path, stop: Any, durable: bool
) -> TaskRecord:
    """Writes the task's shards into the local directory ``outdir`` (fsynced if ``durable``:
    not in a scratch directory whose files are uploaded next); returns its record."""
    skips = Skips(limit=settings.skipped_list_limit)
    writer = ShardWriter(
        outdir,
        task_prefix(task.index),
        fmt=settings.format,
        dtype=settings.dtype,
        shard_tokens=settings.shard_tokens,
        durable=durable,
    )
    langs: dict[str, Counter[str]] = defaultdict(Counter)
    reader = None
    if task.kind == "files" and not is_url(task.path):
        encoded = _local_files(task, settings, tok, writer.width, skips, stop)
    elif task.kind == "jsonl":
        reader = task_reader(task, skips, settings.max_file_bytes)
        encoded = _records(reader, task, settings, tok, writer.width, stop)
    elif task.kind == "records":
        encoded = _record_files(task, settings, tok, writer.width, skips, stop)
    else:
        docs, reader = task_documents(task, skips, settings.max_file_bytes)
        encoded = _documents(docs, task, settings, tok, writer.width, stop)
    try:
        for tokens, lengths, sizes, doc_langs in encoded:
            writer.add(tokens, lengths, sizes)
            for language, size, n in zip(doc_langs, sizes, lengths, strict=True):
                s = langs[language]
                s["documents"] += 1
                s["bytes"] += size
                s["tokens"] += n - 1  # its EOT is not the language's
        shards = writer.close()
    except BaseException:
        encoded.close()  # now, not when the error's traceback lets go: a reader thread stops
        writer.abort()
        raise
    languages: dict[str, LanguageStats] = {
        k: {"documents": v["documents"], "bytes": v["bytes"], "tokens": v["tokens"]} for k, v in sorted(langs.items())
    }
    record: TaskRecord = {
        "task": task.describe(),
        "stamp": task.stamp,
        "documents": sum(s["documents"] for s in shards),
        "tokens": sum(s["tokens"] for s in shards),
        "bytes": sum(s["bytes"] for s in shards),
        "lines": reader.lines if reader is not None else 0,
        "shards": shards,
        "languages": languages,
        "skipped": skips.as_dict(),
        "skipped_items": skips.items,
    }
    return record
