"""The Ray engine returns the same signatures and clusters as the local engine."""

from __future__ import annotations

import gzip
import json
import random
import sysconfig
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")

from codemill.near_dup.api import REPORT_NAME, dedup, dedup_texts  # noqa: E402
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
    _register_from_the_first_task(monkeypatch)
    remote = dedup(inputs, tmp_path / "ray", engine="ray", ray_shards=5, **kw)
    # Parts of plain, packed, rows.parquet and b.jsonl, a task of code files, LSH reduce tasks.
    assert sum(remote.pop("tasks_per_node").values()) >= 5 + 1 + 5 + 5 + 1 + 5
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


def test_small_record_files_share_tasks_and_match_local(local_ray, tmp_path, monkeypatch):
    # Record files too small to cut are read several to a task, and the listing goes on while
    # they run: 283 small JSONL files were a task each, each waited for before the next was
    # listed (3.4 s against 0.7 s for their lines in one file). The documents, record numbers,
    # skips (a bad line's, with its own file's line number, among the listing's) and kept records
    # are the local engine's. A file alone among code files, and a larger one, are cut as before.
    import codemill.near_dup.ray as ray_engine

    texts = corpus()
    odd, _ = odd_jsonl()
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(14):
        data = _jsonl(texts[i * 3 : i * 3 + 4], f"s{i}").encode() + (odd if i in (2, 9) else b"")
        name = tree / f"r{i:02}.jsonl"
        if i == 5:
            name, data = tree / "r05.jsonl.gz", gzip.compress(data)
        name.write_bytes(data)
        if i in (3, 11):
            (tree / f"r{i:02}b.xyz").write_text("listed between, passed over")
    (tree / "r20.py").write_text(texts[1])  # a code file: the records before and after it part
    (tree / "r21.jsonl").write_bytes(_jsonl(texts[30:33], "alone").encode() + odd)
    (tree / "r22.py").write_text(texts[2])
    (tree / "r23.jsonl").write_bytes(_jsonl(texts, "big").encode())
    kw = {"threshold": 0.7, "num_perm": 128, "bands": 64, "rows": 2, "max_file_bytes": 10_000}
    local = dedup(tree, tmp_path / "local", **kw)
    monkeypatch.setattr(ray_engine, "FILE_TASK_BYTES", 100_000)  # the 14 small files: a few tasks
    big = (tree / "r23.jsonl").stat().st_size
    monkeypatch.setattr(ray_engine, "task_size", lambda size: -(-big // 3))  # r23: 3 parts, the rest 1
    sent: Counter[str] = Counter()
    for name in ("_sign_part", "_sign_record_files"):
        monkeypatch.setattr(ray_engine, name, _Counted(getattr(ray_engine, name), name, sent))
    remote = dedup(tree, tmp_path / "ray", engine="ray", **kw)
    assert 2 <= sent["_sign_record_files"] < 14
    assert sent["_sign_part"] == 1 + 3  # r21, alone between code files; r23's parts
    for report in (local, remote):
        report.pop("outputs")
        report.pop("tasks_per_node", None)
        report["params"].pop("engine")
    assert remote == local
    # The listing's skips and the tasks' are interleaved as a local run lists them.
    paths = [item["path"] for item in local["skipped_items"]]

    def first(prefix: str) -> int:
        return next(i for i, path in enumerate(paths) if path.startswith(str(tree / prefix)))

    assert first("r02.jsonl:") < first("r03b.xyz") < first("r09.jsonl:") < first("r11b.xyz") < first("r21.jsonl:")
    written = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file())
    assert len(written) > 14
    for rel in written:
        if rel.name != REPORT_NAME:
            assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel


class _Counted:
    """A Ray remote function whose tasks are counted (as they are sent) in ``sent[name]``."""

    def __init__(self, remote: Any, name: str, sent: Counter[str]) -> None:
        self.remote, self.name, self.sent = remote, name, sent

    def options(self, **kw: Any) -> Any:
        self.sent[self.name] += 1
        return self.remote.options(**kw)


def _register_from_the_first_task(monkeypatch) -> None:
    """The run's register of texts (`near_dup.ray._Claims`) started at once, every task sent
    once it answers, so that every task claims through it."""
    import codemill.near_dup.ray as ray_engine

    monkeypatch.setattr(ray_engine, "REGISTER_AFTER_ROWS", 0)
    monkeypatch.setattr(ray_engine.ray, "wait", lambda refs, timeout=None: (refs, []) if ray.get(refs) else ([], refs))


def _code_tree(root: Path, texts: list[str]) -> None:
    """Code files over several read batches, among them files a read passes over (binary, too
    large) and files the listing passes over (no code extension, a lock file), and a JSONL file."""
    for i in range(150):
        d = root / f"d{i // 40}"
        d.mkdir(parents=True, exist_ok=True)
        if i % 7 == 3:
            (d / f"bin{i}.py").write_bytes(b"x = 1\0\n")  # binary: skipped when read
        elif i % 11 == 5:
            (d / f"note{i}.xyz").write_text("no code")  # unsupported: skipped when listed
        elif i == 61:
            (d / "package-lock.json").write_text("{}")
        elif i == 90:
            (d / "big.py").write_text("y = 2\n" * 3000)  # over max_file_bytes
        elif i == 100:
            (d / "rows.jsonl").write_text(_jsonl(texts[:6], "r"))
        else:
            (d / f"m{i}.py").write_text(texts[i % len(texts)] + ("" if i % 5 else f"# {i}\n"))


@pytest.mark.parametrize("register", [True, False])
def test_code_files_read_by_ray_tasks_match_local(local_ray, tmp_path, monkeypatch, register):
    # Ray's sign tasks read the code files of a tree themselves, a few read batches a task, while
    # the driver lists on: the report (skips listed in a local run's order), decision and kept
    # files are the local engine's, and the driver reads no code file. Copies of a text in other
    # tasks are signed once when the run's register is up, or again when tasks claim alone.
    import codemill.near_dup.ray as ray_engine
    import codemill.sources.inputs as inputs

    texts = corpus()
    tree = tmp_path / "tree"
    _code_tree(tree, texts)
    kw = {"threshold": 0.7, "num_perm": 128, "bands": 64, "rows": 2, "max_file_bytes": 10_000}
    local = dedup(tree, tmp_path / "local", **kw)

    def not_here(*args, **kwargs):
        raise AssertionError("the driver read code files")

    monkeypatch.setattr(inputs, "_read_batch", not_here)
    monkeypatch.setattr(ray_engine, "FILE_TASK_BYTES", 40_000)  # a read batch (64 files) a task
    if register:
        _register_from_the_first_task(monkeypatch)
    remote = dedup(tree, tmp_path / "ray", engine="ray", **kw)
    assert sum(remote.pop("tasks_per_node").values()) >= 3 + 1 + 1  # file tasks, the JSONL, LSH
    for report in (local, remote):
        report.pop("outputs")
        report["params"].pop("engine")
    assert remote == local
    reasons = {item["reason"] for item in local["skipped_items"]}
    assert {"binary", "too_large", "unsupported_language", "lock_file"} <= reasons
    assert local["counts"]["near_duplicates_removed"] >= 5 and local["counts"]["exact_duplicates_removed"] >= 5
    written = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file())
    assert len(written) > 30
    for rel in written:
        if rel.name != REPORT_NAME:
            assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel


@pytest.mark.parametrize(("limit", "task_bytes"), [(5, 1), (23, 30_000), (1000, 1)])
def test_skips_of_files_read_by_tasks_keep_a_local_runs_order(local_ray, tmp_path, monkeypatch, limit, task_bytes):
    # The items listed are the first `limit` in a local run's order, wherever the list fills up:
    # in the listing's skips, or in those of a file task taken later.
    import codemill.near_dup.ray as ray_engine
    from codemill.near_dup.config import DedupConfig
    from codemill.sources import Skips
    from codemill.sources.inputs import iter_documents_or_readers, list_batches_or_readers

    texts = corpus()
    _code_tree(tmp_path, texts)
    (tmp_path / "d2" / "rows.jsonl").unlink()  # its records are read by their own tasks
    here = Skips(limit)
    for _ in iter_documents_or_readers([tmp_path], here, max_bytes=10_000):
        pass
    monkeypatch.setattr(ray_engine, "FILE_TASK_BYTES", task_bytes)
    there = Skips(limit)
    listed = list_batches_or_readers([tmp_path], there, max_bytes=10_000)
    taken: list[int] = []
    ray_engine.ray_sign_inputs(DedupConfig(), listed, there, None, 10_000, Counter(),
                               lambda docs, part: taken.append(len(docs)), lambda *a: None, lambda: 0)  # fmt: skip
    assert there.items == here.items and there.counts == here.counts
    assert here.total > limit or limit == 1000
    assert sum(taken) == 150 - sum(1 for i in range(150) if i % 11 == 5 and i % 7 != 3) - 2  # listed files


def test_the_register_starts_once_enough_copies_were_signed_again(local_ray, monkeypatch):
    # The run's register costs an actor's start: it is started once REGISTER_AFTER_ROWS rows were
    # signed again, and handed to tasks once it answers; its claims say which texts are new.
    import time

    import codemill.near_dup.ray as ray_engine

    monkeypatch.setattr(ray_engine, "REGISTER_AFTER_ROWS", 10)
    again = 0
    claims = ray_engine._Claims(lambda: again)
    assert claims.ticket().register is None and claims.actor is None
    again = 10
    deadline = time.monotonic() + 60
    while (ticket := claims.ticket()).register is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ticket.register is not None and ticket.register is claims.actor
    raw = np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)
    claim = ray_engine._claim(ticket)
    assert claim(raw).tolist() == [True, True, False]
    assert claim(raw[1:]).tolist() == [False, False]
    retried = ray_engine._claim(ticket)  # the same task run again (Ray retries a dead worker's)
    assert retried(raw).tolist() == [True, True, False]
    assert retried(raw[1:]).tolist() == [False, False]
    assert ray_engine._claim(claims.ticket())(raw).tolist() == [False, False, False]
    claims.close()


def test_a_retried_task_keeps_its_claims():
    # A task whose worker died after claiming is run again by Ray: the register answers its claims
    # as before, or its texts would be signed by no row (read as empty, their duplicates missed).
    # Without keys (a claim function shared as is), the run's signer refuses to fill them.
    import codemill.near_dup.ray as ray_engine
    from codemill.near_dup import signing
    from codemill.near_dup.config import DedupConfig
    from codemill.near_dup.signing import Signer, first_claims, local_signatures, sign_texts

    cfg = DedupConfig(num_perm=64)
    a = ["def f():\n    return 1\n" * 5, "x = 2\n" * 10]
    b = ["def f():\n    return 1\n" * 5, "y = 3\n" * 10]
    want = sign_texts(cfg, a + b)
    register = ray_engine._Register()
    signs = local_signatures(cfg)

    def task(texts: list[str], number: int) -> signing.Claimed:
        calls = iter(range(10))
        signer = Signer(cfg, signs, lambda raw: register.claim(raw, (number, next(calls))))
        signer.add(texts)
        return signer.claimed()

    task(a, 1)  # its result lost
    part_b = task(b, 2)
    part_a = task(a, 1)  # the retry
    run = Signer(cfg, signs)
    run.add_claimed(part_a)
    run.add_claimed(part_b)
    for got, w in zip(run.signed(), want, strict=True):
        np.testing.assert_array_equal(got, w)
    # A retry that reads other rows (a file changed): what the first attempt claimed is still its.
    assert register.claim(np.array([[7, 7], [5, 5]], dtype=np.uint64), (3, 0)).tolist() == [True, True]
    assert register.claim(np.array([[5, 5]], dtype=np.uint64), (3, 0)).tolist() == [True]
    assert register.claim(np.array([[5, 5]], dtype=np.uint64), (4, 0)).tolist() == [False]

    shared = first_claims()
    lost = Signer(cfg, signs, shared)
    lost.add(a)
    lost.claimed()
    parts = []
    for texts in (b, a):
        signer = Signer(cfg, signs, shared)
        signer.add(texts)
        parts.append(signer.claimed())
    run = Signer(cfg, signs)
    for part in parts[::-1]:
        run.add_claimed(part)
    with pytest.raises(RuntimeError, match="no row signed"):
        run.signed()


def test_skips_insert_keeps_the_first_limit():
    from codemill.sources import Skips

    s = Skips(4)
    s.add("a", "binary")
    s.add("b", "binary")
    s.insert(1, [("x", "empty"), ("y", "empty")])
    assert [i["path"] for i in s.items] == ["a", "x", "y", "b"]
    s.insert(2, [("z", "too_large")])  # pushes the last one out
    assert [i["path"] for i in s.items] == ["a", "x", "z", "y"]
    s.insert(4, [("w", "binary")])  # past the limit: counted only
    assert len(s.items) == 4 and s.total == 6 and s.counts["binary"] == 3
    with pytest.raises(ValueError, match="unknown skip reason"):
        s.insert(0, [("v", "nope")])


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


def test_code_files_are_cut_into_tasks_of_their_bytes(local_ray, tmp_path, monkeypatch):
    # Code files go FILE_TASK_BYTES to a task, across the listing's batches of FETCH_BATCH files
    # (a record group's reset once took their count back to zero at each batch: one task).
    import codemill.near_dup.ray as ray_engine
    from codemill.sources.inputs import FETCH_BATCH

    texts = corpus()
    for i in range(5 * FETCH_BATCH):
        (tmp_path / f"m{i:03}.py").write_text(texts[i % len(texts)][:1000] + f"\n# {i}\n")
    total = sum(p.stat().st_size for p in tmp_path.glob("*.py"))
    monkeypatch.setattr(ray_engine, "FILE_TASK_BYTES", total // 4)  # more than a batch's bytes
    sent: Counter[str] = Counter()
    monkeypatch.setattr(ray_engine, "_sign_files", _Counted(ray_engine._sign_files, "files", sent))
    remote = dedup(tmp_path, tmp_path.parent / f"{tmp_path.name}_ray", engine="ray")
    assert sent["files"] == 3  # two batches a task
    assert remote["counts"] == dedup(tmp_path, tmp_path.parent / f"{tmp_path.name}_local")["counts"]


def test_a_parquet_files_skips_come_after_those_of_code_files_before_it(local_ray, tmp_path):
    # A local run read a Parquet file's first rows as it listed it, before the code files listed
    # before it were read: its empty first row was listed before a too-large file listed earlier,
    # where Ray's tasks put it after (a helper's review). Both now read the file after them.
    import pyarrow as pa
    import pyarrow.parquet as pq

    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.py").write_text("z = 1\n" * 2000)
    (tree / "b.xyz").write_text("x")
    (tree / "c.py").write_text("y = 2\n")
    pq.write_table(pa.table({"content": ["", "x = 1\n"], "path": ["p0", "p1"]}), tree / "d.parquet")
    local = dedup(tree, tmp_path / "local", max_file_bytes=10_000)
    remote = dedup(tree, tmp_path / "ray", engine="ray", max_file_bytes=10_000)
    names = [(Path(item["path"]).name, item["reason"]) for item in local["skipped_items"]]
    # a.py is read when its batch ends, at the Parquet file: after what the listing passed over.
    assert names == [("b.xyz", "unsupported_language"), ("a.py", "too_large"), ("d.parquet:1", "empty")]
    assert remote["skipped_items"] == local["skipped_items"] and remote["counts"] == local["counts"]


def test_a_damaged_file_among_small_ones_is_its_own_error(local_ray, tmp_path):
    # A task of several small record files fails with the damaged one's error, as a local run.
    from codemill.errors import SourceError

    data = gzip.compress(_jsonl(corpus(), "m").encode())
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.jsonl").write_text(_jsonl(corpus()[:3], "a"))
    (tree / "b.jsonl.gz").write_bytes(data[: len(data) // 2])
    (tree / "c.jsonl").write_text(_jsonl(corpus()[3:6], "c"))
    with pytest.raises(SourceError, match="truncated") as local:
        dedup(tree, tmp_path / "local")
    with pytest.raises(SourceError, match="truncated") as remote:
        dedup(tree, tmp_path / "ray", engine="ray")
    assert type(remote.value) is SourceError and str(remote.value) == str(local.value)


def test_a_failed_task_cancels_those_still_waiting(local_ray, monkeypatch):
    # Left running after a run stopped, a dedup's output groups would go on writing into its
    # prefix, perhaps over a later run's. Ray's cancel is best effort (once lost in CI): what
    # still runs a second later is killed, as tokenize's tasks are.
    import codemill._ray
    import codemill.near_dup.ray as ray_engine

    monkeypatch.setattr(codemill._ray, "CANCEL_WAIT_S", 1.0)

    @ray.remote
    def failing() -> None:
        raise ValueError("bad input: a.jsonl")

    @ray.remote
    def slow() -> tuple[int, str]:
        import time

        for _ in range(600):  # work in steps, as an upload's parts (a cancel interrupts between)
            time.sleep(0.1)
        return 1, "node"

    later = slow.remote()
    with pytest.raises(ValueError, match="bad input"):
        list(ray_engine._in_order(iter([failing.remote(), later]), {}))
    with pytest.raises((ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError)):
        ray.get(later, timeout=5)


def test_relative_inputs_mean_the_drivers_directory(local_ray, tmp_path, monkeypatch):
    # Ray's workers run in their node's directory (here: where Ray was started), not the
    # driver's: a task opened a relative input there, and read another file of that name if
    # there was one (the wrong records, silently), or failed.
    code = (STDLIB / "json" / "decoder.py").read_text(encoding="utf-8")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.py").write_text(code)
    (tmp_path / "tree" / "b.py").write_text(code.replace("def ", "def  ", 3))
    lines = [json.dumps({"content": code + f"\n# {i}\n"}) for i in range(4)]
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    local = dedup(["tree", "x.jsonl"], "local_out")
    remote = dedup(["tree", "x.jsonl"], "ray_out", engine="ray")
    assert local["counts"]["documents"] == 6 and local["counts"]["kept"] < 6
    assert remote["clusters"] == local["clusters"] and remote["counts"] == local["counts"]
    assert (tmp_path / "ray_out" / "x.jsonl").read_bytes() == (tmp_path / "local_out" / "x.jsonl").read_bytes()
