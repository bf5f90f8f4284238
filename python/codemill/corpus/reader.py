"""Reading a token output directory back: the manifest, ``.npy`` shards, every document.

The directory is a local path or a URL prefix (``s3://bucket/prefix``), as `codemill tokenize`
writes either; a shard in a bucket is fetched whole (a local one is memory-mapped).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codemill.corpus.layout import MANIFEST_FORMAT, MANIFEST_NAME
from codemill.corpus.megatron import MegatronReader
from codemill.errors import CodemillError, InputNotFoundError
from codemill.sources.fs import file_bytes, is_url, join

if TYPE_CHECKING:
    import numpy as np


def read_manifest(outdir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a run (``complete`` says whether it finished); one clear error where
    there is none, or it is damaged or of another format."""
    path = join(_directory(outdir), MANIFEST_NAME)
    try:
        manifest = json.loads(file_bytes(path))
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no manifest (not a codemill token directory?)") from None
    except OSError as exc:
        raise CodemillError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CodemillError(f"{path}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CodemillError(f"{path}: manifest format {found!r} is not {MANIFEST_FORMAT!r}")
    return manifest


def _directory(outdir: str | os.PathLike[str]) -> Path | str:
    """An output directory as a local path, or as the URL it is (never a local path spelled
    ``s3:/...``)."""
    return outdir if isinstance(outdir, str) and is_url(outdir) else Path(outdir)


def read_npy_shard(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, document start offsets with the end appended) of an `.npy` shard: the tokens
    memory-mapped from a local file, fetched whole from a URL."""
    import io

    import numpy as np  # here, not at import: writing shards (`codemill tokenize`) needs none

    def load(name: Path | str, mmap_mode: Literal["r"] | None) -> np.ndarray:
        try:
            if isinstance(name, str):
                return np.load(io.BytesIO(file_bytes(name)))
            return np.load(name, mmap_mode=mmap_mode)
        except (OSError, ValueError, EOFError) as exc:
            raise CodemillError(f"{name}: not a readable .npy array ({exc})") from None

    shard = _directory(path)
    tokens_name = os.path.basename(os.fspath(shard))
    docs = join(_directory(os.path.dirname(os.fspath(shard)) or "."), tokens_name[: -len(".npy")] + ".docs.npy")
    tokens, starts = load(shard, "r"), load(docs, None)
    if starts.ndim != 1 or not len(starts) or starts[0] != 0 or starts[-1] != len(tokens):
        raise CodemillError(f"{docs}: its document offsets do not end at the {len(tokens)} tokens of {tokens_name}")
    return tokens, starts


def iter_shard_documents(outdir: str | os.PathLike[str], *, keep_eot: bool = False) -> Iterator[np.ndarray]:
    """Every document's token ids in manifest order (without its trailing EOT by default)."""
    outdir = _directory(outdir)
    manifest = read_manifest(outdir)
    if not manifest.get("complete"):  # its shards are not all there
        path = join(outdir, MANIFEST_NAME)
        raise CodemillError(f"{path}: the run has not finished (killed?); run the same command again to finish it")
    cut = 0 if keep_eot else 1
    for shard in manifest["shards"]:
        if manifest["settings"]["format"] == "megatron":
            reader = MegatronReader(join(outdir, shard["name"]))
            for i in range(len(reader)):
                seq = reader[i]
                yield seq[: len(seq) - cut]
        else:
            tokens, starts = read_npy_shard(join(outdir, shard["files"][0]))
            for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
                yield tokens[a : b - cut]
