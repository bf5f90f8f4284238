"""`tokenize_corpus` with inputs and output in object storage (a real S3 server on 127.0.0.1):
the same bytes as a local run, resume after kill -9, and a failed upload commits nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from codemill.corpus.job import tokenize_corpus
from codemill.errors import CodemillError, OutputError, StorageError
from conftest import STDLIB


def upload(client, bucket: str, root: Path, prefix: str) -> str:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(root).as_posix()}")
    return f"s3://{bucket}/{prefix}"


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def bucket_files(client, bucket: str, prefix: str) -> dict[str, bytes]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(prefix) + 1 :]] = body
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for sub in ("json", "email"):
        for p in sorted((STDLIB / sub).rglob("*.py")):
            dest = root / sub / p.relative_to(STDLIB / sub)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(p.read_bytes())
    return root


KW = {"task_bytes": 60_000, "shard_tokens": 20_000}


def test_s3_in_and_out_equal_local_bytes(s3_server, bucket, tree, tmp_path, small_tok, monkeypatch):
    from codemill.corpus.engines import local as local_engine

    local = tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    assert local["tasks_planned"] >= 4
    url = upload(s3_server, bucket, tree, "in")
    monkeypatch.setattr(local_engine, "POOL_MIN_BYTES", 0)  # a worker process reads and writes S3 too
    m = tokenize_corpus(url, f"s3://{bucket}/out", tokenizer=small_tok, workers=2, **KW)
    assert m["run"]["processes"] == 2
    assert m["totals"] == local["totals"] and m["shards"] == local["shards"]
    assert bucket_files(s3_server, bucket, "out").keys() == local_files(tmp_path / "local").keys()
    expected = local_files(tmp_path / "local")
    got = bucket_files(s3_server, bucket, "out")
    # Shards are byte-identical; records and the manifest differ only in the input names.
    shards = [n for n in expected if n.startswith("shard-")]
    assert shards and all(got[n] == expected[n] for n in shards)
    # Local inputs to an S3 output: every byte the same, the manifest too.
    tokenize_corpus(tree, f"s3://{bucket}/out2", tokenizer=small_tok, **KW)
    assert bucket_files(s3_server, bucket, "out2") == expected
    # Running again resumes: nothing is redone, and the tasks' records are read together, not
    # a round trip each.
    from codemill.sources.fs import Directory

    read_one = Directory.read_bytes

    def read_bytes(self: Directory, rel: str) -> bytes | None:
        if rel.startswith("tasks/"):
            pytest.fail(f"{rel} read on its own")
        return read_one(self, rel)

    monkeypatch.setattr(Directory, "read_bytes", read_bytes)
    again = tokenize_corpus(tree, f"s3://{bucket}/out2", tokenizer=small_tok, **KW)
    assert again["run"]["tasks_run"] == 0 and bucket_files(s3_server, bucket, "out2") == expected


def test_a_task_reads_ahead_from_a_bucket_only(s3_server, bucket, tree, tmp_path, small_tok, monkeypatch):
    # A read from a bucket is a round trip: a task reads its next batch ahead, on a thread. From
    # local disk it does not (the other tasks in flight encode meanwhile). The bytes are the same.
    from codemill.corpus.engines import task

    ahead: list[int] = []
    prefetch = task.read_ahead
    monkeypatch.setattr(task, "read_ahead", lambda it, *a: ahead.append(1) or prefetch(it, *a))
    local = tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    assert not ahead
    remote = tokenize_corpus(upload(s3_server, bucket, tree, "ahead"), tmp_path / "s3", tokenizer=small_tok, **KW)
    assert len(ahead) == remote["tasks_planned"] >= 4
    assert remote["totals"] == local["totals"] and remote["shards"] == local["shards"]


_FORKS_SPIED = (
    "import json, os, sys, time; os.environ['OPENBLAS_NUM_THREADS'] = '1'\n"
    "import codemill.corpus.engines.local as e\n"
    "e.POOL_MIN_BYTES = int(sys.argv[5])\n"
    "forks = []\n"
    "start = e.start_pool\n"
    "def threads():\n"
    "    # A thread joined just before (the tokenizer's loader) can still be leaving\n"
    "    # /proc/self/task for a moment: one that stays is counted.\n"
    "    for _ in range(100):\n"
    "        n = len(os.listdir('/proc/self/task'))\n"
    "        if n == 1:\n"
    "            break\n"
    "        time.sleep(0.01)\n"
    "    return n\n"
    "def spy(*a, fork=False):\n"
    "    forks.append([fork, threads(), 's3fs' in sys.modules])\n"
    "    return start(*a, fork=fork)\n"
    "e.start_pool = spy\n"
    "from codemill.corpus.job import tokenize_corpus\n"
    "m = tokenize_corpus(sys.argv[1], sys.argv[2], tokenizer=sys.argv[3], workers=2, task_bytes=int(sys.argv[4]),\n"
    "                    shard_tokens=20_000)\n"
    "print(json.dumps([forks, m['run']['processes']]))\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only where a process's threads can be counted")
def test_a_url_run_forks_its_workers_before_its_first_request(s3_server, bucket, tree, tmp_path, small_tok):
    """A process that runs one thread forks a URL run's workers at once, before the storage
    client starts its thread, with s3fs imported first (a spawned worker paid ~0.5 s of CPU for
    a Python, codemill and s3fs); a small input then runs here alone. The bytes are a local run's."""
    tok_file = tmp_path / "tok.json"
    small_tok.save(tok_file)
    tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    shards = {k: v for k, v in local_files(tmp_path / "local").items() if k.startswith("shard-")}
    url = upload(s3_server, bucket, tree, "in")
    for name, pool_min, processes in (("pooled", 0, 2), ("small", 1 << 40, 1)):
        out = f"s3://{bucket}/{name}"
        args = [url, out, str(tok_file), str(KW["task_bytes"]), str(pool_min)]
        proc = subprocess.run([sys.executable, "-c", _FORKS_SPIED, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        forks, ran = json.loads(proc.stdout.splitlines()[-1])
        assert forks == [[True, 1, True]] and ran == processes, name  # forked from one thread, s3fs in
        got = bucket_files(s3_server, bucket, name)
        assert {k: v for k, v in got.items() if k.startswith("shard-")} == shards


def test_a_shard_rewritten_in_place_on_s3_is_redone(s3_server, bucket, tree, tmp_path, small_tok):
    """As on local disk: an object listed as written after its task's record was changed once
    the task had committed, and resuming redoes that task."""
    out = f"s3://{bucket}/rewritten"
    m = tokenize_corpus(tree, out, tokenizer=small_tok, **KW)
    clean = bucket_files(s3_server, bucket, "rewritten")
    name = "shard-00001-0000.npy"
    data = bytearray(clean[name])
    data[-4:] = b"\x00\x00\x00\x00"
    time.sleep(1.1)  # past the second the record was written in (S3 gives times to the second)
    s3_server.put_object(Bucket=bucket, Key=f"rewritten/{name}", Body=bytes(data))
    again = tokenize_corpus(tree, out, tokenizer=small_tok, **KW)
    assert again["run"]["tasks_run"] == 1 and again["run"]["tasks_resumed"] == m["run"]["tasks_run"] - 1
    assert bucket_files(s3_server, bucket, "rewritten") == clean


def test_failed_upload_publishes_no_task(s3_server, bucket, tree, tmp_path, small_tok, monkeypatch):
    from codemill.sources.fs import url_fs

    tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    fs, _ = url_fs(f"s3://{bucket}/out")  # the cached filesystem instance the job will use
    calls = {"n": 0}
    real = fs.put_file

    def flaky(lpath, rpath, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("connection reset while uploading")
        return real(lpath, rpath, **kw)

    monkeypatch.setattr(fs, "put_file", flaky)
    with pytest.raises(StorageError) as e:
        tokenize_corpus(tree, f"s3://{bucket}/out", tokenizer=small_tok, **KW)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"s3://{bucket}/out/shard-") and "connection reset" in msg, msg
    failed = int(msg.split("/shard-")[1][:5])
    got = bucket_files(s3_server, bucket, "out")
    expected = local_files(tmp_path / "local")
    # The task whose upload failed has no record, so it is not committed; a task that has one
    # (those under way beside it finished) has all its shards, as a whole run writes them.
    records = sorted(k for k in got if k.startswith("tasks/"))
    assert f"tasks/task-{failed:05d}.json" not in records
    for r in records:
        assert got[r] == expected[r]
        index = r[len("tasks/task-") :][:5]
        shards = [n for n in expected if n.startswith(f"shard-{index}-")]
        assert shards and all(got[n] == expected[n] for n in shards)
    monkeypatch.setattr(fs, "put_file", real)
    m = tokenize_corpus(tree, f"s3://{bucket}/out", tokenizer=small_tok, **KW)
    assert m["run"]["tasks_resumed"] == len(records)
    assert bucket_files(s3_server, bucket, "out") == local_files(tmp_path / "local")


def test_a_failed_first_run_in_a_fresh_prefix_leaves_it_empty(s3_server, bucket, tree, tmp_path, small_tok):
    # As a local directory is left: its manifest made the corrected run "a different run" there.
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(CodemillError, match=r"bad\.jsonl\.gz"):
        tokenize_corpus([bad], f"s3://{bucket}/f1", tokenizer=small_tok, workers=1, **KW)
    assert bucket_files(s3_server, bucket, "f1") == {}
    m = tokenize_corpus(tree, f"s3://{bucket}/f1", tokenizer=small_tok, workers=1, **KW)
    assert m["complete"] and m["run"]["tasks_resumed"] == 0
    # --overwrite over another run starts afresh too: its failure leaves the prefix empty again.
    with pytest.raises(CodemillError, match=r"bad\.jsonl\.gz"):
        tokenize_corpus([bad], f"s3://{bucket}/f1", tokenizer=small_tok, workers=1, overwrite=True, **KW)
    assert bucket_files(s3_server, bucket, "f1") == {}


def test_a_task_redone_with_fewer_shards_leaves_none_of_its_old_ones(s3_server, bucket, tmp_path, small_tok):
    # An input edited in place (shorter) is redone on resume; on disk and in a bucket alike the
    # shards of its first version that the new one does not make are gone.
    src = tmp_path / "src"
    src.mkdir()
    files = sorted((STDLIB / "json").glob("*.py"))
    for p in files:
        (src / p.name).write_text(p.read_text())
    kw = {"tokenizer": small_tok, "shard_tokens": 2_000}
    for out in (tmp_path / "local", f"s3://{bucket}/out"):
        first = tokenize_corpus(src, out, **kw)
        assert first["tasks_planned"] == 1 and len(first["shards"]) >= 3
    for p in files:
        (src / p.name).write_text(p.read_text()[:200])
    for out in (tmp_path / "local", f"s3://{bucket}/out"):
        again = tokenize_corpus(src, out, **kw)
        assert again["run"]["tasks_run"] == 1 and len(again["shards"]) == 1
    fresh = tokenize_corpus(src, tmp_path / "fresh", **kw)
    assert local_files(tmp_path / "local") == local_files(tmp_path / "fresh")
    assert bucket_files(s3_server, bucket, "out").keys() == local_files(tmp_path / "fresh").keys()
    assert fresh["shards"] == again["shards"]


@pytest.mark.parametrize("manifest", [b"not json{", b"[1]"])
def test_overwrite_replaces_an_output_whose_manifest_is_not_ours(s3_server, bucket, tmp_path, small_tok, manifest):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text((STDLIB / "json" / "scanner.py").read_text())
    out = f"out{len(manifest)}"  # the two cases may share a bucket (named after the test)
    s3_server.put_object(Bucket=bucket, Key=f"{out}/manifest.json", Body=manifest)
    s3_server.put_object(Bucket=bucket, Key=f"{out}/shard-00007-0000.npy", Body=b"old")
    with pytest.raises(OutputError, match="overwrite"):
        tokenize_corpus(src, f"s3://{bucket}/{out}", tokenizer=small_tok)
    tokenize_corpus(src, f"s3://{bucket}/{out}", tokenizer=small_tok, overwrite=True)
    tokenize_corpus(src, tmp_path / "local", tokenizer=small_tok)
    assert bucket_files(s3_server, bucket, out) == local_files(tmp_path / "local")


def test_output_to_a_missing_bucket_is_one_line(s3_server, tree, small_tok):
    with pytest.raises(StorageError) as e:
        tokenize_corpus(tree, "s3://no-such-bucket-out/x", tokenizer=small_tok, **KW)
    assert str(e.value).startswith("s3://no-such-bucket-out/x: no such bucket") and "\n" not in str(e.value)


def test_kill_9_and_resume_on_s3(s3_server, bucket, tree, tmp_path, small_tok):
    tok_file = tmp_path / "tok.json"
    small_tok.save(tok_file)
    tokenize_corpus(tree, tmp_path / "local", tokenizer=small_tok, **KW)
    local = local_files(tmp_path / "local")
    out = f"s3://{bucket}/out"
    script = (
        "import sys; from codemill.corpus.job import tokenize_corpus; "
        "import codemill.corpus.engines.local as engine; engine.POOL_MIN_BYTES = 0; "  # the worker killed too
        f"tokenize_corpus({str(tree)!r}, {out!r}, tokenizer={str(tok_file)!r}, workers=2, "
        f"task_bytes={KW['task_bytes']}, shard_tokens={KW['shard_tokens']})"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            keys = bucket_files(s3_server, bucket, "out").keys()
            if sum(k.startswith("tasks/") for k in keys) >= 2:
                break
            time.sleep(0.05)
        # A run that ended between the loop and here was reaped by this poll: its group is gone.
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-way
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # What a kill -9 leaves of a shard large enough to go up in parts (these go in one put):
    # an unfinished upload, which S3 keeps (and bills) until it is aborted. The resume does.
    s3_server.create_multipart_upload(Bucket=bucket, Key="out/shard-00099.bin")
    m = tokenize_corpus(tree, out, tokenizer=tok_file, workers=2, **KW)
    if killed:
        assert m["run"]["tasks_resumed"] >= 2
    assert s3_server.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    got = bucket_files(s3_server, bucket, "out")
    assert {k: v for k, v in got.items() if k != "manifest.json"} == {
        k: v for k, v in local.items() if k != "manifest.json"
    }


def test_an_output_prefix_over_or_under_its_input_or_holding_other_objects_is_refused(
    s3_server, bucket, tmp_path, small_tok
):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("def a():\n    return 1\n")
    url = upload(s3_server, bucket, src, "corpus")
    before = bucket_files(s3_server, bucket, "corpus")
    for out, words in (
        (url, "the output is the input"),
        (f"{url}/tok", "inside the input"),
        (f"s3://{bucket}", "would delete the input"),
        (f"s3a://{bucket}/corpus/tok", "inside the input"),  # another spelling of the same store
    ):
        with pytest.raises(OutputError, match=words):
            tokenize_corpus(url, out, tokenizer=small_tok, overwrite=True)
    assert bucket_files(s3_server, bucket, "corpus") == before
    # A prefix holding someone else's objects (a manifest that is not a run's among them).
    s3_server.put_object(Bucket=bucket, Key="theirs/notes.md", Body=b"keep")
    s3_server.put_object(Bucket=bucket, Key="theirs/manifest.json", Body=b"not json")
    s3_server.create_multipart_upload(Bucket=bucket, Key="theirs/big.bin")  # theirs, going on
    with pytest.raises(OutputError, match="not written by `codemill tokenize`"):
        tokenize_corpus(src, f"s3://{bucket}/theirs", tokenizer=small_tok)
    assert bucket_files(s3_server, bucket, "theirs") == {"notes.md": b"keep", "manifest.json": b"not json"}
    # Refused before a leftover upload is aborted: a prefix not its own is left as it is.
    assert [u["Key"] for u in s3_server.list_multipart_uploads(Bucket=bucket)["Uploads"]] == ["theirs/big.bin"]
    # An output URL that names an object: a file, as a local path that is one is refused.
    with pytest.raises(StorageError, match="is not a directory"):
        tokenize_corpus(src, f"s3://{bucket}/theirs/notes.md", tokenizer=small_tok)


def test_a_prepared_file_in_a_prefix_is_read_with_its_description(s3_server, bucket, tmp_path):
    # As in a local tree: a record file listed with its description beside it (prepare's output
    # and its .codemill.json) has the special tokens it names encoded as themselves.
    from codemill.corpus.plan import plan_tasks
    from codemill.outputs import write_sidecar
    from codemill.tokenizer import CodeTokenizer

    tok = CodeTokenizer.default()
    fim = [t for t in tok.special_tokens if "fim" in t]
    data = tmp_path / "data"
    data.mkdir()
    (data / "p.jsonl").write_text(json.dumps({"content": "x = 1\n".join(fim)}) + "\n")
    (data / "q.jsonl").write_text(json.dumps({"content": "y = 2\n"}) + "\n")
    write_sidecar(data / "p.jsonl", "prepare", special_tokens=fim)
    url = upload(s3_server, bucket, data, "prepared")
    assert [(t.path.rsplit("/", 1)[1], t.described) for t in plan_tasks([url])] == [
        ("p.jsonl", True),
        ("q.jsonl", False),
    ]
    m = tokenize_corpus(url, tmp_path / "out", tokenizer=tok)
    assert m["settings"]["allowed_special"] == fim


def small_jsonl_files(data: Path, package: str) -> Path:
    """A small JSONL file of four records per source file of the standard library's ``package``."""
    data.mkdir()
    for i, f in enumerate(sorted((STDLIB / package).glob("*.py"))):
        rows = [{"content": f"# {j}\n" + f.read_text(encoding="utf-8")[j * 700 : (j + 1) * 700]} for j in range(4)]
        (data / f"r{i}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def test_small_record_objects_share_tasks_as_local_files_do(s3_server, bucket, tmp_path, small_tok, monkeypatch):
    # A prefix of small JSONL objects is cut into tasks of several objects, as a local tree of
    # them is, with the same bytes; a described file (its own special tokens) stays alone.
    from codemill.corpus.engines import local as local_engine
    from codemill.corpus.plan import plan_tasks
    from codemill.outputs import write_sidecar

    data = small_jsonl_files(tmp_path / "data", "json")
    write_sidecar(data / "r2.jsonl", "prepare", special_tokens=[])
    url = upload(s3_server, bucket, data, "small")
    kinds = [(t.kind, len(t.files)) for t in plan_tasks([url], 4_000)]
    assert kinds == [(k, n) for k, n in ((t.kind, len(t.files)) for t in plan_tasks([data], 4_000))]
    assert kinds == [("records", 2), ("jsonl", 0), ("records", 2)]  # r2, described, alone
    local = tokenize_corpus(data, tmp_path / "local", tokenizer=small_tok, task_bytes=4_000)
    monkeypatch.setattr(local_engine, "POOL_MIN_BYTES", 0)
    m = tokenize_corpus(url, f"s3://{bucket}/small-out", tokenizer=small_tok, workers=2, task_bytes=4_000)
    assert m["totals"] == local["totals"] and m["shards"] == local["shards"]
    expected, got = local_files(tmp_path / "local"), bucket_files(s3_server, bucket, "small-out")
    shards = [n for n in expected if n.startswith("shard-")]
    assert len(shards) == 2 * len(kinds) and all(got[n] == expected[n] for n in shards)


def test_a_tasks_small_record_objects_are_read_many_at_once(s3_server, bucket, tmp_path, small_tok, monkeypatch):
    # A task of small JSONL objects reads them ahead, many at once (`files_ahead`): one after
    # the other, each was a round trip waited for. Locally they are read in turn, and so are
    # larger objects (more threads would save no round trip). Same bytes.
    from codemill.corpus.engines import task

    data = small_jsonl_files(tmp_path / "data", "email")
    given: list[list[str]] = []
    real = task.files_ahead

    def spy(items, *batch):
        items = list(items)
        given.append([str(reader.path) for reader, _ in items])
        return real(iter(items), *batch)

    monkeypatch.setattr(task, "files_ahead", spy)
    local = tokenize_corpus(data, tmp_path / "local", tokenizer=small_tok, task_bytes=10_000)
    assert not given
    url = upload(s3_server, bucket, data, "many")
    m = tokenize_corpus(url, tmp_path / "s3", tokenizer=small_tok, task_bytes=10_000)
    assert m["tasks_planned"] >= 2 and len(given) == m["tasks_planned"]
    assert sorted(name for files in given for name in files) == sorted(f"{url}/{p.name}" for p in data.iterdir())
    assert max(len(files) for files in given) >= 3
    assert m["totals"] == local["totals"] and m["shards"] == local["shards"]
    expected, got = local_files(tmp_path / "local"), local_files(tmp_path / "s3")
    shards = [n for n in expected if n.startswith("shard-")]
    assert shards and all(got[n] == expected[n] for n in shards)
    monkeypatch.setattr(task, "WHOLE_FILE_BYTES", 1_000)  # these objects are large now
    again = tokenize_corpus(url, tmp_path / "s3_large", tokenizer=small_tok, task_bytes=10_000)
    assert len(given) == m["tasks_planned"]  # none read many at once
    got = local_files(tmp_path / "s3_large")
    assert again["shards"] == local["shards"] and all(got[n] == expected[n] for n in shards)


def test_record_files_in_a_described_prefix_read_alike_grouped_or_not(s3_server, bucket, tmp_path):
    # A description beside a prefix names it, not the record files in it: their FIM markers stay
    # text whether they are read in a task each or several to a task.
    from codemill.tokenizer import CodeTokenizer

    tok = CodeTokenizer.default()
    fim = [t for t in tok.special_tokens if "fim" in t]
    data = tmp_path / "root"
    (data / "pfx").mkdir(parents=True)
    for n in ("a1", "a2", "a3"):
        (data / "pfx" / f"{n}.jsonl").write_text(json.dumps({"content": "x = 1\n".join(fim) + n}) + "\n")
    (data / "pfx.codemill.json").write_text(json.dumps({"written_by": "codemill prepare", "special_tokens": fim}))
    url = upload(s3_server, bucket, data, "described") + "/pfx"
    runs = {}
    for task_bytes in (None, 60):
        m = tokenize_corpus(url, tmp_path / f"out{task_bytes}", tokenizer=tok, task_bytes=task_bytes)
        runs[task_bytes] = (sorted({t["kind"] for t in m["tasks"]}), m["totals"]["tokens"])
    assert runs[None][0] == ["records"] and runs[60][0] == ["jsonl"]
    assert runs[None][1] == runs[60][1] == 3 * len(tok.encode("x = 1\n".join(fim) + "a1")) + 3


def test_the_footers_of_parquet_objects_are_read_at_once(s3_server, bucket, tmp_path, monkeypatch):
    # Each object's row groups are a round trip or two: read in turn, a bucket of 50 took 1.8 s
    # to plan from a store answering 20 ms late. The tasks are those of the same files on disk.
    import threading

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from codemill.corpus.plan import plan_tasks
    from codemill.sources import records

    root = tmp_path / "pq"
    root.mkdir()
    for k in range(4):
        rows = [{"content": f"x = {k}{i}\n" * 50, "path": f"p{k}_{i}.py"} for i in range(30)]
        pq.write_table(pa.Table.from_pylist(rows), root / f"part-{k}.parquet", row_group_size=10)
    local = plan_tasks([root], 5000)
    url = upload(s3_server, bucket, root, "pq")
    lock = threading.Lock()
    at_once = most = 0
    real = records.parquet_row_groups

    def row_groups(path: Path | str) -> list[tuple[int, int]]:
        nonlocal at_once, most
        with lock:
            at_once += 1
            most = max(most, at_once)
        try:
            time.sleep(0.05)  # a store's round trip
            return real(path)
        finally:
            with lock:
                at_once -= 1

    monkeypatch.setattr(records, "parquet_row_groups", row_groups)
    remote = plan_tasks([url], 5000)
    assert most == 4
    assert len(local) > 4
    assert [(t.kind, t.start, t.stop, t.size, t.path.rsplit("/", 1)[-1]) for t in remote] == [
        (t.kind, t.start, t.stop, t.size, t.path.rsplit("/", 1)[-1]) for t in local
    ]


def test_a_run_in_a_bucket_reads_back_as_a_local_one(s3_server, bucket, tree, tmp_path, small_tok, monkeypatch):
    from codemill.corpus.reader import iter_shard_documents, read_manifest, read_npy_shard
    from codemill.errors import InputNotFoundError

    first: dict[str, str] = {}
    for fmt in ("npy", "megatron"):
        local = tokenize_corpus(tree, tmp_path / fmt, tokenizer=small_tok, format=fmt, **KW)
        url = f"s3://{bucket}/read-{fmt}"
        tokenize_corpus(tree, url, tokenizer=small_tok, format=fmt, **KW)
        assert read_manifest(url)["shards"] == local["shards"]
        expected = [d.tolist() for d in iter_shard_documents(tmp_path / fmt, keep_eot=True)]
        assert [d.tolist() for d in iter_shard_documents(url, keep_eot=True)] == expected and len(expected) > 20
        first[fmt] = f"{url}/{local['shards'][0]['files'][0]}"
    tokens, starts = read_npy_shard(first["npy"])
    assert len(tokens) == starts[-1] > 0
    # A name with a scheme is never a local path: not even where a folder is spelled like it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s3:" / bucket).mkdir(parents=True)
    (tmp_path / "npy").rename(tmp_path / "s3:" / bucket / "nothing")
    with pytest.raises(InputNotFoundError) as e:
        read_manifest(f"s3://{bucket}/nothing")
    assert str(e.value).startswith(f"s3://{bucket}/nothing/manifest.json: no manifest")


def test_an_object_removed_after_the_plan_is_counted_as_a_local_file_is(
    s3_server, bucket, tree, tmp_path, small_tok, monkeypatch
):
    # A file deleted between the listing and its task is counted unreadable and the run goes
    # on; an object deleted so stopped the run (a bucket being refilled lost hours of a run).
    from codemill.corpus import job

    plan = job.plan_tasks
    first = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.py"))[0]

    def plan_then_remove(names, *args, **kwargs):
        tasks = plan(names, *args, **kwargs)
        if str(names[0]).startswith("s3://"):
            s3_server.delete_object(Bucket=bucket, Key=f"in/{first}")
        else:
            (tmp_path / "copy" / first).unlink()
        return tasks

    import shutil

    shutil.copytree(tree, tmp_path / "copy")
    url = upload(s3_server, bucket, tree, "in")
    monkeypatch.setattr(job, "plan_tasks", plan_then_remove)
    here = tokenize_corpus(tmp_path / "copy", tmp_path / "local", tokenizer=small_tok, **KW)
    there = tokenize_corpus(url, f"s3://{bucket}/out", tokenizer=small_tok, **KW)
    for m, name in [(here, str(tmp_path / "copy" / first)), (there, f"{url}/{first}")]:
        assert m["skipped"]["unreadable"] == 1, m["skipped"]
        assert {"path": name, "reason": "unreadable"} in m["skipped_items"]
    assert there["totals"] == here["totals"] and there["shards"] == here["shards"]
