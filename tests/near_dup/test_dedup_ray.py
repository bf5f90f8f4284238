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


def test_jsonl_read_by_ray_tasks_in_byte_ranges_matches_local(local_ray, tmp_path, monkeypatch):
    # Ray's sign tasks read JSONL files themselves, a byte range each (5 per file here): the
    # documents, line numbers, skips (listed with their lines in the file), decision and kept
    # lines are the local engine's. A gzip file is one range; code files of a tree beside a
    # JSONL file in it keep their order.
    import codemill.near_dup.api as api

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
    (tree / "b.jsonl").write_text(_jsonl(texts[:12], "b"))
    (tree / "c.py").write_text(texts[3])
    inputs = [plain, packed, tree]
    kw = {"threshold": 0.7, "num_perm": 128, "bands": 64, "rows": 2, "max_file_bytes": 10_000}
    local = dedup(inputs, tmp_path / "local", **kw)

    def not_here(*args, **kwargs):
        raise AssertionError("the driver read JSONL records")

    monkeypatch.setattr(api, "_sign_records", not_here)  # the tasks' own module is not patched
    remote = dedup(inputs, tmp_path / "ray", engine="ray", ray_shards=5, **kw)
    assert sum(remote.pop("tasks_per_node").values()) >= 5 + 1 + 5 + 5  # and LSH reduce tasks
    for report in (local, remote):
        report.pop("outputs")
        report["params"].pop("engine")
    assert remote == local
    counts = local["counts"]
    assert counts["near_duplicates_removed"] >= 10 and counts["exact_duplicates_removed"] >= 10
    assert any(item["path"].startswith(f"{plain}:") for item in local["skipped_items"])
    written = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file())
    assert len(written) > 3
    for rel in written:
        if rel.name != api.REPORT_NAME:
            assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel


def test_line_ranges_cover_the_file(tmp_path):
    from codemill.near_dup.ray import line_ranges

    f = tmp_path / "a.jsonl"
    f.write_bytes(b"x" * 10)
    assert line_ranges(f, 3) == [(0, 4), (4, 8), (8, None)]
    assert line_ranges(f, None) == [(0, None)]  # under one task's size
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert line_ranges(tmp_path / "e.jsonl", 4) == [(0, None)]
    assert line_ranges(tmp_path / "a.jsonl.gz", 4) == [(0, None)]  # compressed: read whole
