"""`--engine ray` runs the same tasks as the local engine and writes the same shards."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine needs the optional 'ray' extra")
pytest.importorskip("pyarrow")
pytest.importorskip("zstandard")

import codemill  # noqa: E402
from codemill.corpus.reader import iter_shard_documents  # noqa: E402
from test_tokenize_corpus import make_corpus, snapshot  # noqa: E402


@pytest.mark.parametrize("fmt", ["npy", "megatron"])
def test_ray_matches_local(local_ray, tok, tmp_path, fmt) -> None:
    inputs, texts = make_corpus(tmp_path / "corpus")
    kw = {"shard_tokens": 4000, "task_bytes": 25_000, "format": fmt}
    local = codemill.tokenize_corpus(inputs, tmp_path / "local", workers=1, **kw)
    remote = codemill.tokenize_corpus(inputs, tmp_path / "ray", engine="ray", workers=2, **kw)
    assert remote["run"]["engine"] == "ray" and remote["run"]["tasks_run"] == local["run"]["tasks_run"] > 2
    # Same token stream, and in fact the same files, manifest included.
    a = list(iter_shard_documents(tmp_path / "local"))
    b = list(iter_shard_documents(tmp_path / "ray"))
    assert len(a) == len(b) == len(texts) and all((x == y).all() for x, y in zip(a, b, strict=True))
    assert snapshot(tmp_path / "local") == snapshot(tmp_path / "ray")
    assert [tok.decode(d) for d in b] == texts


def test_ray_resumes_a_local_run(local_ray, tmp_path) -> None:
    inputs, _ = make_corpus(tmp_path / "corpus")
    kw = {"shard_tokens": 4000, "task_bytes": 25_000}
    clean = codemill.tokenize_corpus(inputs, tmp_path / "clean", **kw)
    out = tmp_path / "out"
    codemill.tokenize_corpus(inputs, out, **kw)
    for i in (1, 3):
        (out / "tasks" / f"task-{i:05d}.json").unlink()
    m = codemill.tokenize_corpus(inputs, out, engine="ray", **kw)
    assert m["run"]["tasks_run"] == 2 and m["run"]["tasks_resumed"] == clean["run"]["tasks_run"] - 2
    assert snapshot(out) == snapshot(tmp_path / "clean")


def test_ray_task_errors_name_the_file(local_ray, tmp_path) -> None:
    import gzip

    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"text": "a"}\n' * 1000)[:60])
    with pytest.raises(ValueError, match=r"bad\.jsonl\.gz: cannot read"):
        codemill.tokenize_corpus([bad], tmp_path / "out", engine="ray")


def test_relative_paths_mean_the_drivers_directory(local_ray, tmp_path, monkeypatch) -> None:
    # Ray's workers run in their node's directory (here: where Ray was started), not the driver's.
    make_corpus(tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    kw = {"shard_tokens": 4000, "task_bytes": 25_000}
    local = codemill.tokenize_corpus(["corpus/tree"], "local", **kw)
    remote = codemill.tokenize_corpus(["corpus/tree"], "ray", engine="ray", workers=2, **kw)
    assert remote["totals"] == local["totals"] and local["totals"]["documents"] > 0
    assert snapshot(tmp_path / "local") == snapshot(tmp_path / "ray")


@pytest.mark.parametrize("failure", ["task", "driver"])
def test_a_failed_run_stops_tasks_that_ignore_the_cancel(local_ray, tmp_path, monkeypatch, failure) -> None:
    # Before: a task still running when the run failed wrote on after it (here: `late`); and
    # with the driver failing (as on Ctrl-C) nothing was cancelled at all.
    import codemill._ray
    from codemill.corpus.engines import ray as ray_engine

    inputs, _ = make_corpus(tmp_path / "corpus")
    monkeypatch.setattr(ray_engine, "_ray_task", _failing_or_stubborn)
    monkeypatch.setattr(codemill._ray, "CANCEL_WAIT_S", 1.0)
    monkeypatch.chdir(tmp_path)  # where the tasks leave their marks (the failed run's output goes)
    (tmp_path / failure).touch()
    raised = (OSError, "the first task fails") if failure == "task" else (TypeError, None)
    with pytest.raises(raised[0], match=raised[1]):
        codemill.tokenize_corpus(inputs, tmp_path / "out", engine="ray", workers=2, task_bytes=60_000)
    assert (tmp_path / "started").exists()
    import time

    time.sleep(4)
    assert not (tmp_path / "late").exists()


@ray.remote(num_cpus=1)
def _failing_or_stubborn(tasks, settings, tokenizer_json, tokenizer_hash, outdir, cwd):
    import contextlib
    import os
    import time

    started = os.path.join(cwd, "started")
    if tasks[0].index == 0:
        deadline = time.monotonic() + 20
        while not os.path.exists(started) and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.path.exists(os.path.join(cwd, "task")):
            raise OSError("the first task fails")
        return None  # the driver fails on it (as it would on Ctrl-C)
    open(started, "w").close()
    end = time.monotonic() + 3
    while time.monotonic() < end:
        # A task that takes its time to stop (a long write, a slow store).
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(0.05)
    open(os.path.join(cwd, "late"), "w").close()


def test_a_ray_address_where_nothing_answers_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    # Before, Ray retried it for minutes, printing connection warnings (the check runs before
    # Ray is asked, so it holds whether or not this process already runs Ray).
    import socket

    from codemill._ray import _check_answers
    from codemill.cli import main
    from codemill.errors import ConfigError

    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(ConfigError, match="nothing answers there"):
            _check_answers(address)
        with pytest.raises(ConfigError, match="nothing answers there"):
            _check_answers("ray://" + address)
    _check_answers("auto")  # left to Ray
    # Something that is not Ray's GCS (its dashboard, an S3 server): ray.init() retried forever.
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ConfigError, match="something answers there, but not Ray's GCS"):
            _check_answers(f"127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    (tmp_path / "a.py").write_text("x = 1\n")
    argv = ["tokenize", str(tmp_path / "a.py"), "-o", str(tmp_path / "out"), "--engine", "ray"]
    if not ray.is_initialized():
        assert main([*argv, "--ray-address", "127.0.0.1:1", "--no-progress"]) == 2
        assert "Ray address 127.0.0.1:1: nothing answers there" in capsys.readouterr().err
        # dedup has no --ray-address: the cluster RAY_ADDRESS names is checked the same way.
        monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
        assert main(["dedup", str(tmp_path / "a.py"), "-o", str(tmp_path / "dd"), "--engine", "ray"]) == 2
        assert "Ray address 127.0.0.1:1 (RAY_ADDRESS): nothing answers there" in capsys.readouterr().err


def test_what_the_raylets_report_goes_to_stderr_not_with_the_json() -> None:
    # Ray printed "(raylet) A worker died ..." on stdout: a run whose worker died (a task then
    # retried) wrote it into the command's --json output, which no longer read as JSON.
    import os
    import subprocess
    import sys

    script = """
import os, signal, time
from codemill._ray import connect, ray
connect(num_cpus=1)

@ray.remote(max_retries=0)
def die():
    os.kill(os.getpid(), signal.SIGKILL)

try:
    ray.get(die.remote())
except Exception:
    pass
time.sleep(3)  # the raylet's report comes through the driver's listener thread
print("END")
"""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a Ray of its own
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == "END\n"
    assert "worker died" in run.stderr.lower()


def test_without_an_address_a_local_ray_is_started(monkeypatch) -> None:
    # ray.init() without an address joins a cluster `ray start` runs on the machine, and then
    # refuses a CPU count: every `tokenize --engine ray` failed there.
    import ray
    from codemill import _ray

    calls: list[dict] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert _ray.connect(None, 2) and _ray.connect()
    assert [(kw["address"], kw.get("num_cpus")) for kw in calls] == [("local", 2), ("local", None)]
