"""`tokenize_corpus(engine="ray")` on a local cluster of three node processes: tasks reach every
node, and the shards equal the local engine's, written to a local directory or to S3."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from codemill.corpus.job import tokenize_corpus
from conftest import RAY_NODES as NODES
from conftest import STDLIB

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")

KW = {"task_bytes": 20_000, "shard_tokens": 20_000}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for p in sorted((STDLIB / "json").rglob("*.py")) + sorted((STDLIB / "email").glob("*.py"))[:12]:
        dest = root / p.relative_to(STDLIB)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(p.read_bytes())
    return root


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_tasks_spread_over_nodes_and_shards_match_local(cluster, tree, tmp_path, small_tok):
    local = tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    assert local["tasks_planned"] >= 2 * NODES and local["run"]["tasks_per_node"] == {}
    remote = tokenize_corpus(tree, tmp_path / "ray", tokenizer=small_tok, engine="ray", **KW)
    per_node = remote["run"]["tasks_per_node"]
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    # Tasks spread over nodes: all three as a rule (`Spread` pins the first task of each), but a
    # node still busy, as Ray last heard, with another test's task leaves its first to the others.
    assert len(alive) == NODES and set(per_node) <= alive and len(per_node) >= 2, per_node
    assert sum(per_node.values()) == local["tasks_planned"]
    assert files(tmp_path / "ray") == files(tmp_path / "local")


def test_ray_nodes_write_to_s3(cluster, s3_server, bucket, tree, tmp_path, small_tok):
    tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    m = tokenize_corpus(tree, f"s3://{bucket}/out", tokenizer=small_tok, engine="ray", **KW)
    assert len(m["run"]["tasks_per_node"]) >= 2 and sum(m["run"]["tasks_per_node"].values()) == m["tasks_planned"]
    got = {}
    for page in s3_server.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="out/"):
        for obj in page.get("Contents", []):
            got[obj["Key"][4:]] = s3_server.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    assert got == files(tmp_path / "local")


def test_spread_pins_each_node_first_then_leaves_it_to_ray(cluster):
    from codemill._ray import Spread

    spread = Spread()
    first = [spread() for _ in range(NODES)]
    assert spread.cpus == NODES and spread() == "SPREAD"
    assert {s.node_id for s in first} == {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert all(s.soft and s._spill_on_unavailable for s in first)  # a node gone or busy: elsewhere


def test_a_node_whose_cpus_are_taken_leaves_its_first_task_to_the_others(cluster):
    from codemill._ray import Spread
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=1)
    class Holder:  # another job's actor on a shared cluster
        def node(self) -> str:
            return ray.get_runtime_context().get_node_id()

    @ray.remote(num_cpus=1)
    def node() -> str:
        return ray.get_runtime_context().get_node_id()

    busy = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])[0]
    holder = Holder.options(scheduling_strategy=NodeAffinitySchedulingStrategy(busy, soft=False)).remote()
    try:
        assert ray.get(holder.node.remote()) == busy
        spread = Spread()
        refs = [node.options(scheduling_strategy=spread()).remote() for _ in range(NODES)]
        done, waiting = ray.wait(refs, num_returns=NODES, timeout=60)  # the busy node's waited for ever
        assert not waiting and busy not in ray.get(done)
    finally:
        ray.kill(holder)
        for _ in range(600):  # the CPU back before the next test
            if ray.available_resources().get("CPU", 0) >= NODES:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the held CPU was not given back in 60 s: the module's next tests would find it taken")
