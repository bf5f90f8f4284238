"""Ignore files matched as git matches them: one directory level at a time, each pattern on the
path asked about (not its descendants), bad lines matching nothing."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from codemill.sources import Skips, gitignore, walk
from codemill.sources.gitignore import Rule, Rules, parse

CODE = "x = 1\n"


def _walked(root: Path, ignore: str, files: list[str]) -> list[str]:
    (root / ".git").mkdir(parents=True)
    (root / ".gitignore").write_text(ignore)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(CODE)
    return sorted(e.rel for e in walk(root, Skips()))


@pytest.mark.parametrize(
    ("ignore", "files", "kept"),
    [
        # The whitelist idiom: ignore everything, re-include directories, then .py files.
        ("*\n!*/\n!*.py\n", ["top.py", "pkg/a.py", "pkg/b.js"], ["pkg/a.py", "top.py"]),
        # `!src/` re-includes src itself, not a logs/ directory below it.
        ("logs/\n!src/\n", ["src/logs/x.py", "src/y.py"], ["src/y.py"]),
        # `gen/**` matches what is inside gen/, not gen/: a later negation re-includes files.
        ("gen/**\n!*.py\n", ["gen/m.py", "gen/n.js"], ["gen/m.py"]),
        # Anchored patterns, `**/` and classes.
        ("/a.py\n**/b/*.py\n[cd].py\n", ["a.py", "x/a.py", "b/q.py", "x/b/q.py", "c.py", "e.py"], ["e.py", "x/a.py"]),
    ],
)
def test_patterns_match_as_in_git(tmp_path: Path, ignore: str, files: list[str], kept: list[str]) -> None:
    assert _walked(tmp_path, ignore, files) == kept


def test_a_line_git_cannot_match_is_passed_over(tmp_path: Path) -> None:
    # Windows-style `bin\`, a lone `!`, an unclosed class: before, one such line stopped the run.
    assert _walked(tmp_path, "bin\\\n!\n[abc\nskip_*.py\n", ["keep.py", "skip_me.py"]) == ["keep.py"]


def test_a_byte_order_mark_and_crlf_lines(tmp_path: Path) -> None:
    # With .git/info/exclude read first: the mark is skipped per file, not only at the first line.
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("# git init writes comments here\n")
    (tmp_path / ".gitignore").write_bytes("\ufeffsecret.py\r\nother.py\r\n".encode())
    for name in ("secret.py", "other.py", "k.py"):
        (tmp_path / name).write_text(CODE)
    assert sorted(e.rel for e in walk(tmp_path, Skips())) == ["k.py"]


def test_escapes_trailing_spaces_and_odd_classes() -> None:
    rules = parse(["\\#x.py", "\\!y.py", "z.py   ", "w\\ "])
    assert [r.regex.pattern for r in rules] == ["\\#x\\.py", "!y\\.py", "z\\.py", "w\\ "]

    def ignores(pattern: str, rel: str) -> bool:
        return any(r.matches(rel, False) for r in parse([pattern]))

    # As git: a reversed range is empty, `[:` without `:]` is a literal, `a//` matches nothing,
    # and `**` as the first wildcard after a literal prefix spans directories.
    assert ignores("[z-ax].py", "x.py") and not ignores("[z-ax].py", "y.py")
    assert ignores("[[:].py", "[.py") and ignores("[[:].py", ":.py")
    assert not ignores("a//", "a") and not any(r.matches("a", True) for r in parse(["a//"]))
    assert ignores("b**/e.py", "b/d/e.py") and ignores("b**/e.py", "be.py")
    # `[:` up to the first `]` without `:]` is a literal `[`; `**\/` spans, but not zero dirs.
    assert ignores("[[:]b:].py", ":b:].py") and ignores("[[:]b:].py", "[b:].py")
    assert ignores("a/**\\/b.py", "a/x/y/b.py") and not ignores("a/**\\/b.py", "a/b.py")


def test_rules_answer_as_each_rule_asked_in_turn() -> None:
    # `Rules` first asks whether any rule matches (plain names, paths and suffixes looked up, the
    # rest as one regex): the answer must be the last matching rule's, as asking the rules one by
    # one gives, for files and directories alike.
    lines = [
        "*.py[cod]", "__pycache__/", "/build/", "dist", "!dist/keep.py", "*.egg-info/", "docs/_build/",
        "**/logs", "!important.log", "*.log", "a/**/b", "[Tt]emp*", "?.tmp", "gen/**", "!gen/*.py",
        "src/gen.py", "*", "!*.rs",
    ]  # fmt: skip

    def one_by_one(rules: list[Rule], rel: str, is_dir: bool) -> bool | None:
        for rule in reversed(rules):
            if rule.matches(rel, is_dir):
                return not rule.negated
        return None

    paths = [
        "m.py", "m.pyc", "x/m.pyo", "__pycache__", "x/__pycache__", "build", "x/build", "dist",
        "dist/keep.py", "dist/other.py", "p.egg-info", "docs/_build", "logs", "x/y/logs", "important.log",
        "x/important.log", "err.log", "a/b", "a/x/y/b", "Temp1", "temp.py", "x.tmp", "xy.tmp", "gen/m.py",
        "gen/m.js", "gen", "src/main.rs", "src/gen.py", "x/src/gen.py", "a.log.txt", "README",
    ]  # fmt: skip
    # With `*` and without, so that some paths match no rule.
    for rules in (parse(lines), parse(lines[:-2])):
        together = Rules(rules)
        for rel in paths:
            for is_dir in (False, True):
                assert together.ignored(rel, is_dir) == one_by_one(rules, rel, is_dir), (rel, is_dir)
    assert Rules(parse(lines[:-2])).ignored("src/main.rs", False) is None
    assert Rules([]).ignored("m.py", False) is None


def test_an_ignore_file_that_is_a_fifo_or_a_link_is_not_read(tmp_path: Path) -> None:
    # A FIFO named .gitignore blocked the walk forever; git reads no .gitignore that is a link.
    import os

    (tmp_path / "a").mkdir()
    os.mkfifo(tmp_path / "a" / ".gitignore")
    (tmp_path / "a" / "x.py").write_text(CODE)
    (tmp_path / "rules").write_text("y.py\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".gitignore").symlink_to(tmp_path / "rules")
    (tmp_path / "b" / "y.py").write_text(CODE)
    assert sorted(e.rel for e in walk(tmp_path, Skips())) == ["a/x.py", "b/y.py"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_worktree_reads_its_repository_exclude_file(tmp_path: Path) -> None:
    # In a worktree (or a submodule) .git is a file pointing at the git directory.
    repo, wt = tmp_path / "repo", tmp_path / "wt"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "ok.py").write_text(CODE)
    subprocess.run(["git", "-C", str(repo), "add", "ok.py"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "x"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(wt)], check=True, capture_output=True)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("secret.py\n")
    (wt / "secret.py").write_text(CODE)
    assert sorted(e.rel for e in walk(wt, Skips())) == ["ok.py"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_random_trees_agree_with_git(tmp_path: Path) -> None:
    patterns = [
        "*", "!*/", "*.py", "!*.py", "a", "a/", "/a", "!a", "src/", "!src/", "**/x", "x/**", "!x/**/m.py",
        "lib/*", "!lib/n.py", "/src/*.py", "!/src/a.py", "a/**/b", "**/lib/", "gen/**", "!gen/", "[ab].py",
        "?.py", "*/m.py", "!*/n.py", "b/**", "!b/**/", "[!m].py", "**", "bin\\", "[", "doc/*/",
    ]  # fmt: skip
    dirs, names = ["a", "b", "src", "lib", "x", "gen", "doc"], ["m.py", "n.py", "a.py", "b.py"]
    for trial in range(12):
        rnd = random.Random(trial)
        root = tmp_path / f"t{trial}"
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        for _ in range(20):
            d = root.joinpath(*[rnd.choice(dirs) for _ in range(rnd.randint(0, 3))])
            d.mkdir(parents=True, exist_ok=True)
            (d / rnd.choice(names)).write_text(CODE)
        folders = sorted(p for p in root.rglob("*") if p.is_dir() and ".git" not in p.parts)
        for d in rnd.sample([root, *folders], min(len(folders) + 1, rnd.randint(1, 3))):
            (d / ".gitignore").write_text("\n".join(rnd.sample(patterns, rnd.randint(1, 5))) + "\n")
        listed = subprocess.run(
            ["git", "ls-files", "-o", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.split()
        assert sorted(e.rel for e in walk(root, Skips())) == sorted(p for p in listed if not p.endswith(".gitignore"))


def test_an_exclude_file_that_is_a_link_is_read(tmp_path: Path) -> None:
    # Git follows a link at .git/info/exclude (only a .gitignore in the tree is never followed).
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / "rules").write_text("sec.py\n")
    (tmp_path / ".git" / "info" / "exclude").symlink_to(tmp_path / "rules")
    for name in ("sec.py", "k.py"):
        (tmp_path / name).write_text(CODE)
    assert sorted(e.rel for e in walk(tmp_path, Skips())) == ["k.py"]


def test_a_nested_repository_brings_its_exclude_file(tmp_path: Path) -> None:
    # A submodule (or any repository inside the tree) is read, with its own info/exclude.
    (tmp_path / ".git").mkdir()
    (tmp_path / "top.py").write_text(CODE)
    sub = tmp_path / "sm"
    (sub / ".git" / "info").mkdir(parents=True)
    (sub / ".git" / "info" / "exclude").write_text("sec.py\n")
    for name in ("sec.py", "s.py"):
        (sub / name).write_text(CODE)
    assert sorted(e.rel for e in walk(tmp_path, Skips())) == ["sm/s.py", "top.py"]
    # The same tree at a file:// URL reads the same.
    from codemill.sources import iter_documents

    assert sorted(d.path for d in iter_documents([tmp_path.as_uri()], Skips())) == ["sm/s.py", "top.py"]


def test_the_rules_of_an_ignore_file_are_made_once_per_distinct_file() -> None:
    # A corpus holds the same few ignore files many times over: equal lines give the same rules
    # (which nothing changes once made), other lines their own, and no rule gives None.
    a = gitignore.rules_of(("/target", "Cargo.lock", "*.log"))
    assert a is gitignore.rules_of(("/target", "Cargo.lock", "*.log"))
    assert a is not None and a.ignored("target", True) and a.ignored("x/y.log", False)
    b = gitignore.rules_of(("/target",))
    assert b is not a and b is not None and b.ignored("Cargo.lock", False) is None
    assert gitignore.rules_of(("# only a comment", "")) is None
