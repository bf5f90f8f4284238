"""S3 requests through obstore (`codemill.sources.fast_s3`): the same bytes, names and errors as
s3fs gives, against the moto server the S3 tests share; s3fs where obstore would not send the
request botocore does."""

from __future__ import annotations

import collections
import datetime
import os
import subprocess
import sys

import pytest
from codemill.errors import StorageError

pytest.importorskip("obstore", reason="the fast S3 path needs obstore (the 'cloud' extra)")

# Names obstore sends as they are, and names it would change (s3fs reads and writes those).
PLAIN = ["a.py", "pages/[id].tsx", "a b/c+d=e.py", "uni/é中.py", "p%20q.py", "x~y#z.py", "empty.py"]
ODD = ["x;y.py", "d//e.py", "/lead.py", "t/./u.py", "t/../v.py", "what?.py", "back\\slash.py"]


@pytest.fixture
def counted(monkeypatch):
    """Counts obstore's requests by function: {"get_range": n, ...}."""
    import obstore

    made: collections.Counter[str] = collections.Counter()
    for name in ("get", "get_range", "put", "get_async", "get_range_async"):
        real = getattr(obstore, name)

        def wrapped(*args, _real=real, _name=name, **kw):
            made[_name] += 1
            return _real(*args, **kw)

        monkeypatch.setattr(obstore, name, wrapped)
    return made


def _fs(bucket: str):
    from codemill.sources.fast_s3 import FastS3FileSystem
    from codemill.sources.fs import url_fs

    fs, _ = url_fs(f"s3://{bucket}/")
    assert isinstance(fs, FastS3FileSystem)
    return fs


def _body(key: str) -> bytes:
    return b"" if key == "empty.py" else f"# {key}\n".encode() * 50


def test_reads_give_what_the_store_holds_plain_names_through_obstore(s3_server, bucket, counted):
    for key in PLAIN + ODD:
        s3_server.put_object(Bucket=bucket, Key=key, Body=_body(key))
    fs = _fs(bucket)
    for key in PLAIN + ODD:
        body, path = _body(key), f"{bucket}/{key}"
        before = sum(counted.values())
        assert fs.cat_file(path) == body, key
        if body:
            assert fs.cat_file(path, start=3, end=40) == body[3:40], key
            assert fs.cat_file(path, start=10, end=10**9) == body[10:], key  # past the end: the rest
        assert (sum(counted.values()) > before) == (key in PLAIN), key
    # A range from an offset to the end stays with obstore; one that ends before it starts is
    # sent by s3fs as it is (a server ignores it: the whole object), as without obstore.
    counted.clear()
    assert fs.cat_file(f"{bucket}/a.py", start=5) == _body("a.py")[5:] and counted["get"] == 1
    assert fs.cat_file(f"{bucket}/a.py", start=5, end=2) == _body("a.py")
    assert fs.cat_ranges([f"{bucket}/a.py"], [7], [None]) == [_body("a.py")[7:]]
    assert sum(counted.values()) == 2 and fs._stores[bucket] is not None
    paths = [f"{bucket}/{k}" for k in PLAIN + ODD if k != "empty.py"]
    counted.clear()
    assert fs.cat_ranges(paths, None, None) == [_body(p.split("/", 1)[1]) for p in paths]
    assert counted["get_async"] == len(PLAIN) - 1
    assert fs.cat_ranges(paths, [0] * len(paths), [7] * len(paths)) == [_body(p.split("/", 1)[1])[:7] for p in paths]
    # What a store refuses: a range of an empty object (416, as s3fs raises it), a missing one.
    got = fs.cat_ranges([f"{bucket}/empty.py", f"{bucket}/none.py"], [0, 0], [5, 5])
    assert isinstance(got[0], OSError) and isinstance(got[1], FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{bucket}/none.py", start=0, end=5)


def test_uploads_store_the_exact_name_and_bytes(s3_server, bucket, counted, tmp_path):
    fs = _fs(bucket)
    local = tmp_path / "f"
    for i, key in enumerate(PLAIN + ODD):
        body = _body(key) + bytes([i])
        if i % 2:
            fs.pipe_file(f"{bucket}/{key}", body)
        else:
            local.write_bytes(body)
            fs.put_file(str(local), f"{bucket}/{key}")
        assert s3_server.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    assert counted["put"] == len(PLAIN)
    # Content types as s3fs sets them: none for bytes (the store's default), guessed from the
    # local file's name for a file.
    types = {}
    for label, client in (("obstore", None), ("s3fs", "s3fs")):
        if client:
            os.environ["CODEMILL_S3_CLIENT"] = client
        fs._stores.clear()
        try:
            fs.pipe_file(f"{bucket}/{label}/m.json", b"{}")
            (tmp_path / "local.txt").write_bytes(b"x")
            fs.put_file(str(tmp_path / "local.txt"), f"{bucket}/{label}/remote.parquet")
        finally:
            os.environ.pop("CODEMILL_S3_CLIENT", None)
        types[label] = [
            s3_server.head_object(Bucket=bucket, Key=f"{label}/{k}")["ContentType"]
            for k in ("m.json", "remote.parquet")
        ]
    assert types["obstore"] == types["s3fs"] == ["binary/octet-stream", "text/plain"]
    # Seen at once by the filesystem's own listing (its cache of the folder dropped).
    fs.ls(bucket)
    fs.pipe_file(f"{bucket}/late.py", b"x")
    assert f"{bucket}/late.py" in fs.ls(bucket)


def test_s3fs_serves_every_request_when_asked(s3_server, bucket, counted, monkeypatch):
    monkeypatch.setenv("CODEMILL_S3_CLIENT", "s3fs")
    fs = _fs(bucket)
    fs._stores.clear()
    fs.pipe_file(f"{bucket}/a.py", b"abc")
    assert fs.cat_file(f"{bucket}/a.py", start=1, end=3) == b"bc"
    assert fs.cat_ranges([f"{bucket}/a.py"], None, None) == [b"abc"]
    assert sum(counted.values()) == 0
    fs._stores.clear()


def test_without_obstore_s3fs_serves_every_request(s3_server, bucket, monkeypatch):
    monkeypatch.setitem(sys.modules, "obstore.store", None)  # not installed: its import fails
    fs = _fs(bucket)
    fs._stores.clear()
    fs.pipe_file(f"{bucket}/a.py", b"abc")
    assert fs.cat_file(f"{bucket}/a.py", start=1) == b"bc" and fs._stores == {bucket: None}
    fs._stores.clear()


def test_a_bucket_obstore_fails_for_is_served_by_s3fs_from_then_on(s3_server, bucket, monkeypatch):
    import obstore
    from obstore.exceptions import GenericError

    fs = _fs(bucket)
    fs.pipe_file(f"{bucket}/a.py", b"abc")
    calls = []

    def failing(*args, **kw):
        calls.append(1)
        raise GenericError("Generic S3 error: a request obstore cannot make")

    monkeypatch.setattr(obstore, "get_range", failing)
    assert fs.cat_file(f"{bucket}/a.py", start=0, end=2) == b"ab"
    assert fs.cat_file(f"{bucket}/a.py", start=1, end=3) == b"bc"
    assert calls == [1] and fs._stores[bucket] is None
    fs._stores.pop(bucket)


def test_errors_are_one_clear_line_without_secrets(s3_server, bucket, monkeypatch):
    import fsspec
    from codemill.sources.fs import read_url, write_url
    from conftest import _start_moto

    with pytest.raises(StorageError, match=r"^s3://no-such-bucket-here/x\.py: no such bucket or object"):
        read_url("s3://no-such-bucket-here/x.py", 0, 10)
    # A server that checks credentials (moto's IAM enforcement): the keys are unknown to it.
    proc, url = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
        fsspec.filesystem("s3").clear_instance_cache()
        for call in (lambda u: read_url(u, 0, 10), lambda u: write_url(u, b"x")):
            with pytest.raises(StorageError) as e:
                call("s3://some-bucket/out/a.py")
            msg = str(e.value)
            assert msg.startswith("s3://some-bucket/out/a.py: access denied"), msg
            assert "very-secret-value" not in msg and "\n" not in msg
    finally:
        proc.kill()
        proc.wait()
        fsspec.filesystem("s3").clear_instance_cache()


def test_a_tokenize_job_reads_and_commits_through_obstore_as_through_s3fs(
    s3_server, bucket, tmp_path, small_tok, counted, monkeypatch
):
    from codemill.corpus.job import tokenize_corpus
    from conftest import STDLIB

    for p in sorted((STDLIB / "json").rglob("*.py")):
        s3_server.put_object(Bucket=bucket, Key=f"in/{p.relative_to(STDLIB).as_posix()}", Body=p.read_bytes())
    kw = {"tokenizer": small_tok, "task_bytes": 20_000, "shard_tokens": 5_000, "workers": 1}
    fast = tokenize_corpus(f"s3://{bucket}/in", f"s3://{bucket}/fast", **kw)
    assert counted["get_range_async"] > 0 and counted["put"] > fast["tasks_planned"] >= 2
    counted.clear()
    monkeypatch.setenv("CODEMILL_S3_CLIENT", "s3fs")
    _fs(bucket)._stores.clear()
    slow = tokenize_corpus(f"s3://{bucket}/in", f"s3://{bucket}/slow", **kw)
    assert sum(counted.values()) == 0 and slow["totals"] == fast["totals"]

    def files(prefix: str) -> dict[str, bytes]:
        listed = s3_server.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]
        got = {
            o["Key"][len(prefix) + 1 :]: s3_server.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in listed
        }
        return {k: v.replace(b"/slow", b"/fast") for k, v in got.items()}

    assert files("fast") == files("slow")
    _fs(bucket)._stores.clear()


def test_a_forked_child_uses_s3fs_once_the_parent_used_obstore(s3_server, bucket):
    # obstore's runtime threads do not survive a fork: a child's request through it waited
    # forever. codemill forks its own workers before any request.
    s3_server.put_object(Bucket=bucket, Key="a.py", Body=b"abc")
    code = f"""
import os, sys
from codemill.sources.fs import read_url
assert read_url("s3://{bucket}/a.py", 0, 3) == b"abc"
pid = os.fork()
if pid == 0:
    os._exit(0 if read_url("s3://{bucket}/a.py", 1, 3) == b"bc" else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""
    done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_bucket_on_aws_is_addressed_as_botocore_addresses_it(monkeypatch):
    # No request: where a presigned URL points is where a request goes.
    import fsspec
    import obstore
    from codemill.sources.fs import url_fs

    for name in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fsspec.filesystem("s3").clear_instance_cache()
    try:
        from fsspec.asyn import sync

        class Sent(Exception):
            pass

        def sent(request, **kw):  # botocore's request, stopped before it leaves
            raise Sent(request.url)

        for region, bucket in (("eu-west-1", "my-bucket"), ("eu-west-1", "my.bucket"), ("us-east-1", "my-bucket")):
            monkeypatch.setenv("AWS_DEFAULT_REGION", region)
            fsspec.filesystem("s3").clear_instance_cache()
            fs, _ = url_fs(f"s3://{bucket}/k.py")
            ours = obstore.sign(fs._store(bucket), "GET", "k.py", datetime.timedelta(minutes=1))
            fs.s3.meta.events.register("before-send.s3.GetObject", sent)
            try:
                with pytest.raises(Sent) as theirs:
                    sync(fs.loop, fs.s3.get_object, Bucket=bucket, Key="k.py")
            finally:
                fs.s3.meta.events.unregister("before-send.s3.GetObject", sent)
            assert ours.split("?")[0] == str(theirs.value), (ours, str(theirs.value))
        # A setting botocore does not read (obstore would): s3fs serves the bucket.
        monkeypatch.setenv("AWS_S3_EXPRESS", "true")
        fs._stores.clear()
        assert fs._store("my-bucket") is None
    finally:
        fsspec.filesystem("s3").clear_instance_cache()


def test_the_stores_own_answers_are_s3fs_errors_in_one_request(s3_server, bucket, monkeypatch):
    import numpy as np

    s3_server.put_object(Bucket=bucket, Key="empty.py", Body=b"")
    s3_server.put_object(Bucket=bucket, Key="a.py", Body=b"abc")
    fs = _fs(bucket)
    errors = {}
    for client in ("obstore", "s3fs"):
        if client == "s3fs":
            monkeypatch.setenv("CODEMILL_S3_CLIENT", "s3fs")
        fs._stores.clear()
        calls: list[int] = []

        def counted(*a, _real=fs._cat_file, _calls=calls, **kw):
            _calls.append(1)
            return _real(*a, **kw)

        monkeypatch.setattr(fs, "_cat_file", counted)
        got = []
        for path in (f"{bucket}/none.py", f"{bucket}/empty.py", "no-such-bucket-here/a.py"):
            with pytest.raises(OSError) as e:
                fs.cat_file(path, start=0, end=5)
            got.append((type(e.value), str(e.value)))
        got.append([(type(x), str(x)) for x in fs.cat_ranges([f"{bucket}/none.py", f"{bucket}/empty.py"], 0, 5)])
        errors[client] = got
        assert len(calls) == (0 if client == "obstore" else 5)  # no request made twice
        if client == "obstore":  # answers, not failures: the bucket stays with obstore
            assert fs._stores[bucket] is not None
        monkeypatch.undo()
    assert errors["obstore"] == errors["s3fs"]
    fs._stores.clear()
    # Range bounds as numpy integers, as s3fs takes them.
    assert fs.cat_ranges([f"{bucket}/a.py"], np.int64(1), np.int64(3)) == [b"bc"]


def test_only_bytes_are_piped_through_obstore(s3_server, bucket, tmp_path):
    # obstore would read a str as a local file's name; s3fs uploads the string's bytes.
    local = tmp_path / "secret.txt"
    local.write_bytes(b"LOCAL FILE CONTENTS")
    fs = _fs(bucket)
    fs.pipe_file(f"{bucket}/s.txt", str(local))
    assert s3_server.get_object(Bucket=bucket, Key="s.txt")["Body"].read() == str(local).encode()
    fs.pipe_file(f"{bucket}/b.txt", bytearray(b"xy"))
    assert s3_server.get_object(Bucket=bucket, Key="b.txt")["Body"].read() == b"xy"
    assert fs._stores[bucket] is not None
