"""Embedders for the code index: built-in (no weights), ONNX Runtime, sentence-transformers.

An embedder is named by a spec string, which the index stores so that a saved index embeds
its queries the same way it embedded its chunks:

- ``builtin`` (or ``builtin:DIM``): character trigrams of identifier parts, the first line
  (the chunk's path and symbol) weighted up, the 64 heaviest features feature-hashed and
  L2-normalised, computed in Rust. Works out of the box, air-gapped. Built to complement
  the keyword side (whole terms) rather than repeat it, so that rank fusion gains.
- ``onnx:DIR``: any model directory with ``model.onnx`` and ``tokenizer.json``. Texts are
  tokenized and packed into token-budgeted batches in Rust; token outputs are mean-pooled.
- ``st-dir:DIR``: a sentence-transformers directory (BERT family, safetensors), turned into
  an ONNX graph by :mod:`codemill.index.st_model` and run with ONNX Runtime; no torch.
- ``sentence-transformers:NAME``: when the user has the package (and the model) installed.

The two ONNX embedders run through :mod:`codemill.index.pipeline` (tokenizer and model
overlapped, one worker per ONNX Runtime session).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from codemill import _core, _numpy_api
from codemill.errors import ModelDirError
from codemill.index.pipeline import DEFAULT_GROUP, PipelineStats, run_pipeline

_numpy_api.load()  # before the first array the core makes here (see the module)

DEFAULT_DIM = 384
MAX_DIM = 1 << 16  # the largest built-in vector a chunk gets (256 KiB of float32)


class Embedder(Protocol):
    spec: str
    dim: int
    # Dense hits scoring below this cosine are dropped as noise.
    min_score: float

    def embed(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        """An (n, dim) float32 array of L2-normalised rows."""
        ...


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class BuiltinEmbedder:
    """Hashed character trigrams of identifier parts, first line weighted (no weights to load,
    deterministic)."""

    # With hashed features, unrelated texts still share a few colliding buckets (one shared
    # bucket between a short query and a short chunk already gives ~0.1), and a query that
    # matches nothing should get nothing back. On the docstring -> function benchmark raising
    # the floor from 0.1 to 0.2 moved no score by more than 0.0001.
    min_score = 0.2
    # Hybrid search: RRF with the two sides even (what the built-in embedder was tuned for).
    fusion = "rrf"
    dense_weight = 0.5

    def __init__(self, dim: int = DEFAULT_DIM, num_threads: int | None = None) -> None:
        if not 1 <= dim <= MAX_DIM:  # (builtin:2**64 said "Maximum allowed dimension exceeded")
            raise ValueError(f"builtin embedder: the dimension must be from 1 to {MAX_DIM}, got {dim}")
        self.dim = dim
        self.num_threads = num_threads
        self.spec = "builtin" if dim == DEFAULT_DIM else f"builtin:{dim}"

    def embed(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        langs = None if languages is None else [_scanner_language(lang) for lang in languages]
        return _core.embed_hashed(list(texts), langs, self.dim, self.num_threads)


def _scanner_language(language: str | None) -> str | None:
    # The scanner knows language families; names it does not know get its generic table.
    if language in (None, "generic"):
        return None
    return "typescript" if language == "tsx" else language


def _sessions(model: str | bytes, num_threads: int | None, sessions: int | None) -> list[Any]:
    """ONNX Runtime sessions sharing ``num_threads`` cores (all by default), one by default.

    On 2 quiet cores one two-threaded session and two single-threaded sessions on separate
    batches ran alike (36.5 and 36.8 chunks/s median of 5, all-MiniLM-L6-v2 on 1,248 stdlib
    chunks, benches/bench_embed.py, neither spinning), at 666 MB peak RSS against 1,053 MB (each
    session holds its own weights and arenas); ``sessions`` > 1 stays available for more cores.
    """
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ModelDirError("ONNX embedders need onnxruntime: pip install 'codemill[index]'") from e
    cores = num_threads or os.cpu_count() or 1
    n = max(1, min(sessions or 1, cores))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, cores // n)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # One session: its workers spin between the graph's many short kernels instead of sleeping
    # and waking (+10%: 37.0 -> 40.9 chunks/s, median of 3, 600 stdlib chunks on 2 quiet cores;
    # the tokenizer thread needs ~1% of the time). Several sessions must not spin: each
    # needs the cores the others' idle workers would burn.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if n == 1 else "0")
    return [ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]) for _ in range(n)]


# How a trained model's dense side fuses with BM25 in hybrid search. With all-MiniLM-L6-v2
# dense beat keyword by far (docstring -> function MRR@10 0.54 against 0.33 on stdlib
# files); there RRF at any dense share up to 0.8 fell below dense alone, while weighted fusion
# at 0.7 beat both sides, and did on a second repository too (benches/bench_index.py, README).
TRAINED_FUSION = "weighted"
TRAINED_DENSE_WEIGHT = 0.7


class _OnnxPipelineEmbedder(ABC):
    """Shared by the ONNX embedders: Rust batches -> ONNX Runtime sessions, overlapped."""

    # A trained model's similarities carry meaning at any level: no noise floor.
    min_score = -1.0
    fusion = TRAINED_FUSION
    dense_weight = TRAINED_DENSE_WEIGHT
    spec: str
    dim: int
    batcher: Any
    sessions: list[Any]
    progress: bool = False
    lowercase: bool = False
    group_size: int = DEFAULT_GROUP

    @abstractmethod
    def _run(self, session: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The (rows, dim) float32 outputs of one padded batch on one session."""

    def embed(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        if self.lowercase:
            texts = [t.lower() for t in texts]
        out, stats = run_pipeline(
            texts, self.batcher, self.sessions, self._run, self.dim, group_size=self.group_size, progress=self.progress
        )
        self.last_stats: PipelineStats = stats
        return _normalize(out)


class OnnxEmbedder(_OnnxPipelineEmbedder):
    """A transformer encoder exported to ONNX (``model.onnx`` + ``tokenizer.json`` in one dir).

    Batches come from Rust (longest first, under ``max_tokens`` per batch); the first output
    is mean-pooled over the attention mask when it is per-token, used as is when pooled.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        max_length: int = 256,
        max_tokens: int = 8192,
        max_batch_size: int = 32,
        num_threads: int | None = None,
        sessions: int | None = None,
    ) -> None:
        model_dir = Path(model_dir)
        model_path, tok_path = model_dir / "model.onnx", model_dir / "tokenizer.json"
        for p in (model_path, tok_path):
            if not p.is_file():
                raise ModelDirError(f"{p}: missing (an ONNX model directory needs model.onnx and tokenizer.json)")
        self.spec = f"onnx:{os.path.abspath(model_dir)}"  # as typed, an index elsewhere lost its model
        self.batcher = _core.EmbeddingBatcher(str(tok_path), max_length, max_tokens, max_batch_size)
        self.sessions = _sessions(str(model_path), num_threads, sessions)
        self.input_names = {i.name for i in self.sessions[0].get_inputs()}
        self.num_threads = num_threads
        dim = self.sessions[0].get_outputs()[0].shape[-1]
        self.dim = dim if isinstance(dim, int) else 0
        if not self.dim:
            self.dim = int(self._run(self.sessions[0], np.ones((1, 1), np.int64), np.ones((1, 1), np.int64)).shape[1])

    def _run(self, session: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        y = np.asarray(session.run(None, feeds)[0], dtype=np.float32)
        if y.ndim == 3:
            m = mask[:, :, None].astype(np.float32)
            y = (y * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
        return y


class StDirEmbedder(_OnnxPipelineEmbedder):
    """A sentence-transformers directory (BERT family) run with ONNX Runtime, no torch.

    Same tokens as sentence-transformers (the directory's ``tokenizer.json``, its
    ``max_seq_length``, lower-casing when the directory asks for it), same pooling and
    normalisation, computed by one ONNX graph built from the safetensors weights.
    ``max_batch_size`` rows and ``max_tokens`` cells bound each batch (defaults: 32 rows,
    as sentence-transformers' ``encode``, times the longest sequence).
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        max_batch_size: int = 32,
        max_tokens: int | None = None,
        num_threads: int | None = None,
        sessions: int | None = None,
    ) -> None:
        from codemill.index.st_model import build_graph, load_st_dir

        model = load_st_dir(Path(model_dir))
        self.spec = f"st-dir:{os.path.abspath(model_dir)}"  # as typed, an index elsewhere lost its model
        self.model_dir = model.path
        try:
            self.batcher = _core.EmbeddingBatcher(
                str(model.tokenizer_path),
                model.max_seq_length,
                max_tokens or max_batch_size * model.max_seq_length,
                max_batch_size,
            )
        except _core.CodemillError as e:
            raise ModelDirError(str(e)) from e
        if self.batcher.vocab_size > model.vocab_size:
            raise ModelDirError(
                f"{model.tokenizer_path}: tokenizer has {self.batcher.vocab_size} tokens but "
                f"{model.weights_path.name} embeds {model.vocab_size} "
                "(tokenizer and weights belong to different models)"
            )
        self.sessions = _sessions(build_graph(model).SerializeToString(), num_threads, sessions)
        self.num_threads = num_threads
        self.dim = model.hidden_size
        self.lowercase = model.do_lower_case

    def _run(self, session: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"input_ids": ids, "attention_mask": mask})[0], dtype=np.float32)


class SentenceTransformerEmbedder:
    min_score = -1.0
    fusion = TRAINED_FUSION
    dense_weight = TRAINED_DENSE_WEIGHT

    """A sentence-transformers model, when the package and the model are installed locally."""

    def __init__(self, name: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ValueError(f"embedder sentence-transformers:{name} needs the sentence-transformers package") from e
        self.spec = f"sentence-transformers:{name}"
        self.model = SentenceTransformer(name)
        self.dim = int(self.model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        y = self.model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)
        return _normalize(np.asarray(y).reshape(len(texts), self.dim))


def make_embedder(spec: str | Embedder | None = None, num_threads: int | None = None) -> Embedder:
    """The embedder a spec string names (an Embedder object is returned as is)."""
    if spec is None:
        return BuiltinEmbedder(num_threads=num_threads)
    if not isinstance(spec, str):
        return spec
    kind, _, arg = spec.partition(":")
    if kind == "builtin":
        if not arg:
            return BuiltinEmbedder(num_threads=num_threads)
        if not arg.isdigit():
            raise ValueError(f"embedder {spec!r}: builtin takes a dimension, e.g. builtin:512")
        return BuiltinEmbedder(int(arg), num_threads=num_threads)
    if kind == "onnx" and arg:
        return OnnxEmbedder(arg, num_threads=num_threads)
    if kind == "st-dir" and arg:
        return StDirEmbedder(arg, num_threads=num_threads)
    if kind == "sentence-transformers" and arg:
        return SentenceTransformerEmbedder(arg)
    raise ValueError(f"unknown embedder {spec!r}; use builtin, onnx:DIR, st-dir:DIR or sentence-transformers:NAME")
