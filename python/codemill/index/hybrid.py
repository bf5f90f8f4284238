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
  ``vectors.npy``, ``ids.npy``, ``dense.faiss``). ``update`` re-indexes only files whose
  content hash changed and drops deleted files; within a changed file, chunks whose text
  is unchanged keep their vectors (only changed chunks are re-embedded).

Ties are broken by (path, start line), so results do not depend on the order chunks were
added: an updated index answers exactly like a fresh build of the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codemill import _core
from codemill.index.chunking import DEFAULT_MAX_LINES, Chunk, chunk_text
from codemill.index.embed import Embedder, make_embedder
from codemill.languages import detect_language
from codemill.sources.documents import iter_code_files, read_code_file

# 2: the built-in embedder changed (trigrams of parts, weighted first line, capped features);
# vectors saved by format 1 would not match queries embedded now.
FORMAT = "codemill-index/2"
MODES = ("hybrid", "keyword", "dense")
DEFAULT_HNSW_THRESHOLD = 50_000
RRF_K = 60


class IndexFormatError(ValueError):
    """An index directory that is missing, corrupt, or of another format version."""


@dataclass(frozen=True)
class SearchResult:
    chunk: Chunk
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.chunk.to_dict(),
            "score": self.score,
            "dense_rank": self.dense_rank,
            "keyword_rank": self.keyword_rank,
        }


@dataclass
class BuildReport:
    files: int = 0
    chunks: int = 0
    unchanged: int = 0
    # Chunks that went through the embedder (the rest of ``chunks`` kept their vectors).
    embedded: int = 0
    removed_files: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "chunks": self.chunks,
            "unchanged": self.unchanged,
            "embedded": self.embedded,
            "removed_files": self.removed_files,
            "skipped": dict(self.skipped),
            "skipped_files": [list(p) for p in self.skipped_files],
        }


def _progress(iterable: Iterable[Any], enabled: bool, desc: str, total: int | None = None) -> Iterable[Any]:
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, unit="file")


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
        # path -> {"hash": content sha256, "ids": chunk ids}
        self.files: dict[str, dict[str, Any]] = {}
        self._next_id = 0
        self.last_embedded = 0  # chunks the last add_texts sent to the embedder
        self._vectors = np.zeros((0, self.embedder.dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._terms: dict[int, list[str]] = {}
        self._dense: Any = None  # faiss index, built lazily
        self._dense_removed: set[int] = set()  # ids still inside an HNSW graph
        self._bm25: Any = None
        self._bm25_ids = np.zeros(0, dtype=np.int64)

    # ---------------------------------------------------------------- building

    @classmethod
    def build(
        cls, root: str | os.PathLike[str], embedder: str | Embedder | None = None, progress: bool = False, **kw: Any
    ) -> HybridIndex:
        index = cls(embedder, **kw)
        index.report = index.update(root, progress=progress)
        return index

    def __len__(self) -> int:
        return len(self.chunks)

    def add_texts(self, files: Sequence[tuple[str, str, str]]) -> int:
        """Adds (path, language, text) files, replacing any already indexed under the same path.
        Returns the number of chunks added."""
        self.last_embedded = 0
        reuse = self._vectors_by_text([path for path, _, _ in files])
        for path, _, _ in files:
            if path in self.files:
                self.remove([path])
        new: list[Chunk] = []
        for path, language, text in files:
            chunks = chunk_text(text, language, path, self.max_lines)
            ids = list(range(self._next_id, self._next_id + len(chunks)))
            self._next_id += len(chunks)
            self.files[path] = {"hash": _hash(text.encode("utf-8")), "ids": ids}
            for i, c in zip(ids, chunks, strict=True):
                self.chunks[i] = c
            new.extend(chunks)
        if not new:
            return 0
        ids = np.arange(self._next_id - len(new), self._next_id, dtype=np.int64)
        texts = [_index_text(c) for c in new]
        keys = [_text_key(c.language, t) for c, t in zip(new, texts, strict=True)]
        todo = [n for n, key in enumerate(keys) if key not in reuse]
        vecs = np.empty((len(new), self.embedder.dim), dtype=np.float32)
        for n, key in enumerate(keys):
            if key in reuse:
                vecs[n] = reuse[key]
        if todo:
            vecs[todo] = self.embedder.embed([texts[n] for n in todo], [new[n].language for n in todo])
        self.last_embedded = len(todo)
        terms = _core.code_terms(texts, [_lang(c.language) for c in new], self.num_threads)
        self._terms.update(zip(ids.tolist(), terms, strict=True))
        self._vectors = np.concatenate([self._vectors, vecs])
        self._ids = np.concatenate([self._ids, ids])
        if self._dense is not None and not self._dense_removed and self._kind_for(len(self._ids)) == self._dense_kind:
            self._dense.add_with_ids(vecs, ids)
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

    def add(self, root: str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]] | None = None) -> BuildReport:
        """Indexes files under ``root`` (all code files, or the given ones), replacing earlier
        versions of the same paths."""
        report = BuildReport()
        root = Path(root)
        files = iter_code_files(root) if paths is None else (Path(p) for p in paths)
        batch = []
        for p in files:
            item = self._read(root, p, report)
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

    def update(self, root: str | os.PathLike[str] | None = None, progress: bool = False) -> BuildReport:
        """Brings the index in line with ``root``: re-indexes files whose content changed,
        adds new ones, drops deleted ones. Unchanged files are not re-embedded."""
        if root is None:
            if self.root is None:
                raise ValueError("update needs the repository root (the index does not know one)")
            root = self.root
        root = Path(root)
        report = BuildReport()
        self.root = str(root.resolve())
        seen: set[str] = set()
        changed: list[tuple[str, str, str]] = []
        paths = list(iter_code_files(root))
        for p in _progress(paths, progress, "indexing", len(paths)):
            item = self._read(root, p, report)
            if item is None:
                continue
            rel, language, text, digest = item
            seen.add(rel)
            entry = self.files.get(rel)
            if entry is not None and entry["hash"] == digest:
                report.unchanged += 1
                continue
            changed.append((rel, language, text))
        deleted = [p for p in self.files if p not in seen]
        report.removed_files = len(deleted)
        self.remove(deleted)
        # Embedders that can report chunks/s do so while the index is built with progress on.
        shown = getattr(self.embedder, "progress", None)
        if shown is not None:
            self.embedder.progress = progress  # type: ignore[attr-defined]
        try:
            report.chunks = self.add_texts(changed)
        finally:
            if shown is not None:
                self.embedder.progress = shown  # type: ignore[attr-defined]
        report.embedded = self.last_embedded
        return report

    def _read(self, root: Path, path: Path, report: BuildReport) -> tuple[str, str, str, str] | None:
        rel = path.relative_to(root).as_posix() if path != root else path.name
        text, reason = read_code_file(path)
        if text is None:
            reason = reason or "unreadable"
            report.skipped[reason] += 1
            report.skipped_files.append((rel, reason))
            return None
        report.files += 1
        return rel, detect_language(path, text[:64].encode("utf-8")), text, _hash(text.encode("utf-8"))

    # ---------------------------------------------------------------- searching

    def _kind_for(self, n: int) -> str:
        return "flat" if n < self.hnsw_threshold else "hnsw"

    def _dense_index(self) -> Any:
        if self._dense is None:
            import faiss

            dim = self.embedder.dim
            self._dense_kind = self._kind_for(len(self._ids))
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
            import bm25s

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
        fetch = min(k + extra, len(self._ids) + extra)
        scores, ids = index.search(q, fetch)
        hits = [
            (int(i), float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0 and int(i) not in self._dense_removed and s >= self.embedder.min_score
        ]
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
        top = np.argpartition(-scores, min(k, n - 1))[: min(k * 2, n)] if n > k else np.arange(n)
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
        mode: str = "hybrid",
        fusion: str | None = None,
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
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if fusion not in ("rrf", "weighted"):
            raise ValueError(f"unknown fusion {fusion!r}; use rrf or weighted")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
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
                lo, span = vals.min(), float(vals.max() - vals.min()) or 1.0
                for i, s in hits:
                    scores[i] = scores.get(i, 0.0) + w * (s - lo) / span
            fused = self._ordered(list(scores.items()))
        return [SearchResult(self.chunks[i], s, d_rank.get(i), k_rank.get(i)) for i, s in fused[:k]]

    # ---------------------------------------------------------------- persistence

    def save(self, directory: str | os.PathLike[str]) -> None:
        import faiss

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        ids = self._ids
        with open(d / "chunks.jsonl", "w", encoding="utf-8") as f:
            for i in sorted(self.chunks):
                f.write(json.dumps({"id": i, **self.chunks[i].to_dict()}, ensure_ascii=False) + "\n")
        np.save(d / "vectors.npy", self._vectors)
        np.save(d / "ids.npy", ids)
        faiss.write_index(self._dense_index(), str(d / "dense.faiss"))
        meta = {
            "format": FORMAT,
            "embedder": self.embedder.spec,
            "dim": self.embedder.dim,
            "max_lines": self.max_lines,
            "hnsw_threshold": self.hnsw_threshold,
            "dense_kind": self._dense_kind,
            "dense_removed": sorted(self._dense_removed),
            "root": self.root,
            "next_id": self._next_id,
            "files": self.files,
        }
        # meta.json last: a directory without it is an incomplete save.
        (d / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], embedder: str | Embedder | None = None, num_threads: int | None = None
    ) -> HybridIndex:
        import faiss

        d = Path(directory)
        meta_path = d / "meta.json"
        if not meta_path.is_file():
            raise IndexFormatError(f"{d}: not a codemill index (no meta.json)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IndexFormatError(f"{meta_path}: corrupt index metadata: {e}") from e
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise IndexFormatError(f"{meta_path}: index format {found!r} is not supported (expected {FORMAT!r})")
        try:
            index = cls(
                embedder or meta["embedder"],
                max_lines=int(meta["max_lines"]),
                hnsw_threshold=int(meta["hnsw_threshold"]),
                num_threads=num_threads,
            )
            if index.embedder.dim != int(meta["dim"]):
                raise IndexFormatError(
                    f"{meta_path}: index vectors have dim {meta['dim']}, embedder {index.embedder.spec} gives "
                    f"{index.embedder.dim}"
                )
            index.root, index._next_id, index.files = meta["root"], int(meta["next_id"]), meta["files"]
            with open(d / "chunks.jsonl", encoding="utf-8") as f:
                for line in f:
                    row = json.loads(line)
                    i = row.pop("id")
                    index.chunks[int(i)] = Chunk(**row)
            index._vectors = np.load(d / "vectors.npy", allow_pickle=False)
            index._ids = np.load(d / "ids.npy", allow_pickle=False)
            index._dense = faiss.read_index(str(d / "dense.faiss"))
            index._dense_kind = meta["dense_kind"]
            index._dense_removed = set(meta["dense_removed"])
        except IndexFormatError:
            raise
        except (OSError, KeyError, TypeError, ValueError, RuntimeError) as e:
            raise IndexFormatError(f"{d}: corrupt index: {type(e).__name__}: {e}") from e
        if (
            index._vectors.shape != (len(index._ids), index.embedder.dim)
            or set(index._ids.tolist()) != set(index.chunks)
            or index._dense.ntotal != len(index._ids) + len(index._dense_removed)
        ):
            raise IndexFormatError(f"{d}: corrupt index: vectors, ids and chunks do not match")
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
