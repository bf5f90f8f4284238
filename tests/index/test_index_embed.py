"""Embedding batches (Rust), the built-in embedder, and the ONNX path with a tiny model built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from codemill import CodemillError, HybridIndex, _core
from codemill.errors import ModelDirError
from codemill.index.embed import BuiltinEmbedder, OnnxEmbedder, make_embedder

WORDS = [
    "get",
    "user",
    "by",
    "id",
    "parse",
    "json",
    "string",
    "load",
    "save",
    "file",
    "counter",
    "add",
    "words",
    "sum",
    "numbers",
]


def _tokenizer_json(path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(str(path))
    return path


def _tiny_model(model_dir: Path, dim: int = 16) -> Path:
    """A bag-of-words encoder: an embedding table looked up per token (per-token output)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model_dir.mkdir(parents=True, exist_ok=True)
    _tokenizer_json(model_dir / "tokenizer.json")
    rng = np.random.default_rng(0)
    table = rng.standard_normal((4 + len(WORDS), dim)).astype(np.float32)
    table[:4] = 0.0  # specials and padding carry no meaning
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"], axis=0)],
        "tiny",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", dim])],
        [numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(model_dir / "model.onnx"))
    return model_dir


def test_batcher_packs_under_budget_and_maps_back(tmp_path: Path):
    batcher = _core.EmbeddingBatcher(str(_tokenizer_json(tmp_path / "tokenizer.json")), 6, 16, 4)
    texts = ["get user", "parse json string load save file counter", "sum", "add words numbers", "id"]
    assert batcher.pad_id == 0
    ids = batcher.encode(texts)
    assert ids[0].tolist() == [2, 4, 5, 3]
    assert ids[1].tolist()[-1] == 3 and len(ids[1]) == 6  # truncated, closing [SEP] kept
    batches, stats = batcher.batches(texts)
    seen = []
    for input_ids, mask, indices in batches:
        assert input_ids.dtype == np.int64 and input_ids.shape == mask.shape
        assert input_ids.shape[0] * input_ids.shape[1] <= 16 and input_ids.shape[0] <= 4
        # The arrays wrap the Rust buffers (NumPy does not own them: no copy was made).
        assert input_ids.flags["C_CONTIGUOUS"] and not input_ids.flags["OWNDATA"]
        for row, m, i in zip(input_ids, mask, indices, strict=True):
            assert row[m == 1].tolist() == ids[i].tolist()
            assert (row[m == 0] == 0).all()
        seen.extend(indices.tolist())
    assert sorted(seen) == list(range(len(texts)))
    assert stats["texts"] == 5 and stats["truncated"] == 1
    assert stats["real_tokens"] == sum(len(x) for x in ids)
    assert stats["padded_tokens"] <= stats["naive_padded_tokens"]
    with pytest.raises(CodemillError, match="cannot load tokenizer"):
        _core.EmbeddingBatcher(str(tmp_path / "missing.json"))
    with pytest.raises(CodemillError, match="max_tokens"):
        _core.EmbeddingBatcher(str(tmp_path / "tokenizer.json"), 512, 100)


def test_pack_batches_with_codemill_token_ids(tok):
    texts = ["def f():\n    return 1\n" * n for n in (1, 9, 2, 30, 4, 1, 15, 3)]
    seqs = tok.encode_batch(texts, ["python"] * len(texts))
    batches, stats = _core.pack_batches(seqs, max_length=64, max_tokens=128, max_batch_size=4)
    assert sorted(i for b in batches for i in b[2].tolist()) == list(range(len(texts)))
    assert stats["waste"] < stats["naive_waste"]
    assert stats["truncated"] == sum(len(s) > 64 for s in seqs)


def test_builtin_embedder_is_normalised_and_deterministic():
    e = make_embedder("builtin:128")
    assert isinstance(e, BuiltinEmbedder) and e.spec == "builtin:128" and e.dim == 128
    v = e.embed(
        ["getUserById(id)", "def get_user_by_id(user_id): pass", "", "matrix inverse"],
        ["javascript", "python", None, None],
    )
    assert v.shape == (4, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[[0, 1, 3]], axis=1), 1.0, rtol=1e-5)
    assert not v[2].any()
    assert v[0] @ v[1] > 0.5 > abs(v[0] @ v[3])
    assert np.array_equal(
        v,
        e.embed(
            ["getUserById(id)", "def get_user_by_id(user_id): pass", "", "matrix inverse"],
            ["javascript", "python", None, None],
        ),
    )
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("word2vec")
    for dim in (0, 2**64):  # 2**64 said only "Maximum allowed dimension exceeded"
        with pytest.raises(ValueError, match=f"dimension must be from 1 to 65536, got {dim}"):
            make_embedder(f"builtin:{dim}")
    with pytest.raises(CodemillError, match="dim"):
        _core.embed_hashed(["x"], None, 0)


def test_onnx_embedder_and_index(tmp_path: Path):
    model_dir = _tiny_model(tmp_path / "model")
    e = make_embedder(f"onnx:{model_dir}")
    assert isinstance(e, OnnxEmbedder) and e.dim == 16
    texts = ["get user by id", "sum numbers", "get user by id parse json", "zzz"]
    v = e.embed(texts)
    assert v.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, rtol=1e-5)
    assert not v[3].any()  # only [UNK]: nothing to pool
    # Batching order never changes a text's vector.
    np.testing.assert_allclose(e.embed(texts[::-1])[::-1], v, atol=1e-6)
    assert e.last_stats.texts == 4
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def get_user(id):\n    return users[id]\n")
    (repo / "b.py").write_text("def sum_numbers(numbers):\n    return sum(numbers)\n")
    index = HybridIndex.build(repo, embedder=e)
    assert index.search("sum numbers", k=1, mode="dense")[0].chunk.path == "b.py"
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx")
    assert loaded.embedder.spec == f"onnx:{model_dir}"
    assert [r.chunk.path for r in loaded.search("get user", mode="dense")] == [
        r.chunk.path for r in index.search("get user", mode="dense")
    ]
    with pytest.raises(ModelDirError, match=r"model\.onnx"):
        OnnxEmbedder(tmp_path)
