"""Typed surface of codemill's native core. Users import `codemill`, not this module."""

import os
from collections.abc import Sequence
from typing import Any, Literal, final, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "HEAD_BYTES",
    "MAX_NGRAM",
    "MAX_NUM_PERM",
    "SNIFF",
    "BaseTokenizer",
    "CodemillError",
    "EmbeddingBatcher",
    "FirstSeen",
    "ListingAhead",
    "RecordTexts",
    "Tokenizer",
    "TokenizerFileError",
    "bucket_pairs",
    "cap_malloc_arenas",
    "code_terms",
    "connected_components",
    "content_hashes",
    "count_pieces",
    "decode_code",
    "embed_hashed",
    "exact_jaccard_pairs",
    "identifier_parts",
    "keep_freed_memory",
    "list_dir",
    "lsh_band_keys",
    "lsh_edges",
    "lsh_pairs",
    "lsh_params",
    "minhash_signatures",
    "minhash_signatures_from_hashes",
    "pack_batches",
    "personalized_pagerank",
    "pretokenize",
    "read_code_files",
    "read_record_texts",
    "shingle_hashes",
    "signature_estimates",
]

class CodemillError(ValueError): ...
class TokenizerFileError(CodemillError): ...

@overload
def pretokenize(text: str, language: str | None = None, with_kinds: Literal[False] = False) -> list[str]: ...
@overload
def pretokenize(text: str, language: str | None, with_kinds: Literal[True]) -> list[tuple[str, str]]: ...
@overload
def pretokenize(text: str, language: str | None = None, *, with_kinds: Literal[True]) -> list[tuple[str, str]]: ...
def count_pieces(text: str, language: str | None = None) -> int: ...
def identifier_parts(identifier: str) -> list[str]: ...

class _Encoding:
    """The encode / decode methods both tokenizer classes have (rust/py/encoding.rs); a stub-only
    base: at run time each class carries them itself."""

    def token_bytes(self, id: int) -> bytes | None: ...
    def encode(self, text: str, language: str | None = None, allowed: list[bool] = ...) -> npt.NDArray[np.uint32]: ...
    def count(self, text: str, language: str | None = None, allowed: list[bool] = ...) -> int: ...
    def encode_batch(
        self,
        texts: list[str],
        languages: list[str | None] | None = None,
        allowed: list[bool] = ...,
        num_threads: int | None = None,
    ) -> list[npt.NDArray[np.uint32]]: ...
    def count_batch(
        self,
        texts: list[str],
        languages: list[str | None] | None = None,
        allowed: list[bool] = ...,
        num_threads: int | None = None,
    ) -> list[int]: ...
    def encode_batch_flat(
        self,
        texts: list[str],
        languages: list[str | None] | None = None,
        allowed: list[bool] = ...,
        num_threads: int | None = None,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64]]: ...
    def encode_batch_packed(
        self,
        texts: list[str],
        languages: list[str | None] | None = None,
        allowed: list[bool] = ...,
        num_threads: int | None = None,
        *,
        eot_id: int,
        width: int,
    ) -> tuple[bytes, list[int]]: ...
    def encode_files_packed(
        self,
        paths: Sequence[str | os.PathLike[str]],
        languages: Sequence[str | None],
        max_bytes: int,
        budget: int,
        allowed: list[bool] = ...,
        num_threads: int | None = None,
        *,
        eot_id: int,
        width: int,
    ) -> tuple[int, bytes, list[int], list[int], list[str | None]]: ...
    def encode_records_packed(
        self,
        lines: Sequence[bytes],
        fields: tuple[Sequence[str], Sequence[str], Sequence[str]],
        max_bytes: int,
        allowed: list[bool] = ...,
        num_threads: int | None = None,
        *,
        eot_id: int,
        width: int,
    ) -> tuple[bytes, list[int], list[int], list[str], list[str | None], list[int]]: ...
    def decode_bytes(self, ids: npt.NDArray[np.uint32]) -> bytes: ...

@final
class Tokenizer(_Encoding):
    @staticmethod
    def from_json(text: str) -> Tokenizer: ...
    def weighed_by(self, texts: list[str]) -> Tokenizer: ...
    @staticmethod
    def train(
        texts: list[str],
        languages: list[str | None],
        vocab_size: int,
        identifier_vocab_size: int,
        line_merge_fraction: float,
        min_frequency: int,
        special_tokens: list[str],
        metadata_json: str,
        num_threads: int | None = None,
    ) -> Tokenizer: ...
    @staticmethod
    def default_special_tokens() -> list[str]: ...
    def to_json(self) -> str: ...
    def metadata_json(self) -> str: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def identifier_vocab_size(self) -> int: ...
    @property
    def num_merges(self) -> int: ...
    @property
    def num_line_merges(self) -> int: ...
    @property
    def special_tokens(self) -> list[str]: ...
    def special_id(self, index: int) -> int: ...
    def token_to_id(self, token: bytes) -> int | None: ...
    def merges(self) -> list[tuple[int, int]]: ...

@final
class BaseTokenizer(_Encoding):
    def __new__(
        cls,
        tokens: Sequence[bytes | None],
        merges: Sequence[tuple[int, int]] | None,
        whole_first: bool,
        stages: Sequence[tuple[str, str]],
        added: Sequence[tuple[str, int, bool, bool]],
        extension: Sequence[tuple[str, int]],
    ) -> BaseTokenizer: ...
    @staticmethod
    def split_patterns() -> list[tuple[str, str]]: ...
    @staticmethod
    def known_pattern(pattern: str) -> str | None: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def base_size(self) -> int: ...
    @property
    def identifier_vocab_size(self) -> int: ...
    @property
    def special_tokens(self) -> list[str]: ...
    def special_id(self, index: int) -> int: ...
    def token_to_id(self, token: bytes) -> int | None: ...
    def token_lengths(self) -> npt.NDArray[np.uint32]: ...
    def pieces(self, text: str) -> list[str]: ...
    def identifier_candidates(
        self, texts: list[str], size: int, min_count: int = 2, num_threads: int | None = None
    ) -> list[tuple[str, int, int]]: ...

# ---- MinHash dedup ----

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
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]: ...
def lsh_band_keys(signatures: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]: ...
def lsh_edges(
    signatures: npt.NDArray[np.uint32],
    bands: int,
    rows: int,
    active: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.uint32]: ...
def lsh_pairs(
    signatures: npt.NDArray[np.uint32],
    bands: int,
    rows: int,
    active: npt.NDArray[np.bool_] | None = None,
    window: int = 64,
) -> tuple[npt.NDArray[np.uint32], int]: ...
def bucket_pairs(
    bands: npt.NDArray[np.uint32], keys: npt.NDArray[np.uint64], docs: npt.NDArray[np.uint32], window: int = 64
) -> tuple[npt.NDArray[np.uint32], int]: ...
def signature_estimates(
    signatures: npt.NDArray[np.uint32], pairs: npt.NDArray[np.uint32]
) -> npt.NDArray[np.float32]: ...
def exact_jaccard_pairs(
    texts: Sequence[str],
    pairs: npt.NDArray[np.uint32],
    languages: _Langs = None,
    ngram: int = 5,
) -> npt.NDArray[np.float64]: ...
def connected_components(n: int, edges: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]: ...
def content_hashes(texts: Sequence[str], normalize_whitespace: bool = False) -> npt.NDArray[np.uint64]: ...

@final
class FirstSeen:
    """The first document of each distinct content hash, across a corpus's batches."""
    def __init__(self) -> None: ...
    def __len__(self) -> int: ...
    def first(self, hashes: npt.NDArray[np.uint64], start: int) -> npt.NDArray[np.uint64]:
        """For documents ``start, start + 1, ...`` with ``hashes`` (`content_hashes`, ``(n, 2)``),
        each one's first document with its hash: itself for a new hash, else the earlier one."""

@final
class RecordTexts:
    """The texts of a batch of JSONL lines' records, read in the core for dedup (no Python string
    made of them): hashed and signed here."""
    def __len__(self) -> int: ...
    def insert(self, at: Sequence[int], texts: Sequence[str]) -> None:
        """Puts ``texts`` in their places: ``at``, ascending, are their indices once in."""
    def lengths(self) -> npt.NDArray[np.int64]: ...
    def content_hashes(self, normalize_whitespace: bool = False) -> npt.NDArray[np.uint64]: ...
    def minhash_signatures(
        self, indices: Sequence[int], num_perm: int = 256, ngram: int = 5, seed: int = 1, scheme: str = "bucket"
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...

def read_record_texts(
    lines: Sequence[bytes], fields: tuple[Sequence[str], Sequence[str], Sequence[str]], max_bytes: int
) -> tuple[RecordTexts, list[str | None], list[int]]:
    """JSONL lines' record texts, each line's skip reason (None: a record or a line left) and the
    lines left to the Python reader (`CodeTokenizer.encode_records_packed`'s rules)."""

# The corpus walk: one directory's (name, kind, size, stamp, language, head) entries, sorted by
# name as Python sorts; kind 0 other, 1 file, 2 directory, 3 link, 4 unreadable; a file's size
# and str(st_mtime_ns), else -1 and ""; the language a file's extension names (code_language of
# a UTF-8 name, "" for none), else None (not looked up); the first HEAD_BYTES of a file whose name
# has no extension (its shebang line), else None (or where it cannot be read). None if the
# directory cannot be listed.
HEAD_BYTES: int

def list_dir(path: str | os.PathLike[str]) -> list[tuple[str, int, int, str, str | None, bytes | None]] | None: ...

# Caps the malloc arenas this process creates from now on (glibc's mallopt M_ARENA_MAX);
# whether it was set (False where the allocator is not glibc's).
def cap_malloc_arenas(max: int) -> bool: ...

# Keeps freed memory in this process for reuse (glibc's mallopt M_MMAP_THRESHOLD and
# M_TRIM_THRESHOLD, in bytes); whether both were set.
def keep_freed_memory(mmap_threshold: int, trim_threshold: int) -> bool: ...

# The widest MinHash signature and the longest shingle (in pieces) the core makes.
MAX_NUM_PERM: int
MAX_NGRAM: int

# Code files as the corpus jobs read them: (text, None, UTF-8 bytes), or (None, skip reason, 0)
# for an empty, too large, binary (a NUL in the first SNIFF bytes), non-UTF-8, unreadable file
# or one that is not a regular file; the first path and those after it while the texts read
# hold under budget bytes.
SNIFF: int

def read_code_files(
    paths: Sequence[str | os.PathLike[str]], max_bytes: int, budget: int
) -> list[tuple[str | None, str | None, int]]: ...
def decode_code(data: bytes, max_bytes: int) -> tuple[str | None, str | None]: ...

@final
class ListingAhead:
    """list_dir, with the subtrees of each listing listed ahead on a thread of its own, except
    folders named one of ``names`` or ending in one of ``suffixes``, and the contents of a folder
    holding one of ``markers``."""
    def __new__(
        cls, names: Sequence[str] = ..., suffixes: Sequence[str] = ..., markers: Sequence[str] = ...
    ) -> ListingAhead: ...
    def list_dir(
        self, path: str | os.PathLike[str]
    ) -> list[tuple[str, int, int, str, str | None, bytes | None]] | None: ...
    def pass_over(self, path: str | os.PathLike[str]) -> None:
        """The walk passes over this directory: nothing in it is listed ahead any more."""

# Repository context: personalised PageRank over the saved ranking arrays.
def personalized_pagerank(
    n: int,
    src: bytes,
    dst: bytes,
    weight: bytes,
    seeds: Sequence[tuple[int, float]],
    damping: float = 0.85,
    max_iterations: int = 200,
    tolerance: float = 1e-08,
) -> bytes: ...

# Hybrid index: built-in embedder, identifier-aware terms, embedding batches.
_Batch = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]

def embed_hashed(
    texts: Sequence[str],
    languages: Sequence[str | None] | None = None,
    dim: int = 384,
    num_threads: int | None = None,
) -> npt.NDArray[np.float32]: ...
def code_terms(
    texts: Sequence[str],
    languages: Sequence[str | None] | None = None,
    num_threads: int | None = None,
) -> list[list[str]]: ...
def pack_batches(
    sequences: Sequence[npt.NDArray[np.uint32]],
    max_length: int = 512,
    max_tokens: int = 16384,
    max_batch_size: int = 64,
    pad_id: int = 0,
) -> tuple[list[_Batch], dict[str, Any]]: ...

@final
class EmbeddingBatcher:
    def __new__(
        cls,
        tokenizer_path: str | os.PathLike[str],
        max_length: int = 512,
        max_tokens: int = 16384,
        max_batch_size: int = 64,
    ) -> EmbeddingBatcher: ...
    @property
    def pad_id(self) -> int: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def max_length(self) -> int: ...
    def encode(self, texts: Sequence[str], num_threads: int | None = None) -> list[npt.NDArray[np.uint32]]: ...
    def batches(self, texts: Sequence[str], num_threads: int | None = None) -> tuple[list[_Batch], dict[str, Any]]: ...
