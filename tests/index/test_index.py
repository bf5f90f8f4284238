"""HybridIndex: build, search modes, determinism, incremental update, persistence, errors; CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from codemill import HybridIndex, IndexFormatError, _core
from codemill.cli import main
from codemill.errors import OutputError
from conftest import FIXTURES, STDLIB

QUERIES = ["parse json string", "getUserById", "resolve id", "counter add words", "encode basestring ascii"]


def _results(index: HybridIndex, mode: str = "hybrid", k: int = 8) -> list[list[tuple]]:
    return [
        [
            (r.chunk.path, r.chunk.start_line, r.chunk.end_line, r.chunk.symbol, round(r.score, 5))
            for r in index.search(q, k=k, mode=mode)
        ]
        for q in QUERIES
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES, root)
    for name in ("decoder.py", "encoder.py", "scanner.py"):
        shutil.copy(STDLIB / "json" / name, root / name)
    (root / "users.js").write_text("function getUserById(id) {\n  return db.users.find(u => u.id === id);\n}\n")
    return root


def test_terms_are_identifier_aware():
    assert _core.code_terms(["getUserById"])[0] == ["getuserbyid", "get", "user", "id"]
    assert _core.code_terms(["def f(): return x_y"], ["python"])[0] == ["x_y"]


def test_search_modes_find_the_right_chunk(repo: Path):
    index = HybridIndex.build(repo)
    assert index.report.files == 12 and len(index) > 30
    for mode in ("hybrid", "keyword", "dense"):
        top = index.search("get user by id", k=3, mode=mode)
        assert top[0].chunk.symbol == "getUserById", mode
        assert top[0].chunk.path == "users.js" and top[0].chunk.language == "javascript"
    hits = index.search("py_make_scanner", k=3)
    assert hits[0].chunk.path == "scanner.py" and hits[0].keyword_rank == 1
    assert "py_make_scanner" in [h.chunk.symbol for h in hits]
    weighted = index.search("get user by id", k=3, fusion="weighted", dense_weight=0.3)
    assert weighted[0].chunk.symbol == "getUserById"
    assert index.search("qwqwqw jkjkjk") == []
    with pytest.raises(ValueError, match="mode"):
        index.search("x", mode="fuzzy")


def test_same_repo_twice_gives_same_results(repo: Path):
    a, b = HybridIndex.build(repo), HybridIndex.build(repo)
    for mode in ("hybrid", "keyword", "dense"):
        assert _results(a, mode) == _results(b, mode)
    assert np.array_equal(a._vectors, b._vectors)


def test_update_after_edit_delete_add_equals_fresh_build(repo: Path):
    index = HybridIndex.build(repo)
    (repo / "users.js").write_text(
        "function getUserByEmail(email) {\n  return db.users.find(u => u.email === email);\n}\n"
    )
    (repo / "scanner.py").unlink()
    (repo / "extra.go").write_text("package x\n\n// Sum adds numbers.\nfunc Sum(xs []int) int {\n\treturn 0\n}\n")
    report = index.update(repo)
    assert (report.files, report.unchanged, report.removed_files) == (12, 10, 1)
    fresh = HybridIndex.build(repo)
    assert len(index) == len(fresh)
    for mode in ("hybrid", "keyword", "dense"):
        assert _results(index, mode) == _results(fresh, mode)
    assert index.search("get user by email", k=1)[0].chunk.symbol == "getUserByEmail"
    assert not [c for c in index.chunks.values() if c.path == "scanner.py"]
    again = index.update(repo)
    assert again.chunks == 0 and again.unchanged == 12


def test_a_record_whose_language_changed_is_chunked_again(tmp_path: Path):
    import json

    # Same text, another language: the chunks are the new language's, as a fresh build's.
    text = "function loadUser(id) {\n  return id;\n}\n\nfunction saveUser(u) {\n  return u;\n}\n"
    (tmp_path / "main.py").write_text("def main():\n    return 1\n")
    (tmp_path / "snippets.jsonl").write_text(json.dumps({"text": text, "language": "text"}) + "\n")
    index = HybridIndex.build(tmp_path)
    (tmp_path / "snippets.jsonl").write_text(json.dumps({"text": text, "language": "javascript"}) + "\n")
    assert index.update(tmp_path).unchanged == 1  # main.py
    fresh = HybridIndex.build(tmp_path)
    symbols = sorted(c.symbol or "" for c in index.chunks.values() if c.path.startswith("snippets"))
    assert symbols == ["loadUser", "saveUser"]
    for mode in ("hybrid", "keyword", "dense"):
        assert _results(index, mode) == _results(fresh, mode)


def test_dense_ties_at_the_cut_are_taken_as_a_fresh_build_takes_them(tmp_path: Path):
    # 60 copies of one function: FAISS picks among equal scores by position, and an update puts
    # a re-added file's vectors last, so the candidates cut took other tied chunks.
    body = (
        "def compute_total(items):\n    total = 0\n    for item in items:\n"
        "        total += item.price\n    return total\n"
    )
    for i in range(60):
        (tmp_path / f"m{i:02d}.py").write_text(body)
    index = HybridIndex.build(tmp_path)
    (tmp_path / "m08.py").write_text(body + "# edited\n")
    index.update(tmp_path)
    (tmp_path / "m08.py").write_text(body)  # the repository as it was built
    index.update(tmp_path)
    fresh = HybridIndex.build(tmp_path)

    def top(ix: HybridIndex, mode: str) -> list[tuple[str, float]]:
        return [(r.chunk.path, round(r.score, 6)) for r in ix.search("sum the price of items", k=5, mode=mode)]

    for mode in ("hybrid", "dense"):
        assert top(index, mode) == top(fresh, mode)


def test_a_dense_search_asks_faiss_once_unless_scores_tie_at_the_cut(repo: Path):
    index = HybridIndex.build(repo)
    dense = index._dense_index()
    real = dense.search
    calls: list[int] = []

    def counted(q, n):
        calls.append(n)
        return real(q, n)

    index._dense_index = lambda: type("Counted", (), {"search": staticmethod(counted)})()
    assert index.dense_search("get user by email", 3)
    assert len(calls) == 1  # the tie check fetched everything twice


def test_an_index_saved_before_languages_were_hashed_updates_as_unchanged(repo: Path, tmp_path: Path):
    import hashlib

    # Its keys are of the text alone: the first update took every file as changed and chunked
    # the whole repository again (quadratically: a removal per file).
    index = HybridIndex.build(repo)
    for path, entry in index.files.items():
        text = (repo / path).read_text(encoding="utf-8")
        entry["hash"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    report = index.update(repo)
    assert report.chunks == 0 and report.unchanged == len(index.files)
    assert index.update(repo).unchanged == len(index.files)  # the keys brought up to date


def test_an_older_index_rechunks_a_record_whose_language_changed(tmp_path: Path):
    import hashlib
    import json

    # Its key of the text alone matches, but the record is chunked in another language now.
    text = "function loadUser(id) {\n  return id;\n}\n\nfunction saveUser(u) {\n  return u;\n}\n"
    (tmp_path / "main.py").write_text("def main():\n    return 1\n")
    (tmp_path / "snippets.jsonl").write_text(json.dumps({"text": text, "language": "text"}) + "\n")
    index = HybridIndex.build(tmp_path)
    for path, entry in index.files.items():
        t = text if path.startswith("snippets") else (tmp_path / path).read_text()
        entry["hash"] = hashlib.sha256(t.encode("utf-8")).hexdigest()
    (tmp_path / "snippets.jsonl").write_text(json.dumps({"text": text, "language": "javascript"}) + "\n")
    assert index.update(tmp_path).unchanged == 1  # main.py
    assert sorted(c.symbol or "" for c in index.chunks.values() if c.path.startswith("snippets")) == [
        "loadUser",
        "saveUser",
    ]


def test_save_load_round_trip(repo: Path, tmp_path: Path):
    index = HybridIndex.build(repo)
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx")
    for mode in ("hybrid", "keyword", "dense"):
        assert _results(loaded, mode) == _results(index, mode)
    (repo / "new.py").write_text("def brand_new_helper():\n    return 42\n")
    assert loaded.update().chunks == 1  # the saved index remembers its root
    assert loaded.search("brand new helper", k=1)[0].chunk.path == "new.py"


def test_interrupted_save_leaves_the_old_index_loadable(repo: Path, tmp_path: Path, monkeypatch):
    index = HybridIndex.build(repo)
    index.save(tmp_path / "idx")
    before = _results(HybridIndex.load(tmp_path / "idx"))
    (repo / "users.js").write_text("function getUserByEmail(email) {\n  return email;\n}\n")
    (repo / "scanner.py").unlink()
    index.update(repo)

    def fail(*args, **kw):  # the disk fills up after chunks.jsonl and vectors.npy are written
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "save", _fail_second(np.save, fail))
    with pytest.raises(OSError, match="No space"):
        index.save(tmp_path / "idx")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "repo"]  # no staging left behind
    old = HybridIndex.load(tmp_path / "idx")
    assert _results(old) == before and "scanner.py" in old.files
    index.save(tmp_path / "idx")
    assert _results(HybridIndex.load(tmp_path / "idx")) == _results(index)


def _fail_second(real, fail):
    calls = []

    def save(*args, **kw):
        calls.append(1)
        return (fail if len(calls) == 2 else real)(*args, **kw)

    return save


def test_save_refuses_a_directory_that_is_not_an_index(repo: Path, tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text("keep me")
    with pytest.raises(OutputError, match=r"docs: exists and was not written by `codemill index`; pass overwrite"):
        HybridIndex.build(repo).save(docs)
    assert [p.name for p in docs.iterdir()] == ["README.md"]
    assert (docs / "README.md").read_text() == "keep me"


def test_hnsw_past_threshold_supports_remove(repo: Path, tmp_path: Path):
    index = HybridIndex.build(repo, hnsw_threshold=10)
    assert index.search("get user by id", k=1, mode="dense")[0].chunk.symbol == "getUserById"
    assert index._dense_kind == "hnsw"
    index.remove(["users.js"])
    assert all(r.chunk.path != "users.js" for r in index.search("get user by id", k=5, mode="dense"))
    index.save(tmp_path / "h")
    loaded = HybridIndex.load(tmp_path / "h")
    assert _results(loaded, "dense") == _results(index, "dense")


def test_bad_index_directories_and_empty_repo(tmp_path: Path):
    with pytest.raises(IndexFormatError, match=r"no meta\.json"):
        HybridIndex.load(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    index = HybridIndex.build(empty)
    assert len(index) == 0 and index.search("anything") == []
    index.save(tmp_path / "e")
    assert len(HybridIndex.load(tmp_path / "e")) == 0
    meta = tmp_path / "e" / "meta.json"
    data = json.loads(meta.read_text())
    meta.write_text(json.dumps({**data, "format": "codemill-index/99"}))
    with pytest.raises(IndexFormatError, match="codemill-index/99"):
        HybridIndex.load(tmp_path / "e")
    meta.write_text("{not json")
    with pytest.raises(IndexFormatError, match="corrupt"):
        HybridIndex.load(tmp_path / "e")
    meta.write_text(json.dumps(data))
    (tmp_path / "e" / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError, match="corrupt index"):
        HybridIndex.load(tmp_path / "e")
    (tmp_path / "e" / "vectors.npy").write_bytes(b"")  # an empty .npy: numpy raises EOFError
    with pytest.raises(IndexFormatError, match="corrupt index: EOFError"):
        HybridIndex.load(tmp_path / "e")
    meta.write_text(json.dumps({**data, "embedder": 5}))  # a field of the wrong type
    with pytest.raises(IndexFormatError, match="corrupt index"):
        HybridIndex.load(tmp_path / "e")


def test_a_meta_json_whose_files_are_damaged_is_a_corrupt_index(tmp_path: Path):
    # A search loaded it, and the update of `codemill index` ended in a traceback.
    root = tmp_path / "r"
    root.mkdir()
    (root / "a.py").write_text("def alpha():\n    return 1\n")
    (root / "b.py").write_text("def beta():\n    return 2\n")
    HybridIndex.build(root).save(tmp_path / "i")
    meta = tmp_path / "i" / "meta.json"
    data = json.loads(meta.read_text())
    first = next(iter(data["files"]))
    for files in ([], {**data["files"], first: {"hash": "x"}}, {first: {**data["files"][first], "ids": [999]}}):
        meta.write_text(json.dumps({**data, "files": files}))
        with pytest.raises(IndexFormatError, match="corrupt index: its files do not name its chunks"):
            HybridIndex.load(tmp_path / "i")


def test_unreadable_files_are_counted(tmp_path: Path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "ok.py").write_text("def ok():\n    pass\n")
    (root / "bad.py").write_bytes(b"\xff\xfe\x00binary")
    (root / "empty.py").write_text("")
    report = HybridIndex.build(root).report
    assert report.files == 1 and dict(report.skipped) == {"binary": 1, "empty": 1}


def test_a_damaged_data_file_in_the_repository_is_skipped_not_fatal(tmp_path: Path):
    # Corpus jobs stop on a damaged record file; to the repository tools it is not the point.
    import gzip

    from codemill.context.graph import ImportGraph

    root = tmp_path / "r"
    root.mkdir()
    (root / "ok.py").write_text("def ok():\n    pass\n")
    data = gzip.compress(b"".join(b'{"text": "x = %d"}\n' % i for i in range(2000)))
    (root / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    (root / "t.parquet").write_bytes(b"not parquet")
    report = HybridIndex.build(root).report
    assert dict(report.skipped) == {"damaged": 2}
    graph = ImportGraph.build(root)
    assert sorted(graph.skipped.values()) == ["damaged", "damaged"]


def test_cli_index_update_and_search(repo: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    assert main(["index", str(repo), "-o", str(out), "--no-progress", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["action"] == "built" and built["total_files"] == 12
    assert main(["search", str(out), "get user by id", "-k", "2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["results"][0]["symbol"] == "getUserById" and len(found["results"]) == 2
    assert main(["search", str(out), "qwqwqw jkjkjk", "--mode", "keyword"]) == 0
    assert "no matches" in capsys.readouterr().out
    assert main(["index", str(repo), "-o", str(out), "--no-progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchanged"] == 12
    assert main(["search", str(tmp_path / "nowhere"), "x"]) == 2
    assert "no meta.json" in capsys.readouterr().err


def test_a_sole_keyword_match_counts_in_weighted_fusion(tmp_path: Path):
    # Min-max scaling gave a sole (or tied) keyword hit 0: the exact identifier ranked behind
    # chunks only the dense side found.
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("json/decoder.py", "json/encoder.py", "json/scanner.py", "textwrap.py", "shlex.py"):
        shutil.copy(STDLIB / name, repo / name.replace("/", "_"))
    (repo / "marker.py").write_text("def zqxfrob(items):\n    return [i for i in items]\n")
    index = HybridIndex.build(repo)
    assert index.search("zqxfrob jsondecoderx", fusion="weighted", k=3)[0].chunk.path == "marker.py"


def test_keyword_ties_at_the_cut_follow_path_order(tmp_path: Path):
    # argpartition picked among chunks of equal score at the k-th place arbitrarily.
    repo = tmp_path / "repo"
    repo.mkdir()
    for n in range(300):
        (repo / f"f{n:03d}.py").write_text("def handler():\n    return compute_total(items)\n")
    index = HybridIndex.build(repo)
    hits = index.search("compute_total", mode="keyword", k=5)
    assert [h.chunk.path for h in hits] == [f"f{n:03d}.py" for n in range(5)]


def test_chunk_lines_are_tree_sitter_rows(tmp_path: Path):
    # str.splitlines also broke at a form feed or U+2028, and every later row was off by one.
    from codemill.index.chunking import chunk_text

    text = "import os\n\x0c\ndef a():\n    return 1\n\nx = '\u2028'\n\ndef b():\n    return 2\n"
    by_symbol = {c.symbol: c for c in chunk_text(text, "python", "m.py")}
    assert by_symbol["a"].text == "def a():\n    return 1\n" and by_symbol["a"].start_line == 3
    assert by_symbol["b"].text == "def b():\n    return 2\n" and by_symbol["b"].start_line == 8


def test_a_damaged_npy_header_is_a_corrupt_index(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def a():\n    return 1\n")
    HybridIndex.build(repo).save(tmp_path / "idx")
    ids = tmp_path / "idx" / "ids.npy"
    ids.write_bytes(ids.read_bytes().replace(b"}", b" ", 1))  # numpy's header parser: a TokenError
    with pytest.raises(IndexFormatError, match="corrupt index"):
        HybridIndex.load(tmp_path / "idx")
