"""The Ray engine returns the same signatures and clusters as the local engine."""

from __future__ import annotations

import gzip
import json
import random
import sysconfig
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")

from codemill.near_dup.api import dedup, dedup_texts  # noqa: E402
from conftest import odd_jsonl  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def corpus() -> list[str]:
    rng = random.Random(3)
    texts = [p.read_text(encoding="utf-8", errors="replace")[:8000] for p in
             sorted(STDLIB.glob("*.py"))[:40]]  # fmt: skip
    out = list(texts)
    for t in texts[:15]:
        lines = t.splitlines(keepends=True)
        del lines[rng.randrange(len(lines))]
        out.append("".join(lines))
    out.append(texts[0])
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("window", [64, 1])
def test_ray_matches_local(local_ray, window):
    texts = corpus()
    local = dedup_texts(texts, threshold=0.7, num_perm=128, bands=64, rows=2, window=window)
    for shards in (1, 3):
        remote = dedup_texts(texts, threshold=0.7, num_perm=128, bands=64, rows=2,
                             window=window, engine="ray", ray_shards=shards)  # fmt: skip
        assert np.array_equal(local.signatures, remote.signatures)
        assert np.array_equal(local.labels, remote.labels)
        assert np.array_equal(local.keep, remote.keep)
        assert local.clusters == remote.clusters
        assert local.counts == remote.counts
    if window == 1:
        assert local.counts["candidate_pairs_skipped_by_window"] > 0
    assert local.counts["near_duplicates_removed"] >= 10


def _jsonl(texts: list[str], prefix: str) -> str:
    return "".join(json.dumps({"content": t, "path": f"{prefix}{i}.py"}) + "\n" for i, t in enumerate(texts))


def test_records_read_by_ray_tasks_in_parts_match_local(local_ray, tmp_path, monkeypatch):
    # Ray's sign tasks read JSONL and Parquet files themselves, a part each (5 per file here:
    # byte ranges, runs of row groups): the documents, record numbers, skips (listed with their
    # lines or rows in the file), decision and kept records are the local engine's. A gzip file
    # is one part; code files of a tree beside record files in it keep their order, and what
    # the listing passes over after a record file is listed after that file's skips.
    import codemill.near_dup.api as api
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = corpus()
    odd, _ = odd_jsonl()
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(odd + b"\n" + _jsonl(texts[:30], "p").encode() + odd)
    packed = tmp_path / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(_jsonl(texts[20:40], "g").encode()))
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    for i, t in enumerate(texts[40:]):
        (tree / "a" / f"m{i}.py").write_text(t)
    (tree / "b.jsonl").write_bytes(_jsonl(texts[:12], "b").encode() + odd)
    (tree / "b2.xyz").write_text("listed next, passed over")  # its skip comes after b.jsonl's
    (tree / "c.py").write_text(texts[3])
    rows = [*texts[5:25], "", None, texts[7], "x = 1\n"]
    table = pa.table({"content": rows, "path": [f"q{i}.py" for i in range(len(rows))]})
    pq.write_table(table, tmp_path / "rows.parquet", row_group_size=3)
    pq.write_table(table.slice(10), tree / "d.parquet", row_group_size=4)
    inputs = [plain, packed, tmp_path / "rows.parquet", tree]
    kw = {"threshold": 0.7, "num_perm": 128, "bands": 64, "rows": 2, "max_file_bytes": 10_000}
    local = dedup(inputs, tmp_path / "local", **kw)

    def not_here(*args, **kwargs):
        raise AssertionError("the driver read JSONL records")

    monkeypatch.setattr(api, "_sign_records", not_here)  # the tasks' own module is not patched
    remote = dedup(inputs, tmp_path / "ray", engine="ray", ray_shards=5, **kw)
    assert sum(remote.pop("tasks_per_node").values()) >= 5 + 1 + 5 + 5 + 5 + 5  # and LSH reduce tasks
    for report in (local, remote):
        report.pop("outputs")
        report["params"].pop("engine")
    assert remote == local
    counts = local["counts"]
    assert counts["near_duplicates_removed"] >= 10 and counts["exact_duplicates_removed"] >= 10
    for name in (plain, tmp_path / "rows.parquet", tree / "b.jsonl"):
        assert any(item["path"].startswith(f"{name}:") for item in local["skipped_items"])
    written = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file())
    assert len(written) > 3
    for rel in written:
        if rel.name != api.REPORT_NAME:
            assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel


def test_record_parts_cover_the_file(tmp_path):
    from codemill.near_dup.ray import record_parts

    f = tmp_path / "a.jsonl"
    f.write_bytes(b"x" * 10)
    assert record_parts(f, 3) == [(0, 4), (4, 8), (8, None)]
    assert record_parts(f, None) == [(0, None)]  # under one task's size
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert record_parts(tmp_path / "e.jsonl", 4) == [(0, None)]
    assert record_parts(tmp_path / "a.jsonl.gz", 4) == [(0, None)]  # compressed: read whole
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"content": [f"x = {i}" for i in range(10)]}), tmp_path / "r.parquet", row_group_size=2)
    assert record_parts(tmp_path / "r.parquet", 2) == [(0, 3), (3, 5)]  # runs of row groups
    assert len(record_parts(tmp_path / "r.parquet", None)) == 1
    pq.write_table(pa.table({"content": pa.array([], pa.string())}), tmp_path / "e.parquet")
    assert len(record_parts(tmp_path / "e.parquet", 3)) == 1


def test_a_damaged_file_read_by_a_task_is_its_own_error(local_ray, tmp_path):
    # A task's SourceError reaches the caller as it is (one line naming the file, as a local run
    # says it), not wrapped in Ray's report of the worker's traceback.
    from codemill.errors import SourceError

    data = gzip.compress(_jsonl(corpus(), "m").encode())
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="truncated") as local:
        dedup(bad, tmp_path / "local")
    with pytest.raises(SourceError, match="truncated") as remote:
        dedup(bad, tmp_path / "ray", engine="ray")
    assert type(remote.value) is SourceError and str(remote.value) == str(local.value)
