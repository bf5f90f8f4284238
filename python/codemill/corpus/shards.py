"""Sharded token output: NumPy `.npy` or Megatron-LM `.bin/.idx` shards, task records, manifest.

Layout of an output directory::

    manifest.json                  inputs, settings, tokenizer hash, shards, per-language stats,
                                   skipped items, completion state
    tasks/task-00003.json          the record of a completed task (the resume state)
    shard-00003-0000.npy           token ids of task 3's first shard (uint16 or uint32)
    shard-00003-0000.docs.npy      its document index: uint64 start offsets, one more than docs
    shard-00003-0000.bin / .idx    the same shard in Megatron-LM's indexed-dataset format

Each document's tokens are followed by one end-of-text token; documents are never split, so a
shard holds whole documents (a document longer than ``shard_tokens`` gets a shard of its own).
Every file is written under a temporary name, fsynced and renamed; a task counts as done only
once its record is renamed into place, so a run killed at any moment and run again redoes
exactly the unfinished tasks and ends byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from codemill._io import atomic_write_bytes, atomic_write_json, fsync_dir, tmp_name

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "codemill-shards/1"
TASKS_DIR = "tasks"

# Megatron-LM `indexed_dataset`: header, version 1, dtype codes of its DType enum.
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPES = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}
_MEGATRON_CODE = {np.dtype(v): k for k, v in MEGATRON_DTYPES.items()}

# The .npy header is written with the final shape when a shard closes; a fixed length lets the
# tokens stream to disk before that shape is known.
_NPY_HEADER_LEN = 128


def token_dtype(vocab_size: int, fmt: str = "npy") -> np.dtype:
    """uint16 when every id fits, else uint32 (int32 for Megatron, whose readers lack uint32)."""
    if fmt == "megatron":
        # Megatron's own rule (DType.optimal_dtype): uint16 below 65500 tokens.
        return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (dtype.str, n)  # noqa: UP031
    body = d.ljust(_NPY_HEADER_LEN - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


def _npy_bytes(arr: np.ndarray) -> bytes:
    return _npy_header(arr.dtype, len(arr)) + np.ascontiguousarray(arr).tobytes()


class _OpenShard:
    """One shard being written: tokens stream to a temporary file."""

    def __init__(self, outdir: Path, name: str, fmt: str, dtype: np.dtype) -> None:
        self.name = name
        self.fmt = fmt
        self.dtype = dtype
        self.tokens_path = outdir / (name + (".npy" if fmt == "npy" else ".bin"))
        self.index_path = outdir / (name + (".docs.npy" if fmt == "npy" else ".idx"))
        self.tmp = tmp_name(self.tokens_path)
        self.f: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in finish/abort
        if fmt == "npy":
            self.f.write(b"\0" * _NPY_HEADER_LEN)
        self.tokens = 0
        self.bytes = 0
        self.lengths: list[np.ndarray] = []  # per-document token counts (EOT included)

    def write(self, tokens: np.ndarray, lengths: np.ndarray, nbytes: int) -> None:
        self.f.write(tokens.tobytes())
        self.tokens += len(tokens)
        self.bytes += nbytes
        self.lengths.append(lengths)

    def finish(self) -> dict[str, Any]:
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        if self.fmt == "npy":
            self.f.seek(0)
            self.f.write(_npy_header(self.dtype, self.tokens))
            starts = np.zeros(len(lengths) + 1, dtype=np.uint64)
            np.cumsum(lengths, out=starts[1:])
            index = _npy_bytes(starts)
        else:
            index = megatron_index_bytes(lengths, self.dtype)
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.tokens_path)
        atomic_write_bytes(self.index_path, index)
        return {
            "name": self.name,
            "files": [self.tokens_path.name, self.index_path.name],
            "documents": len(lengths),
            "tokens": self.tokens,
            "bytes": self.bytes,
            "size": self.tokens_path.stat().st_size,
        }

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


class ShardWriter:
    """Writes whole documents, each followed by ``eot_id``, into shards of about ``shard_tokens``.

    Shards are named ``{prefix}-{k:04d}``; ``close()`` returns their descriptions.
    """

    def __init__(self, outdir: Path, prefix: str, *, fmt: str, dtype: np.dtype, shard_tokens: int, eot_id: int) -> None:
        if fmt not in ("npy", "megatron"):
            raise ValueError(f"unknown shard format {fmt!r} (npy or megatron)")
        if shard_tokens <= 0:
            raise ValueError("shard_tokens must be positive")
        self.outdir = outdir
        self.prefix = prefix
        self.fmt = fmt
        self.dtype = np.dtype(dtype)
        self.shard_tokens = shard_tokens
        self.eot_id = eot_id
        self.shards: list[dict[str, Any]] = []
        self._open: _OpenShard | None = None

    def add(self, ids: np.ndarray, offsets: np.ndarray, nbytes: np.ndarray) -> None:
        """Adds a batch: documents ``ids[offsets[i]:offsets[i+1]]`` of ``nbytes[i]`` source bytes."""
        n = len(offsets) - 1
        if n <= 0:
            return
        # One EOT after each document, in one vectorised pass.
        tokens = np.insert(ids, offsets[1:].astype(np.intp), self.eot_id).astype(self.dtype, copy=False)
        lengths = np.diff(offsets).astype(np.int64) + 1
        ends = np.cumsum(lengths)  # end of document i within `tokens`
        byte_ends = np.cumsum(np.asarray(nbytes, dtype=np.int64))
        i = 0
        while i < n:
            if self._open is None:
                self._open = _OpenShard(self.outdir, f"{self.prefix}-{len(self.shards):04d}", self.fmt, self.dtype)
            base = int(ends[i - 1]) if i else 0
            room = self.shard_tokens - self._open.tokens
            # Documents i..j-1 fit in the room left.
            j = int(np.searchsorted(ends, base + room, side="right"))
            if j <= i:
                if self._open.tokens:
                    self._close()
                    continue
                j = i + 1  # a document longer than a shard gets a shard of its own
            stop = int(ends[j - 1])
            b0 = int(byte_ends[i - 1]) if i else 0
            self._open.write(tokens[base:stop], lengths[i:j], int(byte_ends[j - 1]) - b0)
            i = j
            if self._open.tokens >= self.shard_tokens:
                self._close()

    def _close(self) -> None:
        assert self._open is not None
        self.shards.append(self._open.finish())
        self._open = None

    def close(self) -> list[dict[str, Any]]:
        if self._open is not None:
            self._close()
        return self.shards

    def abort(self) -> None:
        if self._open is not None:
            self._open.abort()
            self._open = None


# --- Megatron-LM indexed dataset (.bin/.idx) ---------------------------------------------------


def megatron_index_bytes(lengths: np.ndarray, dtype: np.dtype) -> bytes:
    """The `.idx` of sequences with these token counts, one document per sequence.

    Layout (Megatron-LM ``megatron/core/datasets/indexed_dataset.py``, ``_IndexWriter``):
    magic ``MMIDIDX\\0\\0``, version ``<Q`` 1, dtype code ``<B``, sequence count ``<Q``,
    document-index count ``<Q``, then int32 sequence lengths, int64 byte pointers into the
    `.bin`, int64 document indices (sequence index where each document starts, plus the end).
    """
    lengths = np.asarray(lengths, dtype=np.int32)
    n = len(lengths)
    pointers = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    doc_index = np.arange(n + 1, dtype=np.int64)
    return b"".join(
        [
            MEGATRON_MAGIC,
            struct.pack("<Q", 1),
            struct.pack("<B", _MEGATRON_CODE[np.dtype(dtype)]),
            struct.pack("<Q", n),
            struct.pack("<Q", len(doc_index)),
            lengths.tobytes(),
            pointers.tobytes(),
            doc_index.tobytes(),
        ]
    )


class MegatronReader:
    """A small reader of Megatron-LM `.bin/.idx` pairs, written from the format's layout alone."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        prefix = os.fspath(prefix)
        idx = Path(prefix + ".idx").read_bytes()
        if idx[:9] != MEGATRON_MAGIC:
            raise ValueError(f"{prefix}.idx: not a Megatron index (bad magic)")
        (version,) = struct.unpack_from("<Q", idx, 9)
        if version != 1:
            raise ValueError(f"{prefix}.idx: unsupported index version {version}")
        (code,) = struct.unpack_from("<B", idx, 17)
        if code not in MEGATRON_DTYPES:
            raise ValueError(f"{prefix}.idx: unknown dtype code {code}")
        self.dtype = np.dtype(MEGATRON_DTYPES[code])
        n, ndocs = struct.unpack_from("<QQ", idx, 18)
        pos = 34
        self.lengths = np.frombuffer(idx, np.int32, n, pos)
        pos += 4 * n
        self.pointers = np.frombuffer(idx, np.int64, n, pos)
        pos += 8 * n
        self.document_indices = np.frombuffer(idx, np.int64, ndocs, pos)
        self.bin = np.memmap(prefix + ".bin", dtype=np.uint8, mode="r")

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i])
        return self.bin[start : start + int(self.lengths[i]) * self.dtype.itemsize].view(self.dtype)


# --- Reading our own output ------------------------------------------------------------------


def read_manifest(outdir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(outdir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no manifest (not a codemill token directory?)") from None
    except ValueError as exc:
        raise ValueError(f"{path}: corrupt manifest ({exc})") from None


def read_npy_shard(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens memmap, document start offsets with the end appended) of an `.npy` shard."""
    path = Path(path)
    tokens = np.load(path, mmap_mode="r")
    starts = np.load(path.with_name(path.name[: -len(".npy")] + ".docs.npy"))
    return tokens, starts


def iter_shard_documents(outdir: str | os.PathLike[str], *, keep_eot: bool = False) -> Iterator[np.ndarray]:
    """Every document's token ids in manifest order (without its trailing EOT by default)."""
    outdir = Path(outdir)
    manifest = read_manifest(outdir)
    cut = 0 if keep_eot else 1
    for shard in manifest["shards"]:
        if manifest["settings"]["format"] == "megatron":
            reader = MegatronReader(outdir / shard["name"])
            for i in range(len(reader)):
                seq = reader[i]
                yield seq[: len(seq) - cut]
        else:
            tokens, starts = read_npy_shard(outdir / shard["files"][0])
            for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
                yield tokens[a : b - cut]


# --- The corpus job: plan, resume, run, merge --------------------------------------------------

# Output-affecting settings: a resumed run must use the same ones.
_SETTINGS = ("format", "dtype", "eot_id", "shard_tokens", "task_bytes", "max_file_bytes")
_SKIPPED_LIST_LIMIT = 10_000


def _load_tokenizer(tokenizer: Any) -> Any:
    from codemill.tokenizer.code_tokenizer import CodeTokenizer

    if tokenizer is None:
        return CodeTokenizer.default()
    if isinstance(tokenizer, str | os.PathLike):
        return CodeTokenizer.load(tokenizer)
    return tokenizer


def _valid_record(outdir: Path, task: Any) -> dict[str, Any] | None:
    from codemill.corpus.engines.task import record_path

    try:
        rec = json.loads(record_path(outdir, task.index).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("task") != task.describe():
        return None
    for shard in rec.get("shards", ()):
        tokens, index = (outdir / f for f in shard["files"])
        try:
            if tokens.stat().st_size != shard["size"] or not index.is_file():
                return None
        except OSError:
            return None
    return rec


def _clean(outdir: Path, ntasks: int) -> None:
    """Removes temporaries of killed runs and outputs of tasks the plan no longer has."""
    for folder, prefix in ((outdir, "shard-"), (outdir / TASKS_DIR, "task-")):
        for p in folder.iterdir():
            name, k = p.name, len(prefix)
            stale = name[k : k + 5].isdigit() and name.startswith(prefix) and int(name[k : k + 5]) >= ntasks
            if stale or (name.startswith(".") and ".tmp" in name):
                p.unlink(missing_ok=True)


def _merge(head: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    langs: dict[str, dict[str, int]] = {}
    skipped: dict[str, int] = {}
    items: list[dict[str, str]] = []
    shards: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for rec in records:
        index = rec["task"]["index"]
        for sh in rec["shards"]:
            shards.append({"task": index, **sh})
        for lang, s in rec["languages"].items():
            acc = langs.setdefault(lang, {"documents": 0, "bytes": 0, "tokens": 0})
            for k in acc:
                acc[k] += s[k]
        for reason, n in rec["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + n
        items.extend(rec["skipped_items"][: max(0, _SKIPPED_LIST_LIMIT - len(items))])
        tasks.append(
            {**rec["task"], "documents": rec["documents"], "tokens": rec["tokens"], "shards": len(rec["shards"])}
        )
    for s in langs.values():
        s["bytes_per_token"] = round(s["bytes"] / max(s["tokens"], 1), 4)  # type: ignore[assignment]
    documents = sum(r["documents"] for r in records)
    nbytes = sum(r["bytes"] for r in records)
    text_tokens = sum(s["tokens"] for s in langs.values())
    return {
        **head,
        "complete": True,
        "totals": {
            "documents": documents,
            "tokens": sum(r["tokens"] for r in records),
            "text_tokens": text_tokens,
            "bytes": nbytes,
            "bytes_per_token": round(nbytes / max(text_tokens, 1), 4),
            "shards": len(shards),
            "skipped": sum(skipped.values()),
        },
        "languages": dict(sorted(langs.items())),
        "skipped": dict(sorted(skipped.items())),
        "skipped_items": items,
        "skipped_items_truncated": sum(skipped.values()) > len(items),
        "shards": shards,
        "tasks": tasks,
    }


class Progress:
    """Bytes, documents, tokens and rate: one updating line on a terminal, plain lines otherwise."""

    def __init__(self, total_bytes: int, total_tasks: int, stream: Any = None, interval: float = 5.0) -> None:
        import sys
        import time

        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total_bytes = total_bytes
        self.total_tasks = total_tasks
        self.t0 = self.last = time.monotonic()
        self.interval = 0.2 if self.tty else interval
        self.tasks = self.bytes = self.documents = self.tokens = self.run_bytes = 0

    def resumed(self, rec: dict[str, Any]) -> None:
        self.tasks += 1
        self.bytes += rec["task"]["size"]
        self.documents += rec["documents"]
        self.tokens += rec["tokens"]

    def update(self, rec: dict[str, Any]) -> None:
        import time

        self.resumed(rec)
        self.run_bytes += rec["task"]["size"]
        now = time.monotonic()
        if now - self.last >= self.interval or self.tasks == self.total_tasks:
            self.last = now
            self.show(now)

    def show(self, now: float) -> None:
        rate = self.run_bytes / 1e6 / max(now - self.t0, 1e-9)
        pct = 100.0 * self.bytes / max(self.total_bytes, 1)
        line = (
            f"tokenize: {self.tasks}/{self.total_tasks} tasks, {self.bytes / 1e6:,.1f}/{self.total_bytes / 1e6:,.1f} MB"
            f" ({pct:.0f}%), {self.documents:,} docs, {self.tokens:,} tokens, {rate:.1f} MB/s"
        )
        if self.tty:
            print("\r" + line, end="\n" if self.tasks == self.total_tasks else "", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)


def tokenize_corpus(
    inputs: list[str | os.PathLike[str]] | str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    tokenizer: Any = None,
    workers: int = 1,
    shard_tokens: int = 100_000_000,
    format: str = "npy",
    engine: str = "local",
    ray_address: str | None = None,
    task_bytes: int = 64 << 20,
    batch_bytes: int = 4 << 20,
    max_file_bytes: int = 100 << 20,
    threads_per_worker: int = 1,
    progress: bool | Any = False,
) -> dict[str, Any]:
    """Tokenizes code corpora into token shards under ``output_dir``; returns the manifest.

    ``inputs``: directory trees, code files, JSONL(.gz/.zst) and Parquet files. ``tokenizer``:
    a `CodeTokenizer`, a tokenizer file, or None for the bundled one. Work is split into
    deterministic tasks of about ``task_bytes`` of input, run by ``workers`` processes
    (``engine="local"``) or on Ray (``engine="ray"``). Running again on the same directory with
    the same arguments resumes: finished tasks are kept, the rest redone; the result is
    byte-identical to an uninterrupted run. ``progress``: True for stderr, or a stream.

    The returned manifest equals ``manifest.json`` plus a ``"run"`` entry (timings, tasks run
    and resumed) that is not written, so that the file stays deterministic.
    """
    import time

    from codemill.sources.documents import plan_tasks

    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    inputs = [os.fspath(p) for p in inputs]
    if not inputs:
        raise ValueError("no inputs given")
    if format not in ("npy", "megatron"):
        raise ValueError(f"unknown format {format!r} (npy or megatron)")
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r} (local or ray)")
    if shard_tokens <= 0 or batch_bytes <= 0 or max_file_bytes <= 0:
        raise ValueError("shard_tokens, batch_bytes and max_file_bytes must be positive")
    t0 = time.perf_counter()
    tok = _load_tokenizer(tokenizer)
    tasks = plan_tasks(inputs, task_bytes)
    dtype = token_dtype(tok.vocab_size, format)
    settings: dict[str, Any] = {
        "format": format,
        "dtype": dtype.name,
        "eot_id": int(tok.eot_id),
        "shard_tokens": int(shard_tokens),
        "task_bytes": int(task_bytes),
        "max_file_bytes": int(max_file_bytes),
    }
    head: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "complete": False,
        "inputs": inputs,
        "tokenizer": {"hash": tok.hash, "vocab_size": tok.vocab_size, "eot_id": int(tok.eot_id)},
        "settings": settings,
        "layout": "each document's tokens are followed by one eot_id; documents are never split across shards",
        "tasks_planned": len(tasks),
    }
    outdir = Path(output_dir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"{outdir}: exists and is not a directory")
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / TASKS_DIR).mkdir(exist_ok=True)
    manifest_path = outdir / MANIFEST_NAME
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except ValueError:
            old = None  # a torn write cannot happen (rename), but a hand-edited file can
        if isinstance(old, dict):
            for key in ("inputs", "tokenizer", "settings"):
                if old.get(key) != head[key]:
                    raise ValueError(
                        f"{outdir}: holds a run with different {key} ({old.get(key)!r}); "
                        "use another output directory to start afresh"
                    )
    elif any(p.name.startswith("shard-") for p in outdir.iterdir()):
        raise ValueError(f"{outdir}: holds shards but no manifest; use an empty output directory")
    atomic_write_json(manifest_path, head)
    fsync_dir(outdir)
    _clean(outdir, len(tasks))

    records: dict[int, dict[str, Any]] = {}
    pending = []
    bar = None
    if progress:
        bar = Progress(sum(t.size for t in tasks), len(tasks), None if progress is True else progress)
    for task in tasks:
        rec = _valid_record(outdir, task)
        if rec is None:
            pending.append(task)
        else:
            records[task.index] = rec
            if bar:
                bar.resumed(rec)

    def on_done(rec: dict[str, Any]) -> None:
        records[rec["task"]["index"]] = rec
        if bar:
            bar.update(rec)

    runtime = {**settings, "batch_bytes": int(batch_bytes), "threads_per_worker": int(threads_per_worker)}
    t_run = time.perf_counter()
    if engine == "ray":
        from codemill.corpus.engines.ray import run_ray

        run_ray(pending, tok, runtime, outdir, workers, on_done, address=ray_address)
    else:
        from codemill.corpus.engines.local import run_local

        run_local(pending, tok, runtime, outdir, workers, on_done)
    run_seconds = time.perf_counter() - t_run
    if bar and not pending:
        bar.show(time.monotonic())  # everything was done already: say so once
    manifest = _merge(head, [records[t.index] for t in tasks])
    atomic_write_json(manifest_path, manifest)
    fsync_dir(outdir)
    run_bytes = sum(records[t.index]["bytes"] for t in pending)
    manifest["run"] = {
        "engine": engine,
        "workers": workers,
        "tasks_run": len(pending),
        "tasks_resumed": len(tasks) - len(pending),
        "seconds": round(time.perf_counter() - t0, 3),
        "tokenize_seconds": round(run_seconds, 3),
        "mb_per_s": round(run_bytes / 1e6 / max(run_seconds, 1e-9), 2),
    }
    return manifest
