"""Fine-tuning data preparation: discover, filter, dedup, and build samples with real targets.

The pipeline, streaming and parallel (a process pool works on batches of files, results come
back in input order so the output is the same for a seed whatever the worker count):

1. the one reader (:mod:`codemill.sources`): repository trees (``.gitignore`` honoured,
   vendored, build and tool directories, lock files and symlinks skipped) and JSONL / Parquet
   corpora; what it cannot read is skipped with the same reasons as in every command;
2. filters (:mod:`codemill.finetune.filters`): size bounds, generated / minified markers,
   control characters, BigCode's line-length, alphanumeric and encoded-data heuristics;
3. dedup: the one decision of :func:`codemill.dedup` (:func:`codemill.near_dup.decide.decide`
   under ``PrepareConfig.dedup``, a :class:`~codemill.near_dup.config.DedupConfig`): exact
   duplicates by content hash, then near duplicates by MinHash LSH. Pass 1 filters and signs
   every document; signatures spill to a temporary file (memory-mapped) and texts are read
   again only to verify pairs and for pass 2, so the heap holds no text and no signature,
   only per file its content hash (16 bytes), shingle count, length, index, a hash of its
   name (pass 2 and verification find a file by name: one added or removed between the walks
   shifts every later position) and a digest entry for pass 2;
4. samples (:mod:`codemill.finetune.samples`): raw, completion, FIM and docstring samples;
5. output (:mod:`codemill.finetune.writer`): ``.jsonl``, ``.jsonl.gz`` or ``.parquet``, replaced
   whole when the run completes, and a report with counts per skip / filter reason, the dedup
   counts (the same vocabulary as ``dedup``'s report) and samples.
"""

from __future__ import annotations

import collections
import hashlib
import os
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeVar

import numpy as np

from codemill._batches import batches
from codemill._leftovers import scratch_dir
from codemill.errors import CodemillError, ConfigError, StorageError
from codemill.finetune import filters
from codemill.finetune.config import PrepareConfig, PrepareParams
from codemill.finetune.filters import FilterConfig
from codemill.finetune.samples import FIM_TOKENS, KINDS, fim_tokens_for
from codemill.finetune.work import ADDED_DURING_RUN, REMOVED_DURING_RUN, Work, _load, build, init, scan
from codemill.finetune.writer import OUTPUT_SUFFIXES, SampleWriter, check_output
from codemill.near_dup.config import DedupConfig
from codemill.near_dup.decide import decide
from codemill.near_dup.result import DedupCounts, DedupResult
from codemill.outputs import check_output as contract_check
from codemill.outputs import (
    check_sidecar_place,
    put_back_sidecar,
    read_sidecar,
    sidecar_name,
    write_sidecar,
    written_by,
)
from codemill.progress import Progress
from codemill.sources import DEFAULT_MAX_BYTES, Document, Skips, check_inputs, list_documents
from codemill.sources.fs import as_local
from codemill.sources.names import printable
from codemill.sources.skips import SkippedItem

if TYPE_CHECKING:
    from codemill.tokenizer.code_tokenizer import CodeTokenizer

__all__ = ["OUTPUT_SUFFIXES", "PrepareConfig", "PrepareReport", "Preparer", "prepare"]

_MAX_LISTED = 1000
_BATCH_FILES = 64
_BATCH_BYTES = 2 << 20

Sample = dict[str, Any]  # one of `codemill.finetune.samples.SAMPLE_FIELDS` per key
T = TypeVar("T")
R = TypeVar("R")


class FileCounts(TypedDict):
    """read = filtered + exact_duplicates_removed + near_duplicates_removed + kept; files of a
    language --languages leaves out are listed, not read (`other_language`; `filtered` in the
    report's `filtered` counts them as `language` too), and so are files that appeared between
    dedup's two walks (the report's `filtered` counts them as `added_during_run`)."""

    read: int
    filtered: int
    exact_duplicates_removed: int
    near_duplicates_removed: int
    kept: int
    other_language: int


class Listed(TypedDict):
    path: str
    reason: str


class PrepareReport(TypedDict):
    inputs: list[str]
    params: PrepareParams
    files: FileCounts
    skipped: dict[str, int]  # inputs the reader passed over (the vocabulary of codemill.sources.skips)
    skipped_items: list[SkippedItem]
    filtered: dict[str, int]
    duplicates: DedupCounts | None  # the counts of `dedup`'s report; None without dedup
    samples: dict[str, int]  # "total" and one count per template
    samples_not_made: dict[str, int]
    languages: dict[str, dict[str, int]]  # files, bytes, samples per language
    listed: list[Listed]  # the first files passed over, with the reason
    bytes: int
    seconds: float
    files_per_s: float
    mb_per_s: float
    workers: int
    output: NotRequired[str]


def _list(listed: list[Listed] | None, path: str, reason: str) -> None:
    """Name a file the run passed over in the report's ``listed`` (the first ``_MAX_LISTED``)."""
    if listed is not None and len(listed) < _MAX_LISTED:
        listed.append({"path": path, "reason": reason})


class _Held(Skips):
    """What the listing passes over (its reader's skips, the language filter, the duplicates it
    names), held back batch by batch and counted when that batch's results are. The listing runs
    up to two batches a worker ahead of the results, and the report must list what was passed
    over in input order whatever the worker count (with one worker the two alternate).
    ``record`` False: a listing whose passing-over was counted already (a second walk)."""

    def __init__(self, record: bool = True) -> None:
        super().__init__(0)
        self.record = record
        self.pending = _HeldGroup()
        self.batches: collections.deque[_HeldGroup] = collections.deque()
        # Names held so far per list (skips, or filtered and duplicates): past the lists' cap a
        # held name can never be listed (as many held before it are), so only its count is kept,
        # and memory stays bounded however much the listing passes over before a batch.
        self.named = {"skip": 0, "listed": 0}

    def add(self, where: str, reason: str) -> None:
        """A reader's skip (`Skips`' interface, which the readers use)."""
        self.note("skip", where, reason)

    def count(self, reason: str, n: int) -> None:
        """``n`` filtered files without a name to list."""
        if self.record and n:
            self.pending.counts[("filter", reason)] += n

    def note(self, kind: str, name: str, reason: str) -> None:
        """``kind``: "skip", "filter" (counted and listed) or "list" (listed only)."""
        if not self.record:
            return
        into = "skip" if kind == "skip" else "listed"
        if self.named[into] < _MAX_LISTED:
            self.named[into] += 1
            self.pending.events.append((kind, name, reason))
        else:
            self.pending.counts[(kind, reason)] += 1

    def cut(self) -> None:
        """What was held so far comes before the batch just formed."""
        self.batches.append(self.pending)
        self.pending = _HeldGroup()

    def release(self, skips: Skips, filtered: Counter[str], listed: list[Listed], rest: bool = False) -> None:
        """Counts what came before the next batch whose results are in; ``rest``: all that is left."""
        groups = [*self.batches, self.pending] if rest else [self.batches.popleft()]
        if rest:
            self.batches.clear()
            self.pending = _HeldGroup()
        for group in groups:
            for kind, name, reason in group.events:
                if kind == "skip":
                    skips.add(name, reason)
                else:
                    if kind == "filter":
                        filtered[reason] += 1
                    _list(listed, name, reason)
            for (kind, reason), n in group.counts.items():
                if kind == "skip":
                    skips.update({reason: n})
                elif kind == "filter":
                    filtered[reason] += n


@dataclass
class _HeldGroup:
    """What `_Held` holds before one batch: named events, then counts of those past the cap."""

    events: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, where or name, reason)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)


def _work_size(work: Work) -> int:
    return max(work[0].size, 0)


def _named_batches(docs: Iterable[Work], names: dict[int, Document], held: _Held) -> Iterator[list[Work]]:
    """Batches of documents; each document is kept (without its text) until its result comes back."""
    for batch in batches(docs, _BATCH_BYTES, _BATCH_FILES, _work_size):
        for d, _ in batch:
            names[d.index] = d
        held.cut()
        yield batch


def _name(doc: Document | None, index: int) -> str:
    return f"{doc.repository}/{doc.path}" if doc is not None else str(index)


class _FileIds:
    """Keeps sample ids unique in a run. A sample's id is ``repository/path#template``, and two
    files may share the repository and path: two inputs whose directories have the same name,
    records that repeat a path (an input given twice is refused). A file whose name was
    issued before gets the first free ``~N`` after it (``src/a.py~2#fim``), in input order, so
    ids do not depend on the worker count. Issued names are kept as 8-byte digests."""

    def __init__(self) -> None:
        self.issued: set[bytes] = set()

    def unique(self, name: str) -> str:
        candidate, n = name, 1
        while (digest := _digest(candidate)) in self.issued:
            n += 1
            candidate = f"{name}~{n}"
        self.issued.add(digest)
        return candidate


def _digest(name: str) -> bytes:
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _passed_over(
    doc: Document | None,
    index: int,
    reason: str,
    skipped: bool,
    skips: Skips,
    filtered: Counter[str],
    listed: list[Listed],
) -> None:
    """Count a document that yields no samples: a reader's skip, or a filter's reason (listed)."""
    if skipped:
        skips.add(doc.where if doc is not None else str(index), reason)
    else:
        filtered[reason] += 1
        _list(listed, _name(doc, index), reason)


def _ordered_map(fn: Callable[[T], R], items: Iterable[T], pool: Executor | None, window: int) -> Iterator[R]:
    """``map`` in order with at most ``window`` tasks in flight, so memory stays bounded."""
    if pool is None:
        for item in items:
            yield fn(item)
        return
    pending: collections.deque[Future[R]] = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _Progress:
    """Prepare's passes on the shared progress line (`codemill.progress`), one per stage."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.bar: Progress | None = None

    def update(self, stage: str, files: int, nbytes: int, samples: int | None = None, force: bool = False) -> None:
        if self.bar is None:
            self.bar = Progress(f"prepare: {stage}", unit="files", enabled=self.enabled)
        dt = max(time.perf_counter() - self.t0, 1e-9)
        extra = f", {samples} samples" if samples is not None else ""
        # The last update of a stage is shown by done(), so `force` needs no second line.
        self.bar.update(files, f"{nbytes / 1e6:.1f} MB{extra}, {files / dt:.0f} files/s")

    def done(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Listing:
    """Pass 1's documents, to find one again by name in a later walk of the inputs (a file added
    or removed in between shifts the position of every later one): per document a 63-bit hash
    of its input and place, sorted, beside its index in pass 1."""

    def __init__(self) -> None:
        self._keys, self._indexes = array("q"), array("q")  # as listed, until `sort`
        self.keys = self.indexes = np.zeros(0, dtype=np.int64)

    def record(self, docs: Iterable[Document]) -> Iterator[Work]:
        """Pass 1's work: ``docs``, each noted."""
        for doc in docs:
            self._keys.append(self.key(doc))
            self._indexes.append(doc.index)
            yield doc, None

    def sort(self) -> None:
        """The listing is whole: sort it to be searched."""
        keys = np.frombuffer(self._keys, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys, self.indexes = keys[order], np.frombuffer(self._indexes, dtype=np.int64)[order]
        self._keys, self._indexes = array("q"), array("q")

    @staticmethod
    def key(doc: Document) -> int:
        # The file's own name (``where`` prints undecodable bytes as \xNN: two files could
        # share it), or a record's file and number.
        place = doc.file if doc.file is not None else f"{doc.origin}\0{doc.record}"
        return int.from_bytes(_digest(f"{doc.source}\0{place}"), "little", signed=True)

    def index(self, doc: Document) -> int | None:
        """``doc``'s index in pass 1; None for a document pass 1 did not list."""
        key = self.key(doc)
        at = int(np.searchsorted(self.keys, key))
        return int(self.indexes[at]) if at < len(self.keys) and self.keys[at] == key else None


@dataclass
class _Decided:
    """Pass 1's outcome: which documents pass 2 builds, and what the others are listed as."""

    keep: np.ndarray  # bool per document index
    exact: set[int]
    near: set[int]
    counts: DedupCounts


class Preparer:
    """One preparation run. Iterating yields the samples in a stable order; afterwards
    :attr:`report` holds the counts (per skip and filter reason, duplicates, samples)."""

    def __init__(
        self,
        inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        config: PrepareConfig | None = None,
        *,
        workers: int | None = 1,
        progress: bool | None = None,
    ) -> None:
        self.inputs = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
        if not self.inputs:
            raise ConfigError("no inputs given")
        check_inputs(self.inputs)
        self.config = config or PrepareConfig()
        if workers is not None and workers < 0:
            raise ConfigError(f"workers must be at least 1 (or 0 for all cores), got {workers}")
        from codemill._cpus import usable_workers

        self.workers = usable_workers(workers or os.cpu_count() or 1)
        self.progress = _Progress(True if progress is None else progress)
        self.report: PrepareReport | None = None
        self._digests: dict[int, bytes] = {}
        self._listing = _Listing()

    # The documents that reach the filters; the language filter is applied here, in order.
    def _documents(self, held: _Held) -> Iterator[Document]:
        langs = self.config.languages
        for doc in list_documents(self.inputs, held, max_bytes=self.config.max_file_bytes):
            if langs and doc.language not in langs:
                held.note("filter", f"{doc.repository}/{doc.path}", filters.LANGUAGE)
                continue
            yield doc

    def __iter__(self) -> Iterator[Sample]:
        t0 = self.progress.t0 = time.perf_counter()
        config = self.config
        skips = Skips(_MAX_LISTED)
        filtered: Counter[str] = Counter()
        listed: list[Listed] = []
        missed: Counter[str] = Counter()
        templates: Counter[str] = Counter()
        languages: dict[str, Counter[str]] = collections.defaultdict(Counter)
        files_seen = 0
        bytes_seen = 0
        pool = None
        if self.workers > 1:
            from codemill._workers import WorkerPool

            # spawned (a forked child of a threaded parent can deadlock), main script not re-run
            pool = WorkerPool(self.workers, init, (config,))
        else:
            init(config)
        window = 2 * self.workers
        try:
            decided: _Decided | None = None
            if config.dedup is not None:
                decided, files_seen, bytes_seen = self._dedup_pass(config.dedup, pool, window, skips, filtered, listed)
            names: dict[int, Document] = {}
            held = _Held()
            if decided is None:
                docs: Iterable[Work] = ((d, None) for d in self._documents(held))
            else:
                docs = self._kept(decided, held)
            built_files = built_bytes = n_samples = 0
            file_ids = _FileIds()
            for results in _ordered_map(build, _named_batches(docs, names, held), pool, window):
                held.release(skips, filtered, listed)
                for r in results:
                    # "read": documents whose text was read (the reader's skips are not).
                    built_files += not r.skipped
                    built_bytes += r.size if not r.skipped else 0
                    doc = names.pop(r.index, None)
                    if r.reason is not None:
                        # Without dedup this is the filter pass; with it, a file that changed since.
                        _passed_over(doc, r.index, r.reason, r.skipped, skips, filtered, listed)
                        continue
                    missed.update(r.missed)
                    languages[r.language]["files"] += 1
                    languages[r.language]["bytes"] += r.size
                    if r.samples:
                        name = f"{r.samples[0]['repository']}/{r.samples[0]['path']}"
                        unique = file_ids.unique(name)
                        if unique != name:
                            for s in r.samples:
                                s["id"] = unique + s["id"][len(name) :]
                    for s in r.samples:
                        templates[s["template"]] += 1
                        languages[s["language"]]["samples"] += 1
                        yield s
                    n_samples += len(r.samples)
                self.progress.update("samples", built_files, built_bytes, n_samples)
            held.release(skips, filtered, listed, rest=True)
            self.progress.update("samples", built_files, built_bytes, n_samples, force=True)
            self.progress.done()
            if decided is None:
                files_seen, bytes_seen = built_files, built_bytes
        except BaseException as exc:
            if pool is not None:
                # Workers ignore Ctrl-C (the parent answers it): stop them rather than wait for
                # their batches, one of which may be stuck on a read.
                pool.discard()
                pool = None
            if isinstance(exc, BrokenProcessPool):
                # One line, as tokenize says it (the output is written whole or not at all).
                raise ChildProcessError(
                    "a worker process died (killed, or out of memory?); the output was not written: "
                    "run the command again"
                ) from None
            raise
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        seconds = time.perf_counter() - t0
        counts = decided.counts if decided is not None else None
        self.report = {
            "inputs": [printable(str(p)) for p in self.inputs],
            "params": config.as_dict(),
            "files": {
                "read": files_seen,
                "filtered": sum(filtered.values())
                - filtered.get(filters.LANGUAGE, 0)
                - filtered.get(ADDED_DURING_RUN, 0),
                "exact_duplicates_removed": counts["exact_duplicates_removed"] if counts else 0,
                "near_duplicates_removed": counts["near_duplicates_removed"] if counts else 0,
                "kept": sum(c["files"] for c in languages.values()),
                "other_language": filtered.get(filters.LANGUAGE, 0),
            },
            "skipped": skips.as_dict(),
            "skipped_items": skips.items,
            "filtered": dict(sorted(filtered.items())),
            "duplicates": counts,
            "samples": {"total": sum(templates.values()), **dict(sorted(templates.items()))},
            "samples_not_made": dict(sorted(missed.items())),
            "languages": {k: dict(v) for k, v in sorted(languages.items())},
            "listed": listed,
            "bytes": bytes_seen,
            "seconds": round(seconds, 3),
            "files_per_s": round(files_seen / max(seconds, 1e-9), 1),
            "mb_per_s": round(bytes_seen / 1e6 / max(seconds, 1e-9), 2),
            "workers": self.workers,
        }

    def _dedup_pass(
        self,
        dedup: DedupConfig,
        pool: ProcessPoolExecutor | None,
        window: int,
        skips: Skips,
        filtered: Counter[str],
        listed: list[Listed],
    ) -> tuple[_Decided, int, int]:
        """Pass 1: filter and sign every document, then decide which to keep as `dedup` does."""
        names: dict[int, Document] = {}
        rows = array("q")  # the document index of each signed row
        lengths = array("q")
        digests: dict[int, bytes] = {}
        count_parts: list[np.ndarray] = []  # the signatures go to the file
        hash_parts: list[np.ndarray] = []
        files = nbytes = n_docs = 0
        held = _Held()
        self._listing = _Listing()
        docs = self._listing.record(self._documents(held))
        with scratch_dir("prepare") as tmp:
            sig_path = Path(tmp) / "signatures.u32"
            with open(sig_path, "wb") as sig_out:
                for results, signed in _ordered_map(scan, _named_batches(docs, names, held), pool, window):
                    held.release(skips, filtered, listed)
                    for s in results:
                        files += not s.skipped
                        nbytes += s.size if not s.skipped else 0
                        n_docs = max(n_docs, s.index + 1)
                        doc = names.pop(s.index, None)
                        if s.reason is not None:
                            _passed_over(doc, s.index, s.reason, s.skipped, skips, filtered, listed)
                            continue
                        rows.append(s.index)
                        lengths.append(s.length)
                        digests[s.index] = s.digest
                    if signed is not None:
                        sig_out.write(np.ascontiguousarray(signed[0], dtype=np.uint32).tobytes())
                        count_parts.append(signed[1])
                        hash_parts.append(signed[2])
                    self.progress.update("filter+dedup", files, nbytes)
                held.release(skips, filtered, listed, rest=True)
            self.progress.update("filter+dedup", files, nbytes, force=True)
            self.progress.done()
            self._listing.sort()
            ids = np.frombuffer(rows, dtype=np.int64)
            counts = np.concatenate(count_parts) if count_parts else np.zeros(0, dtype=np.uint32)
            hashes = np.concatenate(hash_parts) if hash_parts else np.zeros((0, 2), dtype=np.uint64)
            sigs = (
                np.memmap(sig_path, dtype=np.uint32, mode="r", shape=(len(ids), dedup.num_perm))
                if len(ids)
                else np.zeros((0, dedup.num_perm), dtype=np.uint32)
            )

            def fetch(wanted: np.ndarray) -> list[str]:
                got = self._fetch(ids[wanted], digests)
                # A file that changed since pass 1 gives no evidence: its empty text is nobody's duplicate.
                return [got.get(int(i), "") for i in ids[wanted]]

            result: DedupResult = decide(dedup, (sigs, counts, hashes), np.frombuffer(lengths, np.int64), fetch)
            del sigs
        keep = np.zeros(n_docs, dtype=bool)
        keep[ids[result.keep]] = True
        self._digests = {i: digests[i] for i in ids[result.keep].tolist()}
        exact, near = set(ids[result.exact_removed].tolist()), set(ids[result.near_removed].tolist())
        return _Decided(keep, exact, near, result.counts), files, nbytes

    def _fetch(self, wanted: np.ndarray, digests: dict[int, bytes]) -> dict[int, str]:
        """Texts of the given documents (for exact Jaccard) by their pass-1 index, found by
        walking the inputs again; one whose text changed since pass 1 is left out."""
        want = set(wanted.tolist())
        got: dict[int, str] = {}
        for doc in self._documents(_Held(record=False)):
            i = self._listing.index(doc)
            if i is not None and i in want:
                text = _load(doc, self.config.filters, digests[i], self.config.max_file_bytes).text
                if text is not None:
                    got[i] = text
                want.discard(i)
                if not want:
                    break
        return got

    def _kept(self, decided: _Decided, held: _Held) -> Iterator[Work]:
        """Pass 2's documents: the inputs listed again, each found in pass 1 by name, keeping
        what pass 1 kept; the duplicates it drops are named in ``held`` (what the listing passes
        over was counted in pass 1), and so are the files added or removed since, which pass 1
        did not judge (each counted: an added one is not read, so that the output does not
        depend on when the run looked)."""
        digests, keep = self._digests, decided.keep
        for doc in self._documents(_Held(record=False)):
            name = f"{doc.repository}/{doc.path}"
            i = self._listing.index(doc)
            if i is None:
                held.note("filter", name, ADDED_DURING_RUN)
            elif keep[i]:
                digest = digests.pop(i, None)
                if digest is None:  # pass 1's document found twice: two names with one hash
                    held.note("filter", name, ADDED_DURING_RUN)
                else:
                    yield doc, digest
            elif i in decided.near:
                held.note("list", name, "near_duplicate")
            elif i in decided.exact:
                held.note("list", name, "exact_duplicate")
        held.count(REMOVED_DURING_RUN, len(digests))  # kept in pass 1, not listed again
        digests.clear()


def prepare(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    languages: Sequence[str] | None = None,
    min_bytes: int | None = None,
    max_bytes: int | None = None,
    dedup: bool | DedupConfig = True,
    samples: Sequence[str] = KINDS,
    fim_rate: float = 0.5,
    fim_spm_rate: float = 0.5,
    seed: int = 0,
    workers: int | None = None,
    progress: bool | None = None,
    filter_config: FilterConfig | None = None,
    tokenizer: CodeTokenizer | str | os.PathLike[str] | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    overwrite: bool = False,
) -> PrepareReport:
    """Prepare fine-tuning data from repositories and corpora; write the samples to ``output``
    (``.jsonl``, ``.jsonl.gz`` or ``.parquet``) and return the report.

    ``dedup``: True for ``dedup``'s default decision, a ``DedupConfig`` for another, False for
    none. ``min_bytes`` and ``max_bytes`` replace those of ``filter_config`` (default:
    ``FilterConfig()``). ``workers`` processes (default: all cores) filter and build samples;
    the output is the same for a ``seed`` whatever the worker count. Workers are spawned
    without re-running the caller's script, so no ``if __name__ == "__main__":`` guard is needed.
    FIM samples use the FIM special tokens of ``tokenizer`` (a ``CodeTokenizer`` or a tokenizer
    file; default: the bundled tokenizer's). Files and records over ``max_file_bytes`` are
    skipped as ``too_large``, as in every command.

    ``output`` follows the output contract (`codemill.outputs`): an existing file that
    `prepare` did not write is refused unless ``overwrite``, one equal to or inside an input
    always. Beside it, ``OUT.codemill.json`` records the special tokens its samples use, so
    that `tokenize_corpus` (and `codemill tokenize`) keeps them as special tokens.
    """
    check_inputs(_names(inputs))  # before the output is checked against them
    output = as_local(output)
    check_output(output)
    contract_check(
        output,
        command="prepare",
        kind="file",
        is_ours=lambda p: written_by(p, "prepare"),
        inputs=_names(inputs),
        overwrite=overwrite,
    )
    check_sidecar_place(output, overwrite)
    fim_tokens = FIM_TOKENS
    if tokenizer is not None:
        from codemill.tokenizer import load_tokenizer

        tok = load_tokenizer(tokenizer)  # loaded anyway: a bad file is an error either way
        samples = tuple(samples)  # may be a one-shot iterator
        if "fim" in samples:  # a tokenizer without FIM tokens serves every other kind
            try:
                fim_tokens = fim_tokens_for(tok)
            except CodemillError as exc:
                if not isinstance(tokenizer, str | os.PathLike):
                    raise
                raise CodemillError(f"{os.fspath(tokenizer)}: {exc}") from None
    fc = filter_config or FilterConfig()
    fc = replace(
        fc,
        min_bytes=fc.min_bytes if min_bytes is None else min_bytes,
        max_bytes=fc.max_bytes if max_bytes is None else max_bytes,
    )
    config = PrepareConfig(
        languages=tuple(languages) if languages else None,
        filters=fc,
        dedup=dedup if isinstance(dedup, DedupConfig) else DedupConfig() if dedup else None,
        samples=tuple(samples),
        fim_rate=fim_rate,
        fim_spm_rate=fim_spm_rate,
        seed=seed,
        fim_tokens=fim_tokens,
        max_file_bytes=max_file_bytes,
    )
    run = Preparer(inputs, config, workers=workers, progress=progress)
    fim_written = False
    previous = read_sidecar(output)  # put back if the samples fail to publish after their description
    described_now = False

    def describe(size: int) -> None:
        # Published before the samples, with their size: a run stopped between the two leaves a
        # description that does not fit the file beside it, which `described` refuses, not new
        # samples without one, which tokenize would read without their special tokens (and a
        # later prepare refuse to replace as not its own).
        assert run.report is not None
        used = list(fim_tokens) if fim_written else []
        nonlocal described_now
        described_now = True
        write_sidecar(output, "prepare", size=size, special_tokens=used, samples=run.report["samples"]["total"])

    try:
        with SampleWriter.open(output, describe) as writer:
            for sample in run:
                fim_written = fim_written or sample["kind"] == "fim"
                writer.write(sample)
    except BaseException as exc:
        # The samples were not published (a failed upload, say) but their description was: the
        # earlier output's is put back, or it would read as not fitting the samples still there.
        if described_now:
            try:
                put_back_sidecar(output, previous)
            except Exception as back:  # the run's own error first, and what it leaves said
                if isinstance(exc, Exception):  # (an interrupt is raised as it is, below)
                    why = (str(back).strip().splitlines() or [type(back).__name__])[0]
                    raise StorageError(
                        f"{exc}; and the earlier description could not be put back ({why}): "
                        f"{sidecar_name(output)} fits no samples there until prepare is run again"
                    ) from exc
        raise
    assert run.report is not None
    run.report["output"] = str(output)
    return run.report


def _names(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    return [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
