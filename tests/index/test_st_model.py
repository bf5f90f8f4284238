"""Sentence-transformers directories run without torch: the ONNX graph against a NumPy
reference on a tiny random BERT written here, determinism, errors, and the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bert_reference import reference_embed, write_tiny_bert, write_tokenizer
from codemill import HybridIndex, _core
from codemill.errors import ModelDirError
from codemill.index.embed import StDirEmbedder, make_embedder
from codemill.index.pipeline import run_pipeline
from codemill.index.st_model import load_st_dir, read_safetensors

TEXTS = [
    "def get_user(id): return users[id]",
    "sum numbers",
    "parse json file",
    "",
    "Load THE file and add 12 numbers",
    # Longer than max_seq_length (24): cut, closing [SEP] kept, as sentence-transformers does.
    " ".join(["def add(a, b): return a + b"] * 6),
    "qqq zzz",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("st") / "tiny")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "mean_sqrt_len"])
def test_graph_matches_numpy_reference(tmp_path: Path, pooling: str):
    root = write_tiny_bert(tmp_path / pooling, pooling=pooling, normalize=pooling != "max", seed=3)
    e = StDirEmbedder(root, max_batch_size=3)
    assert e.dim == 32 and e.spec == f"st-dir:{root}"
    got = run_pipeline(TEXTS, e.batcher, e.sessions, e._run, e.dim)[0]  # before the index's own normalising
    want = reference_embed(root, TEXTS)
    assert _cosines(got, want).min() >= 0.99999
    np.testing.assert_allclose(got, want, atol=2e-5)
    if pooling == "max":  # no Normalize module: the graph leaves norms alone
        assert not np.allclose(np.linalg.norm(got, axis=1), 1.0)


def test_batcher_ignores_the_files_padding_and_truncation(tiny: Path):
    # The tokenizer.json pads to 8 and cuts at 8; the model's max_seq_length is 24.
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(tiny / "tokenizer.json"))
    hf.no_padding()
    hf.enable_truncation(24)
    e = StDirEmbedder(tiny)
    ids = e.batcher.encode(TEXTS)
    assert [x.tolist() for x in ids] == [enc.ids for enc in hf.encode_batch(TEXTS)]
    assert max(len(x) for x in ids) == 24 > len(ids[1]) and ids[5][-1] == 3  # [SEP] kept
    e.embed(TEXTS)
    assert e.last_stats.truncated == 1 and e.last_stats.texts == len(TEXTS)
    assert e.last_stats.padded_tokens >= e.last_stats.real_tokens == sum(len(x) for x in ids)


def test_embeddings_identical_across_batch_sizes_threads_and_sessions(tiny: Path):
    texts = TEXTS * 30  # past the inline size: the threaded pipeline runs
    base = StDirEmbedder(tiny, max_batch_size=1, num_threads=1).embed(texts)
    for kw in (
        {"max_batch_size": 7, "num_threads": 2},
        {"max_batch_size": 64, "num_threads": 2, "sessions": 1},
        {"max_batch_size": 5, "max_tokens": 40, "num_threads": 2, "sessions": 2},
    ):
        e = StDirEmbedder(tiny, **kw)
        e.group_size = 50
        np.testing.assert_allclose(e.embed(texts), base, atol=1e-6, err_msg=str(kw))
    # The same text embeds the same wherever it sits.
    np.testing.assert_array_equal(base[: len(TEXTS)], base[len(TEXTS) : 2 * len(TEXTS)])


def test_pipeline_reports_and_raises(tiny: Path):
    e = StDirEmbedder(tiny, max_batch_size=4, num_threads=2, sessions=2)
    assert len(e.sessions) == 2
    texts = TEXTS * 20
    out, stats = run_pipeline(texts, e.batcher, e.sessions, e._run, e.dim, group_size=16, progress=True)
    assert stats.texts == len(texts) and stats.batches >= len(texts) // 4
    assert 0 <= stats.waste <= stats.naive_waste < 1
    assert stats.to_dict()["chunks_per_s"] > 0
    np.testing.assert_allclose(out, run_pipeline(texts, e.batcher, e.sessions, e._run, e.dim)[0], atol=1e-6)

    def fail(session: object, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        run_pipeline(texts, e.batcher, e.sessions, fail, e.dim, group_size=16)


def _copy(tiny: Path, dest: Path) -> Path:
    shutil.copytree(tiny, dest)
    return dest


def _one_line_error(root: Path, match: str) -> str:
    with pytest.raises(ModelDirError, match=match) as info:
        StDirEmbedder(root)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("missing", ["tokenizer.json", "model.safetensors", "config.json", "modules.json"])
def test_missing_file_is_named(tiny: Path, tmp_path: Path, missing: str):
    root = _copy(tiny, tmp_path / "m")
    (root / missing).unlink()
    assert str(root / missing) in _one_line_error(root, "missing")


def test_unsupported_architecture_names_config(tiny: Path, tmp_path: Path):
    root = _copy(tiny, tmp_path / "m")
    config = json.loads((root / "config.json").read_text())
    (root / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    assert "config.json" in _one_line_error(root, "architecture 'gpt2' is not supported")
    (root / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    _one_line_error(root, "gelu")
    (root / "config.json").write_text(json.dumps(config))
    (root / "modules.json").write_text(json.dumps([{"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    assert "modules.json" in _one_line_error(root, "Dense")


def test_tokenizer_mismatch_names_tokenizer(tiny: Path, tmp_path: Path):
    root = _copy(tiny, tmp_path / "m")
    write_tokenizer(root / "tokenizer.json", extra_tokens=40)
    assert "tokenizer.json" in _one_line_error(root, "tokenizer has .* tokens but model.safetensors embeds")
    (root / "tokenizer.json").write_text("{not json")
    assert "tokenizer.json" in _one_line_error(root, "tokenizer")


def test_corrupt_or_wrong_weights_are_named(tiny: Path, tmp_path: Path):
    root = _copy(tiny, tmp_path / "m")
    (root / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")
    assert "model.safetensors" in _one_line_error(root, "not a safetensors file")
    config = json.loads((tiny / "config.json").read_text())
    root2 = _copy(tiny, tmp_path / "m2")
    (root2 / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    assert "model.safetensors" in _one_line_error(root2, "encoder.layer.2")
    with pytest.raises(ModelDirError, match="not a directory"):
        make_embedder(f"st-dir:{tmp_path / 'nowhere'}")


def test_bfloat16_and_float16_weights_are_read(tmp_path: Path):
    from safetensors.numpy import save_file

    x = np.array([[1.5, -2.25], [0.0, 3.0]], dtype=np.float32)
    bf16 = (x.view(np.uint32) >> 16).astype(np.uint16)
    header = {"a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}
    raw = json.dumps(header).encode()
    (tmp_path / "bf.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + bf16.tobytes())
    np.testing.assert_array_equal(read_safetensors(tmp_path / "bf.safetensors")["a"], x)
    save_file({"b": x.astype(np.float16)}, str(tmp_path / "f16.safetensors"))
    got = read_safetensors(tmp_path / "f16.safetensors")["b"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, x)


def test_directory_settings_are_read(tmp_path: Path):
    root = write_tiny_bert(tmp_path / "t", max_seq_length=200, pooling="cls", normalize=False)
    m = load_st_dir(root)
    # max_seq_length never passes the position table (64 rows).
    assert (m.max_seq_length, m.pooling, m.normalize, m.do_lower_case) == (64, "cls", False, False)


def test_index_with_st_dir_reembeds_only_changed_chunks(tiny: Path, tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def get_user(id):\n    return users[id]\n\n\ndef load(file):\n    return parse(file)\n")
    (repo / "b.py").write_text("def sum_numbers(numbers):\n    return sum(numbers)\n")
    spec = f"st-dir:{tiny}"
    index = HybridIndex.build(repo, embedder=spec)
    assert index.report.embedded == index.report.chunks == len(index) == 3
    assert index.search("sum numbers", k=1)[0].chunk.path == "b.py"
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx")
    assert loaded.embedder.spec == spec
    # Edit one function of a.py: only that chunk goes through the model again.
    (repo / "a.py").write_text("def get_user(id):\n    return users[id]\n\n\ndef load(path):\n    return parse(path)\n")
    report = loaded.update(repo)
    assert (report.chunks, report.embedded, report.unchanged) == (2, 1, 1)
    fresh = HybridIndex.build(repo, embedder=spec)
    for q in ("load path", "get user", "sum numbers"):
        assert [r.chunk.to_dict() for r in loaded.search(q)] == [r.chunk.to_dict() for r in fresh.search(q)]
        np.testing.assert_allclose(
            [r.score for r in loaded.search(q, mode="dense")],
            [r.score for r in fresh.search(q, mode="dense")],
            atol=1e-6,
        )


def test_cli_indexes_with_st_dir(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from codemill.cli import main

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def get_user(id):\n    return users[id]\n")
    assert main(["index", str(repo), "-o", str(tmp_path / "idx"), "--embedder", f"st-dir:{tiny}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["embedder"] == f"st-dir:{tiny}" and report["embedded"] == 1
    assert main(["index", str(repo), "-o", str(tmp_path / "bad"), "--embedder", f"st-dir:{tmp_path}"]) != 0
    assert "modules.json: missing" in capsys.readouterr().err


def test_batcher_vocab_size(tiny: Path):
    assert _core.EmbeddingBatcher(str(tiny / "tokenizer.json")).vocab_size == load_st_dir(tiny).vocab_size


def test_hybrid_fusion_takes_the_embedders_dense_share(tiny: Path, tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for n, body in enumerate(
        [
            "def get_user(id):\n    return users[id]\n",
            "def sum_numbers(xs):\n    return sum(xs)\n",
            "def get_items(id):\n    return items[id]\n",  # a second keyword hit: its weight shows
        ]
    ):
        (repo / f"m{n}.py").write_text(body)
    index = HybridIndex.build(repo, embedder=f"st-dir:{tiny}")
    assert index.embedder.dense_weight > 0.5  # type: ignore[attr-defined]
    for fusion in ("rrf", "weighted"):
        default = [(r.chunk.path, r.score) for r in index.search("get user", fusion=fusion)]
        explicit = index.search("get user", fusion=fusion, dense_weight=index.embedder.dense_weight)  # type: ignore[attr-defined]
        assert default == [(r.chunk.path, r.score) for r in explicit]
        even = [(r.chunk.path, r.score) for r in index.search("get user", fusion=fusion, dense_weight=0.5)]
        assert even != default
    by_default = index.search("get user")
    assert by_default == index.search("get user", fusion="weighted", dense_weight=0.7)


def test_another_embedder_rebuilds_and_a_model_dir_is_kept_absolute(tiny: Path, tmp_path: Path, monkeypatch):
    # An update with another embedder kept the unchanged files' vectors of the old one (the
    # built-in and MiniLM both give 384 dims); a model directory named relative to the current
    # one was stored as typed, and the index failed anywhere else.
    from codemill.cli import main

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def get_user(id):\n    return users[id]\n")
    (repo / "b.py").write_text("def sum_numbers(xs):\n    return sum(xs)\n")
    shutil.copytree(tiny, tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    dim = make_embedder("st-dir:model").dim
    assert main(["index", "repo", "-o", "idx", "--embedder", f"builtin:{dim}", "--no-progress"]) == 0
    (repo / "c.py").write_text("def c():\n    return 3\n")
    assert main(["index", "repo", "-o", "idx", "--embedder", "st-dir:model", "--json", "--no-progress"]) == 0
    fresh = HybridIndex.build(repo, embedder=f"st-dir:{tmp_path / 'model'}")
    monkeypatch.chdir(repo)
    updated = HybridIndex.load(tmp_path / "idx")
    assert updated.embedder.spec == f"st-dir:{tmp_path / 'model'}"
    by_text = {c.text: v for c, v in zip((updated.chunks[int(i)] for i in updated._ids), updated._vectors, strict=True)}
    for c, v in zip((fresh.chunks[int(i)] for i in fresh._ids), fresh._vectors, strict=True):
        np.testing.assert_allclose(by_text[c.text], v, atol=1e-5)
