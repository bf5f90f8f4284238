"""The Ray engine of dedup: signatures per shard as tasks, band grouping as a shuffle.

The sign tasks read the inputs themselves (`ray_sign_inputs`): code files in batches, JSONL and
Parquet files a part each (`record_parts`), small JSONL files several a task; the driver lists
them and sends names.

The driver computes the band keys; map tasks hash-partition their shard's `(band, key, doc)`
rows into P partitions; each reduce task pairs its partition's buckets in the core
(`_core.bucket_pairs`, the window rule of the local engine's `_core.lsh_pairs`). No Python
object per band key or per document. The pairs and the skipped count are the same as the local engine's, so the clusters
are too. Sign and reduce tasks are spread over the cluster's nodes and report the node they
ran on, so a run can show where its work went (`DedupResult.tasks_per_node`). An output prefix
in a bucket is written by tasks too (`ray_publish`).
"""

from __future__ import annotations

import copy
import functools
import itertools
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from codemill import _core
from codemill._ray import Spread, connect, in_driver_dir, ray, stop_tasks, task_result
from codemill.near_dup.config import DedupConfig
from codemill.near_dup.signing import Claim, first_claims, local_signatures
from codemill.sources import Skips
from codemill.sources.fs import file_size
from codemill.sources.parts import byte_ranges, group_ranges, task_size
from codemill.sources.skips import Placing, renumber
from codemill.sources.streams import is_compressed, is_parquet

if TYPE_CHECKING:
    from codemill.near_dup.api import SignedFiles, SignedRange
    from codemill.near_dup.minhash import MinHasher
    from codemill.near_dup.output import Write
    from codemill.sources import Document, RecordReader


# Bytes of code files (as listed) a sign task reads: ~0.1 s of signing on one core, far above a
# task's own cost, and a terabyte's ~130,000 tasks.
FILE_TASK_BYTES = 8 << 20
# Rows signed again (copies of a text in another task) before the run's register of texts is
# started (`_Claims`): ~0.4 CPU-seconds of signing at ~10 KB a text, beside its ~1 s to start.
REGISTER_AFTER_ROWS = 4096


def _node() -> str:
    return str(ray.get_runtime_context().get_node_id())


def _shards(n: int, shards: int | None) -> list[tuple[int, int]]:
    if shards is None:
        shards = max(1, int(ray.cluster_resources().get("CPU", 1)) * 2)
    shards = max(1, min(shards, n)) if n else 1
    bounds = np.linspace(0, n, shards + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


@ray.remote
def _sign_shard(config: DedupConfig, texts: list[str]) -> tuple[np.ndarray, np.ndarray, str]:
    sigs, counts = local_signatures(config)(texts)
    return sigs, counts, _node()


def ray_signatures(
    config: DedupConfig, texts: list[str], shards: int | None, nodes: Counter[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Signatures and shingle counts, one Ray task per shard (counted in `nodes`); the content
    hashes are the `Signer`'s, which it needs before it knows which texts to sign."""
    connect()
    refs = []
    spread = Spread()
    for a, b in _shards(len(texts), shards):
        refs.append(_sign_shard.options(scheduling_strategy=spread()).remote(config, texts[a:b]))
    done = ray.get(refs)
    nodes.update(node for _, _, node in done)
    return np.concatenate([sigs for sigs, _, _ in done]), np.concatenate([counts for _, counts, _ in done])


class _Register:
    """The raw content hashes of the texts a run's sign tasks have claimed, so that each distinct
    text is signed once in the run, by the first task to claim it (`signing.Claim`). The driver
    read and hashed every text before; with the texts read by the tasks, a copy of a file in
    another task was signed again (dedup of a tree of 25 copies took 1.9x as long). One actor:
    its table holds what a local run's `Signer` holds, 29-57 bytes a distinct text.

    A claim is asked again, with the same answer, when Ray retries a task whose worker died: its
    first claims stand, and a retry told they were another's left its texts signed by no row
    (the documents read as empty, their duplicates missed). So each claim is asked under a key,
    (task, call), and the rows it asks about are numbered once per key."""

    def __init__(self) -> None:
        self._seen = _core.FirstSeen()
        self._asked = 0
        self._keys: dict[tuple[int, int], list[tuple[int, int]]] = {}  # key -> its (first row, rows)

    def ready(self) -> None:
        """Answers once the actor is up (`_Claims` hands it out then)."""

    def claim(self, raw: np.ndarray, key: tuple[int, int]) -> np.ndarray:
        """Which of the texts (their raw content hashes) are the caller's to sign."""
        ranges = self._keys.setdefault(key, [])
        start = next((a for a, n in ranges if n == len(raw)), None)
        if start is None:
            start = self._asked
            self._asked += len(raw)
            ranges.append((start, len(raw)))
        first = self._seen.first(raw, start)
        mine = first == np.arange(start, start + len(raw), dtype=np.uint64)
        for a, n in ranges:
            if a != start:  # an attempt that read other rows: the texts it claimed are this task's
                mine |= (first >= a) & (first < a + n)
        return mine


class _Claims:
    """The driver's side of the run's `_Register`. Its actor takes a worker process of its own,
    ~1 CPU-second to start (Python, Ray, codemill's imports): started at once, it cost Ray dedup
    of a 40 MB tree 0.4-0.9 s of ~1 s, and of 616 MB of JSONL with 6% exact copies ~0.8 s of
    ~4.5 s, on two cores. So tasks first claim within themselves (`first_claims`), a copy of a
    text in another task is signed again (a waste, not an error: any row that signed a text gives
    its copies the same signature), and the actor is started once ``signed_again()`` (the rows
    signed so, as the tasks are taken) reaches `REGISTER_AFTER_ROWS`, where its cost is paid."""

    def __init__(self, signed_again: Callable[[], int]) -> None:
        self._signed_again = signed_again
        self.actor: ray.actor.ActorHandle | None = None
        self._up: ray.ObjectRef | None = None
        self._ready: bool = False
        self._tasks = 0

    def ticket(self) -> _Ticket:
        """What the next task to send claims with: the actor once it answers (None: claim
        within the task), and the task's number, its claims' key."""
        self._tasks += 1
        return _Ticket(self._handle(), self._tasks)

    def _handle(self) -> ray.actor.ActorHandle | None:
        """The actor for the next task to send, once it answers."""
        if self.actor is None and self._signed_again() >= REGISTER_AFTER_ROWS:
            actor = ray.remote(_Register).options(num_cpus=0)  # holds no CPU from the tasks
            self.actor = cast("ray.actor.ActorHandle", actor.remote())
            self._up = self.actor.ready.remote()
        if not self._ready and self._up is not None:
            self._ready = bool(ray.wait([self._up], timeout=0)[0])
        return self.actor if self._ready else None

    def close(self) -> None:
        if self.actor is not None:
            ray.kill(self.actor)


class _Ticket(NamedTuple):
    register: ray.actor.ActorHandle | None
    task: int


def _claim(ticket: _Ticket) -> Claim:
    register = ticket.register
    if register is None:
        return first_claims()
    calls = itertools.count()

    def claim(raw: np.ndarray) -> np.ndarray:
        return cast("np.ndarray", ray.get(register.claim.remote(raw, (ticket.task, next(calls)))))

    return claim


@ray.remote
def _sign_part(
    config: DedupConfig, reader: RecordReader, start: int, stop: int | None, ticket: _Ticket, cwd: str
) -> tuple[SignedRange, str]:
    from codemill.near_dup.api import sign_range  # which imports this module's caller

    in_driver_dir(cwd, [reader.path])
    return sign_range(config, reader, start, stop, _claim(ticket)), _node()


@ray.remote
def _sign_record_files(
    config: DedupConfig, readers: list[RecordReader], ticket: _Ticket, cwd: str
) -> tuple[list[SignedRange], str]:
    from codemill.near_dup.api import sign_whole_files  # which imports this module's caller

    in_driver_dir(cwd, [reader.path for reader in readers])
    return sign_whole_files(config, readers, _claim(ticket)), _node()


@ray.remote
def _sign_files(
    config: DedupConfig, names: list[str], max_bytes: int, ticket: _Ticket, cwd: str
) -> tuple[SignedFiles, str]:
    from codemill.near_dup.api import sign_files  # which imports this module's caller

    in_driver_dir(cwd, names)
    return sign_files(config, names, max_bytes, _claim(ticket)), _node()


def _most_waiting() -> int:
    """Tasks kept waiting at once: two per CPU of the cluster (their results are held until taken)."""
    return max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))


def _in_order(tasks: Iterator[ray.ObjectRef], nodes: MutableMapping[str, int]) -> Iterator[Any]:
    """The results of tasks, in order, each task sent as it is drawn from ``tasks`` while fewer
    than `_most_waiting` wait; a task returns ``(result, node)``, its node counted in ``nodes``."""
    most = _most_waiting()
    waiting: deque[ray.ObjectRef] = deque()
    try:
        while True:
            while len(waiting) < most and (ref := next(tasks, None)) is not None:
                waiting.append(ref)
            if not waiting:
                return
            result, node = task_result(waiting.popleft())  # a task's input error: its own
            nodes[node] = nodes.get(node, 0) + 1
            yield result
    finally:
        # Left running after an error, a run's output groups would go on writing into its
        # prefix, perhaps over a later run's.
        stop_tasks(list(waiting))


def ray_sign_inputs(
    config: DedupConfig,
    listed: Iterator[list[Document] | RecordReader],
    skips: Skips,
    parts: int | None,
    max_bytes: int,
    nodes: Counter[str],
    take_files: Callable[[list[Document], SignedFiles], None],
    take_part: Callable[[RecordReader, SignedRange, int], None],
    signed_again: Callable[[], int],
) -> None:
    """The listed inputs (`list_batches_or_readers`) read and signed by Ray tasks (counted in
    `nodes`), taken in the listing's order: code files `FILE_TASK_BYTES` of them a task
    (``take_files``); a record file in parts, a task each (`record_parts`), or, a JSONL file too
    small to cut and under `FILE_TASK_BYTES`, with the small JSONL files listed after it,
    `FILE_TASK_BYTES` of them a task (``take_part(reader, part, first)``: ``first`` the number of
    the part's first record in the file). Before, the driver read every code file and sent its
    text: one core and one node's network for the whole tree.

    The listing goes on while tasks run, at most `_most_waiting` of them waiting (their results
    are held until taken), and counts what it passes over as it goes. Each batch of files and
    each record file notes where the listing stands (where a local run reads it), and its
    task's skips are put there when it is taken (`Placing`), so that skipped items are listed in
    a local run's order. A record file's parts waited for one another before the
    listing went on: 283 JSONL files of 230 KB, a task each and one at a time, took 3.3 s on 2
    CPUs against 0.74 s for their lines in one file. Each distinct text is signed once in the
    run, by the first task to claim it (`_Register`), once ``signed_again()`` copies were signed
    again (`_Claims`)."""
    connect()
    claims = _Claims(signed_again)
    most = _most_waiting()
    spread = Spread()
    # Per task sent: what takes its result.
    waiting: deque[tuple[ray.ObjectRef, Callable[[Any], None]]] = deque()
    placing = Placing(skips)
    files: list[tuple[list[Document], int]] = []  # batches of code files for the next task, each with `listed`
    # Small record files for the next task, each with `listed` and its one part.
    records: list[tuple[RecordReader, int, list[tuple[int, int | None]]]] = []
    size = 0  # bytes of ``files`` or ``records``

    def send(ref: ray.ObjectRef, taker: Callable[[Any], None]) -> None:
        waiting.append((ref, taker))
        while len(waiting) >= most:
            take()

    def take() -> None:
        ref, taker = waiting.popleft()
        result, node = task_result(ref)  # a task's input error: its own
        nodes[node] += 1
        taker(result)

    def take_files_of(batches: list[tuple[list[Document], int]], part: SignedFiles) -> None:
        at = 0
        for docs, listed in batches:
            why = part.reasons[at : at + len(docs)]
            placing.insert(listed, [(doc.where, reason) for doc, reason in zip(docs, why, strict=True) if reason])
            at += len(docs)
        take_files([doc for docs, _ in batches for doc in docs], part)

    def take_record(reader: RecordReader, listed: int, part: SignedRange, first: int) -> None:
        placing.update(listed, part.skipped, renumber(part.skipped_items, reader.shown, first - 1))
        take_part(reader, part, first)

    def take_records_of(readers: list[tuple[RecordReader, int, Any]], signed: list[SignedRange]) -> None:
        for (reader, listed, _), part in zip(readers, signed, strict=True):
            take_record(reader, listed, part, 1)

    def take_part_of(reader: RecordReader, listed: int, lines: list[int], part: SignedRange) -> None:
        # The parts of a file are taken in turn: ``lines`` counts those of the parts before.
        take_record(reader, listed, part, 1 if is_parquet(reader.path) else lines[0] + 1)
        lines[0] += part.lines

    def send_files() -> None:
        nonlocal files, size
        if files:
            names = [doc.file or "" for docs, _ in files for doc in docs]
            sign = _sign_files.options(scheduling_strategy=spread())
            ref = sign.remote(config, names, max_bytes, claims.ticket(), os.getcwd())
            taker = functools.partial(take_files_of, files)
            files, size = [], 0
            send(ref, taker)

    def send_records() -> None:
        nonlocal records, size
        if not records:  # ``size`` may be that of code files
            return
        if len(records) == 1:  # alone: its own task, as any record file
            send_parts(*records[0])
        else:
            sign = _sign_record_files.options(scheduling_strategy=spread())
            ref = sign.remote(config, [_shipped(r) for r, _, _ in records], claims.ticket(), os.getcwd())
            send(ref, functools.partial(take_records_of, records))
        records, size = [], 0

    def send_parts(reader: RecordReader, listed: int, spans: list[tuple[int, int | None]]) -> None:
        ref = ray.put(_shipped(reader))  # stored once for all its parts
        lines = [0]
        for span in spans:
            sign = _sign_part.options(scheduling_strategy=spread())
            taker = functools.partial(take_part_of, reader, listed, lines)
            send(sign.remote(config, ref, *span, claims.ticket(), os.getcwd()), taker)

    try:
        for item in listed:
            if isinstance(item, list):
                send_records()
                files.append((item, placing.listed()))
                size += sum(doc.size for doc in item)
                if size >= FILE_TASK_BYTES:
                    send_files()
                continue
            send_files()
            # The listing's size: asked again, each object of a bucket was a request (~20 ms).
            spans = record_parts(item.path, parts, item.size)
            whole = not parts and not is_parquet(item.path) and len(spans) == 1
            small = item.size if whole and item.size is not None and item.size < FILE_TASK_BYTES else None
            if small is None:
                send_records()
                send_parts(item, placing.listed(), spans)
                continue
            records.append((item, placing.listed(), spans))
            size += small
            if size >= FILE_TASK_BYTES:
                send_records()
        send_files()
        send_records()
        while waiting:
            take()
    finally:
        stop_tasks([ref for ref, _ in waiting])
        claims.close()


def _shipped(reader: RecordReader) -> RecordReader:
    """``reader`` as a task gets it: without what the driver's listing has skipped so far."""
    shipped = copy.copy(reader)
    shipped.skips = Skips(reader.skips.limit)
    return shipped


@ray.remote
def _publish_group(group: list[Write], outdir: str, cwd: str) -> tuple[list[str], str]:
    from codemill.near_dup.output import publish_group

    in_driver_dir(cwd, [write.src for write in group])
    return publish_group(group, outdir), _node()


def ray_publish(groups: list[list[Write]], outdir: str, nodes: dict[str, int]) -> list[str]:
    """The output's files (`output.plan_writes`) written into the prefix ``outdir`` by Ray tasks,
    a group each, at most two tasks per CPU of the cluster waiting (counted in ``nodes``);
    returns the names published, in order. The driver wrote and uploaded the whole kept output
    alone before."""
    connect()
    spread = Spread()
    tasks = (
        _publish_group.options(scheduling_strategy=spread()).remote(group, outdir, os.getcwd()) for group in groups
    )
    return [rel for rels in _in_order(tasks, nodes) for rel in rels]


def record_parts(path: Path | str, parts: int | None, known_size: int | None = None) -> list[tuple[int, int | None]]:
    """The parts of a record file that tasks read (`sign_range`): ``parts`` of it, else parts of
    tokenize's task size for its size (`task_size`). A JSONL file is cut into byte ranges (one for
    a compressed file, or an object whose size the store does not give), a Parquet file into
    runs of row groups (one, to the end, for a file without any). ``known_size``: the file's size,
    where the caller has it (a request less for an object)."""

    def step(size: int) -> int:
        return max(1, -(-size // parts)) if parts else task_size(size)

    if is_parquet(path):
        from codemill.sources.records import parquet_row_groups

        sizes = [size for _, size in parquet_row_groups(path)]
        return [*group_ranges(sizes, step(sum(sizes)))] or [(0, None)]
    if is_compressed(path):
        return [(0, None)]
    size = file_size(path) if known_size is None else known_size
    if size is None:
        return [(0, None)]
    return byte_ranges(size, step(size))


@ray.remote
def _map_keys(keys: np.ndarray, active: np.ndarray, offset: int, parts: int) -> list[np.ndarray] | np.ndarray:
    docs = np.nonzero(active)[0]
    keys = keys[docs]  # (n, bands)
    band = np.broadcast_to(np.arange(keys.shape[1], dtype=np.uint32), keys.shape).ravel()
    key = keys.ravel()
    doc = np.repeat(docs.astype(np.uint32) + np.uint32(offset), keys.shape[1])
    part = (key % np.uint64(parts)).astype(np.int64)
    out = []
    for p in range(parts):
        sel = part == p
        out.append(np.stack([band[sel].astype(np.uint64), key[sel], doc[sel].astype(np.uint64)]))
    # With num_returns=1 Ray stores the return value itself as the one object.
    return out if parts > 1 else out[0]


@ray.remote
def _reduce_pairs(window: int, *chunks: np.ndarray) -> tuple[np.ndarray, int, str]:
    rows = np.concatenate(chunks, axis=1) if chunks else np.zeros((3, 0), np.uint64)
    band, key, doc = rows
    key = np.ascontiguousarray(key)
    pairs, skipped = _core.bucket_pairs(band.astype(np.uint32), key, doc.astype(np.uint32), window)
    return _pair_keys(pairs), skipped, _node()


def _pair_keys(pairs: np.ndarray) -> np.ndarray:
    """Pairs ``(a, b)`` of uint32 ids as uint64 keys ``a << 32 | b``, which sort as the rows do:
    `np.unique` of rows (``axis=0``) compares them as structured records, 12.7-16 s for the
    14.2 M pairs of 1.24 GB of code."""
    return (pairs[:, 0].astype(np.uint64) << np.uint64(32)) | pairs[:, 1].astype(np.uint64)


def ray_pairs(
    hasher: MinHasher, sigs: np.ndarray, active: np.ndarray, shards: int | None, window: int, nodes: Counter[str]
) -> tuple[np.ndarray, int]:
    """Pairs to check and the window's skipped count, by a hash-partitioned shuffle (reduce
    tasks counted in `nodes`)."""
    connect()
    # The band keys are computed here, on all the driver's cores, and sent in place of the
    # signatures: 8 bytes a band (288 a document at 36 bands) against 4 a permutation (1,024 at
    # 256), each byte sent copied into the object store beside the signatures the driver holds.
    keys = _core.lsh_band_keys(np.ascontiguousarray(sigs), hasher.bands, hasher.rows)
    spans = _shards(len(sigs), shards)
    parts = len(spans)
    mapped = []
    spread = Spread()
    for a, b in spans:
        task = _map_keys.options(num_returns=parts, scheduling_strategy=spread())
        refs = task.remote(keys[a:b], active[a:b], a, parts)
        mapped.append(refs if isinstance(refs, list) else [refs])
    del keys
    spread = Spread()  # the reduce tasks' first ones over the nodes too
    reduced = ray.get(
        [
            _reduce_pairs.options(scheduling_strategy=spread()).remote(window, *[m[p] for m in mapped])
            for p in range(parts)
        ]
    )
    nodes.update(node for _, _, node in reduced)
    skipped = sum(s for _, s, _ in reduced)
    found = np.unique(np.concatenate([k for k, _, _ in reduced]))  # pair keys; a partition's distinct already
    pairs = np.empty((len(found), 2), dtype=np.uint32)
    pairs[:, 0], pairs[:, 1] = found >> np.uint64(32), found & np.uint64(0xFFFFFFFF)
    return pairs, skipped
