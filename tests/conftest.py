from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
from codemill import CodeTokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tok() -> CodeTokenizer:
    return CodeTokenizer.default()


@pytest.fixture(scope="session")
def small_tok() -> CodeTokenizer:
    """A small tokenizer trained in the test on real code (the stdlib's json package)."""
    return CodeTokenizer.train([STDLIB / "json", STDLIB / "email" / "mime"], vocab_size=2048, identifier_vocab_size=128)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto(env_extra: dict[str, str]):
    """A moto S3 server process on 127.0.0.1 (a real HTTP S3 endpoint); returns (process, url)."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env_extra},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    pytest.skip("the moto S3 server did not start")


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto's server mode) on 127.0.0.1 for the whole session, with
    the standard AWS environment pointing at it (as a user's would); yields a boto3 client."""
    import os

    pytest.importorskip("moto", reason="object-storage tests need moto[server] (the 'test' extra)")
    pytest.importorskip("s3fs", reason="object-storage tests need s3fs (the 'cloud' extra)")
    import boto3

    proc, url = _start_moto({})
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield boto3.client("s3")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.kill()
        proc.wait()


@pytest.fixture
def bucket(s3_server, request):
    """A fresh, empty bucket named after the test; yields its name."""
    import re

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-") + "-b"
    s3_server.create_bucket(Bucket=name)
    import fsspec

    fsspec.filesystem("s3").invalidate_cache()
    return name


@pytest.fixture(scope="module")
def local_ray():
    """A Ray instance of this test process (two CPUs) for the tests of one module. Its own even
    where another cluster runs on this machine (a test cluster of another process, a user's
    `ray start`): `ray.init()` without an address would join that one instead."""
    ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


RAY_NODES = 3


@pytest.fixture(scope="module")
def cluster(s3_server):
    """A Ray cluster of RAY_NODES node processes on this machine (one CPU each), for the tests
    of one module. s3_server first: the node processes inherit the AWS environment that points
    at it."""
    ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")
    from ray import cluster_utils

    if ray.is_initialized():
        ray.shutdown()
    c = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(RAY_NODES - 1):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def odd_jsonl() -> tuple[bytes, int]:
    """JSONL of the lines a record reader must get right, and how many lines it has: records in
    every text, path and language field; lines the core's parser leaves to the Python reader (NaN,
    a lone surrogate, a path that is a number, a non-ASCII language ...); blank, invalid, empty,
    NUL, duplicate-key, over-1000-byte and over-cap lines; a BOM, a line that is not UTF-8, and a
    last line with no newline."""
    code = (FIXTURES / "sample.py").read_text(encoding="utf-8")
    lines = [
        json.dumps({"content": code, "lang": "Python", "path": "a/b.py"}),
        json.dumps({"text": "int main() {}\n", "language": " C++ ", "repo": "r"}),
        json.dumps({"code": "fn main() {}", "path": "src/MAIN.RS"}),
        json.dumps({"content": "café = 'naïve 😀'", "lang": "cobol", "path": "x.go"}),
        "",
        " \x0b\t",
        '{"content": "x = float(\'nan\')", "n": NaN, "lang": "py"}',  # the reader: json takes NaN
        "not json",
        "[1, 2]",
        json.dumps({"content": "a", "path": 7}),  # the reader: str(7)
        '{"content": "lone \\ud800 surrogate"}',
        '{"content": "ok", "path": "p\\udcff.py"}',  # a lone surrogate in the path
        json.dumps({"content": "b = 2", "lang": "Pythön", "path": "y.py"}),
        json.dumps({"content": "c = 3", "path": "z.PŸ"}),
        json.dumps({"path": "no_text.py"}),
        json.dumps({"content": 5, "text": "shadowed"}),
        json.dumps({"content": ""}),
        json.dumps({"content": "x" * 1001}),  # over max_bytes
        json.dumps({"content": "nul\0byte"}),
        '{"content": "dup", "content": "last"}',  # the last, as json and orjson take it
        json.dumps({"content": "y" * 8000}),  # a line over 3x max_bytes + 4 KiB: too large, unread
        json.dumps({"content": None, "text": "null gives way", "lang": None, "path": None}),
    ]
    # A BOM before the first line; a line that is not UTF-8; a BOM as a text, with no newline.
    data = b'\xef\xbb\xbf{"content": "bom"}\n' + ("\n".join(lines) + "\n").encode("utf-8")
    data += b'{"content": "bad \xff utf-8"}\n' + b'{"content": "\xef\xbb\xbf"}'
    return data, len(lines) + 3
