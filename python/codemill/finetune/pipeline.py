"""Fine-tuning data preparation: discover, filter, dedup, and build samples with real targets.

The pipeline, streaming and parallel (a process pool works on batches of files, results come
back in input order so the output is the same for a seed whatever the worker count):

1. discovery (:mod:`codemill.sources.discovery`): repository trees (``.gitignore`` honoured, vendored,
   build and tool directories, lock files and symlinks skipped) and JSONL / Parquet corpora;
2. filters (:mod:`codemill.finetune.filters`): size bounds, generated / minified markers, binary and
   invalid encoding, BigCode's line-length, alphanumeric and encoded-data heuristics;
3. dedup through :class:`codemill.near_dup.api.MinHasher`, as the dedup stage decides: exact
   duplicates by content hash, then near duplicates: LSH candidate pairs
   (:meth:`MinHasher.pairs`), accepted by their signature estimate, with the exact shingle
   Jaccard deciding the borderline ones (``dedup_verify``), joined by union-find; the first
   document of each group is kept. Signatures spill to a temporary file (memory-mapped) and
   files are read again for the second pass, so the heap holds no text and no signature, only
   a content hash and a few ids per file (about 150 bytes);
4. samples (:mod:`codemill.finetune.samples`): raw, completion, FIM and docstring samples;
5. output: ``.jsonl``, ``.jsonl.gz`` or ``.parquet`` (written to a temporary name, then
   renamed), and a report with counts per skip / filter reason, duplicates and samples.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from codemill.finetune import filters
from codemill.finetune.filters import FilterConfig
from codemill.finetune.samples import FIM_TOKENS, KINDS, SAMPLE_FIELDS, SampleBuilder, fim_tokens_for
from codemill.sources.discovery import Document, discover

__all__ = ["OUTPUT_SUFFIXES", "PrepareConfig", "Preparer", "prepare"]

OUTPUT_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")
_MAX_LISTED = 1000
_BATCH_FILES = 64
_BATCH_BYTES = 2 << 20


@dataclass(frozen=True)
class PrepareConfig:
    """Everything that decides a run's output (and so goes into the report)."""

    languages: tuple[str, ...] | None = None
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: bool = True
    dedup_threshold: float | None = None  # None: the dedup stage's default
    dedup_verify: str = "borderline"  # exact Jaccard for: "borderline" pairs, "all", "none"
    samples: tuple[str, ...] = KINDS
    fim_rate: float = 0.5
    fim_spm_rate: float = 0.5
    seed: int = 0
    completion_max_bytes: int = 4096
    fim_max_middle_bytes: int = 2048
    max_docstring_functions: int = 8
    fim_tokens: tuple[str, str, str] = FIM_TOKENS

    def builder(self) -> SampleBuilder:
        return SampleBuilder(
            self.samples,
            fim_rate=self.fim_rate,
            fim_spm_rate=self.fim_spm_rate,
            seed=self.seed,
            completion_max_bytes=self.completion_max_bytes,
            fim_max_middle_bytes=self.fim_max_middle_bytes,
            max_docstring_functions=self.max_docstring_functions,
            fim_tokens=self.fim_tokens,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "languages": list(self.languages) if self.languages else None,
            "filters": self.filters.as_dict(),
            "dedup": self.dedup,
            "dedup_threshold": self.dedup_threshold,
            "dedup_verify": self.dedup_verify,
            "samples": list(self.samples),
            "fim_rate": self.fim_rate,
            "fim_spm_rate": self.fim_spm_rate,
            "seed": self.seed,
            "completion_max_bytes": self.completion_max_bytes,
            "fim_max_middle_bytes": self.fim_max_middle_bytes,
            "max_docstring_functions": self.max_docstring_functions,
            "fim_tokens": list(self.fim_tokens),
        }


# -- worker side ------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init(config: PrepareConfig) -> None:
    _STATE.clear()
    _STATE["config"] = config
    _STATE["builder"] = config.builder()
    if config.dedup:
        _STATE["hasher"] = _hasher(config)


def _hasher(config: PrepareConfig) -> Any:
    from codemill.near_dup.api import MinHasher

    return MinHasher() if config.dedup_threshold is None else MinHasher(threshold=config.dedup_threshold)


def _load(doc: Document, config: FilterConfig) -> tuple[str | None, str | None, int]:
    """(cleaned text, None, bytes) for a document that passes the filters, else (None, reason, bytes)."""
    reason = filters.check_path(doc.path)
    if reason:
        return None, reason, 0
    if doc.text is None:
        assert doc.file is not None
        reason = filters.check_size(doc.size, config) if doc.size >= 0 else None
        if reason:
            return None, reason, 0  # not read
        try:
            with open(doc.file, "rb") as f:
                data = f.read(config.max_bytes + 1)
        except OSError:
            return None, "unreadable", 0
        reason = filters.check_size(len(data), config) or filters.check_bytes(data)
        if reason:
            return None, reason, len(data)
        text, reason = filters.decode(data)
        if text is None:
            return None, reason, len(data)
        size = len(data)
    else:
        text, size = doc.text, doc.size
        reason = filters.check_size(size, config) or ("binary" if "\0" in text[:8192] else None)
        if reason:
            return None, reason, size
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a JSON escape: not text
            return None, filters.INVALID_ENCODING, size
        if text.startswith("\ufeff"):
            text = text[1:]
    text = filters.clean_text(text)
    if doc.digest is not None:
        # Pass 2 after dedup: pass 1 ran the content filters on this very text.
        return (text, None, size) if _digest(text) == doc.digest else (None, "changed_during_run", size)
    reason = filters.check_text(text, doc.language, config)
    return (None, reason, size) if reason else (text, None, size)


def _list(listed: list[dict[str, str]] | None, path: str, reason: str) -> None:
    """Name a file the run passed over in the report's ``listed`` (the first ``_MAX_LISTED``)."""
    if listed is not None and len(listed) < _MAX_LISTED:
        listed.append({"path": path, "reason": reason})


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class _Scanned:
    index: int
    reason: str | None
    size: int
    digest: bytes = b""


def _scan(docs: list[Document]) -> tuple[list[_Scanned], np.ndarray | None, np.ndarray | None]:
    """Pass 1 with dedup: filter, then content hashes and MinHash signatures of what passed."""
    config: PrepareConfig = _STATE["config"]
    out, texts, langs = [], [], []
    for doc in docs:
        text, reason, size = _load(doc, config.filters)
        s = _Scanned(doc.index, reason, size)
        if text is not None:
            s.digest = _digest(text)
            texts.append(text)
            langs.append(doc.language)
        out.append(s)
    if not texts:
        return out, None, None
    hasher = _STATE["hasher"]
    sigs, counts = hasher.signatures_and_counts(texts, langs)
    return out, sigs, np.asarray(counts)


@dataclass
class _Built:
    index: int
    reason: str | None
    size: int
    language: str
    samples: list[dict[str, Any]]
    missed: Counter[str]


def _build(docs: list[Document]) -> list[_Built]:
    """Filter (or, after pass 1, check the content is unchanged) and build each document's samples."""
    config: PrepareConfig = _STATE["config"]
    builder: SampleBuilder = _STATE["builder"]
    out = []
    for doc in docs:
        text, reason, size = _load(doc, config.filters)
        if text is None:
            out.append(_Built(doc.index, reason, size, doc.language, [], Counter()))
            continue
        samples, missed = builder.build(text, doc.language, doc.path, doc.repository)
        out.append(_Built(doc.index, None, size, doc.language, samples, missed))
    return out


# -- main side --------------------------------------------------------------------------------


def _batches(docs: Iterable[Document]) -> Iterator[list[Document]]:
    batch: list[Document] = []
    size = 0
    for doc in docs:
        batch.append(doc)
        size += max(doc.size, 0)
        if len(batch) >= _BATCH_FILES or size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _named_batches(docs: Iterable[Document], names: dict[int, str]) -> Iterator[list[Document]]:
    """Batches of documents; each document's name is kept until its result comes back."""
    for batch in _batches(docs):
        for d in batch:
            names[d.index] = f"{d.repository}/{d.path}"
        yield batch


def _ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], pool: Executor | None, window: int) -> Iterator[Any]:
    """``map`` in order with at most ``window`` tasks in flight, so memory stays bounded."""
    if pool is None:
        for item in items:
            yield fn(item)
        return
    pending: collections.deque[Future[Any]] = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.last = 0.0

    def update(self, stage: str, files: int, nbytes: int, samples: int | None = None, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        dt = max(now - self.t0, 1e-9)
        extra = f", {samples} samples" if samples is not None else ""
        print(
            f"\r{stage}: {files} files, {nbytes / 1e6:.1f} MB{extra} ({files / dt:.0f} files/s)\x1b[K",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def done(self) -> None:
        if self.enabled:
            print(file=sys.stderr, flush=True)


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
            raise ValueError("no inputs given")
        for p in self.inputs:
            if not Path(p).exists():
                raise FileNotFoundError(f"{p}: no such file or directory")
        self.config = config or PrepareConfig()
        self.config.builder()  # validates kinds and rates up front
        if self.config.dedup_verify not in ("borderline", "all", "none"):
            raise ValueError(f"dedup_verify must be borderline, all or none, got {self.config.dedup_verify!r}")
        if self.config.languages:
            from codemill.languages import EXTENSIONS

            known = set(EXTENSIONS.values())
            bad = [lang for lang in self.config.languages if lang not in known]
            if bad:
                raise ValueError(f"unknown language(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.progress = _Progress(sys.stderr.isatty() if progress is None else progress)
        self.report: dict[str, Any] = {}
        self._digests: dict[int, bytes] = {}

    # The documents that reach the filters; the language filter is applied here, in order.
    def _documents(
        self, skipped: Counter[str], listed: list[dict[str, str]] | None, filtered: Counter[str]
    ) -> Iterator[Document]:
        langs = self.config.languages
        for doc in discover(self.inputs, skipped, listed, _MAX_LISTED):
            if langs and doc.language not in langs:
                filtered[filters.LANGUAGE] += 1
                _list(listed, f"{doc.repository}/{doc.path}", filters.LANGUAGE)
                continue
            yield doc

    def __iter__(self) -> Iterator[dict[str, Any]]:
        t0 = self.progress.t0 = time.perf_counter()
        config = self.config
        skipped: Counter[str] = Counter()
        filtered: Counter[str] = Counter()
        listed: list[dict[str, str]] = []
        missed: Counter[str] = Counter()
        templates: Counter[str] = Counter()
        languages: dict[str, Counter[str]] = collections.defaultdict(Counter)
        dup = dict.fromkeys(
            (
                "exact",
                "near",
                "near_groups",
                "candidate_pairs",
                "candidate_pairs_skipped_by_window",
                "pairs_verified",
                "duplicate_pairs",
            ),
            0,
        )
        files_seen = 0
        bytes_seen = 0
        pool = None
        if self.workers > 1:
            import multiprocessing

            # spawn: a forked child of a threaded parent can deadlock (and warns on 3.12+).
            pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"), _init, (config,))
        else:
            _init(config)
        window = 2 * self.workers
        try:
            keep: np.ndarray | None = None
            near: set[int] = set()
            if config.dedup:
                keep, near, files_seen, bytes_seen = self._dedup_pass(pool, window, skipped, filtered, listed, dup)
            names: dict[int, str] = {}
            if keep is None:
                docs: Iterable[Document] = self._documents(skipped, listed, filtered)
            else:
                docs = self._kept(keep, near, listed)
            built_files = built_bytes = n_samples = 0
            for results in _ordered_map(_build, _named_batches(docs, names), pool, window):
                for r in results:
                    built_files += 1
                    built_bytes += r.size
                    name = names.pop(r.index, str(r.index))
                    if r.reason is not None:
                        # Without dedup this is the filter pass; with it, a file that changed since.
                        filtered[r.reason] += 1
                        _list(listed, name, r.reason)
                        continue
                    missed.update(r.missed)
                    languages[r.language]["files"] += 1
                    languages[r.language]["bytes"] += r.size
                    for s in r.samples:
                        templates[s["template"]] += 1
                        languages[s["language"]]["samples"] += 1
                        yield s
                    n_samples += len(r.samples)
                self.progress.update("samples", built_files, built_bytes, n_samples)
            self.progress.update("samples", built_files, built_bytes, n_samples, force=True)
            self.progress.done()
            if not config.dedup:
                files_seen, bytes_seen = built_files, built_bytes
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        seconds = time.perf_counter() - t0
        kept_files = sum(c["files"] for c in languages.values())
        self.report = {
            "inputs": [str(p) for p in self.inputs],
            "params": config.as_dict(),
            "files": {
                "read": files_seen,
                "filtered": sum(filtered.values()),
                "exact_duplicates": dup["exact"],
                "near_duplicates": dup["near"],
                "kept": kept_files,
            },
            "skipped": dict(sorted(skipped.items())),
            "filtered": dict(sorted(filtered.items())),
            "duplicates": dup,
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
        pool: ProcessPoolExecutor | None,
        window: int,
        skipped: Counter[str],
        filtered: Counter[str],
        listed: list[dict[str, str]],
        dup: dict[str, int],
    ) -> tuple[np.ndarray, set[int], int, int]:
        """Pass 1: filter every document and decide which to keep (exact, then near dedup)."""
        names: dict[int, str] = {}
        passed: list[int] = []
        digests: dict[bytes, int] = {}
        sig_ids: list[int] = []
        files = nbytes = 0
        n_docs = 0
        exact_removed = 0
        docs = self._documents(skipped, listed, filtered)
        with tempfile.TemporaryDirectory(prefix="codemill-prepare-") as tmp:
            # Signatures of the exact representatives with shingles, spilled batch by batch.
            sig_path = Path(tmp) / "signatures.u32"
            with open(sig_path, "wb") as sig_out:
                for results, sigs, counts in _ordered_map(_scan, _named_batches(docs, names), pool, window):
                    ki = 0
                    rows: list[int] = []
                    for s in results:
                        files += 1
                        nbytes += s.size
                        n_docs = max(n_docs, s.index + 1)
                        name = names.pop(s.index, str(s.index))
                        if s.reason is not None:
                            filtered[s.reason] += 1
                            _list(listed, name, s.reason)
                            continue
                        row = ki
                        ki += 1
                        first = digests.setdefault(s.digest, s.index)
                        if first != s.index:
                            exact_removed += 1
                            _list(listed, name, "exact_duplicate")
                            continue
                        passed.append(s.index)
                        if counts is not None and counts[row] > 0:
                            rows.append(row)
                            sig_ids.append(s.index)
                    if rows and sigs is not None:
                        sig_out.write(np.ascontiguousarray(sigs[rows], dtype=np.uint32).tobytes())
                    self.progress.update("filter+dedup", files, nbytes)
            self.progress.update("filter+dedup", files, nbytes, force=True)
            self.progress.done()
            keep = np.zeros(n_docs, dtype=bool)
            keep[passed] = True
            dup["exact"] = exact_removed
            near: set[int] = set()
            if len(sig_ids) > 1:
                hasher = _hasher(self.config)
                sigs = np.memmap(sig_path, dtype=np.uint32, mode="r", shape=(len(sig_ids), hasher.num_perm))
                ids = np.asarray(sig_ids, dtype=np.int64)
                removed, stats = _near_duplicates(hasher, sigs, ids, self.config.dedup_verify, self._fetch)
                del sigs
                keep[removed] = False
                near = set(removed.tolist())
                dup.update(stats)
                dup["near"] = len(removed)
        self._digests = {i: d for d, i in digests.items() if keep[i]}
        return keep, near, files, nbytes

    def _fetch(self, wanted: np.ndarray) -> dict[int, tuple[str, str]]:
        """Texts of the given documents (for exact Jaccard), found by walking the inputs again."""
        want = set(wanted.tolist())
        got: dict[int, tuple[str, str]] = {}
        for doc in self._documents(Counter(), None, Counter()):
            if doc.index in want:
                text, _, _ = _load(doc, self.config.filters)
                if text is not None:
                    got[doc.index] = (text, doc.language)
                want.discard(doc.index)
                if not want:
                    break
        return got

    def _kept(self, keep: np.ndarray, near: set[int], listed: list[dict[str, str]]) -> Iterator[Document]:
        """Pass 2's documents: discovery again (same order), keeping what pass 1 kept."""
        digests = self._digests
        for doc in self._documents(Counter(), None, Counter()):
            if doc.index < len(keep) and keep[doc.index]:
                doc.digest = digests.pop(doc.index)
                yield doc
            elif doc.index in near:
                _list(listed, f"{doc.repository}/{doc.path}", "near_duplicate")


def _near_duplicates(
    hasher: Any,
    sigs: np.ndarray,
    ids: np.ndarray,
    verify: str,
    fetch: Callable[[np.ndarray], dict[int, tuple[str, str]]],
) -> tuple[np.ndarray, dict[str, int]]:
    """Documents to drop as near duplicates, decided as :func:`codemill.dedup` decides.

    Candidate pairs come from :meth:`MinHasher.pairs` (LSH buckets, windowed). With
    ``verify="borderline"`` a pair whose signature estimate is within two standard errors of
    the threshold is settled by the exact Jaccard of its shingle sets, the others by the
    estimate; ``"all"`` settles every pair exactly; ``"none"`` keeps pairs whose estimate
    reaches the threshold less half a standard error. Groups are the connected components of
    the accepted pairs; rows are in document order, so a group's first row is the one kept.
    """
    from codemill.near_dup.api import settle_pairs

    if verify not in ("borderline", "all", "none"):
        raise ValueError(f"dedup_verify must be borderline, all or none, got {verify!r}")
    n = len(ids)
    pairs, skipped = hasher.pairs(sigs)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    est = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), 65536):  # in chunks: a pair's rows are gathered from the map
        p = pairs[lo : lo + 65536]
        est[lo : lo + len(p)] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    t = hasher.threshold
    settle = {"all": True, "none": False}.get(verify, verify)
    check, ok = settle_pairs(hasher, est, settle, t - hasher.default_margin())
    if check.any():
        rows = np.unique(pairs[check])
        texts = fetch(ids[rows])
        shingles = {int(r): hasher.shingles(*texts[int(ids[r])]) for r in rows.tolist() if int(ids[r]) in texts}
        for k in np.flatnonzero(check).tolist():
            a, b = shingles.get(int(pairs[k, 0])), shingles.get(int(pairs[k, 1]))
            if a is None or b is None or not (len(a) or len(b)):
                continue  # a file that changed since: no evidence, no duplicate
            inter = len(np.intersect1d(a, b, assume_unique=True))
            ok[k] = inter / (len(a) + len(b) - inter) >= t
    parent = np.arange(n)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs[ok].tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    dropped = roots != np.arange(n)
    stats = {
        "near_groups": len(np.unique(roots[dropped])),
        "candidate_pairs": len(pairs),
        "candidate_pairs_skipped_by_window": int(skipped),
        "pairs_verified": int(check.sum()),
        "duplicate_pairs": int(ok.sum()),
    }
    return ids[dropped], stats


# -- output -------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, path: Path) -> None:
        name = path.name.lower()
        if not name.endswith(OUTPUT_SUFFIXES):
            raise ValueError(f"{path}: the output must end in {', '.join(OUTPUT_SUFFIXES)}")
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.parquet = name.endswith(".parquet")
        self.rows: list[dict[str, Any]] = []
        self.buffered = 0
        self.count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.parquet:
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise ValueError("writing Parquet needs pyarrow (pip install 'codemill[prepare]')") from exc
            self.pa = pa
            message = pa.struct([("role", pa.string()), ("content", pa.string())])
            self.schema = pa.schema(
                [(k, pa.string()) for k in SAMPLE_FIELDS if k not in ("messages", "meta")]
                + [("messages", pa.list_(message)), ("meta", pa.string())]
            )
            self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        elif name.endswith(".gz"):
            raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
            # mtime=0 and no file name: the same samples give the same bytes. Level 6 (zlib's
            # default) compresses about as well as 9 at a fraction of the time.
            self.file: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
            self.raw: Any = raw
        else:
            self.file = open(self.tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self.raw = None

    def write(self, sample: dict[str, Any]) -> None:
        self.count += 1
        if self.parquet:
            self.rows.append({**sample, "meta": json.dumps(sample["meta"], sort_keys=True)})
            self.buffered += len(sample["text"]) + len(sample["prompt"]) + len(sample["completion"])
            # Row groups of at most ~1024 rows or ~64 MB of text keep memory bounded.
            if len(self.rows) >= 1024 or self.buffered >= 64 << 20:
                self._flush()
            return
        line = json.dumps(sample, ensure_ascii=False) + "\n"
        if isinstance(self.file, gzip.GzipFile):
            self.file.write(line.encode("utf-8", "surrogatepass"))
        else:
            self.file.write(line)

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []
            self.buffered = 0

    def close(self, ok: bool) -> None:
        if self.parquet:
            if ok:
                self._flush()
            self.writer.close()
        else:
            self.file.close()
            if self.raw is not None:
                self.raw.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def prepare(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    languages: Sequence[str] | None = None,
    min_bytes: int = 100,
    max_bytes: int = 100_000,
    dedup: bool = True,
    dedup_threshold: float | None = None,
    dedup_verify: str = "borderline",
    samples: Sequence[str] = KINDS,
    fim_rate: float = 0.5,
    fim_spm_rate: float = 0.5,
    seed: int = 0,
    workers: int | None = None,
    progress: bool | None = None,
    filter_config: FilterConfig | None = None,
    tokenizer: Any = None,
) -> dict[str, Any]:
    """Prepare fine-tuning data from repositories and corpora; write the samples to ``output``
    (``.jsonl``, ``.jsonl.gz`` or ``.parquet``) and return the report.

    ``workers`` processes (default: all cores) filter and build samples; the output is the same
    for a ``seed`` whatever the worker count. Workers are spawned (a forked copy of a process
    whose native thread pools are running can hang), so a script that calls this with more than
    one worker needs the usual ``if __name__ == "__main__":`` guard. FIM samples use the FIM
    special tokens of ``tokenizer`` (a ``CodeTokenizer`` or a tokenizer file; default: the
    bundled tokenizer's).
    """
    fim_tokens = FIM_TOKENS
    if tokenizer is not None:
        if isinstance(tokenizer, str | os.PathLike):
            from codemill.tokenizer.code_tokenizer import CodeTokenizer

            tokenizer = CodeTokenizer.load(tokenizer)
        fim_tokens = fim_tokens_for(tokenizer)
    fc = replace(filter_config or FilterConfig(), min_bytes=min_bytes, max_bytes=max_bytes)
    config = PrepareConfig(
        languages=tuple(languages) if languages else None,
        filters=fc,
        dedup=dedup,
        dedup_threshold=dedup_threshold,
        dedup_verify=dedup_verify,
        samples=tuple(samples),
        fim_rate=fim_rate,
        fim_spm_rate=fim_spm_rate,
        seed=seed,
        fim_tokens=fim_tokens,
    )
    run = Preparer(inputs, config, workers=workers, progress=progress)
    writer = _Writer(Path(output))
    ok = False
    try:
        for sample in run:
            writer.write(sample)
        ok = True
    finally:
        writer.close(ok)
    run.report["output"] = str(output)
    return run.report
