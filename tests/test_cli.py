"""The `codemill` command line: sub-commands are loaded lazily, yet all are listed and each
one's own parser answers --help."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from codemill.cli import COMMAND_MODULES, COMMANDS, build_parser, command_of, main


def _registered(module: str) -> list[tuple[str, str | None]]:
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(sub)
    return [(a.dest, a.help) for a in sub._choices_actions]


def test_table_matches_what_the_modules_register():
    for module in COMMAND_MODULES:
        table = [(name, help_line) for name, (m, help_line) in COMMANDS.items() if m == module]
        assert _registered(module) == table, module


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"\n    {name} " in out, name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_answers_help(name, capsys):
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: codemill {name} ")
    assert "\noptions:\n" in out


def test_a_command_imports_only_its_own_module():
    code = (
        "import sys; from codemill.cli import build_parser; build_parser('context', full=False); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('codemill.commands.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["codemill.commands._common", "codemill.commands.context"]  # _common: the parser class


def test_full_parser_knows_every_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)


def test_command_of_skips_top_level_options():
    assert command_of(["--version"]) is None
    assert command_of(["-h", "context", "f.py"]) == "context"
    assert command_of([]) is None


def test_unknown_command_is_one_usage_error(capsys):
    assert main(["nope"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and err.count("\n") == 1


def test_an_output_is_written_whole_into_a_directory_made_for_it(tmp_path) -> None:
    import errno

    import pytest
    from codemill._io import atomic_file

    target = tmp_path / "new" / "dir" / "out.json"
    with atomic_file(target, "w") as f:  # the directory is made, as tokenize and prepare make theirs
        f.write("{}")
    assert target.read_text() == "{}"
    # A failed write names the output, not its hidden temporary, and leaves nothing behind.
    with pytest.raises(OSError) as e, atomic_file(target, "w") as f:
        f.write("partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert target.read_text() == "{}" and sorted(p.name for p in target.parent.iterdir()) == ["out.json"]
    # An error about another file (an input read in the block) is left as it is.
    with pytest.raises(FileNotFoundError) as e, atomic_file(target, "w"):
        open(tmp_path / "missing-input")  # noqa: SIM115
    assert e.value.filename == str(tmp_path / "missing-input")
    with pytest.raises(OSError) as e, atomic_file(target, "w"):
        os.stat(987654)  # an error about a file descriptor, not a path: passed on as it is
    assert e.value.filename == 987654


def test_a_directory_output_that_is_a_link_is_swapped_beside_its_target(tmp_path) -> None:
    from codemill._io import atomic_dir

    # It was renamed over the link: the link became a directory, its target kept the old output.
    real, link = tmp_path / "disk" / "out", tmp_path / "out"
    real.mkdir(parents=True)
    (real / "old.txt").write_text("old")
    link.symlink_to(real)
    # A failed write leaves the old output whole, the link in place and nothing beside either.
    with pytest.raises(RuntimeError), atomic_dir(link) as stage:
        (stage / "new.txt").write_text("new")
        raise RuntimeError("stopped")
    assert link.is_symlink() and [p.name for p in link.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "out"]
    assert [p.name for p in real.parent.iterdir()] == ["out"]
    with atomic_dir(link) as stage:
        assert stage.parent == real.parent  # one file system with the target: renamed, not copied
        (stage / "new.txt").write_text("new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert [p.name for p in real.iterdir()] == ["new.txt"] and [p.name for p in real.parent.iterdir()] == ["out"]


def test_a_ctrl_c_once_the_new_output_is_in_place_says_it_is_complete(tmp_path, monkeypatch, capsys) -> None:
    # It was "interrupted; the previous output, if any, is intact", the new output in place.
    import codemill.commands.dedup as dedup_command
    from codemill import _io
    from codemill.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    remove_tree = _io.remove_tree

    def interrupted(path):
        raise KeyboardInterrupt

    def old_copy(then):  # remove_tree, but ``then`` for the old copy
        return lambda path: (then if ".old" in os.path.basename(path) else remove_tree)(path)

    real_replace = os.replace

    def replaced_then_interrupted(src, dst):
        real_replace(src, dst)
        if ".tmp" in os.path.basename(src):  # the staged output renamed into place
            raise KeyboardInterrupt  # a Ctrl-C during the rename: handled as it returns

    # The old copy's removal interrupted; the folder's fsync before it; the rename itself.
    for name, patched in (
        ("remove_tree", old_copy(interrupted)),
        ("fsync_dir", interrupted),
        ("replace", replaced_then_interrupted),
    ):
        with monkeypatch.context() as m:
            m.setattr(os if name == "replace" else _io, name, patched)
            caught: BaseException | None = None
            try:
                with _io.atomic_dir(out) as stage:
                    (stage / f"{name}.txt").write_text("new")
            except KeyboardInterrupt as exc:  # not pytest.raises: a plain one ends the session
                caught = exc
        assert isinstance(caught, _io.InterruptedWhenWritten) and caught.args == (str(out),)
        assert [p.name for p in out.iterdir()] == [f"{name}.txt"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [f".out.old{os.getpid()}", "out"]
        with _io.atomic_dir(out) as stage:  # the next run's reclaim removes the old copy
            (stage / "newer.txt").write_text("newer")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    # One before the rename stays a plain interrupt, the old output in place.
    try:
        with _io.atomic_dir(out) as stage:
            (stage / "never.txt").write_text("new")
            raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        assert type(exc) is KeyboardInterrupt
    assert [p.name for p in out.iterdir()] == ["newer.txt"] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    # An old copy that cannot be removed is left to the next run, the run complete.
    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    with monkeypatch.context() as m:
        m.setattr(_io, "remove_tree", old_copy(refused))
        with _io.atomic_dir(out) as stage:
            (stage / "last.txt").write_text("last")
    assert [p.name for p in out.iterdir()] == ["last.txt"]

    # The command says so.
    def command(args):
        raise _io.InterruptedWhenWritten(str(out))

    monkeypatch.setattr(dedup_command, "run", command)
    assert main(["dedup", "x", "-o", str(tmp_path / "y")]) == 130
    assert capsys.readouterr().err == f"codemill dedup: interrupted; {out} was already written in full\n"


def test_a_ctrl_c_while_the_command_loads_is_one_line(monkeypatch, capsys) -> None:
    import codemill.cli as cli

    def interrupted(*args, **kw):
        raise KeyboardInterrupt  # Ctrl-C in a command's first ~50 ms, its modules importing

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["dedup", "x", "-o", "y"]) == 130
    assert capsys.readouterr().err == "codemill dedup: interrupted\n"


def test_a_file_output_that_is_a_link_is_written_through_it(tmp_path) -> None:
    import errno

    from codemill._io import atomic_file, atomic_write_text

    # It was renamed over the link: the link became a plain file, its target kept the old content.
    real, link = tmp_path / "disk" / "out.json", tmp_path / "out.json"
    real.parent.mkdir()
    real.write_text("old")
    link.symlink_to(real)
    # A failed write leaves the old content, the link in place and nothing beside either.
    with pytest.raises(RuntimeError), atomic_file(link, "w") as f:
        f.write("new")
        raise RuntimeError("stopped")
    assert link.is_symlink() and real.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk", "out.json"]
    assert [p.name for p in real.parent.iterdir()] == ["out.json"]
    with atomic_file(link, "w") as f:
        assert Path(f.name).parent == real.parent  # one file system with the target: renamed, not copied
        f.write("new")
    assert link.is_symlink() and os.readlink(link) == str(real) and real.read_text() == "new"
    assert [p.name for p in real.parent.iterdir()] == ["out.json"]
    # A link to a file not made yet makes it there; an error names the output as given.
    dangling = tmp_path / "later.json"
    dangling.symlink_to(tmp_path / "disk" / "sub" / "later.json")
    atomic_write_text(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "disk" / "sub" / "later.json").read_text() == "made"
    with pytest.raises(OSError) as e, atomic_file(link, "w"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert e.value.filename == str(link) and real.read_text() == "new"


def test_temporaries_of_killed_runs_are_removed_by_the_next(tmp_path, monkeypatch) -> None:
    import tempfile

    from codemill import _leftovers
    from codemill.finetune.pipeline import prepare
    from codemill.near_dup.api import dedup

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process killed with kill -9 while writing
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("def a():\n    return 1\n")
    # Beside outputs: a file output's temporary; a directory output's staging and old copy.
    left = [tmp_path / f".out.jsonl.tmp{gone.pid}", tmp_path / f".dd.tmp{gone.pid}", tmp_path / f".dd.old{gone.pid}"]
    live = tmp_path / f".out.jsonl.tmp{os.getppid()}"  # a live process's (not this one): left alone
    left[0].write_text("partial")
    live.write_text("partial")
    for d in left[1:]:
        (d / "sub").mkdir(parents=True)
    # One whose pid is gone here but that a process elsewhere (another pid namespace sharing
    # this directory) holds under its lock; and a name that only looks like a pid.
    foreign, odd = tmp_path / f".out.jsonl.tmp{gone.pid + 1_000_000}", tmp_path / ".out.jsonl.tmp²"
    foreign.write_text("theirs")
    odd.write_text("x")
    fd = os.open(foreign, os.O_RDONLY)
    _leftovers.hold(fd)
    try:
        prepare([tree], tmp_path / "out.jsonl", workers=1, progress=False)
    finally:
        os.close(fd)
    dedup([tree], tmp_path / "dd")
    assert not any(p.exists() for p in left) and live.exists() and foreign.exists() and odd.exists()
    # A directory swap killed between its renames left no output, only the old copy aside (and
    # the new one staged): the old copy is put back before the next run replaces it.
    (tmp_path / "dd").rename(tmp_path / f".dd.old{gone.pid}")
    (tmp_path / f".dd.tmp{gone.pid}").mkdir()
    from codemill._leftovers import reclaim

    reclaim(tmp_path / "dd")
    assert (tmp_path / "dd" / "dedup_report.json").is_file() and not (tmp_path / f".dd.tmp{gone.pid}").exists()
    # An old copy alone was being removed after a swap that completed: half deleted, never put back.
    (tmp_path / "dd").rename(tmp_path / f".dd.old{gone.pid}")
    reclaim(tmp_path / "dd")
    assert not (tmp_path / "dd").exists() and not (tmp_path / f".dd.old{gone.pid}").exists()
    # Scratch directories in the temporary directory (staged uploads, prepare's signatures).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(_leftovers, "_scratch_kinds", set())
    for kind in ("dedup", "prepare", "out", "task"):
        orphan = tmp_path / f"codemill-{kind}-{gone.pid}-x"
        orphan.mkdir()
        with _leftovers.scratch_dir(kind) as mine:
            assert not orphan.exists() and os.path.basename(mine).startswith(f"codemill-{kind}-{os.getpid()}-")


def test_what_cannot_be_judged_is_kept_and_a_file_system_without_locks_leaves_it_to_the_pid(
    tmp_path, monkeypatch
) -> None:
    import errno

    from codemill import _leftovers

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    unreadable, unlocked = tmp_path / f".o.tmp{gone.pid}", tmp_path / f".p.tmp{gone.pid}"
    unreadable.write_text("x")
    unlocked.write_text("x")
    real_open = os.open

    def refusing_open(path, *args, **kw):
        if os.fspath(path) == str(unreadable):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kw)

    def no_locks(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")  # NFS: an exclusive lock on a read-only fd

    monkeypatch.setattr(os, "open", refusing_open)
    _leftovers.reclaim(tmp_path / "o")
    assert unreadable.exists()  # another user's, say: not ours to judge
    monkeypatch.setattr(_leftovers.fcntl, "flock", no_locks)
    _leftovers.reclaim(tmp_path / "p")
    assert not unlocked.exists()  # the pid is gone and nothing can hold it: removed


def _state(pid: int) -> bytes:
    with open(f"/proc/{pid}/stat", "rb") as f:
        line = f.read()
    return line[line.rfind(b")") + 2 :][:1]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="a zombie is told from /proc (Linux)")
def test_the_leftovers_of_a_killed_process_not_reaped_yet_are_removed(tmp_path, monkeypatch) -> None:
    import tempfile
    import time

    from codemill import _leftovers

    # A worker killed with its run stays a zombie until it is reaped, which an init that reaps
    # slowly had not done when the resume started: its files, and so its locks, are closed.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 60
        while _state(child.pid) != b"Z":
            assert time.monotonic() < deadline, "the child did not end"
            time.sleep(0.01)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        monkeypatch.setattr(_leftovers, "_scratch_kinds", set())
        orphan = tmp_path / f"codemill-task-{child.pid}-x"
        (orphan / "shard").mkdir(parents=True)
        beside = tmp_path / f".out.jsonl.tmp{child.pid}"
        beside.write_text("partial")
        with _leftovers.scratch_dir("task"):
            assert not orphan.exists()
        _leftovers.reclaim(tmp_path / "out.jsonl")
        assert not beside.exists()
    finally:
        child.wait()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="a zombie is told from /proc (Linux)")
def test_a_process_whose_main_thread_ended_while_others_run_is_not_gone() -> None:
    import time

    from codemill import _leftovers

    # Its main thread reads as a zombie, the process goes on (and may be writing).
    script = "import ctypes, threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n"
    script += "ctypes.CDLL(None).pthread_exit(None)\n"
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while _state(child.pid) != b"Z":
            assert time.monotonic() < deadline, "the main thread did not end"
            time.sleep(0.01)
        assert not _leftovers._gone(str(child.pid))
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("command", ["tokenize", "dedup"])
def test_the_ray_engine_without_ray_is_one_error_line(command, tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    for name in ("codemill._ray", "codemill.corpus.engines.ray", "codemill.near_dup.ray"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert main([command, str(tmp_path / "a.py"), "-o", str(tmp_path / "out"), "--engine", "ray"]) != 0
    err = capsys.readouterr().err
    assert "the Ray engine needs Ray: pip install 'codemill[ray]'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "preset", "expected"), [("tokenize", None, "1"), ("tokenize", "4", "4"), ("encode", None, None)]
)
def test_the_corpus_jobs_start_numpy_without_a_spinning_blas_pool(
    command, preset, expected, tmp_path, monkeypatch
) -> None:
    """The corpus jobs (and the workers they start, which inherit it) ask OpenBLAS for one
    thread before numpy is imported; a user's own setting wins, and other commands leave it."""
    if preset is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset)
    (tmp_path / "a.py").write_text("x = 1\n")
    main([command, "--help"])
    assert os.environ.get("OPENBLAS_NUM_THREADS") == expected


def test_the_program_ends_with_its_objects_left_out_of_the_teardown(tmp_path) -> None:
    """The console script runs `run`: the command's result, then its objects frozen out of the
    exit's collections (with botocore loaded they took ~0.2 s after an s3:// run)."""
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["codemill"] == "codemill.cli:run"
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.py").write_text("def f():\n    return 1\n")
    code = "import gc, sys; from codemill.cli import run; c = run(); print(c, gc.get_freeze_count() > 0)"
    args = ["tokenize", str(tmp_path / "tree"), "-o", str(tmp_path / "out"), "--no-progress"]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 True"
    assert (tmp_path / "out" / "manifest.json").is_file()
    refused = subprocess.run(
        [sys.executable, "-c", code, "tokenize", "-o", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert refused.stdout.splitlines()[-1] == "2 True" and "no inputs given" in refused.stderr


def test_a_worker_leaves_its_objects_out_of_its_teardown() -> None:
    """A pool's spawned worker freezes its objects at exit, which the pool's shutdown waits for."""
    import atexit
    import gc

    from codemill._workers import WorkerPool

    with WorkerPool(1) as pool:
        assert pool.submit(gc.get_freeze_count).result() == 0  # nothing frozen while it works
        pool.submit(atexit._run_exitfuncs).result()  # what its exit runs first
        assert pool.submit(gc.get_freeze_count).result() > 0
