"""`prepare` with inputs and output in object storage (a real S3 server on 127.0.0.1): the same
samples, byte for byte, as a local run; a failed run publishes nothing."""

from __future__ import annotations

import pytest
from codemill.errors import OutputError, StorageError
from codemill.finetune.pipeline import prepare
from conftest import STDLIB


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".parquet"])
def test_prepare_s3_in_and_out_equals_local(s3_server, bucket, tmp_path, monkeypatch, suffix):
    # The samples go up in parts as they are written (`sources.fs.uploading`): no staged copy on
    # local disk (it was staged whole before), and the same bytes as a local run.
    from codemill.finetune import writer

    tree = tmp_path / "tree"
    tree.mkdir()
    for p in sorted((STDLIB / "json").glob("*.py")):
        (tree / p.name).write_bytes(p.read_bytes())
        s3_server.upload_file(str(p), bucket, f"tree/{p.name}")
    kw = {"workers": 1, "seed": 3, "progress": False}
    local = prepare([tree], tmp_path / f"out{suffix}", **kw)
    uploads: list[str] = []

    def uploading(url, *args):
        uploads.append(url)
        return real(url, *args)

    real = writer.uploading
    monkeypatch.setattr(writer, "uploading", uploading)
    # A killed run's upload of the same file, in parts: aborted (S3 bills its parts until then);
    # one of another file, even one named under it, is not the run's to abort.
    for key in (f"out{suffix}", f"out{suffix}/x", "other.jsonl"):
        s3_server.create_multipart_upload(Bucket=bucket, Key=key)
    remote = prepare([f"s3://{bucket}/tree"], f"s3://{bucket}/out{suffix}", **kw)
    left = s3_server.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert sorted(u["Key"] for u in left) == ["other.jsonl", f"out{suffix}/x"]
    assert uploads == [f"s3://{bucket}/out{suffix}"]
    assert {k: v for k, v in remote.items() if k not in ("output", "inputs", "seconds", "files_per_s", "mb_per_s")} == {
        k: v for k, v in local.items() if k not in ("output", "inputs", "seconds", "files_per_s", "mb_per_s")
    }
    body = s3_server.get_object(Bucket=bucket, Key=f"out{suffix}")["Body"].read()
    assert body == (tmp_path / f"out{suffix}").read_bytes() and len(body) > 100
    sidecar = s3_server.get_object(Bucket=bucket, Key=f"out{suffix}.codemill.json")["Body"].read()
    assert sidecar == (tmp_path / f"out{suffix}.codemill.json").read_bytes()
    with pytest.raises(OutputError, match="no such bucket"):
        prepare([tree], "s3://no-such-bucket-prep/out.jsonl", **kw)


def test_a_file_output_in_a_store_without_buckets_needs_none(tmp_path):
    # memory:// has no buckets: its root is no bucket to name a key in (it was refused as one).
    fsspec = pytest.importorskip("fsspec")
    (tmp_path / "a.py").write_text("def f(x):\n    return x + 1\n" * 4)
    prepare([tmp_path], "memory://cm-prep-out.jsonl", workers=1, progress=False, dedup=False)
    assert fsspec.filesystem("memory").exists("/cm-prep-out.jsonl")


def test_a_missing_bucket_is_found_before_the_work(s3_server, bucket, tmp_path, monkeypatch, capsys):
    # Before, the whole run was done and then its upload failed; and a --report in a missing
    # bucket failed only after the samples were published.
    import codemill.finetune.pipeline as pipeline
    from codemill.cli import main

    (tmp_path / "a.py").write_text("def f(x):\n    return x + 1\n" * 4)

    def no_work(*a, **kw):
        raise AssertionError("the work started")

    monkeypatch.setattr(pipeline, "Preparer", no_work)
    for args in (
        ["-o", "s3://no-such-bucket-prep/out.jsonl"],
        ["-o", f"s3://{bucket}/out.jsonl", "--report", "s3://no-such-bucket-prep/report.json"],
    ):
        assert main(["prepare", str(tmp_path), *args, "--workers", "1", "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert "no such bucket (no-such-bucket-prep)" in err and len(err.splitlines()) == 1, err
    assert "Contents" not in s3_server.list_objects_v2(Bucket=bucket)


def test_prepare_to_s3_publishes_nothing_on_error(s3_server, bucket, tmp_path, monkeypatch):
    from codemill.finetune.writer import SampleWriter

    tree = tmp_path / "tree"
    tree.mkdir()
    for p in sorted((STDLIB / "json").glob("*.py")):
        (tree / p.name).write_bytes(p.read_bytes())
    real = SampleWriter.write
    calls = {"n": 0}

    def failing(self, sample):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(self, sample)

    monkeypatch.setattr(SampleWriter, "write", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        prepare([tree], f"s3://{bucket}/x.jsonl", workers=1, progress=False)
    assert calls["n"] == 3
    assert "Contents" not in s3_server.list_objects_v2(Bucket=bucket)  # no sample file, no sidecar


def test_prepare_never_replaces_its_input_or_a_foreign_object(s3_server, bucket, tmp_path, capsys):
    import gzip
    import json

    from codemill.cli import main
    from codemill.errors import OutputError

    names = ("decoder.py", "scanner.py")
    lines = "".join(json.dumps({"content": (STDLIB / "json" / n).read_text()}) + "\n" for n in names)
    s3_server.put_object(Bucket=bucket, Key="in.jsonl", Body=lines.encode())
    s3_server.put_object(Bucket=bucket, Key="foreign.jsonl", Body=b"theirs\n")
    kw = {"workers": 1, "progress": False}
    with pytest.raises(OutputError, match="is the input"):
        prepare([f"s3://{bucket}/in.jsonl"], f"s3://{bucket}/in.jsonl", **kw)
    with pytest.raises(OutputError, match="not written by `codemill prepare`"):
        prepare([f"s3://{bucket}/in.jsonl"], f"s3://{bucket}/foreign.jsonl", **kw)
    assert s3_server.get_object(Bucket=bucket, Key="foreign.jsonl")["Body"].read() == b"theirs\n"
    # Its own earlier output is replaced; with --overwrite, a foreign one too.
    prepare([f"s3://{bucket}/in.jsonl"], f"s3://{bucket}/mine.jsonl", **kw)
    prepare([f"s3://{bucket}/in.jsonl"], f"s3://{bucket}/mine.jsonl", **kw)
    prepare([f"s3://{bucket}/in.jsonl"], f"s3://{bucket}/foreign.jsonl", overwrite=True, **kw)
    assert s3_server.get_object(Bucket=bucket, Key="foreign.jsonl")["Body"].read() != b"theirs\n"
    # --report to a URL is uploaded there (it was written to a local path named "s3:/...").
    argv = ["prepare", f"s3://{bucket}/in.jsonl", "-o", str(tmp_path / "o.jsonl.gz"), "--report"]
    assert main([*argv, f"s3://{bucket}/report.json", "--no-progress"]) == 0
    report = json.loads(s3_server.get_object(Bucket=bucket, Key="report.json")["Body"].read())
    with gzip.open(tmp_path / "o.jsonl.gz", "rt") as f:
        assert report["samples"]["total"] == sum(1 for _ in f)
    assert not (tmp_path / "s3:").exists()
    # And the same command again replaces it (before: refused, a report has no sidecar).
    assert main([*argv, f"s3://{bucket}/report.json", "--no-progress"]) == 0
    capsys.readouterr()
    s3_server.put_object(Bucket=bucket, Key="notes.json", Body=b'{"theirs": 1}\n')
    assert main([*argv, f"s3://{bucket}/notes.json", "--no-progress"]) == 2
    assert "not written by `codemill prepare`" in capsys.readouterr().err


def test_an_output_url_is_named_as_given_in_errors(tmp_path):
    from codemill.errors import OutputError

    # A Path would collapse the URL's `//` (`s3:/b/out.txt`); checked before any request.
    with pytest.raises(OutputError, match=r"^s3://b/out\.txt: the output must end in"):
        prepare([tmp_path], "s3://b/out.txt", workers=1, progress=False)


def test_a_sidecar_the_store_will_not_show_is_none_and_one_it_cannot_fetch_is_an_error(s3_server, bucket, monkeypatch):
    from codemill.outputs import read_sidecar
    from codemill.sources.fs import url_fs

    s3_server.put_object(Bucket=bucket, Key="d.jsonl", Body=b"{}\n")
    url = f"s3://{bucket}/d.jsonl"
    assert read_sidecar(url) == {}  # missing: 404
    fs, _ = url_fs(url)
    for exc, expected in ((PermissionError(13, "Access Denied"), {}), (ConnectionError("reset by peer"), None)):

        def failing(path, *a, _exc=exc, **kw):
            raise _exc

        monkeypatch.setattr(fs, "cat_file", failing)
        if expected is not None:  # 403 for a missing key to a reader who may not list: none
            assert read_sidecar(url) == expected
        else:  # the store failed: an error, not "none" (FIM markers would quietly become text)
            with pytest.raises(StorageError, match=r"d\.jsonl\.codemill\.json"):
                read_sidecar(url)


def test_a_sidecar_ties_itself_to_its_object_by_size_when_the_store_says_it(s3_server, bucket, monkeypatch):
    # Review: the store's errors are StorageError (not OSError): a size it will not give leaves
    # the description unsized when written, and unchecked when read, rather than failing.
    from codemill import outputs
    from codemill.sources.fs import url_fs

    s3_server.put_object(Bucket=bucket, Key="s.jsonl", Body=b"{}\n")
    url = f"s3://{bucket}/s.jsonl"
    outputs.write_sidecar(url, "prepare", special_tokens=["<|fim_prefix|>"])
    assert outputs.described(url)["bytes"] == 3
    s3_server.put_object(Bucket=bucket, Key="s.jsonl", Body=b"{}\n{}\n")  # another version
    with pytest.raises(outputs.OutputError, match="is of a 3-byte version of it, and it has 6 bytes"):
        outputs.described(url)
    fs, _ = url_fs(url)

    def failing(path, *a, **kw):
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(fs, "size", failing)
    assert outputs.described(url)["special_tokens"] == ["<|fim_prefix|>"]
    outputs.write_sidecar(url, "prepare", special_tokens=[])
    monkeypatch.undo()
    assert "bytes" not in outputs.read_sidecar(url) and outputs.described(url)["special_tokens"] == []


def test_a_failed_upload_of_the_samples_leaves_the_earlier_output_as_it_was(s3_server, bucket, tmp_path, monkeypatch):
    # The description is published just before the samples: when their upload then failed, the
    # new description stayed beside the old samples, which no longer read ("a 374942-byte
    # version of it"), or alone where there were none.
    import s3fs
    from codemill.outputs import described

    tree = tmp_path / "tree"
    tree.mkdir()
    for p in sorted((STDLIB / "json").glob("*.py"))[:2]:
        (tree / p.name).write_bytes(p.read_bytes())
    out = f"s3://{bucket}/x.jsonl"
    prepare([tree], out, workers=1, progress=False)

    def objects(keys: list[str]) -> dict[str, bytes]:
        return {k: s3_server.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}

    before = objects(["x.jsonl", "x.jsonl.codemill.json"])
    for p in sorted((STDLIB / "json").glob("*.py"))[2:]:
        (tree / p.name).write_bytes(p.read_bytes())  # more samples: another size, another description

    def refused(self, *args, **kwargs):
        raise PermissionError("Access Denied")

    monkeypatch.setattr(s3fs.core.S3File, "commit", refused)
    for output in (out, f"s3://{bucket}/fresh.jsonl"):
        with pytest.raises(StorageError, match="access denied"):
            prepare([tree], output, workers=1, progress=False)
    monkeypatch.undo()
    keys = sorted(o["Key"] for o in s3_server.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["x.jsonl", "x.jsonl.codemill.json"]  # nothing of fresh.jsonl
    assert objects(keys) == before
    assert described(out)["bytes"] == len(before["x.jsonl"])  # reads as before

    # The description cannot be put back either (the store gone at that moment): the one line
    # says what is left, not only the upload's error.
    import codemill.finetune.pipeline as pipeline

    def gone(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(s3fs.core.S3File, "commit", refused)
    monkeypatch.setattr(pipeline, "put_back_sidecar", gone)
    put_back = (
        r"access denied.*; and the earlier description could not be put back \(connection refused\): "
        rf"s3://{bucket}/x.jsonl.codemill.json fits no samples there until prepare is run again$"
    )
    with pytest.raises(StorageError, match=put_back):
        prepare([tree], out, workers=1, progress=False)
