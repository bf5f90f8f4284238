"""Exact and near-duplicate removal: signatures, LSH parameters, clustering, files and CLI."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sysconfig
from pathlib import Path

import codemill
import codemill.near_dup.api as near_dup
import codemill.near_dup.decide as decide_module
import numpy as np
import pytest
from codemill import _core
from codemill.cli import main
from codemill.near_dup.api import MinHasher, dedup, dedup_texts

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_texts(n: int, min_len: int = 2000) -> list[str]:
    out = []
    for p in sorted(STDLIB.glob("*.py")):
        t = p.read_text(encoding="utf-8", errors="replace")
        if len(t) >= min_len:
            out.append(t[:20000])
        if len(out) == n:
            break
    return out


def exact_jaccard(h: MinHasher, a: str, b: str) -> float:
    sa, sb = set(h.shingles(a, "python").tolist()), set(h.shingles(b, "python").tolist())
    return len(sa & sb) / len(sa | sb)


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(max(1, len(lines) // 50)):
        del lines[rng.randrange(len(lines))]
    return "".join(lines).replace("self", "this")


@pytest.mark.parametrize("scheme", ["bucket", "mersenne"])
def test_identical_always_cluster_disjoint_never(scheme):
    texts = stdlib_texts(6)
    corpus = [*texts, texts[0], texts[3]]
    res = dedup_texts(corpus, exact=False, scheme=scheme, num_perm=128)
    assert res.labels[6] == res.labels[0] and res.labels[7] == res.labels[3]
    assert len(set(res.labels[:6].tolist())) == 6, "distinct stdlib modules stay apart"
    assert res.keep.tolist() == [True] * 6 + [False, False]


@pytest.mark.parametrize("scheme", ["bucket", "mersenne"])
def test_estimates_within_minhash_error(scheme):
    rng = random.Random(0)
    h = MinHasher(256, 5, scheme=scheme)
    texts = stdlib_texts(10)
    pairs = [(t, mutate(t, rng)) for t in texts]
    sigs = h.signatures([x for p in pairs for x in p], "python")
    for i, (a, b) in enumerate(pairs):
        j = exact_jaccard(h, a, b)
        est = MinHasher.estimate(sigs[2 * i], sigs[2 * i + 1])
        bound = 4 * np.sqrt(j * (1 - j) / 256) + 1e-9
        assert abs(est - j) <= bound + 0.01, (i, est, j)


def test_signatures_deterministic_and_seeded():
    texts = stdlib_texts(3)
    a = MinHasher(64, seed=5).signatures(texts, "python")
    b = MinHasher(64, seed=5).signatures(texts, "python")
    c = MinHasher(64, seed=6).signatures(texts, "python")
    assert a.dtype == np.uint32 and a.shape == (3, 64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.flags["C_CONTIGUOUS"] and not a.flags["OWNDATA"], "the Rust buffer, not a copy"


def test_empty_and_tiny_documents():
    h = MinHasher(32, 5)
    sigs, counts = h.signatures_and_counts(["", "   \n\n", "x = 1", "x  =  1\n", "y = 2"], "python")
    assert counts.tolist() == [0, 0, 1, 1, 1]
    assert (sigs[0] == 0xFFFFFFFF).all() and (sigs[1] == 0xFFFFFFFF).all()
    assert np.array_equal(sigs[2], sigs[3]), "fewer pieces than n: one shingle of all"
    res = dedup_texts(["", "", "x = 1", "x  =  1\n", "  "], num_perm=32)
    # the two empty strings are exact duplicates; empty documents never near-cluster
    assert res.counts["empty_documents"] == 3
    assert res.keep.tolist() == [True, False, True, False, True]


def test_lsh_params_match_datasketch():
    ds = pytest.importorskip("datasketch")
    for threshold, num_perm in [(0.5, 128), (0.7, 256), (0.8, 256), (0.9, 64)]:
        lsh = ds.MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert _core.lsh_params(threshold, num_perm) == (lsh.b, lsh.r), threshold


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="bands"):
        MinHasher(128, bands=20, rows=10)
    with pytest.raises(ValueError, match="threshold"):
        MinHasher(128, threshold=1.5)
    with pytest.raises(ValueError, match="num_perm"):
        MinHasher(0).signatures(["x"])
    with pytest.raises(ValueError, match="unknown language"):
        MinHasher(16).signatures(["x"], "cobol")
    with pytest.raises(ValueError, match="entries for 2 texts"):
        MinHasher(16).signatures(["x", "y"], ["python"])
    with pytest.raises(ValueError, match="scheme"):
        MinHasher(16, scheme="nope").signatures(["x"])
    with pytest.raises(ValueError, match="offsets"):
        MinHasher(16).signatures_from_hashes(np.arange(5), np.array([0, 3]))
    with pytest.raises(ValueError, match="edges names document"):
        _core.connected_components(2, np.array([[0, 5]], dtype=np.uint32))


def test_flat_hashes_match_text_signatures():
    h = MinHasher(64)
    texts = stdlib_texts(3)
    sh = [h.shingles(t, "python") for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sh])])
    flat = h.signatures_from_hashes(np.concatenate(sh), offsets)
    assert np.array_equal(flat, h.signatures(texts, "python"))


def test_bucket_pairs_of_band_key_rows_are_lsh_pairs():
    # The Ray engine's reduce tasks pair rows (band, key, doc) in any order with the local
    # engine's window rule: all rows at once give lsh_pairs' pairs and count.
    rng = random.Random(5)
    texts = [mutate(t, rng) if v else t for t in stdlib_texts(8) for v in range(4)]
    sigs = MinHasher(64).signatures(texts)
    bands, rows, window = 16, 4, 2
    want, want_skipped = _core.lsh_pairs(sigs, bands, rows, None, window)
    keys = _core.lsh_band_keys(sigs, bands, rows)
    order = np.random.default_rng(0).permutation(keys.size)
    band = np.tile(np.arange(bands, dtype=np.uint32), len(texts))[order]
    doc = np.repeat(np.arange(len(texts), dtype=np.uint32), bands)[order]
    pairs, skipped = _core.bucket_pairs(band, keys.ravel()[order], doc, window)
    assert np.array_equal(pairs, want) and skipped == want_skipped > 0
    with pytest.raises(ValueError, match="one entry per row"):
        _core.bucket_pairs(band, keys.ravel(), doc[:-1])
    with pytest.raises(ValueError, match="window"):
        _core.bucket_pairs(band, keys.ravel(), doc, 0)


def test_verify_and_keep_policies():
    rng = random.Random(1)
    base = stdlib_texts(3)
    near = mutate(base[0], rng)
    corpus = [base[0], base[1], near + "\n# extra line\nz = 1\n", base[2]]
    res = dedup_texts(corpus, threshold=0.6, verify=True, keep="longest")
    (cluster,) = [c for c in res.clusters if c["kind"] == "near"]
    ids = {cluster["kept"]["id"], *(r["id"] for r in cluster["removed"])}
    assert ids == {0, 2}
    kept = cluster["kept"]["id"]
    assert kept == max((0, 2), key=lambda i: len(corpus[i]))
    assert cluster["removed"][0]["jaccard"] >= 0.6
    # verify at an impossible threshold rejects the candidate pair LSH found
    strict = dedup_texts(corpus, threshold=0.6, bands=64, rows=2, verify=False)
    assert strict.counts["near_duplicates_removed"] == 1
    res2 = dedup_texts(corpus, threshold=0.999, bands=64, rows=2, verify=True)
    assert res2.counts["candidate_pairs_rejected_by_verify"] >= 1
    assert res2.counts["near_duplicates_removed"] == 0


def test_exact_dedup_whitespace_normalisation():
    a = "def f():\n    return 1\n"
    b = "def f():\r\n        return 1   \r\n"
    plain = dedup_texts([a, b], normalize_whitespace=False, bands=1, rows=256)
    assert plain.counts["exact_duplicates_removed"] == 0
    norm = dedup_texts([a, b], normalize_whitespace=True, bands=1, rows=256)
    assert norm.counts["exact_duplicates_removed"] == 1
    assert norm.keep.tolist() == [True, False]


def _write_inputs(tmp: Path) -> tuple[Path, Path]:
    texts = stdlib_texts(4)
    src = tmp / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "a.py").write_text(texts[0])
    (src / "pkg" / "copy_of_a.py").write_text(texts[0])
    (src / "pkg" / "b.py").write_text(texts[1])
    (src / "pkg" / "b_reformatted.py").write_text(texts[1].replace("    ", "  "))
    (src / "blob.bin").write_bytes(b"\x00\x01binary")
    (src / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    (src / "empty.py").write_text("")
    jl = tmp / "data.jsonl.gz"
    rows = [
        {"content": texts[2], "path": "c.py"},
        {"content": texts[2], "path": "c2.py"},
        {"text": texts[3]},
        {"nothing": 1},
    ]
    with gzip.open(jl, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.write("{not json\n")
    return src, jl


def test_dedup_files_and_jsonl(tmp_path):
    src, jl = _write_inputs(tmp_path)
    out = tmp_path / "out"
    report = codemill.dedup([src, jl], out)
    c = report["counts"]
    assert c["documents"] == 7
    assert c["exact_duplicates_removed"] == 2 and c["near_duplicates_removed"] == 1
    assert c["kept"] == 4
    # The one reader's skips, as in every command: blob.bin is no code file.
    assert c["skipped"] == {
        "unsupported_language": 1,
        "empty": 1,
        "invalid_utf8": 1,
        "invalid_json": 1,
        "no_text": 1,
    }
    assert {"path": f"{jl}:5", "reason": "invalid_json"} in report["skipped_items"]
    kept_files = sorted(p.relative_to(out / "src").as_posix() for p in (out / "src").rglob("*"))
    assert kept_files == ["a.py", "pkg", "pkg/b.py"]
    with gzip.open(out / "data.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    assert [r.get("path") for r in lines] == ["c.py", None]
    on_disk = json.loads((out / "dedup_report.json").read_text())
    assert on_disk["counts"]["kept"] == 4 and on_disk["params"]["bands"] > 0


def test_near_duplicates_are_found_whatever_the_documents_language(tmp_path):
    # The same module as a .py file and, with a few lines cut, as a record with no language
    # (read with the generic scanner table): before, each was shingled by its own table and
    # the pair shared too few shingles to be found; now one table shingles every text.
    text = (STDLIB / "json" / "decoder.py").read_text()
    lines = text.splitlines(keepends=True)
    variant = "".join(lines[:100] + lines[104:200] + lines[203:])
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "decoder.py").write_text(text)
    jl = tmp_path / "data.jsonl"
    jl.write_text(json.dumps({"text": variant}) + "\n")
    c = codemill.dedup([tmp_path / "src", jl], tmp_path / "out")["counts"]
    assert c["exact_duplicates_removed"] == 0 and c["near_duplicates_removed"] == 1


def test_a_linked_jsonl_input_keeps_its_records(tmp_path):
    # The kept records are looked up by the name the reader gave them: a link's own name.
    real = tmp_path / "real.jsonl"
    real.write_text("".join(json.dumps({"content": f"def f{i}():\n    return {i}\n"}) + "\n" for i in range(5)))
    (tmp_path / "latest.jsonl").symlink_to(real)
    report = codemill.dedup([tmp_path / "latest.jsonl"], tmp_path / "out")
    assert report["counts"]["kept"] == 5
    (written,) = [p for p in (tmp_path / "out").iterdir() if p.suffix == ".jsonl"]
    assert written.read_text() == real.read_text()


def test_a_parquet_input_with_no_record_kept_is_written_empty(tmp_path):
    # A duplicate shard (every row an exact duplicate of the first) crashed the run after all
    # the work: pyarrow's `take` refused the empty, null-typed row list.
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"content": ['print("hello world")\n', "def f():\n    return 1\n"]})
    for name in ("a.parquet", "b.parquet"):
        pq.write_table(table, tmp_path / name)
    pq.write_table(pa.table({"content": ["", None]}), tmp_path / "blank.parquet")
    report = codemill.dedup(
        [tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "blank.parquet"], tmp_path / "o"
    )
    assert report["counts"]["kept"] == 2 and report["counts"]["exact_duplicates_removed"] == 2
    assert pq.read_table(tmp_path / "o" / "a.parquet").equals(table)
    for name in ("b.parquet", "blank.parquet"):
        empty = pq.read_table(tmp_path / "o" / name)
        assert empty.num_rows == 0 and empty.schema.names == ["content"]


def test_parquet_rows_kept_from_every_row_group(tmp_path):
    # The kept rows are written a row group at a time: copies within and across groups (of 3
    # rows) removed, every column and the schema's metadata kept, a group with none kept left out.
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = stdlib_texts(5)
    content = [texts[i] for i in (0, 1, 2, 3, 4, 0, 1, 0, 2)]  # the last group: copies only
    table = pa.table({"content": content, "n": list(range(len(content)))}).replace_schema_metadata({"k": "v"})
    pq.write_table(table, tmp_path / "rows.parquet", row_group_size=3)
    codemill.dedup([tmp_path / "rows.parquet"], tmp_path / "o")
    out = pq.read_table(tmp_path / "o" / "rows.parquet")
    assert out.equals(table.take([0, 1, 2, 3, 4]))
    assert out.schema.metadata == {b"k": b"v"}


def test_report_names_that_are_not_utf8_are_spelled_with_escapes(tmp_path):
    # As in the skipped list: a lone surrogate in the clusters made JSON strict readers refuse.
    tree = tmp_path / "tree"
    tree.mkdir()
    text = "def f(x):\n    return x + 1\n" * 5
    try:
        (tree / os.fsdecode(b"a\xff.py")).write_text(text)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    (tree / "b.py").write_text(text)
    report = codemill.dedup([tree], tmp_path / "o")
    names = {c["kept"]["name"] for c in report["clusters"]} | {
        m["name"] for c in report["clusters"] for m in c["removed"]
    }
    assert str(tree / "a\\xff.py") in names
    json.loads((tmp_path / "o" / "dedup_report.json").read_bytes().decode("utf-8", "strict"))
    assert "\\udcff" not in (tmp_path / "o" / "dedup_report.json").read_text()


def test_missing_input_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope: no such file or directory"):
        dedup([tmp_path / "nope"], tmp_path / "out")


def test_cli_dedup(tmp_path, capsys):
    from codemill.commands import dedup as cmd

    src, jl = _write_inputs(tmp_path)
    parser = argparse.ArgumentParser()
    cmd.register(parser.add_subparsers())
    args = parser.parse_args(["dedup", str(src), str(jl), "-o", str(tmp_path / "o"), "--json"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["kept"] == 4
    args = parser.parse_args(["dedup", str(src), "-o", str(tmp_path / "o2"), "--verify", "--keep", "last"])
    assert args.func(args) == 0
    assert "kept" in capsys.readouterr().out


def test_dedup_shows_its_stages_unless_told_not_to(tmp_path, capsys):
    import io

    src, jl = _write_inputs(tmp_path)
    log = io.StringIO()
    report = dedup([src, jl], tmp_path / "o", progress=log)
    lines = log.getvalue().splitlines()
    c = report["counts"]
    assert lines[0] == f"dedup: reading: {c['documents']} documents, {c['skipped_total']} skipped"
    assert lines[-1] == f"dedup: writing: {report['counts']['kept']} documents kept in {tmp_path / 'o'}"
    assert any(line.startswith("dedup: deciding: ") and "candidate pairs" in line for line in lines)
    assert main(["dedup", str(src), "-o", str(tmp_path / "o2")]) == 0
    assert "dedup: writing: " in capsys.readouterr().err  # the command shows them
    assert main(["dedup", str(src), "-o", str(tmp_path / "o3"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    dedup([src], tmp_path / "o4")  # the function, by default, does not
    assert capsys.readouterr().err == ""


def test_codemill_dedup_is_the_function():
    import codemill.near_dup.api  # importing the module must not rebind codemill.dedup
    from codemill import dedup as imported

    assert codemill.dedup is imported is near_dup.dedup
    assert callable(codemill.dedup) and not callable(near_dup)
    assert codemill.MinHasher is MinHasher


def test_default_lsh_params_favour_recall():
    h = MinHasher(256, threshold=0.7)
    assert (h.bands, h.rows) == _core.lsh_params(0.7, 256, 0.05, 0.95) == (36, 7)
    assert h.collision_probability(0.7) > 0.95
    datasketch_like = MinHasher(256, threshold=0.7, recall_weight=0.5)
    assert (datasketch_like.bands, datasketch_like.rows) == (25, 10)
    assert h.default_margin() == pytest.approx(0.5 * np.sqrt(0.21 / 256))
    with pytest.raises(ValueError, match="recall_weight"):
        MinHasher(256, recall_weight=1.0)


def _collide_everything(monkeypatch, n_perm=8):
    """Every document gets the same signature: all share every LSH bucket."""

    def fake(self, texts, languages=None):
        texts = list(texts)
        counts = np.ones(len(texts), dtype=np.uint32)
        return np.zeros((len(texts), self.num_perm), dtype=np.uint32), counts

    monkeypatch.setattr(MinHasher, "signatures_and_counts", fake)


def test_verify_checks_members_against_each_other(monkeypatch):
    # 0 is unrelated to 1 and 2, which are near-duplicates; all three share every bucket.
    # Checking members only against the bucket's smallest (0) would lose the pair (1, 2).
    rng = random.Random(5)
    a, b = stdlib_texts(2)
    corpus = [a, b, mutate(b, rng)]
    _collide_everything(monkeypatch)
    res = dedup_texts(corpus, num_perm=8, bands=2, rows=4, verify=True)
    assert res.counts["candidate_pairs"] == 3
    assert res.counts["candidate_pairs_rejected_by_verify"] == 2
    assert res.keep.tolist() == [True, True, False]
    (cluster,) = [c for c in res.clusters if c["kind"] == "near"]
    assert cluster["kept"]["id"] == 1 and cluster["removed"][0]["jaccard"] >= 0.7


def test_window_caps_bucket_pairs_and_counts_the_rest(monkeypatch):
    texts = stdlib_texts(5)
    _collide_everything(monkeypatch)
    res = dedup_texts(texts, num_perm=8, bands=2, rows=4, window=1, verify=True)
    # one bucket of 5 per band: pairs (i, i+1) only; 10 - 4 = 6 left out in each band
    assert res.counts["candidate_pairs"] == 4
    assert res.counts["candidate_pairs_skipped_by_window"] == 12
    sigs = np.zeros((5, 8), dtype=np.uint32)
    pairs, skipped = MinHasher(8, bands=2, rows=4).pairs(sigs, window=64)
    assert len(pairs) == 10 and skipped == 0


@pytest.mark.parametrize("verify", [False, "borderline", True])
def test_every_candidate_pair_is_counted_once(verify) -> None:
    # Before: with "borderline" (the default) the pairs the estimate rejected were counted nowhere.
    rng = random.Random(5)
    base = stdlib_texts(30)
    corpus = [*base, *(mutate(t, rng) for t in base[:10]), *(mutate(mutate(t, rng), rng) for t in base[:10])]
    c = dedup_texts(corpus, bands=128, rows=2, verify=verify).counts
    settled = c["duplicate_pairs"] + c["candidate_pairs_rejected_by_estimate"] + c["candidate_pairs_rejected_by_verify"]
    assert c["candidate_pairs"] == settled > 0


def test_estimate_filter_drops_weak_candidates():
    rng = random.Random(2)
    base = stdlib_texts(40)
    corpus = [*base, *(mutate(t, rng) for t in base[:5])]
    # a loose LSH (many candidates) with and without the estimate filter
    raw = dedup_texts(corpus, bands=128, rows=2, estimate_filter=False, verify=False)
    filtered = dedup_texts(corpus, bands=128, rows=2, verify=False)
    assert filtered.counts["candidate_pairs"] == raw.counts["candidate_pairs"]
    assert filtered.counts["candidate_pairs_rejected_by_estimate"] > 0
    assert filtered.params["min_estimate"] == pytest.approx(0.7 - 0.5 * np.sqrt(0.21 / 256), abs=1e-6)
    for res in (filtered, dedup_texts(corpus, bands=128, rows=2, verify="borderline")):
        labels = res.labels
        assert all(labels[40 + k] == labels[k] for k in range(5)), "planted duplicates found"
        assert len(set(labels[:40].tolist())) == 40, "distinct modules stay apart"
    border = dedup_texts(corpus, bands=128, rows=2, verify="borderline")
    full = dedup_texts(corpus, bands=128, rows=2, verify=True)
    assert border.counts["candidate_pairs_verified"] < full.counts["candidate_pairs_verified"]
    with pytest.raises(ValueError, match="borderline"):
        dedup_texts(corpus[:2], verify="some")


@pytest.mark.parametrize("verify", [False, "borderline", True])
def test_batched_dedup_matches_one_batch(tmp_path, monkeypatch, verify):
    src, jl = _write_inputs(tmp_path)
    whole = dedup([src, jl], tmp_path / "whole", verify=verify)
    monkeypatch.setattr(near_dup, "BATCH_DOCS", 2)
    batched = dedup([src, jl], tmp_path / "batched", verify=verify)
    assert batched["clusters"] == whole["clusters"] and batched["counts"] == whole["counts"]
    if verify is True:
        assert all(
            ("jaccard" in r) == (verify is True) for c in whole["clusters"] if c["kind"] == "near" for r in c["removed"]
        )


@pytest.mark.parametrize("kind", ["tree", "jsonl", "jsonl.gz"])
def test_verify_in_text_batches_matches_one_batch(tmp_path, monkeypatch, kind):
    # Pairs are verified with their texts re-read in bounded batches (files, and plain JSONL
    # records at their offsets; a compressed file is read once, whole): one pair per batch (a
    # budget of one character) decides and reports exactly what one batch does.
    rng = random.Random(7)
    texts = [mutate(t, rng) if v else t for t in stdlib_texts(3) for v in range(3)]
    if kind == "tree":
        src = tmp_path / "src"
        src.mkdir()
        for i, t in enumerate(texts):
            (src / f"m{i}.py").write_text(t)
    else:
        src = tmp_path / f"docs.{kind}"
        lines = "".join(json.dumps({"content": t, "path": f"m{i}.py"}) + "\n" for i, t in enumerate(texts))
        src.write_bytes(gzip.compress(lines.encode()) if kind.endswith(".gz") else lines.encode())
    whole = dedup([src], tmp_path / "whole", verify=True)
    assert whole["counts"]["candidate_pairs_verified"] > 3
    fetched: list[int] = []
    real = near_dup._Corpus.fetch

    def counting_fetch(self, ids):
        fetched.append(len(ids))
        return real(self, ids)

    monkeypatch.setattr(near_dup._Corpus, "fetch", counting_fetch)
    monkeypatch.setattr(decide_module, "VERIFY_BATCH_CHARS", 1)
    batched = dedup([src], tmp_path / "batched", verify=True)
    assert batched["clusters"] == whole["clusters"] and batched["counts"] == whole["counts"]
    if kind == "jsonl.gz":
        assert len(fetched) == 1  # one read of the whole file serves the pairs and the report
    else:
        assert max(fetched) <= 2 and len(fetched) > 3


def test_compressed_input_beside_plain_jsonl_keeps_bounded_batches(tmp_path, monkeypatch):
    # One gzip input among plain JSONL: its records (which can only be streamed) are read in one
    # pass, the plain file's records still one pair's texts at a time, at their offsets, and
    # the decisions are those of one batch. Near-duplicate groups span both files.
    rng = random.Random(11)
    modules = stdlib_texts(6)
    texts = [mutate(t, rng) if v else t for t in modules[:4] for v in range(3)]
    lines = [json.dumps({"content": t, "path": f"m{i}.py"}) + "\n" for i, t in enumerate(texts)]
    # Two gzip records in no pair: never held.
    alone = [json.dumps({"content": t, "path": f"alone{i}.py"}) + "\n" for i, t in enumerate(modules[4:])]
    packed, plain = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl"
    packed.write_bytes(gzip.compress("".join(lines[0::2] + alone).encode()))
    plain.write_text("".join(lines[1::2]))
    whole = dedup([packed, plain], tmp_path / "whole", verify=True)
    assert whole["counts"]["candidate_pairs_verified"] > 3
    fetched: list[int] = []
    streams: list[str] = []
    real_fetch, real_read = near_dup._Corpus.fetch, near_dup.RecordReader.read_lines

    def counting_fetch(self, ids):
        fetched.append(len(ids))
        return real_fetch(self, ids)

    def counting_read(self, *args, **kwargs):
        streams.append(str(self.path))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(near_dup._Corpus, "fetch", counting_fetch)
    monkeypatch.setattr(near_dup.RecordReader, "read_lines", counting_read)
    monkeypatch.setattr(decide_module, "VERIFY_BATCH_CHARS", 1)
    batched = dedup([packed, plain], tmp_path / "batched", verify=True)
    assert batched["clusters"] == whole["clusters"] and batched["counts"] == whole["counts"]
    # Signing streams each file once; verifying streams the gzip file once more, never the other.
    assert streams == [str(packed), str(plain), str(packed)]
    assert len(fetched) > 3 and max(fetched[1:]) <= 2
    assert fetched[0] <= len(lines[0::2])  # the gzip records held: those in checked pairs only


def test_true_jaccard_in_batches_equals_one_read():
    # Thousands of pairs (more than one slice of the batch walk), a budget of a few documents:
    # the same similarities, every batch within the budget unless it is one pair.
    rng = np.random.default_rng(3)
    texts = [" ".join(f"w{rng.integers(0, 40)}" for _ in range(int(rng.integers(5, 40)))) for _ in range(300)]
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    a, b = rng.integers(0, 300, 20_000), rng.integers(0, 300, 20_000)
    pairs = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)[a != b], axis=0).astype(np.uint32)
    assert len(pairs) > 9000
    reads: list[np.ndarray] = []

    def fetch(ids: np.ndarray) -> list[str]:
        reads.append(ids)
        return [texts[i] for i in ids.tolist()]

    whole = decide_module.true_jaccard(pairs, lengths, fetch, 3, None)
    assert len(reads) == 1
    batched = decide_module.true_jaccard(pairs, lengths, fetch, 3, 1000)
    assert np.array_equal(whole, batched)
    assert len(reads) > 10 and all(int(lengths[ids].sum()) <= 1000 or len(ids) <= 2 for ids in reads[1:])
    # A budget of every text: one batch of all the pairs (the walk reads them 4,096 at a time).
    del reads[:]
    one = decide_module.true_jaccard(pairs, lengths, fetch, 3, int(lengths.sum()))
    assert np.array_equal(whole, one) and len(reads) == 1


def test_input_changed_between_passes_is_an_error(tmp_path, monkeypatch):
    src, _ = _write_inputs(tmp_path)
    real = near_dup._Corpus.fetch

    def fetch_after_edit(self, ids):
        (src / "pkg" / "b.py").write_text("changed")
        return real(self, ids)

    monkeypatch.setattr(near_dup._Corpus, "fetch", fetch_after_edit)
    with pytest.raises(ValueError, match="changed while dedup was running"):
        dedup([src], tmp_path / "out", verify=True)


def test_cli_main_end_to_end(tmp_path, capsys):
    src, jl = _write_inputs(tmp_path)
    out = tmp_path / "cli"
    assert main(["dedup", str(src), str(jl), "-o", str(out), "--json", "--verify"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["kept"] == 4 and report["params"]["verify"] is True
    assert report["params"]["bands"] == 36 and report["params"]["rows"] == 7
    assert json.loads((out / "dedup_report.json").read_text())["counts"] == report["counts"]
    assert main(["dedup", str(src), "-o", str(tmp_path / "plain"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["verify"] == "borderline"
    assert main(["dedup", str(src), "-o", str(tmp_path / "est"), "--estimate-only"]) == 0
    assert "verify=False" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dedup", "{tmp}/nope", "-o", "{tmp}/o"], "nope: no such file or directory"),
        (["dedup", "{tmp}/src", "-o", "{tmp}/o", "--bands", "4"], "give both --bands and --rows"),
        (["dedup", "{tmp}/src", "-o", "{tmp}/o", "--threshold", "1.5"], "threshold"),
        (["dedup", "{tmp}/src", "-o", "{tmp}/o", "--window", "0"], "window"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, capsys, argv, message):
    _write_inputs(tmp_path)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("codemill dedup: error:") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_every_input_gets_its_own_output_name_and_a_link_keeps_its_own(tmp_path: Path) -> None:
    # `a.jsonl` twice and a `2_a.jsonl`: the clash's prefix must not make a second clash.
    parts = []
    for i, (folder, name) in enumerate([("p", "a.jsonl"), ("z", "2_a.jsonl"), ("q", "a.jsonl")]):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(json.dumps({"content": f"x = {i}  # {folder}\n"}) + "\n")
        parts.append(tmp_path / folder / name)
    # A link named like the data it points to (a hub cache: `train.jsonl` -> `blobs/3f9a1c`).
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "3f9a1c").write_text(json.dumps({"content": "y = 1\n"}) + "\n")
    (tmp_path / "train.jsonl").symlink_to(tmp_path / "blobs" / "3f9a1c")
    report = codemill.dedup([*parts, tmp_path / "train.jsonl"], tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != "dedup_report.json")
    assert names == ["2_2_a.jsonl", "2_a.jsonl", "a.jsonl", "train.jsonl"]
    assert report["counts"]["kept"] == 4
    assert sum(len(p.read_text().splitlines()) for p in (tmp_path / "out").glob("*.jsonl")) == 4


def test_an_input_named_like_the_report_is_kept_beside_it(tmp_path: Path) -> None:
    # Before: the kept file was written as `dedup_report.json`, then replaced by the report.
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "dedup_report.json"
    src.write_text('{"settings": {"threshold": 0.8, "num_perm": 128}}\n')
    report = codemill.dedup([src], tmp_path / "out")
    assert report["counts"]["kept"] == 1
    assert (tmp_path / "out" / "0_dedup_report.json").read_text() == src.read_text()
    assert json.loads((tmp_path / "out" / "dedup_report.json").read_text())["counts"]["kept"] == 1


def test_kept_lines_longer_than_a_read_are_copied_whole_and_the_last_gets_its_newline(tmp_path: Path) -> None:
    # The output copies kept lines in pieces (a skipped line is never held whole): a line of
    # several pieces, CRLF, and a last line without a newline come out byte for byte.
    long_text = "".join(f"value_{i} = {i} * {i}\n" for i in range(150_000))  # ~3 MB
    lines = [
        json.dumps({"content": "a = 1\n"}).encode() + b"\r\n",
        json.dumps({"content": long_text}).encode() + b"\n",
        json.dumps({"content": "a = 1\n"}).encode() + b"\n",  # an exact duplicate of line 1
        json.dumps({"content": "b = 2\n"}).encode(),
    ]
    (tmp_path / "d.jsonl").write_bytes(b"".join(lines))
    report = codemill.dedup([tmp_path / "d.jsonl"], tmp_path / "out")
    assert report["counts"]["kept"] == 3
    assert (tmp_path / "out" / "d.jsonl").read_bytes() == lines[0] + lines[1] + lines[3] + b"\n"


def test_dedup_texts_given_a_language_says_it_takes_none():
    # The call before texts needed no language: a clear error, not an AttributeError of its config.
    from codemill.errors import ConfigError

    with pytest.raises(ConfigError, match="takes no languages"):
        dedup_texts(["x = 1\n"], "python")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes no languages"):
        dedup_texts(["x = 1\n"], languages="python")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"must be a DedupConfig, got \{'threshold': 0.9\}$"):
        dedup_texts(["x = 1\n"], {"threshold": 0.9})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="bogus, languages"):
        dedup_texts(["x = 1\n"], languages="python", bogus=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("policy", ["first", "last", "longest", "shortest"])
def test_exact_groups_keep_the_policys_member(policy: str) -> None:
    # Groups of every size (most of one), lengths with ties: the member each policy keeps,
    # against picking it by hand (ties go to the earlier document).
    rng = random.Random(7)
    n = 3000
    keys = [rng.randrange(900) if rng.random() < 0.4 else 1000 + i for i in range(n)]
    hashes = np.array([[k * 0x9E3779B97F4A7C15 % 2**64, k] for k in keys], dtype=np.uint64)
    lengths = np.array([rng.randrange(5) for _ in range(n)], dtype=np.int64)
    groups: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    rank = {
        "first": lambda i: i,
        "last": lambda i: -i,
        "longest": lambda i: (-lengths[i], i),
        "shortest": lambda i: (lengths[i], i),
    }[policy]
    want = [min(groups[k], key=rank) for k in keys]
    cfg = codemill.DedupConfig(keep=policy)
    assert decide_module._exact_groups(cfg, hashes, lengths).tolist() == want


@pytest.mark.parametrize("base", [Path("."), Path("tree"), Path("tree/"), Path("/abs/tree"), "s3://bk/p", "s3://bk/p/"])
def test_report_names_are_the_joined_paths(base: Path | str) -> None:
    # `_Corpus.name` appends a tree's relative names as text (fast); it must spell what a join does.
    corpus = near_dup._Corpus([base, Path("one.jsonl")], None, 1 << 20)
    corpus._trees.update({0: True, 1: False})
    corpus.add_records(0, "a/b.py", [(-1, -1)], [3])
    corpus.add_records(0, "c/\udcff.jsonl", [(5, 0)], [1])
    corpus.add_records(1, "one.jsonl", [(2, 0)], [1])
    assert [corpus.name(i) for i in range(3)] == [
        str(near_dup.join(base, "a/b.py")),
        str(near_dup.join(base, "c/\udcff.jsonl")).replace("\udcff", "\\xff") + ":5",
        "one.jsonl:2",
    ]


@pytest.mark.parametrize("shards", [0, -1])
def test_ray_shards_must_be_positive(tmp_path, shards: int) -> None:
    # A negative number cut a record file into a Ray task a byte (67,546 tasks for 67 KB).
    from codemill.errors import ConfigError

    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="ray_shards must be a positive"):
        dedup([tmp_path], None, engine="ray", ray_shards=shards)
    with pytest.raises(ConfigError, match="ray_shards must be a positive"):
        dedup_texts(["x = 1\n"], ray_shards=shards)
