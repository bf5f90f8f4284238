"""Embedders for the code index: built-in (no weights), ONNX Runtime, sentence-transformers.

An embedder is named by a spec string, which the index stores so that a saved index embeds
its queries the same way it embedded its chunks:

- ``builtin`` (or ``builtin:DIM``): character trigrams of identifier parts, the first line
  (the chunk's path and symbol) weighted up, the 64 heaviest features feature-hashed and
  L2-normalised, computed in Rust. Works out of the box, air-gapped. Built to complement
  the keyword side (whole terms) rather than repeat it, so that rank fusion gains.
- ``onnx:DIR``: any model directory with ``model.onnx`` and ``tokenizer.json``. Texts are
  tokenized and packed into token-budgeted batches in Rust; token outputs are mean-pooled.
- ``sentence-transformers:NAME``: when the user has the package (and the model) installed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from codemill import _core

DEFAULT_DIM = 384


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

    def __init__(self, dim: int = DEFAULT_DIM, num_threads: int | None = None) -> None:
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


class OnnxEmbedder:
    # A trained model's similarities carry meaning at any level: no noise floor.
    min_score = -1.0

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
    ) -> None:
        model_dir = Path(model_dir)
        model_path, tok_path = model_dir / "model.onnx", model_dir / "tokenizer.json"
        for p in (model_path, tok_path):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: missing (an ONNX model directory needs model.onnx and tokenizer.json)")
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ValueError("the onnx embedder needs onnxruntime: pip install 'codemill[index]'") from e
        self.spec = f"onnx:{model_dir}"
        self.batcher = _core.EmbeddingBatcher(str(tok_path), max_length, max_tokens, max_batch_size)
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = num_threads
        self.session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.num_threads = num_threads
        shape = self.session.get_outputs()[0].shape
        dim = shape[-1]
        if not isinstance(dim, int):
            dim = int(self.embed(["x"]).shape[1])
        self.dim = dim
        self.last_stats: dict[str, Any] = {}

    def embed(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> np.ndarray:
        batches, stats = self.batcher.batches(list(texts), self.num_threads)
        self.last_stats = stats
        out: np.ndarray | None = None
        for ids, mask, indices in batches:
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            feeds = {k: v for k, v in feeds.items() if k in self.input_names}
            y = np.asarray(self.session.run(None, feeds)[0], dtype=np.float32)
            if y.ndim == 3:
                m = mask[:, :, None].astype(np.float32)
                y = (y * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
            if out is None:
                out = np.zeros((len(texts), y.shape[1]), dtype=np.float32)
            out[indices] = y
        if out is None:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        return _normalize(out)


class SentenceTransformerEmbedder:
    min_score = -1.0

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
    if kind == "sentence-transformers" and arg:
        return SentenceTransformerEmbedder(arg)
    raise ValueError(f"unknown embedder {spec!r}; use builtin, onnx:DIR or sentence-transformers:NAME")
