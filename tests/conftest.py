from __future__ import annotations

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
