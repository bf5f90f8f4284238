"""Walking code trees: stable order, skipped directories, unreadable directories reported."""

from __future__ import annotations

import json
import os

from codemill.corpus.report import tokenize_report
from codemill.sources.documents import UNREADABLE, iter_code_files, read_code_file
from codemill.tokenizer.code_tokenizer import CodeTokenizer


def _tree(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "node_modules").mkdir()
    for rel in ("z.py", "a/x.go", "b/y.rs", ".git/hook.py", "node_modules/m.js", "notes.txt"):
        (tmp_path / rel).write_text("x = 1\n")
    return tmp_path


def test_walk_is_sorted_and_skips_tool_directories(tmp_path) -> None:
    root = _tree(tmp_path)
    assert [p.relative_to(root).as_posix() for p in iter_code_files(root)] == ["z.py", "a/x.go", "b/y.rs"]
    assert "notes.txt" in {p.name for p in iter_code_files(root, all_files=True)}


def test_unreadable_directory_is_reported_not_lost(tmp_path, monkeypatch) -> None:
    root = _tree(tmp_path)
    locked = str(root / "b")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    # Tests run as root, which reads any directory: simulate the permission error instead.
    monkeypatch.setattr(os, "scandir", scandir)
    paths = list(iter_code_files(root))
    assert root / "b" in paths and root / "a" / "x.go" in paths
    assert read_code_file(root / "b") == (None, UNREADABLE)
    report = tokenize_report(CodeTokenizer.default(), [str(root)])
    assert report["skipped"] == {UNREADABLE: 1}
    assert report["skipped_files"] == [{"path": str(root / "b"), "reason": UNREADABLE}]


def test_unreadable_directory_is_counted_by_corpus_tokenization(tmp_path, monkeypatch) -> None:
    import codemill

    (tmp_path / "src").mkdir()
    root = _tree(tmp_path / "src")
    locked = str(root / "b")
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    manifest = codemill.tokenize_corpus([str(root)], str(tmp_path / "out"), workers=1)
    assert manifest["skipped"] == {UNREADABLE: 1}
    assert locked in json.dumps(manifest)  # listed with its path
