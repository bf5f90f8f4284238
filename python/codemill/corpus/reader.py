"""Reading a token output directory back: the manifest, ``.npy`` shards, every document."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codemill.corpus.layout import MANIFEST_FORMAT, MANIFEST_NAME
from codemill.corpus.megatron import MegatronReader
from codemill.errors import CodemillError, InputNotFoundError

if TYPE_CHECKING:
    import numpy as np


def read_manifest(outdir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a run (``complete`` says whether it finished); one clear error where
    there is none, or it is damaged or of another format."""
    path = Path(outdir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
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


def read_npy_shard(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens memmap, document start offsets with the end appended) of an `.npy` shard."""
    import numpy as np  # here, not at import: writing shards (`codemill tokenize`) needs none

    def load(name: Path, mmap_mode: Literal["r"] | None) -> np.ndarray:
        try:
            return np.load(name, mmap_mode=mmap_mode)
        except (OSError, ValueError, EOFError) as exc:
            raise CodemillError(f"{name}: not a readable .npy array ({exc})") from None

    path = Path(path)
    docs = path.with_name(path.name[: -len(".npy")] + ".docs.npy")
    tokens, starts = load(path, "r"), load(docs, None)
    if starts.ndim != 1 or not len(starts) or starts[0] != 0 or starts[-1] != len(tokens):
        raise CodemillError(f"{docs}: its document offsets do not end at the {len(tokens)} tokens of {path.name}")
    return tokens, starts


def iter_shard_documents(outdir: str | os.PathLike[str], *, keep_eot: bool = False) -> Iterator[np.ndarray]:
    """Every document's token ids in manifest order (without its trailing EOT by default)."""
    outdir = Path(outdir)
    manifest = read_manifest(outdir)
    if not manifest.get("complete"):  # its shards are not all there
        path = outdir / MANIFEST_NAME
        raise CodemillError(f"{path}: the run has not finished (killed?); run the same command again to finish it")
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
