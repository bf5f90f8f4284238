# Typed surface of the native module: MinHash dedup entries (other modules add theirs).
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_Langs = str | Sequence[str | None] | None

def minhash_signatures(
    texts: Sequence[str],
    languages: _Langs = None,
    num_perm: int = 256,
    ngram: int = 5,
    seed: int = 1,
    scheme: str = "bucket",
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def minhash_signatures_from_hashes(
    hashes: npt.NDArray[np.uint64],
    offsets: npt.NDArray[np.uint64],
    num_perm: int = 256,
    seed: int = 1,
    scheme: str = "bucket",
) -> npt.NDArray[np.uint32]: ...
def shingle_hashes(
    text: str, language: str | None = None, ngram: int = 5, unique: bool = True
) -> npt.NDArray[np.uint64]: ...
def lsh_params(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]: ...
def lsh_band_keys(
    signatures: npt.NDArray[np.uint32], bands: int, rows: int
) -> npt.NDArray[np.uint64]: ...
def lsh_edges(
    signatures: npt.NDArray[np.uint32],
    bands: int,
    rows: int,
    active: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.uint32]: ...
def exact_jaccard_pairs(
    texts: Sequence[str],
    pairs: npt.NDArray[np.uint32],
    languages: _Langs = None,
    ngram: int = 5,
) -> npt.NDArray[np.float64]: ...
def connected_components(n: int, edges: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]: ...
def content_hashes(
    texts: Sequence[str], normalize_whitespace: bool = False
) -> npt.NDArray[np.uint64]: ...
