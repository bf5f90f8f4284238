"""The `codemill` command and its workers share 2 malloc arenas among their threads and keep
freed memory for reuse (glibc)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

_LIBC, _VERSION = platform.libc_ver()
pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or _LIBC != "glibc" or tuple(int(x) for x in _VERSION.split(".")[:2]) < (2, 33),
    reason="malloc's arenas and thresholds are glibc's (mallinfo2: 2.33 and later)",
)

# A module of its own (a spawned worker imports it): the arenas of a process as glibc's
# `malloc_info` reports them, once 8 more threads, all alive at once, have each allocated; how
# many mappings of its own (`mallinfo2`'s hblks) a block of 8 MiB took; and how many MiB of free
# top the main heap kept (`keepcost`) once 4 blocks of 16 MiB taken from it were freed.
PROBE = """
import ctypes, os, sys, tempfile, threading


def heaps():
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    fd, path = tempfile.mkstemp()
    os.close(fd)
    stream = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    with open(path) as f:
        text = f.read()
    os.remove(path)
    return text.count("<heap nr=")


def heaps_with_threads(n=8):
    ready, done, held = threading.Barrier(n + 1), threading.Event(), []

    def take():
        held.append(bytearray(64 << 10))
        ready.wait()
        done.wait()

    threads = [threading.Thread(target=take) for _ in range(n)]
    for t in threads:
        t.start()
    ready.wait()
    count = heaps()
    done.set()
    for t in threads:
        t.join()
    return count


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"
    )]


def mappings_of_a_block(size=8 << 20):
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    before = libc.mallinfo2().hblks
    block = bytearray(size)
    return libc.mallinfo2().hblks - before


def kept_after_free(size=16 << 20, n=4):
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    blocks = [bytearray(size) for _ in range(n)]
    for block in reversed(blocks):  # the topmost first: each joins the free top
        blocks.remove(block)
        del block
    return libc.mallinfo2().keepcost >> 20


def probe():
    return f"{heaps_with_threads()} {mappings_of_a_block()} {kept_after_free()}"


def main(how, args):
    if how == "worker":
        from codemill._workers import WorkerPool

        with WorkerPool(1) as pool:
            print(pool.submit(probe).result())
        return
    if how in ("run", "main"):
        import codemill.cli as cli

        sys.argv = ["codemill", *args]
        print((cli.run if how == "run" else cli.main)(), end=" ")
    print(probe())
"""


def _probe(tmp_path: Path, how: str, *args: str, env: dict[str, str] | None = None) -> list[int]:
    """What the probe printed, after what the command printed: (its exit status,) its arenas, the
    mappings of its own an 8 MiB block took (0: a heap's; 1: glibc's default), the MiB of free top
    the main heap kept after 64 MiB freed there (glibc's default: a few; kept for reuse: 64)."""
    (tmp_path / "arenas_probe.py").write_text(PROBE)
    code = "import sys, arenas_probe; arenas_probe.main(sys.argv[1], sys.argv[2:])"
    # glibc's choices from this environment left out, the test's own put in.
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    run_env.update(env or {})
    run_env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    out = subprocess.run(
        [sys.executable, "-c", code, how, *args], capture_output=True, text=True, check=True, env=run_env
    ).stdout
    return [int(x) for x in out.splitlines()[-1].split()]  # after what the command printed


def test_a_run_of_the_command_shares_two_arenas_and_keeps_freed_memory_where_main_leaves_glibc_s(tmp_path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.py").write_text("def f():\n    return 1\n")

    def run(how: str) -> list[int]:
        return _probe(tmp_path, how, "tokenize", str(tmp_path / "tree"), "-o", str(tmp_path / how), "--no-progress")

    # The run's threads and 8 more, all in 2 arenas; a block of 8 MiB from a heap; 64 MiB freed
    # at the top of the heap kept.
    code, arenas, mappings, kept = run("run")
    assert (code, arenas, mappings) == (0, 2, 0) and kept >= 64
    code, arenas, mappings, kept = run("main")  # a caller's process is left as it is
    assert code == 0 and arenas > 2 and mappings == 1 and kept < 16
    assert _probe(tmp_path, "plain")[0] > 2  # the probe sees glibc's own


def test_a_worker_process_shares_two_arenas_and_keeps_freed_memory(tmp_path) -> None:
    arenas, mappings, kept = _probe(tmp_path, "worker")
    assert (arenas, mappings) == (2, 0) and kept >= 64


def test_the_environment_chooses_where_it_names_a_setting(tmp_path, monkeypatch) -> None:
    from codemill._malloc import tune_malloc

    assert _probe(tmp_path, "worker", env={"MALLOC_ARENA_MAX": "4"})[:2] == [4, 0]
    assert _probe(tmp_path, "worker", env={"GLIBC_TUNABLES": "glibc.malloc.arena_max=3"})[:2] == [3, 0]
    # A threshold the environment names is glibc's to keep: an 8 MiB block is mapped at 1 MiB, and
    # freed memory is given back past glibc's default trim threshold.
    assert _probe(tmp_path, "worker", env={"MALLOC_MMAP_THRESHOLD_": str(1 << 20)})[:2] == [2, 1]
    tunables = {"GLIBC_TUNABLES": f"glibc.malloc.mmap_threshold={32 << 20}"}
    arenas, mappings, kept = _probe(tmp_path, "worker", env=tunables)
    assert (arenas, mappings) == (2, 0) and kept < 16
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(1 << 20))
    assert tune_malloc() == (False, False)  # and this process is left as it is


def test_the_program_caps_a_run_of_its_own_and_not_a_ray_driver(tmp_path, monkeypatch) -> None:
    """On Ray the driver's threads are Ray's, and they held ~90 MB more with the cap."""
    import codemill.cli as cli
    import codemill.commands.tokenize as tokenize_command
    from codemill import _core

    capped: list[bool] = []
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_core, "cap_malloc_arenas", lambda arenas: capped.append(True) or True)
    monkeypatch.setattr(_core, "keep_freed_memory", lambda *sizes: capped.append(True) or True)
    monkeypatch.setattr(tokenize_command, "_tokenize", lambda args: 0)  # the parsed command only
    args = ["tokenize", str(tmp_path), "-o", str(tmp_path / "out")]
    assert cli.main(args, program=True) == 0 and capped == [True, True]
    assert cli.main([*args, "--engine", "ray"], program=True) == 0 and capped == [True, True]
    assert cli.main(args) == 0 and capped == [True, True]  # a caller's process
