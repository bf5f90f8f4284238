"""Dedup reads JSONL in the core (no Python object per record) and decides what the documents'
path decides: the same signatures, lengths, skips, clusters and output, whatever the batches."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import codemill.near_dup.api as api
import numpy as np
import pytest
from codemill.sources import iter_documents
from conftest import odd_jsonl


def _run(path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, core: bool, batch_docs: int) -> dict[str, Any]:
    """dedup of ``path`` with records read in the core or as documents; what `decide` was given."""
    given: dict[str, Any] = {"parsed": 0}
    decide, read = api.decide, api._core.read_record_texts

    def spy(config: Any, signed: Any, lengths: Any, *args: Any, **kw: Any) -> Any:
        given.update(signed=[np.array(a) for a in signed], lengths=np.array(lengths), streamed=kw["streamed"].copy())
        return decide(config, signed, lengths, *args, **kw)

    def parsed(lines: Any, *args: Any) -> Any:
        given["parsed"] += len(lines)
        return read(lines, *args)

    with monkeypatch.context() as m:
        m.setattr(api, "decide", spy)
        m.setattr(api._core, "read_record_texts", parsed)
        m.setattr(api, "BATCH_DOCS", batch_docs)
        if not core:
            m.setattr(api, "iter_documents_or_readers", lambda *a, **kw: iter_documents(*a, **kw))
        report = api.dedup(path, out, max_file_bytes=1000)
    report.pop("outputs", None)
    written = sorted((p.relative_to(out).as_posix(), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    return {**given, "report": report, "written": [w for w in written if w[0] != api.REPORT_NAME]}


@pytest.mark.parametrize("batch_docs", [1, 4096])
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_jsonl_read_in_the_core_dedups_as_the_documents_do(tmp_path, monkeypatch, batch_docs, suffix) -> None:
    # Two copies of the odd lines: exact duplicates among the core's records and among the lines
    # it leaves to the Python reader (NaN, lone surrogates ...), one batch or a batch per line.
    data, n_lines = odd_jsonl()
    data = data + b"\n" + data
    f = tmp_path / f"part{suffix}"
    f.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    core = _run(f, tmp_path / "core", monkeypatch, True, batch_docs)
    docs = _run(f, tmp_path / "docs", monkeypatch, False, batch_docs)
    for a, b in zip(core["signed"], docs["signed"], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(core["lengths"], docs["lengths"])
    np.testing.assert_array_equal(core["streamed"], docs["streamed"])
    assert core["report"] == docs["report"] and core["written"] == docs["written"]
    assert core["parsed"] == 2 * n_lines and docs["parsed"] == 0  # every line went to the core
    counts = core["report"]["counts"]
    assert counts["exact_duplicates_removed"] >= 10 and counts["skipped_total"] >= 2 * 10
    assert counts["documents"] + counts["skipped_total"] == 2 * n_lines


def test_record_texts_take_the_readers_texts_in_their_places() -> None:
    from codemill import _core
    from codemill.errors import CodemillError

    lines = [b'{"content": "a"}', b"[1]", b"", '{"content": "b\\u00e9 \U0001f600"}'.encode()]
    texts, reasons, left = _core.read_record_texts(lines, (["content"], ["path"], ["lang"]), 100)
    assert (len(texts), reasons, left) == (2, [None, None, "empty", None], [1])
    texts.insert([1], ["from the reader"])
    assert texts.lengths().tolist() == [1, 15, 4]  # characters, as len() counts them
    want = _core.content_hashes(["a", "from the reader", "bé 😀"])
    np.testing.assert_array_equal(texts.content_hashes(), want)
    sigs, counts = texts.minhash_signatures([2, 0], 16)
    want_sigs, want_counts = _core.minhash_signatures(["bé 😀", "a"], None, 16)
    np.testing.assert_array_equal(sigs, want_sigs)
    np.testing.assert_array_equal(counts, want_counts)
    with pytest.raises(CodemillError, match="ascending"):
        texts.insert([4], ["past the end"])
    with pytest.raises(CodemillError, match="out of range"):
        texts.minhash_signatures([3])


def test_empty_record_files_named_as_inputs_are_skipped_and_written_empty(tmp_path) -> None:
    # A 0-byte Parquet file named as an input stopped the run at the writing, all read and
    # decided ("not a readable Parquet file"), though its reading had counted it as empty.
    (tmp_path / "a.jsonl").write_text('{"text": "def f(x):\\n    return x + 1\\n"}\n')
    for name in ("empty.parquet", "empty.jsonl.gz", "empty.jsonl"):
        (tmp_path / name).write_bytes(b"")
    names = ["a.jsonl", "empty.parquet", "empty.jsonl.gz", "empty.jsonl"]
    report = api.dedup([tmp_path / n for n in names], tmp_path / "out")
    assert report["counts"]["kept"] == 1 and report["counts"]["skipped"] == {"empty": 3}
    assert all((tmp_path / "out" / n).read_bytes() == b"" for n in names[1:])  # an empty input stays empty
    assert (tmp_path / "out" / "a.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
