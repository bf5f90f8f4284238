"""NumPy's C API is loaded for the core where a Ctrl-C cannot break the load (`codemill._numpy_api`)."""

from __future__ import annotations

import subprocess
import sys

# A Ctrl-C handled while rust-numpy ran NumPy's version check (Python code, on the main thread,
# where Python runs its signal handlers): the core's next array then panicked.
SCRIPT = """
import threading

import numpy.lib

real = numpy.lib.NumpyVersion


class Interrupted(real):
    def __init__(self, version):
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt
        super().__init__(version)


numpy.lib.NumpyVersion = Interrupted
{imports}
{body}
"""
HASHES = """
from codemill import _core

print(_core.content_hashes(["x"], False).shape)
"""


def _run(imports: str, body: str = HASHES) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.format(imports=imports, body=body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_the_api_is_loaded_off_the_main_thread_by_the_modules_that_make_arrays() -> None:
    for module in ("codemill.near_dup.minhash", "codemill.index.embed"):
        run = _run(f"import {module}")
        assert run.returncode == 0 and run.stdout == "(1, 2)\n", run.stderr[-2000:]
    # Without them the first array still loads it on the main thread: the panic this avoids.
    run = _run("")
    assert run.returncode != 0 and "PanicException" in run.stderr


def test_the_commands_that_encode_and_decode_load_it_first(tmp_path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "ids").write_text("87 284 220 16 198\n")
    for argv in (["encode", str(tmp_path / "a.py")], ["decode", str(tmp_path / "ids")]):
        run = _run("", f"from codemill.cli import main\nraise SystemExit(main({argv!r}))")
        assert run.returncode == 0 and run.stdout and "Panic" not in run.stderr, run.stderr[-2000:]


def test_the_commands_that_make_arrays_load_it_before_they_run(tmp_path, monkeypatch) -> None:
    from codemill import _numpy_api, cli

    assert set(cli.COMMANDS) >= cli._ARRAYS and "tokenize" not in cli._ARRAYS
    loads: list[str] = []
    monkeypatch.setattr(_numpy_api, "load", lambda: loads.append("load"))
    (tmp_path / "a.py").write_text("x = 1\n")
    assert cli.main(["encode", str(tmp_path / "a.py")]) == 0 and loads == ["load"]
    assert cli.main(["tokenize", str(tmp_path / "a.py"), "-o", str(tmp_path / "out")]) == 0
    assert loads == ["load"]  # tokenize never imports NumPy
