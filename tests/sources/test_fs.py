"""Inputs at URLs (``s3://``) read by the one reader against a real S3 server on 127.0.0.1: the
same documents and skips as the same files on disk, and one clear line for storage errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from codemill.corpus.plan import Task
from codemill.errors import InputNotFoundError, StorageError
from codemill.sources import Skips, iter_documents
from codemill.sources.fs import Directory, is_url


def upload(client, bucket: str, root: Path, prefix: str) -> str:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(root).as_posix()}")
    return f"s3://{bucket}/{prefix}"


def make_tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def a():\n    return 1\n")
    (root / "pkg" / "b.go").write_text("package b\n")
    (root / "run").write_text("#!/usr/bin/env python3\nprint(1)\n")
    (root / "notes.bin").write_bytes(b"\0\1")
    (root / "empty.py").write_text("")
    (root / "poetry.lock").write_text("x")
    (root / "node_modules" / "x" / "i.js").write_text("1")
    # ignore files at two levels, with a negation, and a virtual environment known by its marker
    (root / ".gitignore").write_text("generated/\nsecret_*.py\n!secret_ok.py\n")
    (root / "pkg" / ".gitignore").write_text("local_*.go\n")
    (root / "generated").mkdir()
    (root / "generated" / "g.py").write_text("x = 1\n")
    (root / "pkg" / "secret_x.py").write_text("x = 2\n")
    (root / "pkg" / "secret_ok.py").write_text("x = 3\n")
    (root / "pkg" / "local_y.go").write_text("package pkg\n")
    (root / ".git" / "info").mkdir(parents=True)  # the top's exclude file counts in a bucket too
    (root / ".git" / "info" / "exclude").write_text("docs/\n")
    (root / "docs").mkdir()
    (root / "docs" / "d.py").write_text("x = 5\n")
    (root / "env" / "lib").mkdir(parents=True)
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "env" / "lib" / "m.py").write_text("x = 4\n")
    # Names fsspec would take for glob patterns, and an empty file without an extension (its
    # shebang is looked for: a store refuses a range request on zero bytes).
    (root / "pages").mkdir()
    (root / "pages" / "[id].tsx").write_text("export default function Page() {}\n")
    (root / "pages" / "[i]d.tsx").write_text("export const x = 1;\n")
    (root / "pages" / "i.tsx").write_text("export const y = 2;\n")
    (root / "pages" / ".gitkeep").write_text("")
    # `::` is fsspec's separator of chained filesystems: here it is part of a name.
    (root / "pages" / "i.tsx::v2.tsx").write_text("export const z = 3;\n")
    lines = [json.dumps({"content": f"x = {i}\n", "path": f"r{i}.py"}) for i in range(5)] + ["not json"]
    with gzip.open(root / "data.jsonl.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    return root


def _docs(inputs: list[str]) -> tuple[list[tuple[str, str, str, str]], dict[str, int]]:
    skips = Skips()
    docs = [(d.path, d.language, d.text or "", d.repository) for d in iter_documents(inputs, skips)]
    return docs, dict(skips.counts)


def _fetches(monkeypatch: pytest.MonkeyPatch, url: str) -> list[tuple[int | None, int | None, bytes]]:
    """The (start, end, bytes) of each range request of the store holding ``url``, as made."""
    from codemill.sources.fs import url_fs

    fs, _ = url_fs(url)
    made: list[tuple[int | None, int | None, bytes]] = []
    real = fs.cat_file

    def counted(path: str, start: int | None = None, end: int | None = None) -> bytes:
        made.append((start, end, real(path, start=start, end=end)))
        return made[-1][2]

    monkeypatch.setattr(fs, "cat_file", counted)
    return made


def test_is_url():
    assert is_url("s3://b/p") and is_url("memory://x") and is_url("gs://b")
    assert not is_url("/tmp/s3:/x") and not is_url("s3:/b") and not is_url("relative/path")


def test_tree_at_url_reads_like_the_tree_on_disk(s3_server, bucket, tmp_path):
    root = make_tree(tmp_path / "tree")
    url = upload(s3_server, bucket, root, "corpus/tree")
    local, local_skips = _docs([str(root)])
    remote, remote_skips = _docs([url])
    assert remote == local
    assert remote_skips == local_skips
    assert {"vendored", "lock_file", "empty", "invalid_json", "gitignored", "tool_state"} <= set(local_skips)
    assert local_skips["gitignored"] == 4  # generated/, pkg/secret_x.py, pkg/local_y.go, docs/
    assert any(text == "x = 3\n" for _, _, text, _ in local)  # re-included by the negation
    assert {p for p, _, _, _ in local} >= {"pages/[id].tsx", "pages/[i]d.tsx", "pages/i.tsx", "pages/i.tsx::v2.tsx"}
    # One object named by its URL: its repository is its prefix's name, as a file's is its directory's.
    one, _ = _docs([url + "/pkg/a.py"])
    assert _docs([url + "/pkg/a.py/"])[0] == one  # a trailing slash names the same object
    assert one == _docs([str(root / "pkg" / "a.py")])[0] == [("a.py", "python", "def a():\n    return 1\n", "pkg")]


def test_folder_markers_are_no_files_in_an_input_or_an_output(s3_server, bucket, tmp_path):
    # A console's "Create folder" leaves zero-byte `prefix/` keys: they were documents skipped
    # as unsupported_language, and an output prefix holding one was refused as not ours.
    root = make_tree(tmp_path / "tree")
    url = upload(s3_server, bucket, root, "marked/tree")
    for key in ("marked/tree/", "marked/tree/pkg/", "marked/tree/pages/", "out/"):
        s3_server.put_object(Bucket=bucket, Key=key, Body=b"")
    import fsspec

    fsspec.filesystem("s3").invalidate_cache()
    assert _docs([url]) == _docs([str(root)])
    assert Directory(f"s3://{bucket}/out").files() == {}


def test_parquet_at_url(s3_server, bucket, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"content": [f"print({i})\n" for i in range(50)], "lang": ["Python"] * 50})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=10)
    s3_server.upload_file(str(tmp_path / "t.parquet"), bucket, "t.parquet")
    assert _docs([f"s3://{bucket}/t.parquet"]) == _docs([str(tmp_path / "t.parquet")])


def test_a_parquet_row_group_at_url_fetches_about_its_bytes(s3_server, bucket, tmp_path, monkeypatch):
    import base64
    import random

    from codemill.sources.records import RecordReader

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    # 12 row groups of ~1 MiB that do not compress: a read of one is a column chunk here and
    # there, which a 16 MiB block (a JSONL task's) filled to the end of the file (12 MiB).
    rng = random.Random(0)
    texts = [base64.b64encode(rng.randbytes(96 << 10)).decode() for _ in range(120)]
    pq.write_table(pa.table({"content": texts}), tmp_path / "t.parquet", row_group_size=10)
    s3_server.upload_file(str(tmp_path / "t.parquet"), bucket, "t.parquet")
    url = f"s3://{bucket}/t.parquet"
    fetched = _fetches(monkeypatch, url)
    assert [d.text for d in RecordReader(url, Skips()).read(0, 1)] == texts[:10]
    assert sum(len(data) for _, _, data in fetched) <= (8 << 20) + (1 << 20)


def test_jsonl_ranges_at_url_read_like_on_disk_and_fetch_little_more(s3_server, bucket, tmp_path, monkeypatch):
    from codemill.sources.records import RecordReader

    # Short lines, and long ones (longer than the 64 KiB read past a range's end), so that a
    # range's last line ends inside that read, past it, or far past it; no final newline.
    texts = [("x = 1\n" * (1 + (i * 7919) % 40)) if i % 9 else "y" * (150_000 + i) for i in range(60)]
    data = "\n".join(json.dumps({"content": t, "path": f"f{i}.py"}) for i, t in enumerate(texts)).encode()
    (tmp_path / "d.jsonl").write_bytes(data)
    s3_server.upload_file(str(tmp_path / "d.jsonl"), bucket, "d.jsonl")
    url = f"s3://{bucket}/d.jsonl"
    fetched = _fetches(monkeypatch, url)
    for step in (1000, 70_000, 300_001, len(data)):
        fetched.clear()
        for start in range(0, len(data), step):
            stop = start + step if start + step < len(data) else None
            here, there = Skips(), Skips()
            a, b = RecordReader(tmp_path / "d.jsonl", here), RecordReader(url, there)
            assert [d.text for d in b.read(start, stop)] == [d.text for d in a.read(start, stop)]
            assert b.lines == a.lines and there.counts == here.counts
        if step > 70_000:  # each range, and the end of its last line: about what a task reads
            longest = max(len(line) for line in data.split(b"\n"))
            ranges = -(-len(data) // step)
            assert sum(len(data) for _, _, data in fetched) <= len(data) + ranges * (2 * longest + (64 << 10))


def test_a_task_of_a_1_gb_corpus_reads_its_range_in_one_request(s3_server, bucket, tmp_path, monkeypatch):
    from codemill.sources.parts import task_size
    from codemill.sources.records import RecordReader

    # A 1 GB corpus's tasks are ~15.6 MB: each is one ranged GET, not two of 8 MiB.
    step = task_size(1_000_000_000)
    line = json.dumps({"content": "x = 1\n" * 2000}).encode() + b"\n"
    data = line * (2 * step // len(line) + 1)
    s3_server.put_object(Bucket=bucket, Key="big.jsonl", Body=data)
    url = f"s3://{bucket}/big.jsonl"
    calls = _fetches(monkeypatch, url)
    docs = 0
    for start, stop in ((0, step), (step, None)):  # the first task, and the last to the end
        calls.clear()
        docs += sum(1 for _ in RecordReader(url, Skips()).read(start, stop))
        assert len(calls) == 1, calls
    assert docs == len(data) // len(line)


def test_url_reader_ends_where_the_object_ends(s3_server, bucket, tmp_path, monkeypatch):
    from codemill.sources.fs import open_url

    # The first read (the range and 64 KiB past it) ends exactly at the object's end: the next
    # starts at the end, which S3 refuses (416) rather than answer empty.
    body = bytes(range(256)) * 257
    s3_server.put_object(Bucket=bucket, Key="o.bin", Body=body)
    with open_url(f"s3://{bucket}/o.bin", stop=len(body) - (64 << 10)) as f:
        assert f.read() == body and f.read() == b""
        assert f.seek(-10, 2) == len(body) - 10 and f.read() == body[-10:]
    with open_url(f"s3://{bucket}/o.bin") as f:
        f.seek(1000)
        assert f.read(5) == body[1000:1005] and f.tell() == 1005
    # Reading all of it is one request (and one more that finds the end), not one per 8 KiB.
    calls = _fetches(monkeypatch, f"s3://{bucket}/o.bin")
    with open_url(f"s3://{bucket}/o.bin") as f:
        assert f.read() == body
    assert len(calls) == 1, calls


def test_objects_over_the_limit_are_not_fetched_whole(s3_server, bucket, monkeypatch):
    from codemill.corpus.plan import task_documents
    from codemill.sources.fs import url_fs

    s3_server.put_object(Bucket=bucket, Key="t/big.py", Body=b"x = 1\n" * 10_000)
    s3_server.put_object(Bucket=bucket, Key="t/small.py", Body=b"y = 2\n")
    s3_server.put_object(Bucket=bucket, Key="t/__init__.py", Body=b"")  # any range of it is refused
    fs, _ = url_fs(f"s3://{bucket}/t")
    got: list[int] = []
    real = fs.cat_ranges

    def counted(paths, starts, ends, **kw):
        out = real(paths, starts, ends, **kw)
        got.extend(len(x) for x in out if isinstance(x, bytes))
        return out

    monkeypatch.setattr(fs, "cat_ranges", counted)
    names = [f"s3://{bucket}/t/{n}" for n in ("big.py", "small.py", "__init__.py")]
    # The corpus jobs' reader (objects fetched in batches) and the one reader (one at a time).
    task = Task(0, "files", "", files=tuple(names))
    for read in (
        lambda skips: task_documents(task, skips, 1000)[0],
        lambda skips: iter_documents(names, skips, max_bytes=1000),
    ):
        skips = Skips()
        got.clear()
        assert [d.text for d in read(skips)] == ["y = 2\n"]
        assert skips.counts == {"too_large": 1, "empty": 1}
        assert max(got) == 1001  # the limit and one byte, not the 60 kB object

    # A ranged read that fails for another reason is raised, never retried by a whole read.
    def failing(paths, starts, ends, **kw):
        got.append(-1 if starts is None else 0)
        return [OSError(5, "connection reset") for _ in paths]

    monkeypatch.setattr(fs, "cat_ranges", failing)
    got.clear()
    with pytest.raises(StorageError, match=r"big\.py.*connection reset"):
        list(task_documents(task, Skips(), 1000)[0])
    assert got == [0]
    # An object gone since it was listed: counted unreadable under its own URL, as a local file
    # gone is (it stopped the run before), the rest of the batch read.
    s3_server.delete_object(Bucket=bucket, Key="t/small.py")
    fs.invalidate_cache()

    def refused(paths, starts, ends, **kw):
        return [b"x" if p.endswith("big.py") else FileNotFoundError(2, "NoSuchKey", p) for p in paths]

    monkeypatch.setattr(fs, "cat_ranges", refused)
    skips = Skips()
    assert [d.text for d in task_documents(task, skips, 1000)[0]] == ["x"]
    assert skips.counts == {"unreadable": 1, "empty": 1}
    assert (names[1], "unreadable") in [(i["path"], i["reason"]) for i in skips.items]


def test_removing_outputs_takes_names_literally(s3_server, bucket):
    # `x[ab].txt` as a glob pattern matches `xa.txt` and not itself.
    for name in ("x[ab].txt", "xa.txt", "y*.txt", "yz.txt"):
        s3_server.put_object(Bucket=bucket, Key=f"out/{name}", Body=b"1")
    out = Directory(f"s3://{bucket}/out")
    out.remove(["x[ab].txt", "y*.txt"])
    assert sorted(out.files()) == ["xa.txt", "yz.txt"]


def test_missing_inputs_and_buckets_are_one_clear_line(s3_server, bucket):
    with pytest.raises(InputNotFoundError, match=f"s3://{bucket}/nothing-here"):
        _docs([f"s3://{bucket}/nothing-here"])
    with pytest.raises(StorageError) as e:
        _docs(["s3://no-such-bucket-here/x"])
    assert str(e.value).startswith("s3://no-such-bucket-here/x: no such bucket") and "\n" not in str(e.value)
    with pytest.raises(StorageError, match="no-such-bucket-here"):
        Directory("s3://no-such-bucket-here/out").ensure()
    with pytest.raises(StorageError, match="nosuchproto://x"):
        _docs(["nosuchproto://x"])
    # No bucket at all: s3fs's "Cannot traverse all of S3" named no argument.
    with pytest.raises(StorageError, match=r"^s3://: names no bucket"):
        _docs(["s3://"])


def test_an_output_url_without_a_bucket_or_a_key_is_one_line(s3_server, tmp_path, capsys):
    from codemill.cli import main

    (tmp_path / "a.py").write_text("x = 1\n")
    for argv, words in (
        (["tokenize", str(tmp_path), "-o", "s3://", "--workers", "1"], "s3://: names no bucket"),
        (["dedup", str(tmp_path), "-o", "s3:///"], "s3:///: names no bucket"),
        (["prepare", str(tmp_path), "-o", "s3://x.jsonl"], "s3://x.jsonl: names a bucket, not a file in it"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err


def test_access_denied_is_one_clear_line_without_secrets(s3_server, monkeypatch):
    # A second server that checks credentials (moto's IAM enforcement from the first request):
    # the test's keys are unknown to it, as a wrong key is to S3.
    import fsspec
    from conftest import _start_moto

    proc, url = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
        fsspec.filesystem("s3").clear_instance_cache()
        with pytest.raises(StorageError) as e:
            Directory("s3://some-bucket/out").ensure()
        msg = str(e.value)
        assert msg.startswith("s3://some-bucket/out: access denied") and "very-secret-value" not in msg, msg
    finally:
        proc.kill()
        proc.wait()
        fsspec.filesystem("s3").clear_instance_cache()


def test_an_endpoint_that_does_not_answer_is_one_clear_line(monkeypatch, tmp_path):
    # botocore raises its own EndpointConnectionError (not an OSError), which s3fs passes on.
    pytest.importorskip("s3fs", reason="object-storage tests need s3fs (the 'cloud' extra)")
    import socket

    import fsspec
    from codemill.sources.fs import list_files, open_url

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "very-secret-value",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }.items():
        monkeypatch.setenv(key, value)
    fsspec.filesystem("s3").clear_instance_cache()
    try:
        for call, url in ((list_files, "s3://b/p"), (lambda u: open_url(u).read(), "s3://b/p/x.jsonl")):
            with pytest.raises(StorageError) as e:
                call(url)
            msg = str(e.value)
            assert msg.startswith(f"{url}: storage request failed") and "\n" not in msg, msg
            assert "very-secret-value" not in msg
    finally:
        fsspec.filesystem("s3").clear_instance_cache()


def test_a_batch_of_objects_in_several_stores_reads_each_from_its_own(s3_server, bucket):
    import fsspec
    from codemill.sources.fs import read_urls

    s3_server.put_object(Bucket=bucket, Key="a.py", Body=b"a = 1\n")
    fsspec.filesystem("memory").pipe("/cm-test/b.py", b"b = 2\n")
    urls = [f"s3://{bucket}/a.py", "memory://cm-test/b.py", f"s3://{bucket}/a.py"]
    assert read_urls(urls) == read_urls(urls, 100) == [b"a = 1\n", b"b = 2\n", b"a = 1\n"]


def test_an_object_whose_store_gives_no_size_is_read(tmp_path):
    # An HTTP server without Content-Length: fsspec gives no size. Before, it was taken for 0 bytes
    # and the file counted `empty`, unread.
    pytest.importorskip("aiohttp")
    import socketserver
    import threading

    import codemill

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    texts = ["def f(x):\n    return x + 1\n", "y = 2\n"]
    bodies = {b"/x.jsonl": "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()}
    pq.write_table(pa.table({"content": texts}), tmp_path / "x.parquet", row_group_size=1)
    bodies[b"/x.parquet"] = (tmp_path / "x.parquet").read_bytes()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                c = self.rfile.read(1)
                if not c:
                    return
                head += c
            self.wfile.write(b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n")  # no length, no ranges
            if not head.startswith(b"HEAD"):
                self.wfile.write(bodies[head.split(b" ")[1]])

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("x.jsonl", "x.parquet"):  # Parquet, read from its end, is fetched whole
            url = f"http://127.0.0.1:{server.server_address[1]}/{name}"
            docs, skips = _docs([url])
            assert [text for _, _, text, _ in docs] == texts and skips == {}, name
            # One task whatever its size: each open fetches the whole object.
            m = codemill.tokenize_corpus([url], tmp_path / f"out-{name}", task_bytes=1)
            assert m["totals"]["documents"] == 2 and m["skipped"] == {} and len(m["tasks"]) == 1, name
    finally:
        server.shutdown()
        server.server_close()


def test_the_heads_of_a_prefix_are_fetched_together(s3_server, bucket, tmp_path, monkeypatch):
    # Objects whose language only a shebang tells: their first bytes come in one concurrent
    # batch, not in a request each, one after the other (a round trip each on a real store).
    import sys

    from codemill.sources import fs
    from codemill.sources.walk import walk_url

    root = tmp_path / "bin"
    root.mkdir()
    for i in range(5):
        (root / f"tool{i}").write_text("#!/usr/bin/env python3\nprint(1)\n")
    (root / "notes").write_text("just words\n")
    (root / "empty").write_text("")  # not fetched: a store refuses a range of zero bytes
    url = upload(s3_server, bucket, root, "bin")
    batches: list[int] = []
    read_urls = fs.read_urls

    def batch(urls: list[str], limit: int | None = None) -> list[bytes]:
        if urls:
            batches.append(len(urls))
        return read_urls(urls, limit)

    monkeypatch.setattr(fs, "read_url", lambda *a, **k: pytest.fail("a head fetched on its own"))
    monkeypatch.setattr(fs, "read_urls", batch)
    skips = Skips()
    assert [(e.rel, e.language) for e in walk_url(url, skips)] == [(f"tool{i}", "python") for i in range(5)]
    assert batches == [6]
    assert dict(skips.counts) == {"unsupported_language": 2}
    # A bucket of many such objects asks for them in batches of a bounded size.
    monkeypatch.setattr(sys.modules["codemill.sources.walk"], "_HEADS_AT_ONCE", 4)  # the module: `walk` is its function
    batches.clear()
    assert [e.rel for e in walk_url(url, Skips())] == [f"tool{i}" for i in range(5)]
    assert batches == [4, 2]


def test_an_s3_client_holds_a_connection_for_each_object_of_a_fetch(monkeypatch):
    # botocore's pool of 10 read a tree of small objects 10 per round trip; fsspec's own
    # configuration (FSSPEC_S3='{"config_kwargs": ...}') still decides where it says.
    import fsspec.config
    from codemill.sources import fs

    s3, _ = fs.url_fs("s3://b/p")
    assert s3.config_kwargs["max_pool_connections"] == fs.FETCH_BATCH
    monkeypatch.setitem(fsspec.config.conf, "s3", {"config_kwargs": {"max_pool_connections": 7, "retries": {}}})
    s3, _ = fs.url_fs("s3://b/p")
    assert s3.config_kwargs == {"max_pool_connections": 7, "retries": {}}


def test_a_prefix_is_listed_a_folder_at_a_time_and_folders_at_once(s3_server, bucket, tmp_path, monkeypatch):
    # A store lists 1,000 keys a request, page after page: a prefix's folders are listed at once.
    import asyncio

    import s3fs
    from codemill.sources import fs

    root = tmp_path / "t"
    folders = ("", "a", "a/deep", "b", "c/d/e")
    for i, d in enumerate(folders):
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d / f"f{i}.py").write_text(f"x = {i}\n")
    url = upload(s3_server, bucket, root, "many/only")
    s3, path = fs.url_fs(url)
    flat = sorted(s3.find(path))
    found: list[str] = []
    at_once = most = 0
    real = s3fs.S3FileSystem._find

    async def find(self: Any, where: str, **kw: Any) -> Any:
        nonlocal at_once, most
        found.append(where)
        at_once += 1
        most = max(most, at_once)
        try:
            await asyncio.sleep(0.05)  # a store's round trip
            return await real(self, where, **kw)
        finally:
            at_once -= 1

    monkeypatch.setattr(s3fs.S3FileSystem, "_find", find)
    monkeypatch.setattr(fs, "_LISTINGS", 2)
    top = f"s3://{bucket}/many"  # holds one folder, which holds everything: listed through
    expected = [(f"{top}/only/{n[len(path) + 1 :]}", f"only/{n[len(path) + 1 :]}") for n in flat]
    assert sorted((u, rel) for u, rel, *_ in fs.list_files(top)) == expected
    assert sorted(found) == [f"{path}/a", f"{path}/b", f"{path}/c"] and most == 2
    # At most _SPLIT_LEVELS levels through lone folders: below them, one listing of the rest.
    monkeypatch.setattr(fs, "_SPLIT_LEVELS", 0)
    found.clear()
    assert sorted((u, rel) for u, rel, *_ in fs.list_files(top)) == expected
    assert found == [path]
    # An output folder listed again sees what other processes (workers) wrote into its folders
    # since: the filesystem's cached listing of a folder is not used.
    out = fs.Directory(f"s3://{bucket}/out")
    out.write_bytes("tasks/a.json", b"1")
    assert set(out.files()) == {"tasks/a.json"}
    s3_server.put_object(Bucket=bucket, Key="out/tasks/b.json", Body=b"2")
    assert set(out.files()) == {"tasks/a.json", "tasks/b.json"}
    assert fs.Directory(f"s3://{bucket}/none-yet").files() == {}


@pytest.mark.parametrize("size", [1000, 6 << 20])  # one put, or a multipart upload
def test_an_upload_whose_last_step_fails_publishes_nothing(s3_server, bucket, monkeypatch, size):
    # `before_publish` (prepare's description of the file) and the upload's completion are the
    # last steps: when either fails, no object appears and no multipart upload is left open.
    import gc

    import s3fs
    from codemill.sources.fs import uploading

    monkeypatch.setattr(s3fs.S3FileSystem, "default_block_size", 5 << 20)

    def fail(size: int) -> None:
        raise OSError("the description could not be written")

    with pytest.raises(OSError, match="description"), uploading(f"s3://{bucket}/a.jsonl", fail) as f:
        f.write(b"x" * size)
    real = s3fs.core.S3File.commit

    def commit(self):
        raise PermissionError("Access Denied")

    monkeypatch.setattr(s3fs.core.S3File, "commit", commit)
    denied = pytest.raises(StorageError, match=rf"^s3://{bucket}/b.jsonl: access denied")
    with denied, uploading(f"s3://{bucket}/b.jsonl") as f:
        f.write(b"y" * size)
    monkeypatch.setattr(s3fs.core.S3File, "commit", real)
    gc.collect()  # fsspec closes (so commits) an open file when it is collected
    assert "Contents" not in s3_server.list_objects_v2(Bucket=bucket)
    assert s3_server.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_uploads_a_killed_run_left_are_aborted_at_and_under_its_output_only(s3_server, bucket, monkeypatch):
    import s3fs
    from codemill.sources.fs import abort_left_uploads

    def left() -> list[str]:
        return sorted(u["Key"] for u in s3_server.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    for key in ("out", "out/shard-00000.bin", "out/tasks/x", "outer/a", "other/out/b", "out.jsonl"):
        s3_server.create_multipart_upload(Bucket=bucket, Key=key)
    real = s3fs.S3FileSystem._call_s3
    pages = []

    async def one_a_page(self, method, *args, **kwargs):
        # S3 answers up to 1,000 uploads a page; moto all at once: pages of one, as S3 cuts them.
        if method != "list_multipart_uploads":
            return await real(self, method, *args, **kwargs)
        after = (kwargs.pop("KeyMarker", ""), kwargs.pop("UploadIdMarker", ""))
        kwargs.pop("Prefix")  # and as a store that ignores it: the whole bucket's, filtered here
        pages.append(after)
        found = (await real(self, method, *args, **kwargs)).get("Uploads", [])
        rest = sorted((u for u in found if (u["Key"], u["UploadId"]) > after), key=lambda u: (u["Key"], u["UploadId"]))
        page = {"Uploads": rest[:1], "IsTruncated": len(rest) > 1}
        if rest:
            page.update(NextKeyMarker=rest[0]["Key"], NextUploadIdMarker=rest[0]["UploadId"])
        return page

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", one_a_page)
    assert abort_left_uploads(f"s3://{bucket}/out") == 2
    assert len(pages) == 6  # each of the bucket's six uploads a page
    assert left() == ["other/out/b", "out", "out.jsonl", "outer/a"]
    assert abort_left_uploads(f"s3://{bucket}/out.jsonl/x", prefix=False) == 0
    assert abort_left_uploads(f"s3://{bucket}/out.jsonl", prefix=False) == 1
    assert left() == ["other/out/b", "out", "outer/a"]

    async def denied(self, method, *args, **kwargs):
        raise PermissionError("Access Denied")

    # A policy that lets a run write but not list uploads: the run goes on, nothing aborted.
    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", denied)
    assert abort_left_uploads(f"s3://{bucket}") == 0
    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", real)
    assert abort_left_uploads(f"s3://{bucket}") == 3  # a whole bucket's output: every one
    assert left() == []
    assert abort_left_uploads("memory://cm-abort/out") == 0  # not S3: nothing of the kind


def test_a_file_system_that_shows_files_as_written_gets_them_whole():
    # memory:// (like SFTP) has a file there, growing, once it is opened: the upload is staged
    # and put once complete, so a failed block leaves nothing, and its own error is the one raised.
    fsspec = pytest.importorskip("fsspec")
    from codemill.sources.fs import uploading

    fs = fsspec.filesystem("memory")
    with pytest.raises(RuntimeError, match="mid-run"), uploading("memory://cm-up/a.jsonl") as f:
        f.write(b"partial")
        assert not fs.exists("/cm-up/a.jsonl")
        raise RuntimeError("mid-run")
    assert not fs.exists("/cm-up/a.jsonl")
    sizes: list[int] = []
    with uploading("memory://cm-up/a.jsonl", sizes.append) as f:
        f.write(b"whole")
    assert fs.cat_file("/cm-up/a.jsonl") == b"whole" and sizes == [5]


@pytest.mark.parametrize("stop", [None, 5, 40])
def test_a_url_read_on_in_blocks_reads_as_a_file_does(monkeypatch, stop):
    # Lines and bytes come out of each fetched block as it came (no buffer of the reader's own):
    # any mix of read, readline, seek and tell gives what a local file gives, across blocks.
    import io
    import random

    from codemill.sources import fs as fsmod

    body = b"".join(b"x" * random.Random(i).randrange(0, 30) + b"\n" for i in range(60)) + b"tail"

    class Store:
        def cat_file(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
            if start is not None and start >= len(body):
                raise OSError("416 InvalidRange")  # as S3 answers a range past the end
            return body[start:end]

        def size(self, path: str) -> int:
            return len(body)

    monkeypatch.setattr(fsmod, "_BLOCK", 7)
    monkeypatch.setattr(fsmod, "url_size", lambda url: len(body))
    rng = random.Random(0)
    for _ in range(200):
        got = fsmod._Blocks(fsmod._Ranges(Store(), "o", "s3://b/o", stop))
        want = io.BytesIO(body)
        for _ in range(12):
            op = rng.randrange(5)
            n = rng.choice([-1, None, 0, 1, 3, 7, 8, 20, 100])
            if op == 0:
                assert got.read(n) == want.read(n)
            elif op == 1:
                assert got.readline(n) == want.readline(n)
            elif op == 2:
                at = rng.randrange(len(body) + 3)
                assert got.seek(at) == want.seek(at)
            elif op == 3:
                back = -rng.randrange(len(body))
                assert got.seek(back, io.SEEK_END) == want.seek(back, io.SEEK_END)
            else:
                assert got.seek(3, io.SEEK_CUR) == want.seek(3, io.SEEK_CUR)
            assert got.tell() == want.tell()
        got.close()
        with pytest.raises(ValueError, match="closed file"):  # (it went on fetching)
            got.readline()
        with pytest.raises(ValueError, match="closed file"):
            got.read(3)


def test_an_object_gone_since_its_listing_reads_as_unreadable_where_asked(s3_server, bucket):
    from codemill.sources.document import read_file, read_texts
    from codemill.sources.fs import GONE, fetched, read_urls

    s3_server.put_object(Bucket=bucket, Key="a.py", Body=b"x = 1\n")
    s3_server.put_object(Bucket=bucket, Key="empty.py", Body=b"")
    urls = [f"s3://{bucket}/{k}" for k in ("a.py", "gone.py", "empty.py")]
    got = list(read_texts(urls))
    assert [(r[1], r[2]) for r in got] == [("x = 1\n", None), (None, "unreadable"), (None, "empty")]
    fetched_ = dict(fetched(urls, 100, gone_ok=True))
    assert fetched_[urls[1]] is GONE and fetched_[urls[2]] is not GONE and fetched_[urls[2]] == b""
    assert read_file(urls[1], 100, GONE) == (None, "unreadable")
    assert [d is GONE for d in read_urls(urls, 100, gone_ok=True)] == [False, True, False]
    # Not asked: one line, as before.
    with pytest.raises(StorageError, match=r"gone\.py: no such bucket or object"):
        list(fetched(urls))
    with pytest.raises(StorageError, match=r"gone\.py: no such bucket or object"):
        read_urls(urls)


def test_a_removal_the_store_refuses_in_part_is_an_error_naming_a_key(s3_server, bucket, monkeypatch):
    # S3 answers a multi-object delete 200 and names the keys it did not delete (a policy that
    # denies s3:DeleteObject) in its body; s3fs passed over them, and a run replacing an output
    # left the previous one's files beside the new one and said nothing.
    import s3fs
    from codemill.sources.fs import Directory

    for key in ("out/a.txt", "out/b.txt", "out/c.txt"):
        s3_server.put_object(Bucket=bucket, Key=key, Body=b"x")
    real = s3fs.S3FileSystem._call_s3

    async def refusing_b(self, method, *args, **kwargs):
        if method != "delete_objects":
            return await real(self, method, *args, **kwargs)
        objects = kwargs["Delete"]["Objects"]
        kwargs["Delete"] = {**kwargs["Delete"], "Objects": [o for o in objects if not o["Key"].endswith("b.txt")]}
        await real(self, method, *args, **kwargs)
        return {"Errors": [{"Key": "out/b.txt", "Code": "AccessDenied", "Message": "Access Denied"}]}

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", refusing_b)
    out = Directory(f"s3://{bucket}/out")
    with pytest.raises(StorageError, match=rf"^s3://{bucket}/out: access denied \(.*AccessDenied.*{bucket}/out/b.txt"):
        out.remove(["a.txt", "b.txt", "c.txt"])
    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", real)
    assert sorted(o["Key"] for o in s3_server.list_objects_v2(Bucket=bucket)["Contents"]) == ["out/b.txt"]
    out.remove(["b.txt"])  # allowed again: gone, and no error
    assert "Contents" not in s3_server.list_objects_v2(Bucket=bucket)
