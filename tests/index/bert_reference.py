"""A tiny random BERT sentence-transformers directory, and a NumPy reference of its encoder.

The reference follows Hugging Face's BertModel and sentence-transformers' Pooling and
Normalize line by line, in float64, with its own tokenization (the HF ``tokenizers``
package, the file's padding and truncation switched off, cut at ``max_seq_length``), so it
checks the ONNX graph and codemill's Rust batcher together.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

WORDS = ["def", "return", "user", "id", "get", "parse", "json", "load", "file", "sum", "add", "numbers", "the", "a"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_tokenizer(path: Path, extra_tokens: int = 0) -> int:
    """A BERT WordPiece tokenizer.json; its vocabulary size. Like exported files, it pads to
    a fixed length and truncates at 8 (codemill must ignore both)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    pieces = [*SPECIALS, *WORDS, *"abcdefghijklmnopqrstuvwxyz_.():=+0123456789"]
    pieces += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz_0123456789"]
    pieces += [f"extra{i}" for i in range(extra_tokens)]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(pieces))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tok.enable_truncation(8)
    tok.enable_padding(length=8, pad_id=0, pad_token="[PAD]")
    tok.save(str(path))
    return len(vocab)


def write_tiny_bert(
    root: Path,
    *,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 4,
    intermediate: int = 64,
    max_seq_length: int = 24,
    pooling: str = "mean",
    normalize: bool = True,
    seed: int = 0,
) -> Path:
    """A sentence-transformers directory holding a random BERT (written by the test)."""
    from safetensors.numpy import save_file

    root.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(root / "tokenizer.json")
    rng = np.random.default_rng(seed)

    def rand(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": rand(vocab_size, hidden),
        "embeddings.position_embeddings.weight": rand(64, hidden),
        "embeddings.token_type_embeddings.weight": rand(2, hidden),
        "embeddings.LayerNorm.weight": 1 + rand(hidden, scale=0.1),
        "embeddings.LayerNorm.bias": rand(hidden, scale=0.1),
        "embeddings.position_ids": np.arange(64, dtype=np.int64)[None],  # as HF saves it
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[f"{p}{n}.weight"] = rand(hidden, hidden)
            w[f"{p}{n}.bias"] = rand(hidden, scale=0.1)
        w[f"{p}intermediate.dense.weight"] = rand(intermediate, hidden)
        w[f"{p}intermediate.dense.bias"] = rand(intermediate, scale=0.1)
        w[f"{p}output.dense.weight"] = rand(hidden, intermediate)
        w[f"{p}output.dense.bias"] = rand(hidden, scale=0.1)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}{ln}.weight"] = 1 + rand(hidden, scale=0.1)
            w[f"{p}{ln}.bias"] = rand(hidden, scale=0.1)
    save_file(w, str(root / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "vocab_size": vocab_size,
        "position_embedding_type": "absolute",
    }
    (root / "config.json").write_text(json.dumps(config))
    (root / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir(exist_ok=True)
    pool_cfg = {"word_embedding_dimension": hidden, "pooling_mode_cls_token": pooling == "cls"}
    pool_cfg |= {f"pooling_mode_{m}_tokens": pooling == m for m in ("mean", "max", "mean_sqrt_len")}
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pool_cfg))
    return root


def reference_embed(root: Path, texts: list[str]) -> np.ndarray:
    """sentence-transformers' encode of ``texts`` for the directory, in float64 NumPy."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    config = json.loads((root / "config.json").read_text())
    max_len = json.loads((root / "sentence_bert_config.json").read_text())["max_seq_length"]
    pool_cfg = json.loads((root / "1_Pooling" / "config.json").read_text())
    normalize = "Normalize" in (root / "modules.json").read_text()
    w = {k: v.astype(np.float64) for k, v in load_file(str(root / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(root / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_len)
    heads, eps = config["num_attention_heads"], config["layer_norm_eps"]
    out = []
    for text in texts:
        ids = np.array(tok.encode(text).ids)
        out.append(_sentence(w, ids, heads, eps, config["num_hidden_layers"], pool_cfg, normalize))
    return np.stack(out)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _sentence(
    w: dict[str, np.ndarray], ids: np.ndarray, heads: int, eps: float, layers: int, pool: dict, normalize: bool
) -> np.ndarray:
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    hidden = x.shape[1]
    d = hidden // heads
    for i in range(layers):
        p = f"encoder.layer.{i}."

        def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return v @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

        q, k, v = (
            lin(x, f"attention.self.{m}").reshape(n, heads, d).transpose(1, 0, 2) for m in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = lin(ctx.transpose(1, 0, 2).reshape(n, hidden), "attention.output.dense")
        x = _layer_norm(
            attn + x, w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"], eps
        )
        ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
        x = _layer_norm(ff + x, w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"], eps)
    if pool["pooling_mode_cls_token"]:
        s = x[0]
    elif pool["pooling_mode_max_tokens"]:
        s = x.max(0)
    elif pool["pooling_mode_mean_sqrt_len_tokens"]:
        s = x.sum(0) / math.sqrt(n)
    else:
        s = x.mean(0)
    return s / max(float(np.linalg.norm(s)), 1e-12) if normalize else s
