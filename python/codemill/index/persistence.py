"""Persistence of the hybrid index: one directory (``meta.json`` with the format version,
``chunks.jsonl``, ``vectors.npy``, ``ids.npy``, ``dense.faiss``, and the companion files layers
above keep with it), written as a whole through :func:`codemill._io.atomic_dir`."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping
from pathlib import Path
from tokenize import TokenError
from typing import TYPE_CHECKING, Any

import numpy as np

from codemill._io import atomic_dir
from codemill.errors import CodemillError, IndexFormatError
from codemill.index.chunking import Chunk
from codemill.outputs import check_output

if TYPE_CHECKING:
    from codemill.index.embed import Embedder
    from codemill.index.hybrid import HybridIndex

# 2: the built-in embedder changed (trigrams of parts, weighted first line, capped features);
# vectors saved by format 1 would not match queries embedded now.
FORMAT = "codemill-index/2"
# The files of a saved index; a directory holding anything else is not replaced by a save.
INDEX_FILES = ("meta.json", "chunks.jsonl", "vectors.npy", "ids.npy", "dense.faiss")
# Files that layers above keep in the index directory, saved with it (codemill.context's
# repository graph).
COMPANION_FILES = ("graph.json",)


def is_index_dir(d: Path) -> bool:
    """The output contract's test: a directory holding an index and its companions only."""
    return (d / "meta.json").is_file() and all(p.name in INDEX_FILES + COMPANION_FILES for p in d.iterdir())


def save_index(
    index: HybridIndex,
    directory: str | os.PathLike[str],
    companions: Mapping[str, bytes] | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """See :meth:`codemill.index.hybrid.HybridIndex.save`."""
    import faiss

    companions = dict(companions or {})
    unknown = sorted(set(companions) - set(COMPANION_FILES))
    if unknown:
        raise CodemillError(f"cannot keep {', '.join(unknown)} with an index (known: {', '.join(COMPANION_FILES)})")

    target = check_output(
        directory,
        command="index",
        kind="dir",
        is_ours=is_index_dir,
        inputs=[index.root] if index.root else [],
        overwrite=overwrite,
    )
    dense = index._dense_index()
    with atomic_dir(target) as d:
        with open(d / "chunks.jsonl", "w", encoding="utf-8") as f:
            for i in sorted(index.chunks):
                f.write(json.dumps({"id": i, **index.chunks[i].to_dict()}, ensure_ascii=False) + "\n")
        np.save(d / "vectors.npy", index._vectors)
        np.save(d / "ids.npy", index._ids)
        try:
            faiss.write_index(dense, str(d / "dense.faiss"))
        except RuntimeError as e:  # faiss reports a failed write (a full disk) this way
            why = str(e).strip().splitlines()[-1]
            raise OSError(errno.EIO, f"cannot write dense.faiss ({why})", str(d / "dense.faiss")) from None
        meta = {
            "format": FORMAT,
            "embedder": index.embedder.spec,
            "dim": index.embedder.dim,
            "max_lines": index.max_lines,
            "hnsw_threshold": index.hnsw_threshold,
            "dense_kind": index._dense_kind,
            "dense_removed": sorted(index._dense_removed),
            "root": index.root,
            "next_id": index._next_id,
            "files": index.files,
        }
        for name, data in companions.items():
            (d / name).write_bytes(data)
        (d / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def read_meta(directory: Path) -> dict[str, Any]:
    """An index directory's metadata (its embedder spec, chunk size, ...), checked to be one
    this version reads."""
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise IndexFormatError(f"{directory}: not a codemill index (no meta.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexFormatError(f"{meta_path}: corrupt index metadata: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise IndexFormatError(f"{meta_path}: index format {found!r} is not supported (expected {FORMAT!r})")
    return meta


def load_index(
    cls: type[HybridIndex],
    directory: str | os.PathLike[str],
    embedder: str | Embedder | None = None,
    num_threads: int | None = None,
) -> HybridIndex:
    """The index saved in ``directory``, checked whole (its keyword terms not yet computed)."""
    import faiss

    d = Path(directory)
    meta = read_meta(d)
    try:
        index = cls(
            embedder or meta["embedder"],
            max_lines=int(meta["max_lines"]),
            hnsw_threshold=int(meta["hnsw_threshold"]),
            num_threads=num_threads,
        )
        if index.embedder.dim != int(meta["dim"]):
            raise IndexFormatError(
                f"{d / 'meta.json'}: index vectors have dim {meta['dim']}, embedder {index.embedder.spec} gives "
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
    except (
        OSError,
        KeyError,
        TypeError,
        ValueError,
        RuntimeError,
        EOFError,
        AttributeError,
        RecursionError,
        TokenError,
    ) as e:  # TokenError: numpy reads a .npy header with `tokenize`
        # EOFError: an empty .npy; AttributeError: a meta.json field of the wrong type.
        raise IndexFormatError(f"{d}: corrupt index: {type(e).__name__}: {e}") from e
    if (
        index._vectors.shape != (len(index._ids), index.embedder.dim)
        or set(index._ids.tolist()) != set(index.chunks)
        or index._dense.ntotal != len(index._ids) + len(index._dense_removed)
    ):
        raise IndexFormatError(f"{d}: corrupt index: vectors, ids and chunks do not match")
    if not _files_fit(index.files, set(index.chunks)):
        # A search never reads them, an update does (and ended in a traceback there).
        raise IndexFormatError(f"{d}: corrupt index: its files do not name its chunks (meta.json)")
    return index


def _files_fit(files: Any, chunk_ids: set[int]) -> bool:
    """Whether meta.json's files are each ``{"hash": str, "ids": [ids of its chunks]}``. (Not
    that they name every chunk: two files whose names print alike leave one's unnamed, in an
    index that searches as it should.)"""
    if not isinstance(files, dict):
        return False
    for entry in files.values():
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            return False
        ids = entry.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return False
        if not chunk_ids.issuperset(ids):
            return False
    return True
