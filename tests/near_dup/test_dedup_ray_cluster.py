"""The Ray engine on a local cluster of three node processes: tasks reach more than one node,
and the decision and the written output are the same as the local engine's."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")

from codemill.near_dup.api import dedup, dedup_texts  # noqa: E402
from conftest import RAY_NODES as NODES  # noqa: E402
from conftest import STDLIB  # noqa: E402

SHARDS = 6


def _texts() -> list[str]:
    rng = random.Random(7)
    texts = [p.read_text(encoding="utf-8", errors="replace")[:6000] for p in sorted(STDLIB.glob("*.py"))[:30]]
    out = list(texts)
    for t in texts[:12]:  # near duplicates: a line dropped
        lines = t.splitlines(keepends=True)
        del lines[rng.randrange(len(lines))]
        out.append("".join(lines))
    out.append(texts[1])  # an exact duplicate
    rng.shuffle(out)
    return out


def _alive_nodes() -> set[str]:
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def test_tasks_spread_over_nodes_and_match_local(cluster):
    texts = _texts()
    kw = {"num_perm": 128, "bands": 64, "rows": 2}
    local = dedup_texts(texts, **kw)
    remote = dedup_texts(texts, engine="ray", ray_shards=SHARDS, **kw)
    nodes = _alive_nodes()
    assert len(nodes) == NODES
    assert set(remote.tasks_per_node) <= nodes
    # SPREAD is a preference, not a promise: on a loaded machine one node may stay busy, so
    # the test asks for work on more than one node, never on all of them.
    assert len(remote.tasks_per_node) >= 2, remote.tasks_per_node
    assert sum(remote.tasks_per_node.values()) == 2 * SHARDS  # sign and reduce tasks
    assert local.tasks_per_node == {}
    assert np.array_equal(local.signatures, remote.signatures)
    assert np.array_equal(local.keep, remote.keep) and np.array_equal(local.labels, remote.labels)
    assert local.clusters == remote.clusters and local.counts == remote.counts
    assert local.counts["near_duplicates_removed"] >= 10 and local.counts["exact_duplicates_removed"] == 1


def test_files_written_by_ray_equal_local(cluster, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, t in enumerate(_texts()):
        (src / f"f{i:02d}.py").write_text(t)
    local = dedup(src, tmp_path / "local")
    remote = dedup(src, tmp_path / "ray", engine="ray", ray_shards=SHARDS)
    assert remote["counts"] == local["counts"]
    assert [c["removed"] for c in remote["clusters"]] == [c["removed"] for c in local["clusters"]]
    assert len(remote["tasks_per_node"]) >= 2  # SPREAD is a preference: more than one node, not all
    assert {k: v for k, v in remote["params"].items() if k != "engine"} == {
        k: v for k, v in local["params"].items() if k != "engine"
    }
    kept = {p.name: p.read_bytes() for p in (tmp_path / "local" / "src").iterdir()}
    assert kept == {p.name: p.read_bytes() for p in (tmp_path / "ray" / "src").iterdir()}


def test_jsonl_in_a_bucket_is_read_by_the_nodes_tasks(cluster, s3_server, bucket, tmp_path):
    # The sign tasks read their byte ranges of the object themselves, on several nodes: the
    # decision and the kept lines are those of a local run on a copy of the file.
    lines = [json.dumps({"content": t, "path": f"m{i}.py"}) + "\n" for i, t in enumerate(_texts())]
    local_file = tmp_path / "data.jsonl"
    local_file.write_text("".join(lines))
    s3_server.upload_file(str(local_file), bucket, "in/data.jsonl")
    local = dedup(local_file, tmp_path / "local")
    remote = dedup(f"s3://{bucket}/in/data.jsonl", tmp_path / "ray", engine="ray", ray_shards=SHARDS)
    assert remote["counts"] == local["counts"] and local["counts"]["near_duplicates_removed"] >= 10
    assert [c["removed"] for c in remote["clusters"]] == [
        [{**r, "name": r["name"].replace(str(local_file), f"s3://{bucket}/in/data.jsonl")} for r in c["removed"]]
        for c in local["clusters"]
    ]
    assert len(remote["tasks_per_node"]) >= 2
    assert (tmp_path / "ray" / "data.jsonl").read_bytes() == (tmp_path / "local" / "data.jsonl").read_bytes()


def test_small_jsonl_objects_are_read_several_to_a_task_by_the_nodes(cluster, s3_server, bucket, tmp_path):
    # Small JSONL objects share sign tasks, which read them ahead of their signing: the report
    # (skipped lines in order) and the kept lines are those of a local run on copies of them.
    from conftest import odd_jsonl

    odd, _ = odd_jsonl()
    texts = _texts()
    tree = tmp_path / "in"
    tree.mkdir()
    for i in range(8):
        rows = "".join(json.dumps({"content": t, "path": f"f{i}_{j}.py"}) + "\n" for j, t in enumerate(texts[i::8]))
        (tree / f"f{i}.jsonl").write_bytes(rows.encode() + (odd if i in (2, 5) else b""))
        s3_server.upload_file(str(tree / f"f{i}.jsonl"), bucket, f"small/f{i}.jsonl")
    local = dedup(tree, tmp_path / "local")
    remote = dedup(f"s3://{bucket}/small", tmp_path / "ray", engine="ray")
    assert remote["counts"] == local["counts"] and local["counts"]["skipped_total"] > 0
    base = f"s3://{bucket}/small"
    assert [i["path"].replace(base, str(tree)) for i in remote["skipped_items"]] == [
        i["path"] for i in local["skipped_items"]
    ]
    kept = {p.name: p.read_bytes() for p in (tmp_path / "local").rglob("*.jsonl")}
    assert kept and kept == {p.name: p.read_bytes() for p in (tmp_path / "ray").rglob("*.jsonl")}


def test_an_output_prefix_is_written_by_the_nodes_tasks(cluster, s3_server, bucket, tmp_path, monkeypatch):
    # On Ray the files of an output prefix are written and uploaded by tasks, a group each, on
    # several nodes; the driver publishes none itself, and the bytes are a local run's.
    from codemill.near_dup import output

    src = tmp_path / "src"
    src.mkdir()
    texts = _texts()
    for i, t in enumerate(texts):
        (src / f"f{i:02d}.py").write_text(t)
    lines = "".join(json.dumps({"content": t + "# a record\n", "path": f"m{i}.py"}) + "\n" for i, t in enumerate(texts))
    (src / "zz.jsonl").write_text(lines)  # listed after the files: its records go as their copies
    local = dedup([src], tmp_path / "local")
    monkeypatch.setattr(output, "COPIES_AT_ONCE", 3)  # the driver's plan: many groups
    monkeypatch.setattr(output, "publish_group", lambda *a: pytest.fail("the driver wrote output files"))
    remote = dedup([src], f"s3://{bucket}/out", engine="ray", ray_shards=SHARDS)
    assert remote["counts"] == local["counts"] and local["counts"]["near_duplicates_removed"] >= 10
    assert len(remote["tasks_per_node"]) >= 2
    got = {}
    for page in s3_server.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="out/"):
        for o in page.get("Contents", []):
            got[o["Key"][len("out/") :]] = s3_server.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    want = {
        p.relative_to(tmp_path / "local").as_posix(): p.read_bytes()
        for p in (tmp_path / "local").rglob("*")
        if p.is_file()
    }
    assert got.keys() == want.keys() and len(want) > 10
    assert all(got[k] == want[k] for k in want if k != "dedup_report.json")
    assert json.loads(got["dedup_report.json"])["tasks_per_node"] == remote["tasks_per_node"]
