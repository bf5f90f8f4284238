"""HybridIndex: dense (FAISS) + keyword (BM25) search over code chunks, fused by rank.

- Chunks come from :mod:`codemill.index.chunking` (tree-sitter definitions, line-window fallback).
- Dense: the embedder's L2-normalised vectors in FAISS, exact inner product below
  ``hnsw_threshold`` chunks and HNSW from there on, behind an id map so chunks can be
  removed (HNSW cannot delete: removed ids are filtered out until the next rebuild).
- Keyword: BM25 (bm25s) over identifier-aware terms from codemill's scanner, so
  ``getUserById`` is found by ``user id`` and by ``getUserById``.
- Fusion: reciprocal rank fusion (k = 60) by default, or a weighted sum of min-max
  normalised scores.
- Persistence: one directory (``meta.json`` with the format version, ``chunks.jsonl``,
  ``vectors.npy``, ``ids.npy``, ``dense.faiss``; :mod:`codemill.index.persistence`), saved whole through
  :func:`codemill._io.atomic_dir`: an interrupted save leaves the previous index as it was.
  ``update`` re-indexes only files whose content hash changed and drops deleted files; within a
  changed file, chunks whose text is unchanged keep their vectors (only changed chunks are
  re-embedded).

Ties are broken by (path, start line), so results do not depend on the order chunks were
added: an updated index answers exactly like a fresh build of the same files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np

from codemill import _core
from codemill.errors import CodemillError, ConfigError, IndexFormatError
from codemill.index.chunking import DEFAULT_MAX_LINES, Chunk, chunk_text
from codemill.index.embed import Embedder, make_embedder
from codemill.index.modes import FUSIONS, MODES, Fusion, SearchMode
from codemill.index.persistence import FORMAT, is_index_dir, load_index, save_index
from codemill.progress import Progress, progress_iter
from codemill.sources import DEFAULT_MAX_BYTES, Document, Skips, list_documents, load_text
from codemill.sources.names import printable
from codemill.sources.skips import SkippedItem

DenseKind = Literal["flat", "hnsw"]
DEFAULT_HNSW_THRESHOLD = 50_000
RRF_K = 60

__all__ = [
    "FORMAT",
    "MODES",
    "BuildReport",
    "HybridIndex",
    "IndexFormatError",
    "SearchMode",
    "SearchResult",
    "is_index_dir",
]


@dataclass(frozen=True)
class SearchResult:
    chunk: Chunk
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    named: bool = False
    """The chunk holds a definition the query names (found through the repository graph by
    :mod:`codemill.context.lookup`)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.chunk.to_dict(),
            "score": self.score,
            "dense_rank": self.dense_rank,
            "keyword_rank": self.keyword_rank,
            "named": self.named,
        }


class BuildReportDict(TypedDict):
    documents: int  # read and indexed or found unchanged: the vocabulary of every report
    chunks: int
    unchanged: int
    embedded: int  # chunks that went through the embedder (the others kept their vectors)
    removed_files: int
    skipped: dict[str, int]
    skipped_items: list[SkippedItem]


@dataclass
class BuildReport:
    """What a build or update did: files read, chunks embedded, files unchanged and removed,
    and every skipped file with its reason."""

    files: int = 0
    chunks: int = 0
    unchanged: int = 0
    # Chunks that went through the embedder (the rest of ``chunks`` kept their vectors).
    embedded: int = 0
    removed_files: int = 0
    skips: Skips = field(default_factory=Skips)

    @property
    def skipped(self) -> dict[str, int]:
        return self.skips.as_dict()

    def to_dict(self) -> BuildReportDict:
        return {
            "documents": self.files,
            "chunks": self.chunks,
            "unchanged": self.unchanged,
            "embedded": self.embedded,
            "removed_files": self.removed_files,
            "skipped": self.skips.as_dict(),
            "skipped_items": self.skips.items,
        }


# Chunks embedded per step of the progress line (one call for a small repository, as before).
_EMBED_STEP = 2048


class HybridIndex:
    """Hybrid dense + keyword index of a repository's code chunks."""

    def __init__(
        self,
        embedder: str | Embedder | None = None,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        num_threads: int | None = None,
    ) -> None:
        self.embedder = make_embedder(embedder, num_threads)
        self.max_lines = max_lines
        self.hnsw_threshold = hnsw_threshold
        self.num_threads = num_threads
        self.root: str | None = None
        self.chunks: dict[int, Chunk] = {}
        # path -> {"hash": sha256 of its language and text (`_text_key`), "ids": chunk ids}
        self.files: dict[str, dict[str, Any]] = {}
        self._next_id = 0
        self.last_embedded = 0  # chunks the last add_texts sent to the embedder
        self._vectors = np.zeros((0, self.embedder.dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._terms: dict[int, list[str]] = {}
        self._dense: Any = None  # faiss index, built lazily
        self._dense_kind: DenseKind = "flat"
        self._dense_removed: set[int] = set()  # ids still inside an HNSW graph
        self._bm25: Any = None
        self._bm25_ids = np.zeros(0, dtype=np.int64)
        self.report: BuildReport | None = None
        """What :meth:`build` did (None for an index made otherwise)."""

    # ---------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        root: str | os.PathLike[str],
        embedder: str | Embedder | None = None,
        progress: bool = False,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        **kw: Any,
    ) -> HybridIndex:
        index = cls(embedder, **kw)
        index.report = index.update(root, progress=progress, max_file_bytes=max_file_bytes)
        return index

    def __len__(self) -> int:
        return len(self.chunks)

    def add_texts(self, files: Sequence[tuple[str, str, str]], *, progress: bool = False) -> int:
        """Adds (path, language, text) files, replacing any already indexed under the same path.
        Returns the number of chunks added; ``progress``: embedding progress on stderr."""
        self.last_embedded = 0
        reuse = self._vectors_by_text([path for path, _, _ in files])
        replaced = [path for path, _, _ in files if path in self.files]
        if replaced:
            self.remove(replaced)  # at once: each call rebuilds the id and vector arrays
        new: list[Chunk] = []
        for path, language, text in files:
            chunks = chunk_text(text, language, path, self.max_lines)
            ids = list(range(self._next_id, self._next_id + len(chunks)))
            self._next_id += len(chunks)
            self.files[path] = {"hash": _text_key(language, text), "ids": ids}
            for i, c in zip(ids, chunks, strict=True):
                self.chunks[i] = c
            new.extend(chunks)
        if not new:
            return 0
        new_ids = np.arange(self._next_id - len(new), self._next_id, dtype=np.int64)
        texts = [_index_text(c) for c in new]
        keys = [_text_key(c.language, t) for c, t in zip(new, texts, strict=True)]
        todo = [n for n, key in enumerate(keys) if key not in reuse]
        vecs = np.empty((len(new), self.embedder.dim), dtype=np.float32)
        for n, key in enumerate(keys):
            if key in reuse:
                vecs[n] = reuse[key]
        with Progress("embedding", len(todo), "chunks", enabled=progress) as bar:
            for i in range(0, len(todo), _EMBED_STEP):
                step = todo[i : i + _EMBED_STEP]
                vecs[step] = self.embedder.embed([texts[n] for n in step], [new[n].language for n in step])
                bar.update(min(i + _EMBED_STEP, len(todo)))
        self.last_embedded = len(todo)
        terms = _core.code_terms(texts, [_lang(c.language) for c in new], self.num_threads)
        self._terms.update(zip(new_ids.tolist(), terms, strict=True))
        self._vectors = np.concatenate([self._vectors, vecs])
        self._ids = np.concatenate([self._ids, new_ids])
        if self._dense is not None and not self._dense_removed and self._kind_for(len(self._ids)) == self._dense_kind:
            self._dense.add_with_ids(vecs, new_ids)
        else:
            self._dense = None
        self._bm25 = None
        return len(new)

    def _vectors_by_text(self, paths: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the indexed chunks of ``paths`` keyed by (language, text) hash."""
        ids = [i for p in paths if p in self.files for i in self.files[p]["ids"]]
        if not ids:
            return {}
        rows = np.searchsorted(self._ids, ids)  # ids are kept ascending
        return {
            _text_key(self.chunks[i].language, _index_text(self.chunks[i])): self._vectors[r]
            for i, r in zip(ids, rows.tolist(), strict=True)
        }

    def add(
        self,
        root: str | os.PathLike[str],
        paths: Iterable[str | os.PathLike[str]] | None = None,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
    ) -> BuildReport:
        """Indexes files under ``root`` (all code files, or the given ones), replacing earlier
        versions of the same paths; larger files than ``max_file_bytes`` are skipped."""
        report = BuildReport()
        root = Path(root)
        docs = list_documents(
            [root] if paths is None else list(paths), report.skips, max_bytes=max_file_bytes, skip_damaged=True
        )
        batch = []
        for doc in docs:
            item = self._read(root, doc, report, max_file_bytes)
            if item is not None:
                batch.append(item[:3])
        report.chunks = self.add_texts(batch)
        report.embedded = self.last_embedded
        return report

    def remove(self, paths: Iterable[str]) -> int:
        """Drops the chunks of the given (index-relative) paths; returns how many were removed."""
        gone: list[int] = []
        for path in paths:
            entry = self.files.pop(path, None)
            if entry is not None:
                gone.extend(entry["ids"])
        if not gone:
            return 0
        for i in gone:
            self.chunks.pop(i, None)
            self._terms.pop(i, None)
        gone_arr = np.asarray(gone, dtype=np.int64)
        keep = ~np.isin(self._ids, gone_arr)
        self._vectors, self._ids = self._vectors[keep], self._ids[keep]
        if self._dense is not None:
            if self._dense_kind == "flat":
                self._dense.remove_ids(gone_arr)
            else:
                self._dense_removed.update(gone)
                if len(self._dense_removed) > 0.2 * max(len(self._ids), 1):
                    self._dense = None
        self._bm25 = None
        return len(gone)

    def update(
        self,
        root: str | os.PathLike[str] | None = None,
        progress: bool = False,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
        replace_source: bool = False,
    ) -> BuildReport:
        """Brings the index in line with ``root``: re-indexes files whose content changed,
        adds new ones, drops deleted ones. Unchanged files are not re-embedded; files larger
        than ``max_file_bytes`` are skipped. An index of another repository is refused unless
        ``replace_source`` (then every file of the old repository is dropped)."""
        if root is None:
            if self.root is None:
                raise CodemillError("update needs the repository root (the index does not know one)")
            root = self.root
        root = Path(root)
        check_source(self.root, root, replace_source)
        report = BuildReport()
        self.root = str(root.resolve())
        seen: set[str] = set()
        changed: list[tuple[str, str, str]] = []
        docs = list(list_documents([root], report.skips, max_bytes=max_file_bytes, skip_damaged=True))
        for doc in progress_iter(docs, "reading", len(docs), "files", enabled=progress):
            item = self._read(root, doc, report, max_file_bytes)
            if item is None:
                continue
            rel, language, text, digest = item
            seen.add(rel)
            entry = self.files.get(rel)
            if entry is not None and (entry["hash"] == digest or self._same_old_key(entry, rel, language, text)):
                entry["hash"] = digest
                report.unchanged += 1
                continue
            changed.append((rel, language, text))
        deleted = [p for p in self.files if p not in seen]
        report.removed_files = len(deleted)
        self.remove(deleted)
        report.chunks = self.add_texts(changed, progress=progress)
        report.embedded = self.last_embedded
        return report

    def _same_old_key(self, entry: dict[str, Any], rel: str, language: str, text: str) -> bool:
        """Whether a file of an index saved when keys were of the text alone (before the language
        was hashed too) is unchanged: the same text, chunked as its language chunks it now (a
        record's language may have changed). Chunking embeds nothing: cheaper than the first
        update chunking and replacing every file."""
        if entry["hash"] != _hash(text.encode("utf-8")):
            return False
        return [self.chunks[i] for i in entry["ids"]] == chunk_text(text, language, rel, self.max_lines)

    def _read(
        self, root: Path, doc: Document, report: BuildReport, max_file_bytes: int
    ) -> tuple[str, str, str, str] | None:
        """(index path, language, text, digest) of a listed document, read as every command
        reads it; what cannot be read is counted in the report's skips."""
        reason = load_text(doc, max_file_bytes)
        if reason:
            report.skips.add(doc.where, reason)
            return None
        if doc.record is not None:
            rel = f"{printable(doc.origin)}:{doc.record}"  # a record of a JSONL / Parquet file
        else:
            path = Path(doc.file or doc.where)
            rel = printable(path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name)
        text = doc.text or ""
        report.files += 1
        # The language too: it chunks the text, and a record's comes from its own field (a
        # record whose language changed kept its old chunks). An index saved when the text
        # alone was hashed is read by `_same_old_key`.
        return rel, doc.language, text, _text_key(doc.language, text)

    # ---------------------------------------------------------------- searching

    def _kind_for(self, n: int) -> DenseKind:
        return "flat" if n < self.hnsw_threshold else "hnsw"

    def _dense_index(self) -> Any:
        if self._dense is None:
            import faiss

            dim = self.embedder.dim
            self._dense_kind = self._kind_for(len(self._ids))
            base: Any
            if self._dense_kind == "flat":
                base = faiss.IndexFlatIP(dim)
            else:
                base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
                base.hnsw.efConstruction = 80
                base.hnsw.efSearch = 128
            index = faiss.IndexIDMap2(base)
            if len(self._ids):
                index.add_with_ids(self._vectors, self._ids)
            self._dense = index
            self._dense_removed = set()
        return self._dense

    def _keyword_index(self) -> Any:
        if self._bm25 is None:
            import bm25s  # type: ignore[import-untyped, unused-ignore]

            ids = np.asarray(sorted(self._terms), dtype=np.int64)
            # An empty document list breaks bm25s; a placeholder term keeps every row non-empty.
            corpus = [self._terms[int(i)] or ["\0"] for i in ids]
            bm25 = bm25s.BM25()
            if corpus:
                bm25.index(corpus, show_progress=False)
            self._bm25, self._bm25_ids = bm25, ids
        return self._bm25

    def dense_search(self, query: str, k: int) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        q = self.embedder.embed([query], ["generic"])
        if not np.any(q):
            return []
        index = self._dense_index()
        extra = len(self._dense_removed)
        total = len(self._ids) + extra
        fetch = min(k + extra + 1, total)  # one past the cut: does it tie the k-th?
        while True:
            scores, ids = index.search(q, fetch)
            hits = [
                (int(i), float(s))
                for s, i in zip(scores[0], ids[0], strict=True)
                if i >= 0 and int(i) not in self._dense_removed and s >= self.embedder.min_score
            ]
            # Every chunk scoring as the k-th best: FAISS picks among equal scores by position,
            # which an update changes (a re-added file's vectors go last), so the cut took other
            # tied chunks than a fresh build's; ties go to the (path, line) order, as BM25's do.
            # (Hits come best first; only a tie past the cut fetches more.)
            if fetch >= total or len(hits) <= k or round(hits[-1][1], 6) < round(hits[k - 1][1], 6):
                break
            fetch = min(2 * fetch, total)
        return self._ordered(hits)[:k]

    def keyword_search(self, query: str, k: int) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        bm25 = self._keyword_index()
        terms = [t for t in _core.code_terms([query])[0] if t in bm25.vocab_dict]
        if not terms:
            return []
        scores = bm25.get_scores(terms)
        n = len(scores)
        # Every chunk scoring at least the k-th best: ties at the cut go to the (path, line) order
        # (argpartition picked among them arbitrarily, and an update answered unlike a fresh build).
        top = np.flatnonzero(scores >= -np.partition(-scores, k - 1)[k - 1]) if n > k else np.arange(n)
        hits = [(int(self._bm25_ids[j]), float(scores[j])) for j in top if scores[j] > 0]
        return self._ordered(hits)[:k]

    def _ordered(self, hits: list[tuple[int, float]]) -> list[tuple[int, float]]:
        def key(h: tuple[int, float]) -> tuple[float, str, int]:
            c = self.chunks[h[0]]
            return (-round(h[1], 6), c.path, c.start_line)

        return sorted(hits, key=key)

    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        fusion: Fusion | None = None,
        rrf_k: int = RRF_K,
        dense_weight: float | None = None,
        candidates: int | None = None,
    ) -> list[SearchResult]:
        """The ``k`` best chunks for ``query``. ``mode``: hybrid, keyword or dense;
        ``fusion`` (hybrid): ``rrf`` (1/(rrf_k + rank) summed) or ``weighted``
        (``dense_weight`` * dense + (1 - dense_weight) * keyword, min-max normalised).
        ``fusion`` and ``dense_weight`` (the dense side's share in either fusion) default to the
        embedder's: rrf at 0.5 for the built-in one, weighted at 0.7 for trained models, whose
        dense side is the stronger (benches/bench_index.py)."""
        fusion = fusion or getattr(self.embedder, "fusion", "rrf")
        if mode not in MODES:
            raise CodemillError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if fusion not in FUSIONS:
            raise CodemillError(f"unknown fusion {fusion!r}; use one of {', '.join(FUSIONS)}")
        if k < 1:
            raise CodemillError(f"the number of results must be at least 1, got {k}")
        n_cand = candidates or max(50, 3 * k)
        w_dense = getattr(self.embedder, "dense_weight", 0.5) if dense_weight is None else dense_weight
        dense = self.dense_search(query, n_cand) if mode in ("hybrid", "dense") else []
        keyword = self.keyword_search(query, n_cand) if mode in ("hybrid", "keyword") else []
        d_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        k_rank = {i: r for r, (i, _) in enumerate(keyword, 1)}
        if mode == "dense":
            fused = dense
        elif mode == "keyword":
            fused = keyword
        elif fusion == "rrf":
            scores: dict[int, float] = {}
            for ranks, share in ((d_rank, w_dense), (k_rank, 1.0 - w_dense)):
                for i, r in ranks.items():
                    scores[i] = scores.get(i, 0.0) + 2.0 * share / (rrf_k + r)
            fused = self._ordered(list(scores.items()))
        else:
            scores = {}
            for hits, w in ((dense, w_dense), (keyword, 1.0 - w_dense)):
                if not hits:
                    continue
                vals = np.array([s for _, s in hits])
                lo, span = vals.min(), float(vals.max() - vals.min())
                for i, s in hits:
                    # Hits of one score are all that side's best: a sole keyword match scored 0
                    # (the exact identifier ranked 11th behind chunks BM25 never found).
                    scores[i] = scores.get(i, 0.0) + w * ((s - lo) / span if span else 1.0)
            fused = self._ordered(list(scores.items()))
        return [SearchResult(self.chunks[i], s, d_rank.get(i), k_rank.get(i)) for i, s in fused[:k]]

    # ---------------------------------------------------------------- persistence

    def save(
        self,
        directory: str | os.PathLike[str],
        companions: Mapping[str, bytes] | None = None,
        *,
        overwrite: bool = False,
    ) -> None:
        """Writes the index to ``directory`` as a whole: the files are written beside it and
        swapped in together, so an interrupted save leaves the previous index loadable. A
        directory that holds anything but an index is refused unless ``overwrite``, and one
        inside the indexed repository always (the output contract, `codemill.outputs`).
        ``companions``: files of :data:`~codemill.index.persistence.COMPANION_FILES` saved with
        the index (name -> bytes)."""
        save_index(self, directory, companions, overwrite=overwrite)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], embedder: str | Embedder | None = None, num_threads: int | None = None
    ) -> HybridIndex:
        """An index saved by :meth:`save` (``embedder`` overrides the saved one's spec)."""
        index = load_index(cls, directory, embedder, num_threads)
        chunks = [index.chunks[int(i)] for i in index._ids]
        terms = _core.code_terms([_index_text(c) for c in chunks], [_lang(c.language) for c in chunks], num_threads)
        index._terms = dict(zip(index._ids.tolist(), terms, strict=True))
        return index


def _index_text(c: Chunk) -> str:
    """What is embedded and keyword-indexed: the chunk led by its path and symbol, so that a
    long definition is still found by its own name and a chunk by its module's."""
    return f"{c.path} {c.symbol or ''}\n{c.text}"


def _text_key(language: str, text: str) -> str:
    return _hash(f"{language}\0{text}".encode())


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lang(language: str) -> str | None:
    if language in (None, "generic"):
        return None
    return "typescript" if language == "tsx" else language


def check_source(indexed: str | None, root: Path, replace_source: bool) -> None:
    """Refuses to make an index of the repository ``indexed`` one of ``root``, unless
    ``replace_source``: the one rule of an update and of a rebuild over an index directory."""
    if indexed is not None and Path(indexed) != root.resolve() and not replace_source:
        raise ConfigError(
            f"{root}: the index is of another repository ({indexed}); pass replace_source=True "
            "(--replace-source on the command line) to make it an index of this one"
        )
