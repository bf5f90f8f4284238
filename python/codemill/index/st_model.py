"""Sentence-transformers directories as ONNX graphs: BERT-family sentence encoders without torch.

A sentence-transformers directory holds ``modules.json`` (Transformer -> Pooling [->
Normalize]), the Transformer's ``config.json``, ``model.safetensors`` and ``tokenizer.json``
(at the directory root or in the Transformer module's folder), ``sentence_bert_config.json``
(``max_seq_length``, ``do_lower_case``) and the Pooling module's ``config.json``.

:func:`load_st_dir` reads and checks the directory (one :class:`ModelDirError` naming the
file for anything missing or unsupported); :func:`build_graph` turns it into one ONNX graph,
``input_ids`` + ``attention_mask`` (int64, right-padded) -> ``sentence_embedding`` (pooled, and
L2-normalised when the directory has a Normalize module). The encoder layers use ONNX
Runtime's fused CPU kernels (``com.microsoft`` Attention, SkipLayerNormalization, BiasGelu):
one kernel per attention block instead of a dozen reshapes, transposes and softmax nodes.
Weights are read from safetensors with NumPy; nothing here imports torch.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codemill.errors import ModelDirError

# Architectures whose weights map onto the graph below (HF model_type).
SUPPORTED_MODEL_TYPES = ("bert",)
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")
_MODULES = {
    "sentence_transformers.models.Transformer": "transformer",
    "sentence_transformers.models.Pooling": "pooling",
    "sentence_transformers.models.Normalize": "normalize",
}
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16, "I64": np.int64}


@dataclass
class StModel:
    """A checked sentence-transformers directory, its weights as float32 arrays."""

    path: Path
    tokenizer_path: Path
    weights_path: Path
    hidden_size: int
    num_layers: int
    num_heads: int
    layer_norm_eps: float
    max_position_embeddings: int
    vocab_size: int
    max_seq_length: int
    do_lower_case: bool
    pooling: str
    normalize: bool
    weights: dict[str, np.ndarray] = field(repr=False)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelDirError(f"{path}: missing (a sentence-transformers directory needs it)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelDirError(f"{path}: unreadable JSON: {e}") from e


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a float32 (or int64) array."""
    if not path.is_file():
        raise ModelDirError(f"{path}: missing (the model's weights; only safetensors are read, no torch)")
    data = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        out: dict[str, np.ndarray] = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = _DTYPES[info["dtype"]]
            begin, end = info["data_offsets"]
            raw = np.frombuffer(
                data, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize, offset=8 + n + begin
            )
            if info["dtype"] == "BF16":  # bfloat16 is the high half of a float32
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            out[name] = raw.reshape(info["shape"]).astype(np.float32 if raw.dtype.kind == "f" else raw.dtype)
    except KeyError as e:
        raise ModelDirError(f"{path}: unsupported tensor dtype or corrupt header ({e})") from e
    except (struct.error, ValueError, TypeError, UnicodeDecodeError) as e:
        raise ModelDirError(f"{path}: not a safetensors file: {e}") from e
    return out


def load_st_dir(path: str | Path) -> StModel:
    """Reads and checks a sentence-transformers directory."""
    root = Path(path)
    if not root.is_dir():
        raise ModelDirError(f"{root}: not a directory (a sentence-transformers model directory is expected)")
    modules_path = root / "modules.json"
    modules = _read_json(modules_path)
    kinds: dict[str, str] = {}
    for m in modules if isinstance(modules, list) else []:
        kind = _MODULES.get(m.get("type", "")) if isinstance(m, dict) else None
        if kind is None:
            raise ModelDirError(f"{modules_path}: module {m!r} is not supported (Transformer, Pooling, Normalize)")
        kinds[kind] = str(m.get("path", ""))
    if "transformer" not in kinds or "pooling" not in kinds:
        raise ModelDirError(f"{modules_path}: needs a Transformer and a Pooling module")
    tdir = root / kinds["transformer"]
    config_path = tdir / "config.json"
    config = _read_json(config_path)
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelDirError(
            f"{config_path}: architecture {model_type!r} is not supported "
            f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if config.get("position_embedding_type", "absolute") != "absolute" or config.get("hidden_act", "gelu") != "gelu":
        raise ModelDirError(
            f"{config_path}: only absolute position embeddings and the erf gelu are supported "
            f"(found {config.get('position_embedding_type')!r}, {config.get('hidden_act')!r})"
        )
    st_config = tdir / "sentence_bert_config.json"
    st = _read_json(st_config) if st_config.is_file() else {}
    pooling = _pooling_mode(root / kinds["pooling"] / "config.json")
    tokenizer_path = tdir / "tokenizer.json"
    if not tokenizer_path.is_file():
        raise ModelDirError(f"{tokenizer_path}: missing (the model's Hugging Face tokenizer)")
    weights_path = tdir / "model.safetensors"
    try:
        hidden, layers, heads = (
            int(config["hidden_size"]),
            int(config["num_hidden_layers"]),
            int(config["num_attention_heads"]),
        )
        max_pos = int(config["max_position_embeddings"])
        eps = float(config.get("layer_norm_eps", 1e-12))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelDirError(f"{config_path}: incomplete BERT config: {e}") from e
    if heads < 1 or hidden % heads:
        raise ModelDirError(f"{config_path}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
    weights = _bert_weights(weights_path, hidden, layers, config.get("intermediate_size"))
    return StModel(
        path=root,
        tokenizer_path=tokenizer_path,
        weights_path=weights_path,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        layer_norm_eps=eps,
        max_position_embeddings=max_pos,
        vocab_size=int(weights["embeddings.word_embeddings.weight"].shape[0]),
        max_seq_length=min(int(st.get("max_seq_length") or max_pos), max_pos),
        do_lower_case=bool(st.get("do_lower_case", False)),
        pooling=pooling,
        normalize="normalize" in kinds,
        weights=weights,
    )


def _pooling_mode(path: Path) -> str:
    cfg = _read_json(path)
    on = [m for m in POOLING_MODES if cfg.get(f"pooling_mode_{m}_tokens" if m != "cls" else "pooling_mode_cls_token")]
    others = [
        k
        for k, v in cfg.items()
        if k.startswith("pooling_mode_")
        and v
        and not any(k.endswith(f"{m}_tokens") or k == "pooling_mode_cls_token" for m in on)
    ]
    if len(on) != 1 or others:
        raise ModelDirError(f"{path}: pooling must be exactly one of {', '.join(POOLING_MODES)} (found {on + others})")
    return on[0]


def _bert_weights(path: Path, hidden: int, layers: int, intermediate: Any) -> dict[str, np.ndarray]:
    raw = read_safetensors(path)
    # BertModel saves bare names; BertFor* heads prefix them with "bert."
    weights = {k.removeprefix("bert."): v for k, v in raw.items()}
    expect: dict[str, tuple[int, ...] | None] = {
        "embeddings.word_embeddings.weight": None,
        "embeddings.position_embeddings.weight": None,
        "embeddings.token_type_embeddings.weight": None,
        "embeddings.LayerNorm.weight": (hidden,),
        "embeddings.LayerNorm.bias": (hidden,),
    }
    inter = int(intermediate) if intermediate else 4 * hidden
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            expect[f"{p}{name}.weight"] = (hidden, hidden)
            expect[f"{p}{name}.bias"] = (hidden,)
        expect[f"{p}intermediate.dense.weight"] = (inter, hidden)
        expect[f"{p}intermediate.dense.bias"] = (inter,)
        expect[f"{p}output.dense.weight"] = (hidden, inter)
        expect[f"{p}output.dense.bias"] = (hidden,)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            expect[f"{p}{ln}.weight"] = (hidden,)
            expect[f"{p}{ln}.bias"] = (hidden,)
    for name, shape in expect.items():
        w = weights.get(name)
        if w is None:
            raise ModelDirError(f"{path}: tensor {name!r} is missing (not a BERT encoder of this config)")
        if (shape is not None and w.shape != shape) or (shape is None and (w.ndim != 2 or w.shape[1] != hidden)):
            raise ModelDirError(
                f"{path}: tensor {name!r} has shape {w.shape}, the config needs {shape or ('*', hidden)}"
            )
    return {k: weights[k] for k in expect}


def build_graph(model: StModel) -> Any:
    """The ONNX graph (an ``onnx.ModelProto``) computing the directory's sentence embeddings."""
    from onnx import TensorProto, helper, numpy_helper

    w = model.weights
    h = model.hidden_size
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        # ascontiguousarray would turn a scalar into shape (1,): Gather needs a true scalar.
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value) if value.ndim else value, name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attrs))
        return output

    # Embeddings: word + position + token type 0 (sentence encoders feed one segment), then
    # LayerNorm. Position and type rows are summed once here rather than per call.
    pos_type = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    const("word_emb", w["embeddings.word_embeddings.weight"])
    const("pos_type_emb", pos_type.astype(np.float32))
    const("zero", np.array([0], dtype=np.int64))
    const("one", np.array([1], dtype=np.int64))
    const("two", np.array([2], dtype=np.int64))
    seq = node("Slice", [node("Shape", ["input_ids"], "ids_shape"), "one", "two", "zero"], "seq_len")
    pos = node("Slice", ["pos_type_emb", "zero", seq, "zero"], "pos_rows")
    x = node("Add", [node("Gather", ["word_emb", "input_ids"], "word_rows", axis=0), pos], "emb_sum")
    x = node(
        "LayerNormalization",
        [x, const("emb_ln_w", w["embeddings.LayerNorm.weight"]), const("emb_ln_b", w["embeddings.LayerNorm.bias"])],
        "emb_out",
        axis=-1,
        epsilon=model.layer_norm_eps,
    )
    mask32 = node("Cast", ["attention_mask"], "mask_i32", to=TensorProto.INT32)

    def dense_add_norm(h: str, residual: str, prefix: str, dense: str, norm: str) -> str:
        """BERT's ``dense`` then ``LayerNorm(. + residual)`` under ``prefix`` (after attention
        and after the feed-forward layer): a MatMul, then one fused SkipLayerNormalization
        that adds the dense bias and the residual."""
        proj = node("MatMul", [h, const(f"{dense}_w", w[f"{prefix}dense.weight"].T)], dense)
        return node(
            "SkipLayerNormalization",
            [
                proj,
                residual,
                const(f"{norm}_w", w[f"{prefix}LayerNorm.weight"]),
                const(f"{norm}_b", w[f"{prefix}LayerNorm.bias"]),
                const(f"{dense}_b", w[f"{prefix}dense.bias"]),
            ],
            norm,
            domain="com.microsoft",
            epsilon=model.layer_norm_eps,
        )

    for i in range(model.num_layers):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate([w[f"{p}attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")])
        attn = node(
            "Attention",
            [x, const(f"l{i}_qkv_w", qkv_w), const(f"l{i}_qkv_b", qkv_b), mask32],
            f"l{i}_attn",
            domain="com.microsoft",
            num_heads=model.num_heads,
        )
        x = dense_add_norm(attn, x, f"{p}attention.output.", f"l{i}_o", f"l{i}_ln1")
        up = node("MatMul", [x, const(f"l{i}_up_w", w[f"{p}intermediate.dense.weight"].T)], f"l{i}_up")
        act = node(
            "BiasGelu",
            [up, const(f"l{i}_up_b", w[f"{p}intermediate.dense.bias"])],
            f"l{i}_gelu",
            domain="com.microsoft",
        )
        x = dense_add_norm(act, x, f"{p}output.", f"l{i}_down", f"l{i}_ln2")
    pooled = _pool(model.pooling, x, node, const)
    if model.normalize:
        # sentence-transformers' Normalize: x / max(||x||, 1e-12)
        norm = node("ReduceL2", [pooled, const("axis1", np.array([1], dtype=np.int64))], "norm", keepdims=1)
        norm = node("Max", [norm, const("norm_eps", np.array(1e-12, dtype=np.float32))], "norm_clamped")
        pooled = node("Div", [pooled, norm], "normalized")
    node("Identity", [pooled], "sentence_embedding")
    graph = helper.make_graph(
        nodes,
        "st_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", h])],
        inits,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    )
    onnx_model.ir_version = 8
    return onnx_model


def _pool(mode: str, x: str, node: Any, const: Any) -> str:
    """sentence-transformers' Pooling over the last hidden state ``x`` (batch, seq, hidden)."""
    from onnx import TensorProto

    if mode == "cls":
        return node("Gather", [x, const("cls_index", np.array(0, dtype=np.int64))], "pooled", axis=1)
    m = node(
        "Cast",
        [node("Unsqueeze", ["attention_mask", const("axis2", np.array([2], dtype=np.int64))], "mask3")],
        "mask_f",
        to=TensorProto.FLOAT,
    )
    axis1 = const("pool_axis", np.array([1], dtype=np.int64))
    if mode == "max":
        # Padding set to -1e9 so it never wins (as sentence-transformers does).
        neg = node(
            "Mul",
            [
                node("Sub", [const("f_one", np.array(1.0, dtype=np.float32)), m], "mask_inv"),
                const("big_neg", np.array(-1e9, dtype=np.float32)),
            ],
            "pad_neg",
        )
        return node("ReduceMax", [node("Add", [x, neg], "masked"), axis1], "pooled", keepdims=0)
    total = node("ReduceSum", [node("Mul", [x, m], "masked"), axis1], "pool_sum", keepdims=0)
    count = node("ReduceSum", [m, axis1], "pool_count", keepdims=0)
    if mode == "mean":
        count = node("Max", [count, const("count_eps", np.array(1e-9, dtype=np.float32))], "pool_count_clamped")
    else:  # mean_sqrt_len
        count = node("Sqrt", [count], "pool_count_sqrt")
    return node("Div", [total, count], "pooled")
