"""A plan of many files keeps its lists in a scratch file (`codemill.corpus.spool`): the same tasks
and the same output bytes as a plan held in memory, read back by worker processes, and the file
gone once the plan is."""

from __future__ import annotations

import gc
import json
import os
import pickle
import tempfile
from pathlib import Path

import codemill
import pytest
from codemill.corpus import spool
from codemill.corpus.plan import Task, plan_tasks, portable
from codemill.corpus.spool import SpooledNames
from conftest import STDLIB


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """70 real Python files in nested folders, with a JSONL file between them (a unit of its own)."""
    root = tmp_path / "tree"
    sources = sorted((STDLIB / "email").rglob("*.py"))[:35] + sorted((STDLIB / "json").glob("*.py"))
    sources += sorted((STDLIB / "importlib").rglob("*.py"))[: 70 - len(sources)]
    for i, src in enumerate(sources):
        dest = root / f"d{i % 4}" / f"s{i % 3}" / f"{i:02d}_{src.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
    (root / "d1" / "rows.jsonl").write_text(json.dumps({"text": "x = 1\n"}) + "\n")
    return root


def plan_as_data(tasks: list[Task]) -> list[object]:
    return [[t.index, t.kind, t.path, list(t.files), t.key, t.size, t.stamp, t.describe()] for t in tasks]


def spooled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "SPOOL_AFTER_FILES", 10)
    monkeypatch.setattr(spool, "CHUNK_FILES", 4)


def test_a_spooled_plan_is_the_plan_held_in_memory(tree: Path, monkeypatch: pytest.MonkeyPatch):
    in_memory = plan_tasks([tree], task_bytes=60_000)
    assert all(isinstance(t.files, tuple) for t in in_memory)  # a small plan: no spool
    spooled(monkeypatch)
    tasks = plan_tasks([tree], task_bytes=60_000)
    assert plan_as_data(tasks) == plan_as_data(in_memory)
    files = [t for t in tasks if t.kind == "files"]
    assert len(files) > 3 and all(isinstance(t.files, SpooledNames) for t in files)
    assert [t.files for t in files] == [t.files for t in in_memory if t.kind == "files"]
    # Another process on this machine reads a task's names from the spool; a Ray task gets them in it.
    task = pickle.loads(pickle.dumps(files[1]))
    assert tuple(task.files) == tuple(files[1].files) and task.files[1:3] == tuple(files[1].files)[1:3]
    assert portable(files[1]).files == tuple(files[1].files) and isinstance(portable(files[1]).files, tuple)
    assert len(pickle.dumps(files[1])) < len(pickle.dumps(portable(files[1])))


def test_a_spooled_plan_gives_the_same_output_on_worker_processes(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from codemill.corpus.engines import local

    kw = {"shard_tokens": 5000, "task_bytes": 60_000}
    a = codemill.tokenize_corpus(tree, tmp_path / "a", workers=1, **kw)
    spooled(monkeypatch)
    monkeypatch.setattr(local, "POOL_MIN_BYTES", 0)  # worker processes read the spool
    b = codemill.tokenize_corpus(tree, tmp_path / "b", workers=2, **kw)
    assert b["run"]["processes"] == 2 and a["run"]["tasks_run"] == b["run"]["tasks_run"] > 3
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    gc.collect()
    assert not list(Path(tempfile.gettempdir()).glob(f"codemill-plan-{os.getpid()}-*"))  # gone with the plan


def test_the_spool_goes_with_its_plan_and_a_killed_runs_is_removed(tree: Path, monkeypatch: pytest.MonkeyPatch):
    # What a run killed with kill -9 left (its process gone, nobody holding it).
    left = Path(tempfile.gettempdir()) / "codemill-plan-999999999-left"
    left.write_bytes(b"")
    monkeypatch.setattr(spool, "_orphans_removed", False)
    plan_tasks([tree / "d0"], task_bytes=60_000)  # a plan too small to spool removes it too
    assert not left.exists()
    spooled(monkeypatch)
    tasks = plan_tasks([tree], task_bytes=60_000)
    path = Path(next(t.files.path for t in tasks if isinstance(t.files, SpooledNames)))
    assert path.exists()
    # The walk's entries went with the units once cut: only the tasks' names are left.
    assert list(Path(tempfile.gettempdir()).glob(f"codemill-plan-{os.getpid()}-*")) == [path]
    del tasks
    gc.collect()
    assert not path.exists()


def test_many_small_trees_keep_none_of_their_entries_in_memory(tree: Path, monkeypatch: pytest.MonkeyPatch):
    # Each tree's last entries (under a chunk) stayed in memory: many small trees as inputs
    # would have held every file again.
    from codemill.corpus.plan import _units
    from codemill.corpus.spool import Spool, SpooledEntries
    from codemill.sources import Skips

    roots = sorted(p for p in tree.glob("d*/s*") if p.is_dir())
    in_memory = plan_tasks(roots, task_bytes=60_000)
    spooled(monkeypatch)
    assert plan_as_data(plan_tasks(roots, task_bytes=60_000)) == plan_as_data(in_memory)
    units = _units(roots, Skips(), None, spool := Spool())
    assert spool.active and len(units) == len(roots) > 4
    late = [u.files for u in units[3:]]  # listed once the spool was in use
    assert all(isinstance(f, SpooledEntries) and f.chunks and not f.tail for f in late)
