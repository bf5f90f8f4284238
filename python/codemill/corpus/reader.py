"""Reading a token output directory back: the manifest, ``.npy`` shards, every document."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemill.corpus.layout import MANIFEST_NAME
from codemill.corpus.megatron import MegatronReader
from codemill.errors import CodemillError, InputNotFoundError

if TYPE_CHECKING:
    import numpy as np


def read_manifest(outdir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(outdir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no manifest (not a codemill token directory?)") from None
    except ValueError as exc:
        raise CodemillError(f"{path}: corrupt manifest ({exc})") from None


def read_npy_shard(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens memmap, document start offsets with the end appended) of an `.npy` shard."""
    import numpy as np  # here, not at import: writing shards (`codemill tokenize`) needs none

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
