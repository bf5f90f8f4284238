"""Walking code trees: stable order, skipped directories named, unreadable directories reported."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest
from codemill.corpus.report import tokenize_report
from codemill.languages import code_language
from codemill.sources import Skips, read_file, walk
from codemill.sources.skips import (
    BINARY,
    EMPTY,
    INVALID_UTF8,
    NOT_A_FILE,
    SYMLINK,
    TOO_LARGE,
    UNREADABLE,
    UNSUPPORTED_LANGUAGE,
    VCS,
    VENDORED,
)
from codemill.tokenizer import CodeTokenizer


def _tree(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "node_modules").mkdir()
    for rel in ("z.py", "a/x.go", "b/y.rs", ".git/hook.py", "node_modules/m.js", "notes.txt"):
        (tmp_path / rel).write_text("x = 1\n")
    return tmp_path


def _lock(directory, monkeypatch) -> str:
    """Makes listing ``directory`` fail. Tests run as root, which reads any directory, so the
    permission error is simulated."""
    walk_module = importlib.import_module("codemill.sources.walk")  # the package's `walk` is the function
    locked = str(directory)
    real_list_dir = walk_module.list_dir

    def list_dir(path):
        return None if os.fspath(path) == locked else real_list_dir(path)  # as for a PermissionError

    monkeypatch.setattr(walk_module, "list_dir", list_dir)
    monkeypatch.setattr(walk_module, "_lister", lambda: None)  # not listed ahead either
    return locked


# What the tree above passes over besides code: tool directories and a text file.
TREE_SKIPS = {VCS: 1, VENDORED: 1, UNSUPPORTED_LANGUAGE: 1}


def test_walk_is_sorted_and_counts_what_it_passes_over(tmp_path) -> None:
    root = _tree(tmp_path)
    skips = Skips()
    assert [e.rel for e in walk(root, skips)] == ["z.py", "a/x.go", "b/y.rs"]
    assert skips.as_dict() == TREE_SKIPS
    assert {"path": str(root / "notes.txt"), "reason": UNSUPPORTED_LANGUAGE} in skips.items
    assert {"path": str(root / ".git") + "/", "reason": VCS} in skips.items


def test_fifo_is_counted_and_never_blocks(tmp_path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    os.mkfifo(tmp_path / "pipe.py")
    skips = Skips()
    assert [e.rel for e in walk(tmp_path, skips)] == ["ok.py"]
    assert skips.as_dict() == {NOT_A_FILE: 1}
    assert read_file(tmp_path / "pipe.py") == (None, NOT_A_FILE)


def test_a_named_fifo_or_dangling_link_is_not_a_file_to_every_corpus_command(tmp_path) -> None:
    # A FIFO named like a record file was opened (and blocked forever) by tokenize's planning and
    # by dedup's output; a dangling link was "unreadable" to tokenize, "not_a_file" to the others.
    import subprocess
    import sys

    (tmp_path / "a.py").write_text("x = 1\n")
    os.mkfifo(tmp_path / "pipe.jsonl")
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    inputs = ["pipe.jsonl", "a.py", "gone.py"]
    runs = {
        "tokenize": (["-o", "t", "--no-progress"], "t/manifest.json"),
        "dedup": (["-o", "d"], "d/dedup_report.json"),
        "prepare": (["-o", "p.jsonl", "--samples", "raw"], None),
    }
    for command, (args, report) in runs.items():
        done = subprocess.run(
            [sys.executable, "-m", "codemill.cli", command, *inputs, *args, "--json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stderr)
        got = json.loads((tmp_path / report).read_text() if report else done.stdout)
        assert {(i["path"], i["reason"]) for i in got["skipped_items"]} == {
            ("pipe.jsonl", NOT_A_FILE),
            ("gone.py", NOT_A_FILE),
        }, command


def test_a_file_url_counts_links_and_fifos_as_the_local_walk_does(tmp_path) -> None:
    # Before, a file:// listing kept regular files only: links and FIFOs vanished uncounted.
    from codemill.sources import iter_documents

    root = tmp_path / "t"
    (root / "d").mkdir(parents=True)
    (root / "a.py").write_text("x = 1\n")
    (root / "d" / "b.py").write_text("y = 2\n")
    (root / "l.py").symlink_to(root / "a.py")
    (root / "gone.py").symlink_to(root / "nowhere.py")
    (root / "dlink").symlink_to(root / "d")
    os.mkfifo(root / "p.py")
    seen = []
    for inp in (str(root), root.as_uri()):
        skips = Skips()
        docs = [d.path for d in iter_documents([inp], skips)]
        seen.append((docs, skips.as_dict(), [i["path"].rsplit("/", 1)[1] for i in skips.items]))
    assert seen[0] == seen[1]
    assert seen[0] == (["a.py", "d/b.py"], {SYMLINK: 3, NOT_A_FILE: 1}, ["dlink", "gone.py", "l.py", "p.py"])


def test_unreadable_directory_is_reported_not_lost(tmp_path, monkeypatch) -> None:
    root = _tree(tmp_path)
    locked = _lock(root / "b", monkeypatch)
    skips = Skips()
    assert [e.rel for e in walk(root, skips)] == ["z.py", "a/x.go"]
    assert skips.counts[UNREADABLE] == 1
    report = tokenize_report(CodeTokenizer.default(), [str(root)])
    assert report["skipped"] == {**TREE_SKIPS, UNREADABLE: 1}
    assert {"path": locked, "reason": UNREADABLE} in report["skipped_items"]


def test_unreadable_directory_is_counted_by_corpus_tokenization(tmp_path, monkeypatch) -> None:
    import codemill

    (tmp_path / "src").mkdir()
    root = _tree(tmp_path / "src")
    locked = _lock(root / "b", monkeypatch)
    manifest = codemill.tokenize_corpus([str(root)], str(tmp_path / "out"), workers=1)
    assert manifest["skipped"] == {**TREE_SKIPS, UNREADABLE: 1}
    assert locked in json.dumps(manifest)  # listed with its path


def test_read_file_outcomes(tmp_path) -> None:
    """What the one local read (stat, open, read) answers for each kind of path."""
    (tmp_path / "ok.py").write_bytes("größe = 1\n".encode())
    assert read_file(tmp_path / "ok.py") == ("größe = 1\n", None)
    assert read_file(str(tmp_path / "ok.py")) == ("größe = 1\n", None)
    (tmp_path / "link.py").symlink_to(tmp_path / "ok.py")  # a named link is followed
    assert read_file(tmp_path / "link.py") == ("größe = 1\n", None)
    assert read_file(tmp_path / "missing.py") == (None, UNREADABLE)
    assert read_file(tmp_path) == (None, NOT_A_FILE)  # a directory
    (tmp_path / "ten.py").write_bytes(b"x" * 10)
    assert read_file(tmp_path / "ten.py", max_bytes=10) == ("x" * 10, None)
    assert read_file(tmp_path / "ten.py", max_bytes=9) == (None, TOO_LARGE)
    (tmp_path / "empty.py").write_bytes(b"")
    assert read_file(tmp_path / "empty.py") == (None, EMPTY)
    (tmp_path / "nul.py").write_bytes(b"a\0b")
    assert read_file(tmp_path / "nul.py") == (None, BINARY)
    (tmp_path / "latin1.py").write_bytes("Fran\xe7ois".encode("latin-1"))
    assert read_file(tmp_path / "latin1.py") == (None, INVALID_UTF8)


def test_read_file_opens_regular_files_only(tmp_path) -> None:
    """A FIFO, a socket, a device or a directory is reported without being opened: opening a
    FIFO with no writer would wait for one (here: forever), opening a device can act on it."""
    import socket
    import threading

    os.mkfifo(tmp_path / "pipe.py")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock.py"))
        got: list[object] = []
        paths = (tmp_path / "pipe.py", tmp_path / "sock.py", "/dev/null", tmp_path)
        reader = threading.Thread(target=lambda: got.extend(read_file(p) for p in paths), daemon=True)
        reader.start()
        reader.join(60)  # an open of the FIFO would never return
        assert got == [(None, NOT_A_FILE)] * len(paths)
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert read_file(tmp_path / "ok.py") == ("x = 1\n", None)
    (tmp_path / "gone.py").symlink_to(tmp_path / "missing.py")
    assert read_file(tmp_path / "gone.py") == (None, UNREADABLE)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux's /proc")
def test_read_file_reads_past_the_size_the_file_system_gives_and_stops_past_the_limit() -> None:
    """A file larger than its size said (it grew, or /proc says 0) is read to its end, in as many
    reads as that takes, but only to one byte past the limit, and then refused as too large."""
    assert os.stat("/proc/self/status").st_size == 0
    text, reason = read_file("/proc/self/status", max_bytes=1 << 20)
    assert reason is None and text is not None and text.startswith("Name:") and len(text) > 100
    assert read_file("/proc/self/status", max_bytes=50) == (None, TOO_LARGE)


@pytest.mark.parametrize("budget", [1 << 20, 40])
def test_read_texts_reads_groups_of_files_in_order_with_their_sizes(tmp_path, monkeypatch, budget) -> None:
    """Files are read a group at a time (`READ_GROUP`), each as `read_file` reads it, in order;
    a call stops once it holds ``READ_BUDGET`` bytes of text, and the rest are asked for again."""
    import codemill.sources.document as document
    from codemill._core import read_code_files

    monkeypatch.setattr(document, "READ_BUDGET", budget)
    names = []
    for i in range(2 * document.READ_GROUP + 3):
        path = tmp_path / f"f{i:03}.py"
        path.write_text("" if i % 7 == 3 else f"x = '{'é' * i}'\n", encoding="utf-8")
        names.append(str(path))
    got = list(document.read_texts(names))
    assert [g[0] for g in got] == names
    for name, text, reason, size in got:
        assert (text, reason) == read_file(name)
        assert size == (0 if text is None else len(text.encode("utf-8")))
    assert [g[2] for g in got].count(EMPTY) == len([i for i in range(len(names)) if i % 7 == 3])
    # The first file always, then files while under the budget: f000 (7 bytes), f001 (9), f002 (11).
    assert len(read_code_files(names, 1 << 20, 0)) == 1
    assert len(read_code_files(names, 1 << 20, 20)) == 3
    assert len(read_code_files(names, 1 << 20, 1 << 30)) == len(names)


def test_a_walk_of_the_current_directory_names_files_as_a_path_does(tmp_path, monkeypatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "z.py").write_text("x = 1\n")
    (tmp_path / "a" / "x.go").write_text("package a\n")
    (tmp_path / "poetry.lock").write_text("x")
    monkeypatch.chdir(tmp_path)
    skips = Skips()
    assert [e.path for e in walk(Path("."), skips)] == ["z.py", "a/x.go"]  # not "./z.py"
    assert [item["path"] for item in skips.items] == ["poetry.lock"]


def test_a_record_file_with_a_description_is_marked_so_on_disk_and_through_file_urls(tmp_path: Path) -> None:
    # A description beside a record file (prepare's NAME.codemill.json), a link to one too: the
    # walk of the folder and of its file:// URL mark the same files.
    from codemill.sources.walk import walk_url

    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "real.json").write_text("{}")
    d = tmp_path / "d"
    d.mkdir()
    for name in ("a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl", "e.jsonl"):
        (d / name).write_text('{"content": "x = 1\\n"}\n')
    (d / "a.jsonl.codemill.json").write_text("{}")
    (d / "b.jsonl.codemill.json").symlink_to(tmp_path / "keep" / "real.json")
    # No description: a link to a folder, a link to a FIFO (reading it would block forever)
    (d / "d.jsonl.codemill.json").symlink_to(tmp_path / "keep")
    os.mkfifo(tmp_path / "keep" / "fifo")
    (d / "e.jsonl.codemill.json").symlink_to(tmp_path / "keep" / "fifo")
    on_disk = {e.rel: e.described for e in walk(d, Skips())}
    assert on_disk == {"a.jsonl": True, "b.jsonl": True, "c.jsonl": False, "d.jsonl": False, "e.jsonl": False}
    assert {e.rel: e.described for e in walk_url(d.as_uri(), Skips())} == on_disk
    from codemill.outputs import read_sidecar

    assert read_sidecar(d / "e.jsonl") == {} and read_sidecar((d / "e.jsonl").as_uri()) == {}
    assert read_sidecar(d / "d.jsonl") == {} and read_sidecar((d / "b.jsonl").as_uri()) == {}


def test_what_a_directory_holds_is_read_from_its_listing_as_a_look_on_disk_would_say(tmp_path) -> None:
    """The walk learns a directory's environment marker, ``.gitignore`` and ``.git`` from its
    listing: links count as a look on disk counts them."""
    files = {
        "env/lib.py": "x = 1\n",
        "env/pyvenv.cfg": "home = /usr\n",  # a virtual environment: passed over
        "linked_env/lib.py": "x = 1\n",  # its marker a link to a file: a virtual environment too
        "dangling/lib.py": "x = 1\n",  # its marker a link to nothing: code
        "ignored_env/pyvenv.cfg": "",  # ignored and an environment: counted as the environment
        "ignored_env/lib.py": "x = 1\n",
        "pkg/.gitignore": "gen.py\n",
        "pkg/gen.py": "x = 1\n",
        "pkg/keep.py": "x = 1\n",
        "linked_rules/gen.py": "x = 1\n",  # its .gitignore a link: git reads none, nor does the walk
        "nested/.git/info/exclude": "secret.py\n",  # a nested repository's exclude file
        "nested/secret.py": "x = 1\n",
        "nested/app.py": "x = 1\n",
        ".gitignore": "ignored_env/\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "linked_env/pyvenv.cfg").symlink_to(tmp_path / "env/pyvenv.cfg")
    (tmp_path / "dangling/pyvenv.cfg").symlink_to(tmp_path / "missing.cfg")
    (tmp_path / "linked_rules/.gitignore").symlink_to(tmp_path / "pkg/.gitignore")
    skips = Skips()
    assert [e.rel for e in walk(tmp_path, skips)] == [
        "dangling/lib.py",
        "linked_rules/gen.py",
        "nested/app.py",
        "pkg/keep.py",
    ]
    reasons = {item["path"]: item["reason"] for item in skips.items}
    for folder in ("env", "linked_env", "ignored_env"):
        assert reasons[f"{tmp_path}/{folder}/"] == "tool_state"
    assert reasons[f"{tmp_path}/pkg/gen.py"] == "gitignored"
    assert reasons[f"{tmp_path}/nested/secret.py"] == "gitignored"


def _wide_deep_tree(root: Path) -> None:
    """A tree the shared walk cuts at several levels: a folder of 300 subfolders (more than a
    cut makes), a deep chain, and the rules of the tree above at each depth."""
    for i in range(300):
        (root / "wide" / f"d{i:03}").mkdir(parents=True)
        (root / "wide" / f"d{i:03}" / "m.py").write_text(f"x = {i}\n")
    deep = root / "deep"
    for depth in range(12):
        deep = deep / f"l{depth}"
        deep.mkdir(parents=True)
        (deep / "f.py").write_text("x = 1\n")
        (deep / "gen.py").write_text("x = 1\n")
        (deep / ".gitignore").write_text("gen.py\n")
        (deep / "venv").mkdir()
        (deep / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
        (deep / "link.py").symlink_to(deep / "f.py")
    (root / "mixed").mkdir()
    _tree(root / "mixed")
    (root / "b").mkdir()
    (root / "b" / "y.rs").write_text("fn main() {}\n")
    for folder in (root, root / "wide" / "d007", deep):
        (folder / "empty.jsonl").write_text("")  # passed over by the plan, among the walk's skips
        (folder / "notes.txt").write_text("x\n")


def test_a_walk_shared_with_worker_processes_gives_what_one_process_gives(tmp_path, monkeypatch) -> None:
    """Planning with a pool's processes (still starting, then started): the same entries and
    the same skips in the same order, whichever process walked a part, the plan's own skips
    among them as in a walk in one process; a folder this process cannot list is counted."""
    from codemill._workers import WorkerPool
    from codemill.corpus.plan import plan_tasks

    _wide_deep_tree(tmp_path)
    _lock(tmp_path / "b", monkeypatch)
    alone = Skips()
    expected = list(walk(tmp_path, alone))
    assert len(expected) == 300 + 12 + 3 + 3 and alone.counts[UNREADABLE] == 1
    with WorkerPool(1) as pool:
        pool.start()
        for _ in range(2):  # the first walk may find the worker still starting
            shared = Skips()
            assert list(walk(tmp_path, shared, pool)) == expected
            assert (shared.as_dict(), shared.items) == (alone.as_dict(), alone.items)
            for future in pool._started:
                future.result()
        planned, planned_alone = Skips(), Skips()
        assert plan_tasks([tmp_path], 4096, planned, pool) == plan_tasks([tmp_path], 4096, planned_alone)
        assert (planned.as_dict(), planned.items) == (planned_alone.as_dict(), planned_alone.items)
        assert planned.counts[EMPTY] == 3


def test_a_walk_that_gets_its_pool_part_way_gives_what_one_process_gives(tmp_path, monkeypatch) -> None:
    """A walk that asks for worker processes as it finds input (as a run starts them once its
    input is large enough) shares what is left of the tree from then on: the same entries and
    skips in the same order, whichever directory it was at; asked between directories with the
    bytes found so far; never given any, it walks alone."""
    from codemill._workers import WorkerPool
    from codemill.corpus.plan import plan_tasks

    _wide_deep_tree(tmp_path)
    _lock(tmp_path / "b", monkeypatch)
    alone = Skips()
    expected = list(walk(tmp_path, alone))
    sizes = [e.size for e in expected]
    asked: list[int] = []
    with WorkerPool(1) as pool:
        pool.start()
        for at in (0, sum(sizes) // 3, sum(sizes) - 1, sum(sizes) + 1):  # never: walked alone

            def when(found: int, at: int = at) -> WorkerPool | None:
                asked.append(found)
                return pool if found >= at else None

            asked.clear()
            shared = Skips()
            assert list(walk(tmp_path, shared, when)) == expected
            assert (shared.as_dict(), shared.items) == (alone.as_dict(), alone.items)
            assert asked == sorted(asked) and len(set(asked)) > 1 if at else asked == [0]
            assert [found for found in asked if found >= at] in ([], asked[-1:])  # given: asks no more
        planned, planned_alone = Skips(), Skips()
        tasks = plan_tasks([tmp_path, tmp_path / "b"], 4096, planned, lambda found: pool if found > 100 else None)
        assert tasks == plan_tasks([tmp_path, tmp_path / "b"], 4096, planned_alone)
        assert (planned.as_dict(), planned.items) == (planned_alone.as_dict(), planned_alone.items)


def test_a_shared_walk_whose_pool_broke_or_shut_down_is_finished_here(tmp_path) -> None:
    import signal

    from codemill._workers import WorkerPool

    _wide_deep_tree(tmp_path)
    alone = Skips()
    expected = list(walk(tmp_path, alone))
    with WorkerPool(1) as pool:
        pool.start()
        for future in pool._started:
            future.result()
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        shared = Skips()
        assert list(walk(tmp_path, shared, pool)) == expected
        assert (shared.as_dict(), shared.items) == (alone.as_dict(), alone.items)
    shared = Skips()  # a pool shut down takes nothing: all walked here
    assert list(walk(tmp_path, shared, pool)) == expected
    assert (shared.as_dict(), shared.items) == (alone.as_dict(), alone.items)


def test_extensions_and_record_names_are_read_as_splitext_and_basename_read_them() -> None:
    # The walk's own string reading of a name (no os.path calls per file) must agree with them.
    from codemill.languages import extension
    from codemill.sources.streams import _name

    names = ["a.py", "a.PY", "x.tar.gz", "Makefile", ".bashrc", "a/.bashrc", "a/..b", "a/b.", "...a.b", ".a.b"]
    names += ["a..", ".", "..", "a/b/c.d/e", "a/b.c/d.e", "/x/.y.z", "a.b/c", "dir/data.JSONL.gz", "./a.rs"]
    for name in names:
        assert extension(name) == os.path.splitext(name)[1], name
        assert _name(name) == os.path.basename(name).lower(), name


def test_the_core_lists_a_directory_as_python_sorts_and_stats_it(tmp_path) -> None:
    # The walk's listing: names in the order sorted() gives Python's strings (an undecodable
    # byte is a surrogate, after every other name below U+E000), kinds, a file's lstat.
    from codemill._core import list_dir

    names = [b"z.py", "é.py".encode(), b"\xff.py", "\ue000.py".encode(), b"A.py"]
    for name in names:
        with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
            f.write(b"x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.py").symlink_to(tmp_path / "z.py")
    os.mkfifo(tmp_path / "pipe")
    listed = list_dir(tmp_path)
    assert listed is not None and [e[0] for e in listed] == sorted(os.listdir(tmp_path))
    kinds = {name: kind for name, kind, _, _, _, _ in listed}
    assert (kinds["z.py"], kinds["sub"], kinds["link.py"], kinds["pipe"]) == (1, 2, 3, 0)
    st = os.lstat(tmp_path / "z.py")
    assert next(e for e in listed if e[0] == "z.py")[2:] == (st.st_size, str(st.st_mtime_ns), "python", None)
    assert next(e for e in listed if e[0] == "sub")[2:] == (-1, "", None, None)
    # Only a regular file with a UTF-8 name gets its language from the core.
    assert [e[4] for e in listed if e[0] in ("link.py", "\udcff.py")] == [None, None]
    assert list_dir(tmp_path / "missing") is None


def test_the_listing_reads_the_shebang_of_files_without_an_extension(tmp_path) -> None:
    # The core reads the head of an extension-less file (on the lister's thread), which the walk
    # takes for its shebang: the same entries as reading it in Python, and an unreadable one
    # still counted as unreadable (the walk opens it itself and sees why).
    from codemill._core import HEAD_BYTES, list_dir

    (tmp_path / "tool").write_bytes(b"#!/usr/bin/env python3\n" + b"x = 1\n" * 100)
    (tmp_path / "LICENSE").write_text("MIT\n")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "locked").write_text("#!/bin/sh\n")
    (tmp_path / "locked").chmod(0)
    heads = {e[0]: e[5] for e in list_dir(tmp_path) or []}
    assert heads["tool"] == (b"#!/usr/bin/env python3\n" + b"x = 1\n" * 100)[:HEAD_BYTES]
    assert (heads["LICENSE"], heads["a.py"]) == (b"MIT\n", None)
    skips = Skips()
    found = [(e.rel, e.language) for e in walk(tmp_path, skips)]
    assert found == [("a.py", "python"), ("tool", "python")]
    if heads["locked"] is None:  # not root: the core could not read it either
        assert skips.counts[UNREADABLE] == 1 and skips.counts[UNSUPPORTED_LANGUAGE] == 1
    else:
        assert skips.counts[UNSUPPORTED_LANGUAGE] == 2


@pytest.mark.parametrize(
    "name",
    [
        "a.py", "A.PY", "b.Tsx", "c.h", "d.HPP", "x.tar.py", "a..py", "a.py.bak", ".py", "..py",
        "...py", "a.", "Makefile", ".bashrc", "é.rs", "noext", "a b.go", "ä.Ü",
    ],
)  # fmt: skip
def test_the_core_names_a_files_language_as_code_language_does(tmp_path, name) -> None:
    # The listing's language is looked up in the core (the walk's main thread sets its pace),
    # by the same rule as Python's.
    from codemill._core import list_dir

    (tmp_path / name).write_text("x\n")
    listed = list_dir(tmp_path)
    assert listed is not None and [e[0] for e in listed] == [name]
    assert listed[0][4] == (code_language(name) or "")  # "": looked up, none


def test_a_walk_listing_ahead_gives_what_a_walk_listing_in_turn_gives(tmp_path, monkeypatch) -> None:
    # Folders it enters, folders it passes over by name, by a marker inside or by a .gitignore:
    # the listings made ahead of the walk are its own, and those it passes over are dropped.
    from codemill._core import ListingAhead

    walk_module = importlib.import_module("codemill.sources.walk")
    the_walks_own = walk_module._lister
    for a in range(4):
        for b in range(3):
            d = tmp_path / f"p{a}" / f"q{b}"
            (d / "r").mkdir(parents=True)
            (d / "m.py").write_text("x = 1\n" * (a + b + 1))
            (d / "r" / "n.go").write_text("package r\n")
    for skipped in ("p1/.git", "p2/node_modules/deep", "p3/env", "p0/built"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "s.py").write_text("y = 2\n")
    (tmp_path / "p3" / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "p0" / ".gitignore").write_text("built/\n")
    (tmp_path / "top.rs").write_text("fn main() {}\n")

    def walked(lister):
        monkeypatch.setattr(walk_module, "_lister", lister)
        skips = Skips()
        return [(e.path, e.size, e.stamp) for e in walk(tmp_path, skips)], skips.items

    ahead = walked(ListingAhead)
    in_turn = walked(lambda: None)
    assert ahead == in_turn
    assert walked(the_walks_own) == in_turn  # not listing ahead into what the walk passes over
    assert len(ahead[0]) == 1 + 4 * 3 * 2
    assert len(ahead[1]) == 5  # the four folders and the .gitignore itself
    monkeypatch.chdir(tmp_path)
    assert walked(ListingAhead) == walked(lambda: None)  # "." names "p0", not "./p0"
    assert walked(the_walks_own) == walked(lambda: None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_listing_ahead_forked_mid_walk_lists_in_turn_in_the_child(tmp_path) -> None:
    # The child has no lister thread (and maybe a lock the thread held): it lists itself.
    from codemill._core import ListingAhead, list_dir

    (tmp_path / "a" / "b").mkdir(parents=True)
    ahead = ListingAhead()
    ahead.list_dir(str(tmp_path))  # "a" is being listed ahead
    pid = os.fork()
    if pid == 0:
        os._exit(0 if ahead.list_dir(str(tmp_path / "a")) == list_dir(str(tmp_path / "a")) else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert ahead.list_dir(str(tmp_path / "a")) == list_dir(str(tmp_path / "a"))


def test_a_tree_through_a_url_lists_what_it_passes_over_in_the_order_of_a_walk_on_disk(tmp_path: Path) -> None:
    # A folder passed over (build output, vendored, ignored) is listed where its name falls among
    # its parent's files, as on disk; through a URL it came after them, so past the list's
    # limit a bucket's copy of a tree listed other items than the tree.
    from codemill.sources.walk import walk_url

    t = tmp_path / "t"
    for rel in ["a.log", "build/x.py", "c.log", "main.py", "node_modules/m.js", "z.log", "lib/b.log", "lib/k.py"]:
        (t / rel).parent.mkdir(parents=True, exist_ok=True)
        (t / rel).write_text("x = 1\n")
    for rel in ["lib/dist/d.py", "lib/vendor/v.py", "lib/zz.py", "lib/sub/s.py", "lib/sub/target/t.py"]:
        (t / rel).parent.mkdir(parents=True, exist_ok=True)
        (t / rel).write_text("x = 1\n")
    (t / ".gitignore").write_text("*.log\n")

    def listed(skips: Skips, prefix: str) -> list[tuple[str, str]]:
        return [(item["path"].removeprefix(prefix), item["reason"]) for item in skips.items]

    on_disk, by_url = Skips(), Skips()
    files = [e.rel for e in walk(t, on_disk)]
    assert [e.rel for e in walk_url(t.as_uri(), by_url)] == files
    assert listed(on_disk, f"{t}/") == [
        (".gitignore", "unsupported_language"),
        ("a.log", "gitignored"),
        ("build/", "build_output"),
        ("c.log", "gitignored"),
        ("node_modules/", "vendored"),
        ("z.log", "gitignored"),
        ("lib/b.log", "gitignored"),
        ("lib/dist/", "build_output"),
        ("lib/vendor/", "vendored"),
        ("lib/sub/target/", "build_output"),
    ]
    assert listed(by_url, f"{t.as_uri()}/") == listed(on_disk, f"{t}/")


def test_folders_passed_over_with_nothing_listed_between_them_keep_the_order_of_a_walk_on_disk(tmp_path: Path) -> None:
    # Two such folders fell at the same place among the objects and were ordered by their URLs
    # ("build.py/" before "build/", "q/A/__pycache__/" before "q/node_modules/").
    from codemill.sources.walk import walk_url

    t = tmp_path / "t"
    for rel in ["q/A/__pycache__/m.py", "q/node_modules/x.js", "build/x.py", "build.py/x.py", "main.py"]:
        (t / rel).parent.mkdir(parents=True, exist_ok=True)
        (t / rel).write_text("x = 1\n")
    (t / ".gitignore").write_text("build.py/\n")
    on_disk, by_url = Skips(), Skips()
    list(walk(t, on_disk))
    list(walk_url(t.as_uri(), by_url))
    disk = [(i["path"].removeprefix(f"{t}/"), i["reason"]) for i in on_disk.items]
    assert disk == [
        (".gitignore", "unsupported_language"),
        ("build/", "build_output"),
        ("build.py/", "gitignored"),
        ("q/node_modules/", "vendored"),
        ("q/A/__pycache__/", "build_output"),
    ]
    assert [(i["path"].removeprefix(f"{t.as_uri()}/"), i["reason"]) for i in by_url.items] == disk
