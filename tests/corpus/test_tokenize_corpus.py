"""Corpus tokenization: readers, shards (npy + Megatron), manifest, skips, resume after kill -9."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import codemill
import numpy as np
import pytest
from codemill.cli import main
from codemill.corpus.engines.task import (
    IN_FLIGHT_LOCAL,
    IN_FLIGHT_REMOTE,
    MOST_IN_FLIGHT_REMOTE,
    REMOTE_BYTES_IN_FLIGHT,
    batch_size,
    tasks_in_flight,
)
from codemill.corpus.megatron import MegatronReader
from codemill.corpus.plan import Task, plan_tasks
from codemill.corpus.reader import iter_shard_documents, read_manifest, read_npy_shard
from codemill.errors import CodemillError
from codemill.sources import RecordReader, Skips, iter_documents, walk
from conftest import FIXTURES, STDLIB, odd_jsonl

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
zstd = pytest.importorskip("zstandard")

PY_FILES = sorted((STDLIB / "json").glob("*.py")) + sorted((STDLIB / "email").glob("*.py"))[:12]


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def make_corpus(root: Path) -> tuple[list[str], list[str]]:
    """A tree of real code in several languages plus JSONL (.gz/.zst) and Parquet of real code.

    Returns the inputs and every document's text in the order tokenize_corpus reads them.
    """
    tree = root / "tree"
    (tree / "pkg").mkdir(parents=True)
    for f in sorted(FIXTURES.glob("sample.*")):
        (tree / f.name).write_bytes(f.read_bytes())
    for f in PY_FILES[:10]:
        (tree / "pkg" / f"{f.parent.name}_{f.name}").write_bytes(f.read_bytes())
    rows = [{"content": f.read_text(encoding="utf-8"), "lang": "Python", "path": f.name} for f in PY_FILES[10:]] + [
        {"text": (FIXTURES / "sample.go").read_text(), "path": "x/main.go"}
    ]
    jl = root / "data.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gz = root / "data.jsonl.gz"
    gz.write_bytes(gzip.compress(jl.read_bytes()))
    zs = root / "data.jsonl.zst"
    zs.write_bytes(zstd.ZstdCompressor().compress(jl.read_bytes()))
    pqf = root / "stack.parquet"
    table = pa.table(
        {
            "content": [r.get("content", r.get("text")) for r in rows],
            "lang": [r.get("lang", "Go") for r in rows],
            "path": [r["path"] for r in rows],
        }
    )
    pq.write_table(table, pqf, row_group_size=3)
    inputs = [str(tree), str(jl), str(gz), str(zs), str(pqf)]
    tree_texts = [Path(e.path).read_text(encoding="utf-8") for e in walk(tree, Skips())]
    texts = tree_texts + [r.get("content", r.get("text")) for r in rows] * 4
    return inputs, texts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[list[str], list[str]]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("fmt", ["npy", "megatron"])
def test_round_trip(tok, corpus, tmp_path, fmt) -> None:
    inputs, texts = corpus
    out = tmp_path / "out"
    m = codemill.tokenize_corpus(inputs, out, format=fmt, shard_tokens=3000, task_bytes=20_000, batch_bytes=10_000)
    assert m["complete"] and m == {**read_manifest(out), "run": m["run"]}
    assert m["totals"]["documents"] == len(texts) and m["totals"]["skipped"] == 0
    assert len(m["tasks"]) > 5 and m["totals"]["shards"] > len(m["tasks"])  # several tasks, several shards each
    decoded = [tok.decode(ids) for ids in iter_shard_documents(out)]
    assert decoded == texts
    # Every document ends with one end-of-text token; whole documents per shard.
    with_eot = list(iter_shard_documents(out, keep_eot=True))
    assert all(int(d[-1]) == tok.eot_id for d in with_eot)
    assert m["settings"]["dtype"] == "uint16"
    nbytes = sum(len(t.encode()) for t in texts)
    assert m["totals"]["bytes"] == nbytes == sum(s["bytes"] for s in m["shards"])
    assert m["totals"]["tokens"] == sum(len(d) for d in with_eot) == sum(s["tokens"] for s in m["shards"])
    assert set(m["languages"]) >= {"python", "go", "rust", "java", "c", "cpp", "typescript", "javascript"}
    py = m["languages"]["python"]
    assert py["bytes_per_token"] == round(py["bytes"] / py["tokens"], 4) and py["bytes_per_token"] > 3
    for shard in m["shards"]:
        assert shard["tokens"] <= 3000 or shard["documents"] == 1


def test_npy_shard_layout(tok, corpus, tmp_path) -> None:
    inputs, texts = corpus
    m = codemill.tokenize_corpus(inputs[:1], tmp_path, shard_tokens=1 << 30)
    (shard,) = m["shards"]
    tokens, starts = read_npy_shard(tmp_path / shard["files"][0])
    assert tokens.dtype == np.uint16 and len(tokens) == shard["tokens"] and starts.dtype == np.uint64
    assert len(starts) == shard["documents"] + 1 and starts[0] == 0 and starts[-1] == len(tokens)
    docs = list(iter_documents(inputs[:1], Skips()))
    assert [d.text for d in docs] == texts[: shard["documents"]]
    expected = np.concatenate([np.append(tok.encode(d.text, d.language), tok.eot_id) for d in docs])
    assert np.array_equal(np.load(tmp_path / shard["files"][0]), expected)


def test_megatron_reads_back(tok, corpus, tmp_path) -> None:
    inputs, _ = corpus
    codemill.tokenize_corpus(inputs, tmp_path / "npy", shard_tokens=5000, task_bytes=30_000)
    m = codemill.tokenize_corpus(inputs, tmp_path / "meg", shard_tokens=5000, task_bytes=30_000, format="megatron")
    assert [s["name"] for s in m["shards"]] == [s["name"] for s in read_manifest(tmp_path / "npy")["shards"]]
    for shard in m["shards"]:
        prefix = tmp_path / "meg" / shard["name"]
        idx = (tmp_path / "meg" / (shard["name"] + ".idx")).read_bytes()
        assert idx[:9] == b"MMIDIDX\x00\x00" and idx[9:17] == (1).to_bytes(8, "little") and idx[17] == 8  # uint16
        r = MegatronReader(prefix)
        assert len(r) == shard["documents"] and np.array_equal(r.document_indices, np.arange(len(r) + 1))
        tokens, starts = read_npy_shard(tmp_path / "npy" / (shard["name"] + ".npy"))
        for i in range(len(r)):
            assert np.array_equal(r[i], tokens[starts[i] : starts[i + 1]])
        assert (prefix.with_suffix(".bin")).stat().st_size == 2 * int(r.lengths.sum())
    a = [tok.decode(d) for d in iter_shard_documents(tmp_path / "meg")]
    b = [tok.decode(d) for d in iter_shard_documents(tmp_path / "npy")]
    assert a == b and len(a) == m["totals"]["documents"]


@pytest.mark.parametrize("fmt", ["npy", "megatron"])
def test_scratch_shards_are_the_same_files_without_fsync(tmp_path, monkeypatch, fmt) -> None:
    # Shards staged for an upload skip the fsyncs (the upload commits them), nothing else.
    from codemill.corpus.shards import ShardWriter

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    ids = np.arange(40, dtype=np.uint16) % 7
    offsets = [0, 10, 25, 40]
    tokens = np.insert(ids, offsets[1:], 9).tobytes()  # an EOT (9) after each document
    written = {}
    for durable in (True, False):
        synced.clear()
        out = tmp_path / str(durable)
        out.mkdir()
        w = ShardWriter(out, "t", fmt=fmt, dtype="uint16", shard_tokens=20, durable=durable)
        w.add(tokens, [11, 16, 16], [3, 4, 5])
        shards = w.close()
        assert [s["tokens"] for s in shards] == [11, 16, 16] and (len(synced) > 0) == durable
        written[durable] = (shards, snapshot(out))
    assert written[True] == written[False]


@pytest.mark.parametrize("fmt", [None, "npy", "megatron"])
def test_a_tokenize_run_does_not_import_numpy(tmp_path, fmt) -> None:
    # NumPy's import cost ~0.1 s of every run (and of every spawned worker): the encoder packs
    # the shards' bytes itself, and a report (no -o: the quick start's command) only counts.
    args = [str(FIXTURES), "--json"] if fmt is None else [str(FIXTURES), "-o", str(tmp_path / "out"), "--format", fmt]
    code = (
        "import json, sys\n"
        "from codemill.cli import main\n"
        f"main(['tokenize', *{args!r}])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('numpy.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    *printed, modules = out.strip().splitlines()
    assert json.loads(modules) == []
    if fmt is None:
        assert json.loads("\n".join(printed))["tokens"] > 0
    else:
        m = read_manifest(tmp_path / "out")
        assert m["totals"]["documents"] == len(list(iter_shard_documents(tmp_path / "out"))) > 0


@pytest.mark.parametrize(("fmt", "dtype"), [("npy", "uint32"), ("megatron", "int32"), ("megatron", "uint16")])
def test_shards_read_back_the_packed_ids_of_each_width(tmp_path, fmt, dtype) -> None:
    # The writer takes the encoder's packed bytes as they are; each index says where they are.
    from codemill.corpus.shards import ShardWriter

    docs = [[70_000, 1, 2], [], [99_999]] if dtype != "uint16" else [[65_535, 1, 2], [], [7]]
    eot = 65_600 if dtype != "uint16" else 9
    tokens = np.array([t for d in docs for t in [*d, eot]], dtype=dtype).tobytes()
    w = ShardWriter(tmp_path, "t", fmt=fmt, dtype=dtype, shard_tokens=1000)
    w.add(tokens, [len(d) + 1 for d in docs], [5, 0, 3])
    [shard] = w.close()
    assert shard["documents"] == 3 and shard["tokens"] == 7 and shard["bytes"] == 8
    if fmt == "npy":
        ids, starts = read_npy_shard(tmp_path / shard["files"][0])
        got = [ids[a:b].tolist() for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)]
    else:
        r = MegatronReader(tmp_path / "t-0000")
        got = [r[i].tolist() for i in range(len(r))]
    assert got == [[*d, eot] for d in docs]
    with pytest.raises(CodemillError, match="not 2 documents"):
        w.add(tokens, [4, 4], [5, 3])  # 8 ids in 7 ids' bytes


def test_uint32_for_large_vocab(small_tok, tmp_path) -> None:
    from codemill.corpus.shards import token_dtype

    assert token_dtype(32768) == "uint16" and token_dtype(1 << 16) == "uint16"
    assert token_dtype(70_000) == "uint32" and token_dtype(70_000, "megatron") == "int32"
    m = codemill.tokenize_corpus([FIXTURES], tmp_path, tokenizer=small_tok)
    assert m["tokenizer"]["hash"] == small_tok.hash and m["tokenizer"]["vocab_size"] == small_tok.vocab_size
    texts = [Path(e.path).read_text() for e in walk(FIXTURES, Skips())]
    assert [small_tok.decode(d) for d in iter_shard_documents(tmp_path)] == texts


def test_jsonl_byte_ranges_partition_lines(tmp_path) -> None:
    rows = [{"text": "x" * (i % 37 + 1) + "\n", "lang": "py"} for i in range(300)]
    jl = tmp_path / "a.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole = [d.text for d in RecordReader(jl, Skips()).read()]
    assert whole == [r["text"] for r in rows]
    for task_bytes in (1, 7, 40, 41, 42, 500, 10_000):
        tasks = plan_tasks([jl], task_bytes)
        assert tasks[0].start == 0 and tasks[-1].stop is None
        got = [d.text for t in tasks for d in RecordReader(jl, Skips()).read(t.start, t.stop)]
        assert got == whole, task_bytes


def test_skips_are_counted_and_named(tok, tmp_path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.py").write_text("x = 1\n")
    (tree / "empty.py").write_bytes(b"")
    (tree / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (tree / "blob.c").write_bytes(b"\x7fELF\0\0\0" + bytes(range(256)))
    (tree / "big.go").write_text("package main\n" * 2000)
    (tree / "dangling.rs").symlink_to(tree / "nowhere.rs")
    jl = tmp_path / "records.jsonl"
    jl.write_bytes(
        b'{"text": "ok = 2\\n", "lang": "python"}\n'
        b"not json\n"
        b'{"path": "a.py"}\n'
        b'{"content": ""}\n'
        b'{"content": "\\ud800"}\n'
        b'{"content": "caf\xe9"}\n'
        b"[1, 2]\n"
        b"\n"
    )
    m = codemill.tokenize_corpus([tree, jl], tmp_path / "out", max_file_bytes=10_000)
    assert m["totals"]["documents"] == 2
    # "[1, 2]" is JSON but not an object: invalid_json; the dangling link is a link, not followed;
    # empty: empty.py, the empty "content" and the blank last line.
    assert m["skipped"] == {
        "binary": 1,
        "empty": 3,
        "invalid_json": 2,
        "invalid_utf8": 3,
        "no_text": 1,
        "too_large": 1,
        "symlink": 1,
    }
    items = {(Path(i["path"].rsplit(":", 1)[0]).name, i["reason"]) for i in m["skipped_items"]}
    assert {
        ("empty.py", "empty"),
        ("latin1.py", "invalid_utf8"),
        ("blob.c", "binary"),
        ("big.go", "too_large"),
        ("dangling.rs", "symlink"),
        ("records.jsonl", "invalid_json"),
    } <= items
    assert f"{jl}:2" in {i["path"] for i in m["skipped_items"]}  # "not json" is the second line
    assert [tok.decode(d) for d in iter_shard_documents(tmp_path / "out")] == ["x = 1\n", "ok = 2\n"]


def test_fifty_megabyte_file(tok, tmp_path) -> None:
    src = (STDLIB / "typing.py").read_text()
    text = (src * (50_000_000 // len(src) + 1))[:50_000_000]
    big = tmp_path / "tree" / "huge.py"
    big.parent.mkdir()
    big.write_text(text)
    (tmp_path / "tree" / "small.py").write_text("y = 2\n")
    m = codemill.tokenize_corpus([big.parent], tmp_path / "out", shard_tokens=1_000_000)
    assert m["totals"]["documents"] == 2 and m["totals"]["bytes"] == 50_000_006
    big_shard = next(s for s in m["shards"] if s["bytes"] == 50_000_000)
    assert big_shard["documents"] == 1 and big_shard["tokens"] > 1_000_000  # a shard of its own
    docs = list(iter_shard_documents(tmp_path / "out"))
    assert tok.decode(docs[0]) == text and tok.decode(docs[1]) == "y = 2\n"
    # With a smaller limit it is skipped and reported instead.
    m = codemill.tokenize_corpus([big.parent], tmp_path / "out2", max_file_bytes=10 << 20)
    assert m["skipped"] == {"too_large": 1} and m["skipped_items"] == [{"path": str(big), "reason": "too_large"}]


@pytest.mark.parametrize("pool", [False, True])
def test_deterministic_across_workers(corpus, tmp_path, monkeypatch, pool) -> None:
    # A small input runs in this process on every worker's encoder threads; a large one (here:
    # the size the pool needs lowered to 0) on worker processes, spawned while the inputs are
    # planned (as from a process running other threads). The bytes are the same.
    from codemill import _cpus
    from codemill.corpus.engines import local

    inputs, _ = corpus
    kw = {"shard_tokens": 4000, "task_bytes": 25_000}
    a = codemill.tokenize_corpus(inputs, tmp_path / "a", workers=1, **kw)
    monkeypatch.setattr(_cpus, "single_threaded", lambda: False)
    monkeypatch.setattr(local, "single_threaded", lambda: False)
    if pool:
        monkeypatch.setattr(local, "POOL_MIN_BYTES", 0)
    started: list[int] = []
    start_pool, run_local = local.start_pool, local.run_local
    monkeypatch.setattr(local, "start_pool", lambda workers, *a: started.append(workers) or start_pool(workers, *a))
    planned: list[object] = []  # the pool the run was handed: started while the inputs were planned

    def run(*args: Any) -> int:
        planned.append(args[-1])
        return run_local(*args)

    monkeypatch.setattr(local, "run_local", run)
    b = codemill.tokenize_corpus(inputs, tmp_path / "b", workers=3, **kw)
    assert a["run"]["tasks_run"] == b["run"]["tasks_run"] > 2
    assert a["run"]["processes"] == 1 and b["run"]["processes"] == (3 if pool else 1)
    assert started == ([3] if pool else [])  # a small input never starts the workers
    assert (planned[0] is not None) == pool
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


# `codemill tokenize` as a user runs it, with the size the pool needs lowered to 0: the CLI keeps
# BLAS to one thread, so the process runs one thread until its workers start.
_CLI_POOLED = (
    "import os, sys; os.environ['OPENBLAS_NUM_THREADS'] = '1'\n"
    "import codemill.corpus.engines.local as e\n"
    "e.POOL_MIN_BYTES = 0\n"
)


@pytest.mark.parametrize("parquet", [False, True])
def test_a_single_threaded_run_forks_its_workers_once_planned(corpus, tmp_path, parquet) -> None:
    # No worker is spawned while the inputs are planned; they are forked after, with the
    # tokenizer and modules of this process. Reading Parquet starts pyarrow's threads: then
    # they are spawned. The bytes are those of one worker either way.
    inputs = [i for i in corpus[0] if parquet or not i.endswith(".parquet")]
    kw: dict[str, Any] = {"shard_tokens": 4000, "task_bytes": 25_000}
    codemill.tokenize_corpus(inputs, tmp_path / "a", workers=1, **kw)
    script = _CLI_POOLED + (
        "import json\n"
        "forks = []\n"
        "start = e.start_pool\n"
        "e.start_pool = lambda *a, fork=False: forks.append(fork) or start(*a, fork=fork)\n"
        "from codemill.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(json.dumps(forks))\n"
        "sys.exit(code)\n"
    )
    args = ["tokenize", *inputs, "-o", str(tmp_path / "b"), "--workers", "3", "--no-progress", "--json"]
    args += ["--shard-tokens", "4000", "--task-bytes", "25000"]
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [not parquet]  # one pool, forked or spawned
    assert json.loads(proc.stdout[: proc.stdout.rindex("\n[")])["run"]["processes"] == 3
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


def test_a_run_starts_its_workers_once_its_inputs_hold_enough_bytes(monkeypatch) -> None:
    from codemill.corpus.engines import local

    started: list[int] = []

    class Started:
        workers = "the pool's workers"

    monkeypatch.setattr(local, "start_pool", lambda workers, *a: started.append(workers) or Started())
    starter = local.PoolStarter(2, None, "out")  # type: ignore[arg-type]
    assert starter(0) is None and starter(local.POOL_MIN_BYTES - 1) is None and not started
    assert starter(local.POOL_MIN_BYTES) == "the pool's workers" and started == [2]
    assert starter(local.POOL_MIN_BYTES * 2) == "the pool's workers" and started == [2]  # once
    one = local.PoolStarter(1, None, "out")  # type: ignore[arg-type]
    assert one(local.POOL_MIN_BYTES * 2) is None and started == [2]  # one worker: this process
    # Forked at once (a URL run from one thread): started once, with no walk to share (a local
    # tree of the run is walked here, listed ahead on another core, which was faster).
    forked: list[bool] = []
    monkeypatch.setattr(local, "start_pool", lambda workers, *a, fork=False: forked.append(fork) or Started())
    early = local.PoolStarter(2, None, "out")  # type: ignore[arg-type]
    early.fork_now()
    early.fork_now()
    assert forked == [True] and early.pool is not None
    assert early(0) is None and early(local.POOL_MIN_BYTES * 2) is None and forked == [True]
    single = local.PoolStarter(1, None, "out")  # type: ignore[arg-type]
    single.fork_now()
    assert single.pool is None and forked == [True]  # one worker: none to fork


def test_a_pool_is_used_from_a_size_of_input_never_for_one_task_or_one_worker() -> None:
    from codemill.corpus.engines.local import POOL_MIN_BYTES, uses_pool

    def tasks(*sizes: int) -> list[Task]:
        return [Task(i, "files", "root", files=("a.py",), size=n) for i, n in enumerate(sizes)]

    assert uses_pool(tasks(POOL_MIN_BYTES // 2, POOL_MIN_BYTES // 2), 2)
    assert not uses_pool(tasks(POOL_MIN_BYTES // 2, POOL_MIN_BYTES // 2 - 1), 2)  # 40 MB: threads
    assert not uses_pool(tasks(POOL_MIN_BYTES * 4), 2)  # one task
    assert not uses_pool(tasks(POOL_MIN_BYTES, POOL_MIN_BYTES), 1)


def test_batches_do_not_change_output(corpus, tmp_path) -> None:
    # A task is encoded in several batches (so reading overlaps encoding); their size must not
    # show in the output: one document per batch gives the same bytes as one batch per task.
    inputs, _ = corpus
    kw = {"shard_tokens": 4000, "task_bytes": 25_000}
    a = codemill.tokenize_corpus(inputs, tmp_path / "a", batch_bytes=1, **kw)
    b = codemill.tokenize_corpus(inputs, tmp_path / "b", batch_bytes=1 << 30, **kw)
    assert a["run"]["tasks_run"] == b["run"]["tasks_run"] > 2
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert batch_size(Task(0, "files", "t", size=40 << 20), 4 << 20) == 4 << 20  # big tasks: the cap
    assert batch_size(Task(0, "files", "t", size=1 << 20), 4 << 20) == 256 << 10  # 1 MiB: four batches
    assert batch_size(Task(0, "files", "t", size=1 << 20), 1) == 1  # the caller's cap wins


def test_tasks_in_flight_follow_where_they_run_and_their_size() -> None:
    # Locally two; with a bucket on either side four, and more of small tasks (their round
    # trips, not their bytes, take the time), as many as REMOTE_BYTES_IN_FLIGHT of input allows.
    def tasks(path: str, *sizes: int) -> list[Task]:
        return [Task(i, "files", path, size=size) for i, size in enumerate(sizes)]

    mib = 1 << 20
    assert tasks_in_flight(tasks("t", mib, mib), "out") == IN_FLIGHT_LOCAL == 2
    assert tasks_in_flight(tasks("t", mib, mib), "out", workers=3) == 6  # a process running 3 workers' tasks
    assert tasks_in_flight(tasks("s3://b/t", 16 * mib, 20 * mib), "out") == IN_FLIGHT_REMOTE == 4
    assert tasks_in_flight(tasks("t", 16 * mib), "s3://b/out") == 4  # an output in a bucket too
    assert tasks_in_flight(tasks("s3://b/t", 8 * mib, 2 * mib), "out") == 8  # the largest one counts
    assert tasks_in_flight(tasks("s3://b/t", mib, mib), "s3://b/out") == MOST_IN_FLIGHT_REMOTE == 16
    assert tasks_in_flight(tasks("s3://b/t", 0), "out") == 16
    # Small tasks: 16 in a process, however many workers' tasks it runs (each holds files
    # open); 4 a worker still where that is more.
    assert tasks_in_flight(tasks("s3://b/t", mib), "out", workers=2) == 16
    assert tasks_in_flight(tasks("s3://b/t", mib), "out", workers=8) == 32
    assert tasks_in_flight(tasks("s3://b/t", 16 * mib), "out", workers=2) == 8
    assert tasks_in_flight(tasks("s3://b/t", REMOTE_BYTES_IN_FLIGHT // 12), "out") == 12


def test_resume_redoes_only_unfinished_tasks(corpus, tmp_path) -> None:
    inputs, _ = corpus
    kw = {"shard_tokens": 4000, "task_bytes": 25_000}
    clean = tmp_path / "clean"
    codemill.tokenize_corpus(inputs, clean, **kw)
    out = tmp_path / "out"
    m = codemill.tokenize_corpus(inputs, out, **kw)
    n = m["run"]["tasks_run"]
    # Simulate a run killed mid-task: task 2's record gone, one of its shards torn, a temporary left.
    (out / "tasks" / "task-00002.json").unlink()
    shard = out / "shard-00002-0000.npy"
    shard.write_bytes(shard.read_bytes()[:100])
    (out / ".shard-00002-0001.npy.tmp999").write_bytes(b"partial")
    (out / ".manifest.json.tmp999").write_bytes(b"{")
    # ... and task 4's shard lost after its record was written.
    (out / "shard-00004-0000.npy").unlink()
    m = codemill.tokenize_corpus(inputs, out, **kw)
    assert m["run"]["tasks_run"] == 2 and m["run"]["tasks_resumed"] == n - 2
    assert snapshot(out) == snapshot(clean)
    # A complete run, run again, does nothing and changes nothing.
    m = codemill.tokenize_corpus(inputs, out, **kw)
    assert m["run"]["tasks_run"] == 0 and snapshot(out) == snapshot(clean)


def test_a_shard_rewritten_in_place_after_its_task_committed_is_redone(corpus, tmp_path) -> None:
    """A record is published after its shards, so a shard written after it was changed once the
    task had committed: same name, same size, other bytes. Resuming redoes that task only."""
    inputs, _ = corpus
    kw = {"shard_tokens": 4000, "task_bytes": 25_000}
    out = tmp_path / "out"
    m = codemill.tokenize_corpus(inputs, out, **kw)
    clean = snapshot(out)
    shard = out / "shard-00001-0000.npy"
    data = bytearray(shard.read_bytes())
    data[-4:] = b"\xff\xff\xff\x7f"  # a token id changed where the header ends long before
    shard.write_bytes(bytes(data))
    record = out / "tasks" / "task-00001.json"
    st = record.stat()
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))  # later, even on a coarse clock
    again = codemill.tokenize_corpus(inputs, out, **kw)
    assert again["run"]["tasks_run"] == 1 and again["run"]["tasks_resumed"] == m["run"]["tasks_run"] - 1
    assert snapshot(out) == clean


def test_run_tasks_reports_committed_tasks_and_stops_after_an_error(corpus, tmp_path, monkeypatch) -> None:
    """`run_tasks` (two tasks at a time, as on local disk): each record reaches ``on_done`` once
    it is on disk; after an error no task starts, one under way leaves before its next batch
    (or, past it, commits, byte for byte as a whole run writes it) and the error is raised; the
    rest, run again, complete the output."""
    from codemill.corpus.engines import task as task_mod
    from codemill.corpus.settings import TaskSettings
    from codemill.tokenizer import load_tokenizer

    inputs, _ = corpus
    clean = tmp_path / "clean"
    codemill.tokenize_corpus(inputs, clean, shard_tokens=4000, task_bytes=25_000)
    tok = load_tokenizer(None)
    settings = TaskSettings(
        format="npy",
        dtype="uint16",
        eot_id=int(tok.eot_id),
        shard_tokens=4000,
        task_bytes=25_000,
        max_file_bytes=read_manifest(clean)["settings"]["max_file_bytes"],
    )
    tasks = plan_tasks(inputs, 25_000)
    out = tmp_path / "out"
    (out / "tasks").mkdir(parents=True)
    seen: list[int] = []

    def on_done(rec) -> None:
        i = rec["task"]["index"]
        assert (out / "tasks" / f"task-{i:05d}.json").exists(), "reported before its record was written"
        seen.append(i)

    real, fail_at = task_mod._write_task, 3

    def write(task, *args, **kw):
        if task.index == fail_at:
            raise RuntimeError("boom")
        return real(task, *args, **kw)

    monkeypatch.setattr(task_mod, "_write_task", write)
    with pytest.raises(RuntimeError, match="boom"):
        task_mod.run_tasks(iter(tasks), settings, tok, out, on_done)
    committed = sorted(int(n[len("tasks/task-") :][:5]) for n in snapshot(out) if n.startswith("tasks/"))
    # 0-2 were taken before 3 failed, the thread that took 3 had committed its previous task,
    # the other may have started 4, but nothing later.
    assert len(tasks) > fail_at + 2 and sorted(seen) == committed
    assert committed and set(committed) <= {0, 1, 2, 4}
    assert all(snapshot(out)[n] == snapshot(clean)[n] for n in snapshot(out))
    monkeypatch.setattr(task_mod, "_write_task", real)
    # A task whose run is stopping leaves before its next batch: nothing of it is written.
    stopped = threading.Event()
    stopped.set()
    (tmp_path / "stopped").mkdir()
    with pytest.raises(task_mod.Abandoned):
        task_mod.run_task(tasks[fail_at], settings, tok, tmp_path / "stopped", stopped)
    assert not snapshot(tmp_path / "stopped")
    rest = iter(t for t in tasks if t.index not in committed)
    # A stop shared with other workers: running out of tasks must not set it (they may still
    # be finishing theirs, which would then be abandoned).
    shared = threading.Event()
    task_mod.run_tasks(rest, settings, tok, out, on_done, 2, shared)
    assert not shared.is_set()
    assert sorted(seen) == list(range(len(tasks)))
    assert snapshot(out) == {n: b for n, b in snapshot(clean).items() if n != "manifest.json"}


def test_an_input_edited_in_place_is_redone_on_resume(tmp_path) -> None:
    # Same names, same sizes: only the change time tells the edit (the task key alone did not).
    tree, jsonl = tmp_path / "tree", tmp_path / "docs.jsonl"
    tree.mkdir()
    for i in range(6):
        (tree / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 40)
    jsonl.write_text("".join(json.dumps({"text": f"def g{i}(): return {i}"}) + "\n" for i in range(300)))
    kw = {"shard_tokens": 4000, "task_bytes": 2_000}
    out = tmp_path / "out"
    first = codemill.tokenize_corpus([tree, jsonl], out, **kw)
    edited = tree / "m3.py"
    edited.write_text(edited.read_text().replace("def f3", "def h3"))
    lines = jsonl.read_text().replace("def g7()", "def k7()")
    jsonl.write_text(lines)
    for p in (edited, jsonl):  # a later mtime even on a coarse clock
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    again = codemill.tokenize_corpus([tree, jsonl], out, **kw)
    # The tree task holding m3.py and the JSONL's tasks (a file's change time is one for all its
    # ranges) are redone, the other tree tasks kept.
    tree_tasks = sum(t["kind"] == "files" for t in first["tasks"])
    redo = first["run"]["tasks_run"] - tree_tasks + 1
    assert tree_tasks > 2 and again["run"]["tasks_run"] == redo
    assert again["run"]["tasks_resumed"] == tree_tasks - 1
    fresh = codemill.tokenize_corpus([tree, jsonl], tmp_path / "fresh", **kw)
    shards = {k: v for k, v in snapshot(out).items() if k.startswith("shard-")}
    assert shards == {k: v for k, v in snapshot(tmp_path / "fresh").items() if k.startswith("shard-")}
    assert fresh["totals"] == again["totals"]


def test_a_task_about_to_be_redone_loses_its_record_before_its_shards(tmp_path, monkeypatch) -> None:
    # Killed while redoing an edited task, its new shards in place, a run must not leave the old
    # record: a later run would trust it for shards it no longer describes (the same sizes).
    import codemill.corpus.engines.local as local_engine

    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(4):
        (tree / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 40)
    out = tmp_path / "out"
    kw = {"shard_tokens": 4000, "task_bytes": 2_000}
    codemill.tokenize_corpus(tree, out, **kw)
    records = sorted(p.name for p in (out / "tasks").iterdir())
    st = (tree / "m0.py").stat()
    os.utime(tree / "m0.py", ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))

    def killed(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(local_engine, "run_local", killed)
    with pytest.raises(KeyboardInterrupt):
        codemill.tokenize_corpus(tree, out, **kw)
    left = sorted(p.name for p in (out / "tasks").iterdir())
    assert len(left) == len(records) - 1 and "task-00000.json" not in left
    assert not list(out.glob("shard-00000-*"))


def test_a_complete_output_holds_no_temporaries_of_an_attempt_that_died(tmp_path, monkeypatch) -> None:
    # A Ray task killed while writing, then retried elsewhere, left its temporaries in an output
    # whose manifest said complete; only a later run removed them.
    import codemill.corpus.engines.local as local_engine

    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(4):
        (tree / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 40)
    kw = {"shard_tokens": 4000, "task_bytes": 2_000}
    codemill.tokenize_corpus(tree, tmp_path / "ref", **kw)
    run_local = local_engine.run_local
    dead = 2**22 + 1  # a pid past Linux's largest: no process of this machine

    def with_a_dead_attempt(tasks, tok, settings, outdir, *args, **kw):
        (Path(outdir) / f".shard-00001-0000.npy.tmp{dead}").write_bytes(b"half")
        (Path(outdir) / "tasks" / f".task-00001.json.tmp{dead}").write_bytes(b"{")
        return run_local(tasks, tok, settings, outdir, *args, **kw)

    monkeypatch.setattr(local_engine, "run_local", with_a_dead_attempt)
    m = codemill.tokenize_corpus(tree, tmp_path / "out", **kw)
    assert m["complete"] and snapshot(tmp_path / "out") == snapshot(tmp_path / "ref")
    # A folder is no temporary of ours, whatever its name: a run resumed beside it completes.
    monkeypatch.setattr(local_engine, "run_local", run_local)
    (tmp_path / "out" / ".cache.tmp").mkdir()
    assert codemill.tokenize_corpus(tree, tmp_path / "out", **kw)["complete"]
    assert (tmp_path / "out" / ".cache.tmp").is_dir()


def test_changed_settings_are_refused(corpus, tmp_path) -> None:
    inputs, _ = corpus
    codemill.tokenize_corpus(inputs[:1], tmp_path, shard_tokens=4000)
    with pytest.raises(ValueError, match="different settings"):
        codemill.tokenize_corpus(inputs[:1], tmp_path, shard_tokens=5000)
    with pytest.raises(ValueError, match="different inputs"):
        codemill.tokenize_corpus(inputs[:2], tmp_path, shard_tokens=4000)


def _big_tree(root: Path, mb: int) -> Path:
    """About ``mb`` MB of real code (stdlib files repeated) in a tree."""
    files = sorted(STDLIB.glob("*.py"))[:60]
    data = [f.read_bytes() for f in files]
    total, i = 0, 0
    while total < mb * 1_000_000:
        d = root / f"d{i // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        blob = data[i % len(data)]
        (d / f"f{i:05d}_{files[i % len(files)].name}").write_bytes(blob)
        total += len(blob)
        i += 1
    return root


@pytest.mark.slow
@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_kill_9_then_resume_is_byte_identical(tmp_path, start) -> None:
    tree = _big_tree(tmp_path / "tree", 24)
    args = ["tokenize", str(tree), "--task-bytes", "300000", "--shard-tokens", "20000", "--workers", "2"]
    clean = tmp_path / "clean"
    assert main([*args, "-o", str(clean), "--no-progress"]) == 0
    ntasks = len(list((clean / "tasks").iterdir()))
    assert ntasks > 40
    out = tmp_path / "out"
    # `codemill tokenize`, with worker processes for this 24 MB tree: they are killed too. Forked
    # as the CLI runs, or spawned as from a process that runs other threads.
    script = _CLI_POOLED
    if start == "spawn":
        script += "import codemill._cpus as w\nw.single_threaded = e.single_threaded = lambda: False\n"
    cmd = [sys.executable, "-c", script + "from codemill.cli import main; sys.exit(main())", *args]
    cmd += ["-o", str(out), "--no-progress"]
    kills = 0
    pids = []
    for wait_for in (3, ntasks // 3, 2 * ntasks // 3):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids.append(proc.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            done = len(list((out / "tasks").glob("task-*.json"))) if (out / "tasks").exists() else 0
            if done >= wait_for:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.002)
        proc.wait()
    assert kills >= 2  # killed mid-run, not after it finished
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(out) == snapshot(clean)
    # A killed run's tokenizer file for its workers is gone by the end of the next run.
    tmp = Path(tempfile.gettempdir())
    assert not [f for pid in pids for f in tmp.glob(f"codemill-tokenizer-{pid}-*.json")]


def test_orphaned_tokenizer_files_are_removed(tmp_path, monkeypatch) -> None:
    from codemill import _leftovers, _workers

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that made a file and was killed before removing it
    orphan = tmp_path / f"codemill-tokenizer-{gone.pid}-x1.json"
    ours = tmp_path / f"codemill-tokenizer-{os.getpid()}-x2.json"
    other = tmp_path / "codemill-tokenizer-notapid.json"
    for f in (orphan, ours, other):
        f.write_text("{}")
    _leftovers.remove_orphans("codemill-tokenizer-")
    assert not orphan.exists()
    assert ours.exists() and other.exists()  # a live process's file, a name not ours to judge
    # A task's scratch directory (shards staged for an upload) the same way.
    scratch = tmp_path / f"codemill-task-{gone.pid}-abc"
    (scratch / "sub").mkdir(parents=True)
    (scratch / "sub" / "shard-00000-0000.npy").write_bytes(b"x")
    live = tmp_path / f"codemill-task-{os.getpid()}-def"
    live.mkdir()
    _leftovers.remove_orphans("codemill-task-")
    assert not scratch.exists() and live.exists()
    # A pool's file is held while it lives: a run in another pid namespace sharing the
    # directory, to which this pid may look gone, leaves it alone.
    made = Path(_workers.worker_file("tokenizer", "{}"))
    assert made.read_text() == "{}" and _leftovers._held(made)
    _workers.drop_worker_file(str(made))
    assert not made.exists()


def test_cli_writes_shards_and_reports(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["tokenize", str(FIXTURES), "-o", str(out), "--json", "--workers", "1"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["totals"]["documents"] == len(list(FIXTURES.glob("sample.*"))) and (out / "manifest.json").is_file()
    assert main(["tokenize", str(FIXTURES), "-o", str(out), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "bytes/token" in text and "0 tasks run, 1 resumed" in text


def test_cli_errors_name_the_file(tmp_path, capsys) -> None:
    code = main(["tokenize", str(tmp_path / "missing"), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "missing: no such file or directory" in err and "Traceback" not in err
    bad_gz = tmp_path / "bad.jsonl.gz"
    bad_gz.write_bytes(gzip.compress(b'{"text": "a"}\n' * 1000)[:60])
    code = main(["tokenize", str(bad_gz), "-o", str(tmp_path / "o2"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "bad.jsonl.gz: cannot read" in err and err.count("\n") == 1
    bad_pq = tmp_path / "bad.parquet"
    bad_pq.write_bytes(b"PAR1 not really")
    code = main(["tokenize", str(bad_pq), "-o", str(tmp_path / "o3")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.parquet: not a readable Parquet file" in err
    no_col = tmp_path / "nocol.parquet"
    pq.write_table(pa.table({"body": ["x"]}), no_col)
    code = main(["tokenize", str(no_col), "-o", str(tmp_path / "o4"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "nocol.parquet: no 'content' or 'text' or 'code' column" in err


def test_iter_documents_streams_all_kinds(corpus) -> None:
    inputs, texts = corpus
    skips = Skips()
    docs = list(iter_documents(inputs, skips))
    assert [d.text for d in docs] == texts and not skips.counts
    assert [d.language for d in docs[-2:]] == ["python", "go"]  # The Stack's "Python"; a .go path


def test_dead_worker_is_one_clear_error(corpus, tmp_path, monkeypatch) -> None:
    with pytest.raises(ChildProcessError, match="worker process died"):
        _run_with_pool_worker(_die, corpus, tmp_path, monkeypatch)


def _run_with_pool_worker(work, corpus, tmp_path, monkeypatch) -> dict:
    """A 2-worker run to ``tmp_path / "out"`` whose pool worker runs ``work`` instead of its
    loop, while this process's own share of the tasks starts only once the run has stopped: it
    takes none, and the worker gets the tasks however long it takes to start."""
    from codemill.corpus.engines import local

    real = local.run_tasks
    monkeypatch.setattr(local, "POOL_MIN_BYTES", 0)  # a pool for this small input

    def late(*args):
        args[-1].wait(60)  # the run's stop event (the pool's run, where this process has a share)
        real(*args)

    monkeypatch.setattr(local, "run_tasks", late)
    monkeypatch.setattr(local, "_work", work)
    inputs, _ = corpus
    return codemill.tokenize_corpus(inputs, tmp_path / "out", workers=2, task_bytes=25_000)


def _die(settings, in_flight):
    from codemill.corpus.engines import local

    local._WORKER["feed"].get()  # dies holding a task, which then never completes
    os.kill(os.getpid(), signal.SIGKILL)


def test_worker_killed_while_sending_a_record_is_one_clear_error(corpus, tmp_path, monkeypatch) -> None:
    # Before: the run waited forever on the rest of the half-sent record.
    from codemill.corpus.engines import local

    monkeypatch.setattr(local, "_LAST_RECORDS_S", 5.0)
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the run hung"))
    signal.alarm(60)
    try:
        with pytest.raises(ChildProcessError, match="worker process died"):
            _run_with_pool_worker(_die_mid_record, corpus, tmp_path, monkeypatch)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_failed_fresh_run_keeps_tasks_a_worker_committed(corpus, tmp_path, monkeypatch) -> None:
    # Before: this process had received no record yet, took the run for one with nothing to
    # resume and removed the output, the task the worker had committed with it.
    with pytest.raises(RuntimeError, match="after committing"):
        _run_with_pool_worker(_commit_one_then_fail, corpus, tmp_path, monkeypatch)
    assert len(list((tmp_path / "out" / "tasks").glob("task-*.json"))) == 1
    monkeypatch.undo()
    inputs, _ = corpus
    m = codemill.tokenize_corpus(inputs, tmp_path / "out", task_bytes=25_000)
    assert m["run"]["tasks_resumed"] == 1 and m["complete"]


def _commit_one_then_fail(settings, in_flight):
    from codemill.corpus.engines import local

    w = local._WORKER
    local.run_tasks(iter([w["feed"].get()]), settings, w["tok"], w["outdir"], lambda rec: None, 1)
    raise RuntimeError("a worker failed after committing a task")


def _die_mid_record(settings, in_flight):
    import struct

    from codemill.corpus.engines import local

    local._WORKER["feed"].get()
    # The start of a 100 KB message, as a worker killed during its write leaves it.
    os.write(local._WORKER["done"]._writer.fileno(), struct.pack("!i", 100_000) + b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)


def test_empty_tree_and_progress_lines(corpus, tmp_path) -> None:
    import io

    (tmp_path / "empty").mkdir()
    m = codemill.tokenize_corpus([tmp_path / "empty"], tmp_path / "out")
    assert m["complete"] and m["totals"]["documents"] == 0 and m["shards"] == [] and m["tasks"] == []
    inputs, _ = corpus
    log = io.StringIO()
    m = codemill.tokenize_corpus(inputs, tmp_path / "out2", task_bytes=25_000, progress=log)
    lines = log.getvalue().splitlines()
    assert lines and "\r" not in log.getvalue()  # not a terminal: plain lines
    assert lines[-1].startswith(f"tokenize: {len(m['tasks'])}/{len(m['tasks'])} tasks")
    assert f"{m['totals']['documents']:,} docs" in lines[-1] and "MB/s" in lines[-1]
    log = io.StringIO()  # nothing left to do: one line says so
    codemill.tokenize_corpus(inputs, tmp_path / "out2", task_bytes=25_000, progress=log)
    assert log.getvalue().startswith(f"tokenize: {len(m['tasks'])}/{len(m['tasks'])} tasks 100%")
    assert log.getvalue().count("\n") == 1


def test_worker_and_thread_counts_are_capped_by_the_machine(tmp_path) -> None:
    # A typo (--workers 5000, --threads 100000) starts at most 4 per CPU; outputs are the same.
    from codemill._cpus import usable_workers
    from codemill.tokenizer import load_tokenizer

    cap = 4 * (os.cpu_count() or 1)
    assert usable_workers(5000) == cap and usable_workers(1) == 1 and usable_workers(0) == 1
    (tmp_path / "a.py").write_text("def f(x):\n    return x\n" * 50)
    m = codemill.tokenize_corpus(tmp_path / "a.py", tmp_path / "o", workers=5000, threads_per_worker=100_000)
    assert m["run"]["workers"] == cap and m["totals"]["documents"] == 1
    tok = load_tokenizer(None)  # the bundled one
    texts = ["x = 1\n", "def g(): pass\n"] * 20
    assert [list(t) for t in tok.encode_batch(texts, num_threads=100_000)] == [list(tok.encode(t)) for t in texts]


def test_outputs_are_told_apart_by_their_task_index() -> None:
    # Past task 99,999 the index has six digits; temporaries carry a leading dot.
    from codemill.corpus.job import _leftovers, _stale

    files = dict.fromkeys(
        [
            "shard-00003-0000.npy",
            "shard-00003-0001.docs.npy",
            "shard-00004-0000.npy",
            "shard-100000-0000.npy",
            "tasks/task-100000.json",
            "tasks/task-00003.json",
            ".shard-00001-0000.npy.tmp12",
            "manifest.json",
        ],
        1,
    )
    assert sorted(_stale(files, 100_001)) == [".shard-00001-0000.npy.tmp12"]
    assert sorted(_stale(files, 50)) == [
        ".shard-00001-0000.npy.tmp12",
        "shard-100000-0000.npy",
        "tasks/task-100000.json",
    ]
    pending = [Task(3, "files", "root", files=("a.py",)), Task(100_000, "files", "root", files=("b.py",))]
    assert _leftovers(files, pending) == ["shard-00003-0000.npy", "shard-00003-0001.docs.npy", "shard-100000-0000.npy"]


def test_the_reader_thread_ends_when_its_task_leaves_early() -> None:
    # The reader had read everything and waited to hand over its end marker when the task
    # stopped taking batches (an error, a stopping run): it must not wait forever, holding them.
    from codemill._read_ahead import read_ahead

    read_all = threading.Event()

    def items():
        yield ["a"]
        yield ["b"]
        read_all.set()  # next: the end marker, into a queue that "b" fills

    before = set(threading.enumerate())
    batches = read_ahead(items(), depth=1)
    assert next(batches) == ["a"]
    (reader,) = [t for t in set(threading.enumerate()) - before if t.name == "codemill-reader"]
    assert read_all.wait(timeout=30)
    batches.close()
    reader.join(timeout=30)
    assert not reader.is_alive()


def test_a_full_disk_while_writing_a_shard_names_the_shard(tmp_path) -> None:
    import errno

    from codemill.corpus.shards import _OpenShard

    shard = _OpenShard(tmp_path, "shard-00000-0000", "npy", "uint16", durable=True)

    class Full:
        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")  # names no file

        def close(self) -> None:
            pass

    shard.f.close()
    shard.f = Full()  # type: ignore[assignment]
    with pytest.raises(OSError) as e:
        shard.write(bytes(6), [3], 6)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "shard-00000-0000.npy")


def test_a_full_scratch_disk_while_writing_an_index_names_the_index(tmp_path, monkeypatch) -> None:
    # The index of a shard bound for object storage is written without fsync, in one call.
    import errno

    from codemill.corpus.shards import _OpenShard

    shard = _OpenShard(tmp_path, "shard-00000-0000", "npy", "uint16", durable=False)
    shard.write(bytes(6), [3], 6)
    index = tmp_path / "shard-00000-0000.docs.npy"
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self == index:
            raise OSError(errno.ENOSPC, "No space left on device")  # names no file
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError) as e:
        shard.finish()
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(index)


def test_a_skipped_line_of_a_file_whose_name_is_not_utf8_has_its_line_in_the_file(tmp_path) -> None:
    name = os.fsdecode(b"d\xff.jsonl")  # a byte no UTF-8 decodes: shown as \xff in reports
    lines = [json.dumps({"text": f"x{i} = {i}"}) for i in range(100)]
    lines[80] = "not json"
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    m = codemill.tokenize_corpus([tmp_path / name], tmp_path / "out", task_bytes=600, shard_tokens=4000)
    assert m["tasks_planned"] > 3
    [item] = m["skipped_items"]
    assert item == {"path": f"{tmp_path}/d\\xff.jsonl:81", "reason": "invalid_json"}


def test_a_task_of_files_whose_names_are_not_utf8_is_described_in_strict_json(tmp_path) -> None:
    # The manifest and the task's record named the file as a lone surrogate escape ("\udcff"),
    # which strict JSON readers refuse; they show it as reports do.
    tree = tmp_path / os.fsdecode(b"t\xfe")
    tree.mkdir()
    (tree / os.fsdecode(b"bad\xff.py")).write_text("x = 1\n")
    (tmp_path / os.fsdecode(b"r\xfd.jsonl")).write_text(json.dumps({"text": "y = 2"}) + "\n")
    out = tmp_path / "out"
    codemill.tokenize_corpus([tree, tmp_path / os.fsdecode(b"r\xfd.jsonl")], out)
    for f in [out / "manifest.json", *sorted((out / "tasks").iterdir())]:
        text = f.read_bytes().decode("utf-8")
        assert "\\ud" not in text, f  # no surrogate escape
        json.loads(text)
    tasks = json.loads((out / "manifest.json").read_text())["tasks"]
    described = {t["kind"]: t for t in tasks}
    assert described["files"]["path"] == f"{tmp_path}/t\\xfe"
    assert described["files"]["first"] == described["files"]["last"] == f"{tmp_path}/t\\xfe/bad\\xff.py"
    assert described["jsonl"]["path"] == f"{tmp_path}/r\\xfd.jsonl"
    # The same run again resumes every task: the records' descriptions match the plan's.
    again = codemill.tokenize_corpus([tree, tmp_path / os.fsdecode(b"r\xfd.jsonl")], out)
    assert again["run"]["tasks_resumed"] == len(tasks) and again["run"]["tasks_run"] == 0
    # A manifest written before, its inputs named as they were (lone surrogates), is the same run.
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["inputs"] = [str(tree), str(tmp_path / os.fsdecode(b"r\xfd.jsonl"))]
    (out / "manifest.json").write_text(json.dumps(manifest))
    codemill.tokenize_corpus([tree, tmp_path / os.fsdecode(b"r\xfd.jsonl")], out)


def test_the_skipped_list_is_the_first_skips_of_the_run_without_gaps(tmp_path) -> None:
    # 1,505 skips over several tasks: all listed, in order. Before, each task listed 1,000 at
    # most and the manifest joined the lists: lines 1001-1500 were missing, 4501- were there.
    bad, good = '{"x": 1}', json.dumps({"content": "print(1)\n"})
    jl = tmp_path / "skips.jsonl"
    jl.write_text("\n".join([bad] * 1500 + [good] * 3000 + [bad] * 5) + "\n")
    m = codemill.tokenize_corpus([jl], tmp_path / "out", task_bytes=30_000)
    assert len(m["tasks"]) > 2
    assert m["skipped"] == {"no_text": 1505}
    numbers = [int(i["path"].rsplit(":", 1)[1]) for i in m["skipped_items"]]
    assert numbers == [*range(1, 1501), *range(4501, 4506)]
    assert not m["skipped_items_truncated"]


def test_a_failed_run_leaves_an_empty_output_directory_empty(tmp_path, capsys) -> None:
    # A directory made beforehand for the run: after a failure nothing of the run is left in it,
    # so the next run there is not refused as "a run with different inputs".
    bad = tmp_path / "cut.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"content": "x = 1\\n"}\n' * 100)[:40])
    out = tmp_path / "out"
    out.mkdir()
    assert main(["tokenize", str(bad), "-o", str(out), "--no-progress"]) == 2
    assert "cut.jsonl.gz" in capsys.readouterr().err
    assert out.is_dir() and list(out.iterdir()) == []
    (tmp_path / "a.py").write_text("x = 1\n")
    assert codemill.tokenize_corpus([tmp_path / "a.py"], out)["complete"]


def test_the_report_encodes_the_special_tokens_a_run_would(tmp_path, capsys) -> None:
    jl = tmp_path / "sp.jsonl"
    jl.write_text(json.dumps({"content": "a<|endoftext|>b<|fim_prefix|>c\n"}) + "\n")
    tokens = {}
    for allowed, api in (("all", "all"), ("none", ())):
        assert main(["tokenize", str(jl), "--allowed-special", allowed, "--json", "--no-progress"]) == 0
        tokens[allowed] = json.loads(capsys.readouterr().out)["tokens"]
        m = codemill.tokenize_corpus([jl], tmp_path / allowed, allowed_special=api)
        assert m["totals"]["text_tokens"] == tokens[allowed]
    assert tokens["all"] < tokens["none"]


def test_the_tokenizer_loads_beside_the_plan_and_its_error_stops_it(tmp_path, capsys, monkeypatch) -> None:
    # On two CPUs the tokenizer is built on a thread of its own while the inputs are planned. A
    # file that is no tokenizer is one line naming it, raised while the walk goes on (not once a
    # long plan is done), with nothing written and the loader's thread gone.
    from codemill.corpus import job

    monkeypatch.setattr(job, "usable_cpus", lambda: 2)
    monkeypatch.setattr(job, "single_threaded", lambda: True)  # as the command's process (pytest runs threads)
    tree = tmp_path / "tree"
    for i in range(3):
        (tree / f"d{i}").mkdir(parents=True)
        (tree / f"d{i}" / "a.py").write_text(f"x = {i}\n")
    bad = tmp_path / "notes.json"
    bad.write_text('{"not": "a tokenizer"}')
    made: list[Any] = []

    class Loading(job._Loading):
        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            made.append(self)

    monkeypatch.setattr(job, "_Loading", Loading)
    planned: list[str] = []
    plan = job.plan_tasks

    def plans(*a: Any) -> Any:
        made[0]._future.exception(timeout=10)  # the load has failed before the walk starts
        try:
            return plan(*a)
        except BaseException as e:
            planned.append(type(e).__name__)
            raise

    monkeypatch.setattr(job, "plan_tasks", plans)
    out = tmp_path / "out"
    assert main(["tokenize", str(tree), "-o", str(out), "--tokenizer", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "notes.json" in err and err.count("\n") == 1 and "Traceback" not in err
    assert planned == ["TokenizerFileError"] and not out.exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("codemill-tokenizer")]
    # A good one: the same output as a tokenizer given loaded, and the thread gone too.
    a = codemill.tokenize_corpus([tree], tmp_path / "a")
    b = codemill.tokenize_corpus([tree], tmp_path / "b", tokenizer=codemill.CodeTokenizer.default())
    assert a["tokenizer"] == b["tokenizer"] and snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert not [t for t in threading.enumerate() if t.name.startswith("codemill-tokenizer")]


def _small_files_settings(tok: Any, batch_bytes: int) -> Any:
    """A task's settings for the core's readers against the documents' path: files and records
    over 1000 bytes skipped, batches of ``batch_bytes``, 2 threads."""
    from codemill.corpus.settings import Specials, TaskSettings

    return TaskSettings(
        format="npy",
        dtype="uint16",
        eot_id=int(tok.eot_id),
        shard_tokens=10**9,
        task_bytes=None,
        max_file_bytes=1000,
        batch_bytes=batch_bytes,
        threads_per_worker=2,
        specials=Specials(),
    )


def _joined(batches: Any) -> tuple[bytes, list[int], list[int], list[str]]:
    got: tuple[bytes, list[int], list[int], list[str]] = (b"", [], [], [])
    for tokens, lengths, sizes, langs in batches:
        got = (got[0] + tokens, got[1] + lengths, got[2] + sizes, got[3] + langs)
    return got


def test_a_named_file_gone_after_the_plan_is_counted_unreadable_as_dedup_counts_it(tok, tmp_path, monkeypatch) -> None:
    # Files named as inputs, one removed once they are planned: skipped where its task reads
    # it, as a tree's file is (and as dedup does); it stopped the run ("no such file") before.
    from codemill.corpus import job

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def a():\n    return 1\n")
    b.write_text("def b():\n    return 2\n")
    planned = job.plan_tasks

    def plan_then_remove(*args, **kwargs):
        tasks = planned(*args, **kwargs)
        b.unlink()
        return tasks

    monkeypatch.setattr(job, "plan_tasks", plan_then_remove)
    m = codemill.tokenize_corpus([a, b], tmp_path / "out", tokenizer=tok, workers=1)
    assert m["totals"]["documents"] == 1
    assert m["skipped"] == {"unreadable": 1}
    assert m["skipped_items"] == [{"path": str(b), "reason": "unreadable"}]


@pytest.mark.parametrize("budget", [1, 1 << 30])
def test_local_files_are_read_and_encoded_in_the_core_as_their_documents_would_be(tok, tmp_path, budget) -> None:
    # A task of local files is read and encoded in the core, with no Python string per file: the
    # same ids, lengths, sizes, languages and skips (in order) as the task's documents, whatever
    # the batches. Real code, non-ASCII text, a shebang script, and the files a run passes over.
    from codemill.corpus.engines import task as task_mod
    from codemill.corpus.plan import task_documents

    tree = tmp_path / "tree"
    tree.mkdir()
    for f in sorted(FIXTURES.glob("sample.*")):
        (tree / f.name).write_bytes(f.read_bytes())
    (tree / "names.py").write_text("café = 'naïve 😀 ünïcode'\nπ = 3.14159\n", encoding="utf-8")
    (tree / "tool").write_text("#!/usr/bin/env python3\nprint('a script')\n")
    (tree / "empty.py").write_text("")
    (tree / "blob.py").write_bytes(b"x = 1\0\0\0")
    (tree / "latin1.py").write_bytes(b"nom = 'Fran\xe7ois'\n")
    (tree / "big.py").write_text("y = 2\n" * 400)
    gone = tree / "gone.py"
    gone.write_text("z = 3\n")
    (t,) = plan_tasks([tree])
    gone.unlink()  # between the plan and the run
    settings = _small_files_settings(tok, budget)

    core_skips, doc_skips = Skips(), Skips()
    core = _joined(task_mod._local_files(t, settings, tok, 2, core_skips, None))
    docs, _ = task_documents(t, doc_skips, settings.max_file_bytes)
    expected = _joined(task_mod._documents(docs, t, settings, tok, 2, None))
    assert core == expected
    assert core_skips.items == doc_skips.items and core_skips.as_dict() == doc_skips.as_dict()
    assert set(core_skips.as_dict()) == {"empty", "binary", "invalid_utf8", "too_large", "unreadable"}
    # 8 samples, names.py and tool read; sample.py, names.py and tool (its shebang) are Python.
    assert len(core[1]) == 10 and core[3].count("python") == 3 and {"rust", "go", "cpp"} <= set(core[3])


@pytest.mark.parametrize("budget", [1, 1 << 30])
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_jsonl_records_are_read_in_the_core_as_the_python_reader_reads_them(tok, tmp_path, budget, suffix) -> None:
    # A JSONL task's lines are parsed and encoded in the core, no Python object per record; the
    # lines it leaves to the Python reader (NaN, a lone surrogate, a path that is a number, a
    # non-ASCII language ...) are read there, in their place. The same ids, lengths, sizes,
    # languages, skips (in order) and line count as the task's documents, whatever the batches.
    from codemill.corpus.engines import task as task_mod
    from codemill.corpus.plan import task_documents, task_reader

    data, n_lines = odd_jsonl()
    f = tmp_path / f"part{suffix}"
    f.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    (t,) = plan_tasks([f])
    settings = _small_files_settings(tok, budget)
    core_skips, doc_skips = Skips(), Skips()
    reader = task_reader(t, core_skips, settings.max_file_bytes)
    core = _joined(task_mod._records(reader, t, settings, tok, 2, None))
    docs, doc_reader = task_documents(t, doc_skips, settings.max_file_bytes)
    expected = _joined(task_mod._documents(docs, t, settings, tok, 2, None))
    assert core == expected
    assert core_skips.items == doc_skips.items and core_skips.as_dict() == doc_skips.as_dict()
    assert doc_reader is not None and reader.lines == doc_reader.lines == n_lines
    assert set(core_skips.as_dict()) == {"empty", "invalid_json", "invalid_utf8", "no_text", "too_large", "binary"}
    assert core[3][:9] == ["generic", "python", "cpp", "rust", "go", "python", "generic", "python", "python"]
    assert core[3][9:] == ["generic"] * 4  # z.PŸ; dup; null gives way; the BOM text


def test_records_read_in_the_core_name_languages_and_take_special_tokens_as_the_reader_does(tok) -> None:
    # Every spelling of the shared language table, and every extension, names the language the
    # Python reader gives; FIM markers in a record's text are encoded as encode_batch_packed does.
    from codemill.languages import ALIASES, EXTENSIONS, normalize_language
    from codemill.sources.records import LANG_FIELDS, PATH_FIELDS, TEXT_FIELDS

    fields = (TEXT_FIELDS, PATH_FIELDS, LANG_FIELDS)
    kw: dict[str, Any] = {"eot_id": tok.eot_id, "width": 2}
    records = [{"content": "x", "lang": f" {alias.upper()}\t"} for alias in ALIASES]
    records += [{"content": "x", "path": f"d/f{ext.upper()}"} for ext in EXTENSIONS]
    *_, languages, reasons, left = tok.encode_records_packed(
        [json.dumps(r).encode() for r in records], fields, 100, **kw
    )
    assert languages == [normalize_language(r.get("lang"), r.get("path")) for r in records]
    assert reasons == [None] * len(records) and left == []
    text = "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n<|fim_middle|>return x + 1\n<|endoftext|>"
    line = json.dumps({"content": text, "lang": "python"}).encode()
    for allowed in [(), "all", ("<|fim_prefix|>",)]:
        got = tok.encode_records_packed([line], fields, 1 << 20, allowed_special=allowed, **kw)
        want = tok.encode_batch_packed([text], ["python"], allowed_special=allowed, **kw)
        assert got == (want[0], want[1], [len(text)], ["python"], [None], [])


@pytest.mark.parametrize("allowed", [(), "all", ("<|fim_prefix|>",)])
def test_files_encoded_in_the_core_take_special_tokens_as_texts_do(tok, tmp_path, allowed) -> None:
    # A prepared sample on disk holds FIM markers: read in the core, they are encoded as the
    # same text given to encode_batch_packed is, with the same special tokens allowed.
    text = "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n<|fim_middle|>return x + 1\n<|endoftext|>"
    f = tmp_path / "sample.py"
    f.write_text(text, encoding="utf-8")
    kw: dict[str, Any] = {"eot_id": tok.eot_id, "width": 2}
    got = tok.encode_files_packed([str(f)], ["python"], 1 << 20, 1 << 20, allowed_special=allowed, **kw)
    want = tok.encode_batch_packed([text], ["python"], allowed_special=allowed, **kw)
    assert got == (1, want[0], want[1], [len(text)], [None])
    plain = tok.encode_batch_packed([text], ["python"], **kw)
    assert (want == plain) == (allowed == ())  # the markers allowed are encoded otherwise


def test_a_progress_reader_that_goes_away_does_not_stop_the_run(tmp_path, monkeypatch):
    # `codemill tokenize ... 2>&1 | head`: the progress line's BrokenPipeError was the run's
    # error, and the command's handler for a closed stdout made it exit 0, the run half done.
    import sys

    from codemill.cli import main

    class Gone:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def isatty(self) -> bool:
            return False

    inputs, _ = make_corpus(tmp_path / "corpus")
    monkeypatch.setattr(sys, "stderr", Gone())
    assert main(["tokenize", *inputs, "-o", str(tmp_path / "out"), "--task-bytes", "20000", "--workers", "1"]) == 0
    monkeypatch.undo()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["tasks"]) == manifest["tasks_planned"] > 1


def test_a_byte_limit_past_64_bits_is_no_limit(tmp_path) -> None:
    # 2**64 (or --max-file-bytes 18446744073709551616) was an OverflowError naming nothing.
    (tmp_path / "a.jsonl").write_text('{"content": "x = 1\\n"}\n')
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.py").write_text("x = 1\n")
    huge = 2**64
    for name in ("a.jsonl", "tree"):
        m = codemill.tokenize_corpus(tmp_path / name, tmp_path / f"out-{name}", max_file_bytes=huge)
        assert m["totals"]["documents"] == 1 and m["totals"]["skipped"] == 0
    assert len(list(iter_documents([tmp_path / "tree"], Skips(), max_bytes=huge))) == 1
    report = codemill.dedup([tmp_path / "a.jsonl", tmp_path / "tree"], max_file_bytes=huge)
    assert report["counts"]["documents"] == 2


def test_cli_batch_bytes_and_threads_reach_a_run(tmp_path, monkeypatch) -> None:
    # They were read in report mode only and dropped silently with -o.
    import codemill.corpus.job as job

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def f(x):\n    return x\n" * 100)
    real = job.tokenize_corpus
    seen: list[dict[str, Any]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "tokenize_corpus", spy)
    argv = ["tokenize", str(tmp_path / "src"), "--no-progress", "-o"]
    assert main([*argv, str(tmp_path / "a"), "--batch-bytes", "1", "--threads", "2"]) == 0
    assert main([*argv, str(tmp_path / "b")]) == 0
    assert (seen[0]["batch_bytes"], seen[0]["threads_per_worker"]) == (1, 2)
    assert "batch_bytes" not in seen[1] and "threads_per_worker" not in seen[1]  # the job's defaults
    shards = sorted(p.name for p in (tmp_path / "a").glob("*.npy"))
    assert shards and all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in shards)


def test_a_run_killed_before_its_first_manifest_resumes_with_the_same_command(tmp_path) -> None:
    # Killed between making OUT/tasks and writing the manifest (or while writing it), the next
    # run was refused: "exists and was not written by codemill tokenize".
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def f(x):\n    return x\n")
    for left in ("tasks", ".manifest.json.tmp4242"):
        out = tmp_path / f"out{len(left)}"
        out.mkdir()
        (out / left).mkdir() if left == "tasks" else (out / left).write_text("{")
        assert codemill.tokenize_corpus(tmp_path / "src", out)["complete"]
    foreign = tmp_path / "foreign"
    (foreign / "tasks").mkdir(parents=True)
    (foreign / "tasks" / "notes.txt").write_text("mine")  # not what a run leaves: still refused
    with pytest.raises(CodemillError, match="not written by `codemill tokenize`"):
        codemill.tokenize_corpus(tmp_path / "src", foreign)


@pytest.mark.parametrize("fmt", ["npy", "megatron"])
def test_damaged_or_unfinished_outputs_read_back_as_one_clear_error(tmp_path, fmt) -> None:
    (tmp_path / "src").mkdir()
    for i in range(4):
        (tmp_path / "src" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 50)
    out = tmp_path / "out"
    m = codemill.tokenize_corpus(tmp_path / "src", out, format=fmt)
    data = out / m["shards"][0]["files"][0]  # the .npy, or the .bin
    whole = data.read_bytes()
    data.write_bytes(whole[:-20])  # truncated: its last document read back short, silently
    with pytest.raises(CodemillError, match=data.name):
        list(iter_shard_documents(out))
    data.write_bytes(whole)
    assert len(list(iter_shard_documents(out))) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    for change, message in (({"complete": False}, "has not finished"), ({"format": "x/9"}, "format 'x/9'")):
        (out / "manifest.json").write_text(json.dumps({**manifest, **change}))
        with pytest.raises(CodemillError, match=message):
            list(iter_shard_documents(out))
    (out / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    assert read_manifest(out)["tasks_planned"] == manifest["tasks_planned"]  # to look at, it reads


def _small_record_files(root: Path) -> tuple[Path, list[str]]:
    """A tree of 14 small JSONL files (one gzipped, one with a bad line), a large one and a code
    file between them; returns it and every document's text in the order a run reads them."""
    tree = root / "many"
    (tree / "a").mkdir(parents=True)
    (tree / "b").mkdir()
    texts: list[str] = []
    for i, f in enumerate(PY_FILES[:14]):
        text = f.read_text(encoding="utf-8")
        rows = [f"# part {j} of {f.name}\n" + text[j * 900 : (j + 1) * 900] for j in range(3)]
        lines = [json.dumps({"content": r, "path": f"{f.stem}_{j}.py"}) for j, r in enumerate(rows)]
        if i == 5:
            lines.insert(1, "not json")  # its line 2, skipped
        data = ("\n".join(lines) + "\n").encode()
        name = tree / "a" / f"p{i:02d}.jsonl"
        if i == 9:
            name.with_suffix(".jsonl.gz").write_bytes(gzip.compress(data))
        else:
            name.write_bytes(data)
        texts += rows
    (tree / "a" / "q.py").write_text("x = 1\n")  # a code file: after the record files it follows
    texts.append("x = 1\n")
    big = [json.dumps({"content": f.read_text(encoding="utf-8")}) for f in PY_FILES[14:20]]
    (tree / "b" / "big.jsonl").write_text("\n".join(big) + "\n")
    texts += [f.read_text(encoding="utf-8") for f in PY_FILES[14:20]]
    return tree, texts


def test_small_record_files_share_tasks(tok, tmp_path) -> None:
    tree, texts = _small_record_files(tmp_path)
    task_bytes = 8_000
    tasks = plan_tasks([tree], task_bytes)
    records = [t for t in tasks if t.kind == "records"]
    assert records and all(len(t.files) >= 2 for t in records)
    # Each group reaches the task size before it ends, and a run of files keeps its order.
    grouped = [f for t in records for f in t.files]
    assert grouped == sorted(grouped) and all(t.size >= task_bytes for t in records[:-1])
    small = [t for t in tasks if t.path.endswith(("p12.jsonl", "p13.jsonl"))]
    assert len(records) + len(small) < 14  # not a task a file
    big = [t for t in tasks if t.path.endswith("big.jsonl")]
    assert len(big) > 1 and all(t.kind == "jsonl" for t in big)  # a large file is still cut
    assert plan_tasks([tree], task_bytes) == tasks

    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        m = codemill.tokenize_corpus([tree], out, tokenizer=tok, workers=workers, task_bytes=task_bytes)
        outs.append(snapshot(out))
    assert outs[0] == outs[1]
    assert [tok.decode(d) for d in iter_shard_documents(tmp_path / "out1")] == texts
    bad = tree / "a" / "p05.jsonl"
    assert m["skipped_items"] == [{"path": f"{bad}:2", "reason": "invalid_json"}]
    assert m["tasks_planned"] == len(tasks)
