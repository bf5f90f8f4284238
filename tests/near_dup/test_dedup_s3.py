"""`dedup` with inputs and output in object storage (a real S3 server on 127.0.0.1): the same kept
documents and counts as a local run; the report is published last."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from codemill.errors import OutputError
from codemill.near_dup.api import dedup
from conftest import STDLIB


def upload(client, bucket: str, root: Path, prefix: str) -> str:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(root).as_posix()}")
    return f"s3://{bucket}/{prefix}"


def bucket_files(client, bucket: str, prefix: str) -> dict[str, bytes]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix) + 1 :]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def make_inputs(root: Path) -> tuple[Path, Path]:
    rng = random.Random(3)
    texts = [p.read_text(encoding="utf-8")[:5000] for p in sorted((STDLIB / "json").glob("*.py"))]
    tree = root / "tree"
    tree.mkdir(parents=True)
    for i, t in enumerate(texts):
        (tree / f"f{i}.py").write_text(t)
        (tree / f"dup{i}.py").write_text(t)  # exact duplicates
    lines = [json.dumps({"content": t, "path": f"r{i}.py"}) for i, t in enumerate(texts)]
    lines += [json.dumps({"content": t + "\n# edited\n", "path": f"e{i}.py"}) for i, t in enumerate(texts)]
    rng.shuffle(lines)
    jsonl = root / "data.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    return tree, jsonl


def test_dedup_s3_in_and_out_equals_local(s3_server, bucket, tmp_path):
    tree, jsonl = make_inputs(tmp_path / "in")
    local = dedup([tree, jsonl], tmp_path / "out")
    tree_url = upload(s3_server, bucket, tree, "in/tree")
    s3_server.upload_file(str(jsonl), bucket, "in/data.jsonl")
    remote = dedup([tree_url, f"s3://{bucket}/in/data.jsonl"], f"s3://{bucket}/out")
    assert remote["counts"] == local["counts"] and local["counts"]["exact_duplicates_removed"] >= 5
    got = bucket_files(s3_server, bucket, "out")
    want = {
        p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()
    }
    assert got.keys() == want.keys()
    assert all(got[k] == want[k] for k in want if k != "dedup_report.json")
    report = json.loads(got["dedup_report.json"])
    assert report["outputs"] == [f"s3://{bucket}/out/tree", f"s3://{bucket}/out/data.jsonl"]
    # A second run replaces the output prefix; objects that are not a dedup output are refused.
    dedup([tree_url], f"s3://{bucket}/out")
    assert not any(k.startswith("data.jsonl") for k in bucket_files(s3_server, bucket, "out"))
    s3_server.put_object(Bucket=bucket, Key="other/x.txt", Body=b"x")
    s3_server.create_multipart_upload(Bucket=bucket, Key="other/big.bin")  # theirs, going on
    with pytest.raises(OutputError, match="not a dedup output"):
        dedup([tree_url], f"s3://{bucket}/other")
    # Refused before a leftover upload is aborted: a prefix not its own is left as it is.
    assert [u["Key"] for u in s3_server.list_multipart_uploads(Bucket=bucket)["Uploads"]] == ["other/big.bin"]
    # An output under its input, or above it, never: a rerun would read its own output.
    for out in (f"{tree_url}/out", f"s3://{bucket}"):
        with pytest.raises(OutputError, match="input"):
            dedup([tree_url], out)


def _jsonl_files(tree: Path, n: int, copies: int, odd_at: tuple[int, ...]) -> Path:
    """``n`` JSONL files of the json package's sources (file ``i`` a near copy of file
    ``i % copies``), the lines every reader must get right (`odd_jsonl`) after those of ``odd_at``."""
    from conftest import odd_jsonl

    texts = [p.read_text(encoding="utf-8")[:3000] for p in sorted((STDLIB / "json").glob("*.py"))]
    odd, _ = odd_jsonl()
    tree.mkdir()
    for i in range(n):
        rows = [json.dumps({"content": t + f"# {i % copies}\n", "path": f"r{i}_{j}.py"}) for j, t in enumerate(texts)]
        (tree / f"r{i}.jsonl").write_bytes(("\n".join(rows) + "\n").encode() + (odd if i in odd_at else b""))
    return tree


def test_jsonl_objects_are_read_ahead_and_their_skips_kept_in_order(s3_server, bucket, tmp_path, monkeypatch):
    # JSONL objects in a prefix are fetched ahead of the signing, in threads: the listing goes
    # on several files ahead, yet each file's skips (bad lines) are listed where a run
    # reading each file as it is listed lists them, among the listing's own (objects passed
    # over), with the same documents, counts and kept records as the same files on local disk.
    import codemill.near_dup.api as api
    import codemill.sources.files_ahead as ahead_module

    tree = _jsonl_files(tmp_path / "in", 9, copies=3, odd_at=(1, 4, 7))
    for i in (1, 4):  # listed while the file before it is signed, before its own skips are
        (tree / f"r{i}x.xyz").write_text("passed over by the listing")
    ahead: list[int] = []
    real = api.files_ahead
    monkeypatch.setattr(api, "files_ahead", lambda items, *batch: ahead.append(1) or real(items, *batch))
    sizes = sorted(p.stat().st_size for p in tree.glob("*.jsonl"))
    monkeypatch.setattr(ahead_module, "WHOLE_FILE_BYTES", sizes[4])  # some files read whole, the others streamed
    local = dedup(tree, tmp_path / "out")
    assert not ahead  # from local disk: no thread
    remote = dedup(upload(s3_server, bucket, tree, "ahead"), tmp_path / "out_s3")
    assert ahead == [1]
    assert remote["counts"] == local["counts"] and local["counts"]["near_duplicates_removed"] >= 10
    base = f"s3://{bucket}/ahead"
    assert [item["path"].replace(base, str(tree)) for item in remote["skipped_items"]] == [
        item["path"] for item in local["skipped_items"]
    ]
    paths = [item["path"] for item in local["skipped_items"]]
    assert paths.index(str(tree / "r1x.xyz")) > max(
        i for i, p in enumerate(paths) if p.startswith(f"{tree / 'r1.jsonl'}:")
    )
    kept = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*.jsonl")}
    assert len(kept) >= 2 and kept == {p.name: p.read_bytes() for p in (tmp_path / "out_s3").rglob("*.jsonl")}


def test_jsonl_objects_are_read_again_many_at_once_each_held_as_listed(s3_server, bucket, tmp_path, monkeypatch):
    # Deciding (the texts of pairs to verify) and writing (the kept records) read a bucket's
    # JSONL objects again: several at once, each counted at its listed size (a small object is
    # held whole, not as a 16 MiB block), so that their round trips overlap as memory allows.
    import codemill.near_dup.api as api
    import codemill.near_dup.output as output

    texts = [p.read_text(encoding="utf-8")[:3000] for p in sorted((STDLIB / "email").glob("*.py"))[:13]]
    tree = tmp_path / "in"
    tree.mkdir()
    for i in range(6):  # two texts of its own, and a near copy of one every file holds
        rows = [texts[2 * i + 1], texts[2 * i + 2], texts[0] + f"# {i}\n"]
        (tree / f"r{i}.jsonl").write_text("".join(json.dumps({"content": t}) + "\n" for t in rows))
    sizes = sorted(p.stat().st_size for p in tree.glob("*.jsonl"))
    costs: dict[str, list[list[int]]] = {"decide": [], "write": []}

    def spy(phase, real):
        def each_at_once(work, items, item_costs, budget, most, name):
            costs[phase].append(list(item_costs))
            assert budget == 4 * (16 << 20) and most == 64
            return real(work, items, item_costs, budget, most, name)

        return each_at_once

    monkeypatch.setattr(api, "each_at_once", spy("decide", api.each_at_once))
    monkeypatch.setattr(output, "each_at_once", spy("write", output.each_at_once))
    local = dedup(tree, tmp_path / "out", verify=True)
    assert costs == {"decide": [], "write": []}  # local files: read in turn
    remote = dedup(upload(s3_server, bucket, tree, "again"), tmp_path / "out_s3", verify=True)
    assert remote["counts"] == local["counts"] and local["counts"]["near_duplicates_removed"] >= 5
    assert sorted(costs["write"][0]) == sizes  # a group per object
    assert costs["decide"] and all(c in sizes for called in costs["decide"] for c in called)
    kept = {p.name: p.read_bytes() for p in (tmp_path / "out").rglob("*.jsonl")}
    assert len(kept) == 6 and kept == {p.name: p.read_bytes() for p in (tmp_path / "out_s3").rglob("*.jsonl")}
    # Uploaded as written, a small file's group holds its upload's buffer too (at most its size).
    dedup(f"s3://{bucket}/again", f"s3://{bucket}/again-out", verify=True)
    assert sorted(costs["write"][-1]) == [2 * size for size in sizes]


def test_what_a_write_group_or_a_re_read_holds_is_counted_as_its_reading_and_upload():
    # A small JSONL file is held whole, and its upload's buffer as large again; a file past a
    # block, one of unknown size, a Parquet file (its row groups read decoded, larger than the
    # file) and a group of copies count a block.
    import numpy as np
    from codemill.near_dup.api import _Corpus
    from codemill.near_dup.output import Write, _held

    block = 16 << 20
    kept = np.zeros(1, dtype=np.int64)
    small = [Write("s3://b/x.jsonl", "x.jsonl", kept, 1000)]
    assert _held(small, upload=False) == 1000 and _held(small, upload=True) == 2000
    for size in (100 << 20, None):
        assert _held([Write("s3://b/y.jsonl", "y.jsonl", kept, size)], upload=True) == block
    assert _held([Write("s3://b/a.py", "t/a.py", None), Write("s3://b/b.py", "t/b.py", None)], upload=True) == block
    corpus = _Corpus([], None, 1000)
    corpus.add_records(0, "a.jsonl", [(1, 0)], [5], size=100)
    corpus.add_records(0, "a.parquet", [(1, -1)], [5], size=100)
    corpus.add_records(0, "b.jsonl", [(1, 0)], [5])
    assert corpus.size(0, "a.jsonl") == 100 and corpus.size(0, "a.parquet") is None
    assert corpus.size(0, "b.jsonl") is None and corpus.size(1, "a.jsonl") is None


def test_a_ray_tasks_small_objects_are_read_ahead_as_read_in_turn(s3_server, bucket, tmp_path):
    # A Ray task's small JSONL files (`sign_whole_files`), from a bucket, are read ahead in a
    # thread: each file's records, offsets, skips and line count, and the rows signed, are those
    # of the same objects signed one after the other (`sign_range`), and of local copies.
    import numpy as np
    from codemill.near_dup.api import sign_range, sign_whole_files
    from codemill.near_dup.config import DedupConfig
    from codemill.near_dup.signing import first_claims
    from codemill.sources import Skips
    from codemill.sources.inputs import list_batches_or_readers

    tree = _jsonl_files(tmp_path / "in", 6, copies=2, odd_at=(1, 4))
    (tree / "r6.jsonl").write_bytes(b"")
    url = upload(s3_server, bucket, tree, "group")

    def readers(where):
        return [r for r in list_batches_or_readers([where], Skips()) if not isinstance(r, list)]

    config = DedupConfig()
    ahead = sign_whole_files(config, readers(url), first_claims())
    claim = first_claims()
    in_turn = [sign_range(config, r, 0, None, claim) for r in readers(url)]
    claim = first_claims()
    local = [sign_range(config, r, 0, None, claim) for r in readers(tree)]
    assert len(ahead) == len(in_turn) == len(local) == 6  # the empty file passed over by the listing
    for a, b, c in zip(ahead, in_turn, local, strict=True):
        assert a.lines == b.lines == c.lines and a.skipped == b.skipped == c.skipped
        assert a.skipped_items == b.skipped_items
        assert [i["path"].replace(url, str(tree)) for i in a.skipped_items] == [i["path"] for i in c.skipped_items]
        assert np.array_equal(a.records, c.records) and np.array_equal(a.lengths, c.lengths)
        assert np.array_equal(a.offsets, b.offsets)  # -1: no seeking in an object
        assert np.array_equal(a.signed.raw, c.signed.raw) and np.array_equal(a.signed.unsigned, c.signed.unsigned)
        assert all(np.array_equal(x, y) for x, y in zip(a.signed.signed, c.signed.signed, strict=True))
    assert sum(r.lines for r in ahead) > 6 * 5 and any(r.skipped for r in ahead)


def test_a_run_killed_while_publishing_is_replaced_by_the_next(s3_server, bucket, tmp_path, monkeypatch, capsys):
    from codemill.sources.fs import Directory

    tree, jsonl = make_inputs(tmp_path / "in")
    out = f"s3://{bucket}/out"
    dedup([tree], out)
    # Killed after its report was removed and before the new one was published.
    real = Directory.publish_all

    def killed(self, files):
        real(self, files[:1])
        raise KeyboardInterrupt

    monkeypatch.setattr(Directory, "publish_all", killed)
    with pytest.raises(KeyboardInterrupt):
        dedup([tree, jsonl], out)
    # From the command line, Ctrl-C says so (before: "the previous output, if any, is intact").
    from codemill.cli import main

    assert main(["dedup", str(tree), str(jsonl), "-o", out]) == 130
    assert "partly replaced: run the same command again" in capsys.readouterr().err
    left = bucket_files(s3_server, bucket, "out")
    assert "dedup_report.json" not in left and ".dedup_report.json.publishing" in left
    monkeypatch.setattr(Directory, "publish_all", real)
    # A kill -9 mid-upload of a record output leaves its upload in parts: the next run aborts
    # it (S3 bills its parts until then), and no upload beside its prefix.
    for key in ("out/data.jsonl", "outer/data.jsonl"):
        s3_server.create_multipart_upload(Bucket=bucket, Key=key)
    report = dedup([tree, jsonl], out)  # no --overwrite needed: the prefix is recognisably ours
    left = s3_server.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["Key"] for u in left] == ["outer/data.jsonl"]
    got = bucket_files(s3_server, bucket, "out")
    assert ".dedup_report.json.publishing" not in got
    assert json.loads(got["dedup_report.json"])["counts"] == report["counts"]
    assert {k.split("/")[0] for k in got} == {"tree", "data.jsonl", "dedup_report.json"}


def test_an_output_url_naming_an_object_is_refused(s3_server, bucket, tmp_path):
    from codemill.errors import StorageError

    tree, _ = make_inputs(tmp_path / "in")
    s3_server.put_object(Bucket=bucket, Key="x", Body=b"an object")
    with pytest.raises(StorageError, match="is not a directory"):
        dedup([tree], f"s3://{bucket}/x")
    assert bucket_files(s3_server, bucket, "x") == {}  # nothing published beside it


def test_a_tree_in_a_bucket_is_read_and_copied_in_batches(s3_server, bucket, tmp_path, monkeypatch):
    # A round trip per object, once to read it and once to copy it if kept, made a 40 MB tree
    # of 4,630 objects take 162 s from a store answering 20 ms late: objects come in batches.
    from codemill.sources import fs

    tree, _ = make_inputs(tmp_path / "in")
    for p in sorted(tree.glob("f*.py"))[:3]:  # near duplicates, whose pairs are verified on the texts read again
        (tree / f"near_{p.name}").write_text(p.read_text() + "\n# edited\n")
    url = upload(s3_server, bucket, tree, "in/tree")
    local = dedup([tree], tmp_path / "local", verify=True)
    assert local["counts"]["near_duplicates_removed"] >= 3
    batches: list[int] = []
    read_urls = fs.read_urls

    def batch(urls: list[str], limit: int | None = None, gone_ok: bool = False) -> list[bytes]:
        if urls:  # the walk asks for the tree's ignore files, of which it has none
            batches.append(len(urls))
        return read_urls(urls, limit, gone_ok)

    monkeypatch.setattr(fs, "read_urls", batch)
    monkeypatch.setattr(fs, "read_url", lambda *a: pytest.fail("an object copied on its own"))
    remote = dedup([url], tmp_path / "out", verify=True)
    assert remote["counts"] == local["counts"]
    files = sorted(p.name for p in tree.iterdir())
    kept = sorted(p.name for p in (tmp_path / "out" / "tree").iterdir())
    assert kept == sorted(p.name for p in (tmp_path / "local" / "tree").iterdir())
    # Every object read in one batch, the texts of the pairs verified read again in batches
    # (not an object at a time), the kept ones copied in one.
    assert batches[0] == len(files) and batches[-1] == len(kept)
    assert len(batches) >= 3 and all(1 < b < len(files) for b in batches[1:-1])


def test_an_output_in_a_bucket_is_uploaded_as_it_is_written(s3_server, bucket, tmp_path, monkeypatch):
    # The local staging directory held the whole kept output before it was uploaded: a disk as
    # large as the output beside the run. Each file is now uploaded and removed once written (a
    # tree's copies a few at a time), so the stage holds only what is being uploaded.
    from pathlib import Path

    from codemill.near_dup import output
    from codemill.sources.fs import Directory

    tree, jsonl = make_inputs(tmp_path / "in")
    monkeypatch.setattr(output, "COPIES_AT_ONCE", 2)
    staged: list[tuple[int, int]] = []  # (files handed to an upload, files in the stage then)
    real = Directory.publish_all

    def publish_all(self, files):
        root = Path(files[0][0])
        while root.name not in ("tree", "data.jsonl"):
            root = root.parent
        staged.append((len(files), sum(1 for p in root.parent.rglob("*") if p.is_file())))
        real(self, files)

    monkeypatch.setattr(Directory, "publish_all", publish_all)
    report = dedup([tree, jsonl], f"s3://{bucket}/out")
    local = dedup([tree, jsonl], tmp_path / "out")
    assert len(staged) >= 3 and all(sent <= 2 and held == sent for sent, held in staged)  # data.jsonl: streamed
    got = bucket_files(s3_server, bucket, "out")
    want = {
        p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()
    }
    assert got.keys() == want.keys() and all(got[k] == want[k] for k in want if k != "dedup_report.json")
    assert report["counts"] == local["counts"]


def test_record_outputs_are_uploaded_as_they_are_written(s3_server, bucket, tmp_path, monkeypatch):
    # A record file's kept records go up in parts as they are written, with no copy on local disk
    # (one JSONL file of a terabyte keeps most of it): the same bytes as a local output, for
    # plain, gzip and Parquet files; only the report is staged.
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq
    from codemill.near_dup import output

    _, jsonl = make_inputs(tmp_path / "in")
    packed = tmp_path / "in" / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(jsonl.read_bytes()[::-1].split(b"\n", 1)[1][::-1] + b"\n"))
    rows = [line for line in jsonl.read_text().splitlines() if line]
    table = pa.table({"content": [json.loads(r)["content"] for r in rows]})
    pq.write_table(table, tmp_path / "in" / "rows.parquet", row_group_size=7)
    inputs = [jsonl, packed, tmp_path / "in" / "rows.parquet"]
    local = dedup(inputs, tmp_path / "out")
    staged: list[str] = []
    real = output.scratch_dir

    def scratch(prefix: str):
        staged.append(prefix)
        return real(prefix)

    monkeypatch.setattr(output, "scratch_dir", scratch)
    remote = dedup(inputs, f"s3://{bucket}/out")
    assert remote["counts"] == local["counts"] and len(staged) == 1  # the report's
    got = bucket_files(s3_server, bucket, "out")
    want = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert got.keys() == want.keys() == {"data.jsonl", "packed.jsonl.gz", "rows.parquet", "dedup_report.json"}
    assert all(got[k] == want[k] for k in want if k != "dedup_report.json")


def test_a_failed_upload_is_one_line_and_publishes_nothing(s3_server, bucket, tmp_path, monkeypatch):
    # A record output uploaded as it is written fails as one line naming it, and leaves no object
    # of it and no report (the publishing marker says the prefix is being replaced).
    import s3fs
    from codemill.errors import StorageError

    _, jsonl = make_inputs(tmp_path / "in")
    out = f"s3://{bucket}/out"

    real = s3fs.core.S3File._call_s3

    def call_s3(self, method, *args, **kwargs):
        if method in ("put_object", "upload_part", "create_multipart_upload") and kwargs["Key"].endswith("data.jsonl"):
            raise PermissionError("Access Denied")  # the record output's upload, not the marker's
        return real(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.core.S3File, "_call_s3", call_s3)
    with pytest.raises(StorageError, match=rf"^{out}/data.jsonl: access denied") as err:
        dedup([jsonl], out)
    assert "\n" not in str(err.value)
    left = bucket_files(s3_server, bucket, "out")
    assert "data.jsonl" not in left and "dedup_report.json" not in left  # nothing half-published


def test_a_large_record_output_goes_up_in_parts_and_a_failed_part_leaves_no_object(
    s3_server, bucket, tmp_path, monkeypatch
):
    # Over the upload's block size, a record output is sent as a multipart upload while it is
    # written: the same bytes as a local output; a part that fails aborts the upload, and no
    # object of that name appears.
    import s3fs
    from codemill.errors import StorageError

    monkeypatch.setattr(s3fs.S3FileSystem, "default_block_size", 5 << 20)  # S3's smallest part
    files = sorted(STDLIB.rglob("*.py"))
    lines = [json.dumps({"content": f.read_text(encoding="utf-8", errors="replace"), "path": f.name}) for f in files]
    jsonl = tmp_path / "big.jsonl"
    with jsonl.open("w") as out:
        size = 0
        for line in lines:
            out.write(line + "\n")
            size += len(line)
            if size > 12 << 20:
                break
    local = dedup([jsonl], tmp_path / "out")
    assert (tmp_path / "out" / "big.jsonl").stat().st_size > 10 << 20
    calls: list[str] = []
    real = s3fs.core.S3File._call_s3

    def call_s3(self, method, *args, **kwargs):
        calls.append(method)
        if fail and method == "upload_part" and len([c for c in calls if c == "upload_part"]) == 2:
            raise PermissionError("Access Denied")
        return real(self, method, *args, **kwargs)

    fail = False
    monkeypatch.setattr(s3fs.core.S3File, "_call_s3", call_s3)
    remote = dedup([jsonl], f"s3://{bucket}/out")
    assert remote["counts"] == local["counts"] and calls.count("upload_part") >= 2
    got = bucket_files(s3_server, bucket, "out")
    assert got["big.jsonl"] == (tmp_path / "out" / "big.jsonl").read_bytes()
    calls.clear()
    fail = True
    with pytest.raises(StorageError, match=rf"^s3://{bucket}/failed/big.jsonl: access denied"):
        dedup([jsonl], f"s3://{bucket}/failed")
    assert "big.jsonl" not in bucket_files(s3_server, bucket, "failed")
    assert s3_server.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
