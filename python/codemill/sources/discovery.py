"""Finding the documents to prepare: repository trees and JSONL / Parquet corpora.

A repository walk does what a user expects from a code tool: it honours ``.gitignore``
files (nested ones too, with git's last-match-wins and ``!`` negation) and
``.git/info/exclude``; it skips version-control state, vendored and third-party trees,
dependency and build output directories, lock files, and symlinks (git stores a link, not
its target, so a link loop can never trap the walk). Order is stable (sorted by name).

Every file that is not yielded is counted under a reason in ``skipped``; nothing is dropped
silently.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemill.languages import EXTENSIONS, detect_language

__all__ = ["CORPUS_SUFFIXES", "SKIP_DIRS", "Document", "discover"]

# Directory name -> reason. Dependency trees, vendored copies, tool state and build output.
SKIP_DIRS: dict[str, str] = {
    **dict.fromkeys((".git", ".hg", ".svn", ".bzr", "CVS"), "vcs"),
    **dict.fromkeys(
        (
            "node_modules",
            "bower_components",
            "jspm_packages",
            "vendor",
            "vendors",
            "vendored",
            "_vendor",
            "third_party",
            "third-party",
            "thirdparty",
            "3rdparty",
            "site-packages",
            "dist-packages",
            "Pods",
            "Carthage",
        ),
        "vendored",
    ),
    **dict.fromkeys(
        ("build", "dist", "target", "_build", "out-tsc", ".next", ".nuxt", "htmlcov", "__pycache__"),
        "build_output",
    ),
    **dict.fromkeys(
        ("venv", ".venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradle", ".idea"),
        "tool_state",
    ),
}
_SKIP_DIR_SUFFIXES = (".egg-info", ".dist-info")

LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "Cargo.lock",
        "poetry.lock",
        "Pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "composer.lock",
        "Gemfile.lock",
        "go.sum",
        "flake.lock",
        "packages.lock.json",
    }
)

# Inputs read as corpora of records rather than walked as repositories.
CORPUS_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".parquet")

# Record fields, in order of preference (The Stack's columns among them).
_TEXT_FIELDS = ("content", "text", "code")
_PATH_FIELDS = ("path", "max_stars_repo_path", "file_path", "filepath", "filename")
_REPO_FIELDS = ("repository", "repo", "repo_name", "max_stars_repo_name")
_LANG_FIELDS = ("language", "lang")
_LANG_ALIASES = {
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "c++": "cpp",
    "cxx": "cpp",
    "golang": "go",
    "rs": "rust",
}


@dataclass
class Document:
    """One document to prepare: a file on disk (``file``) or a corpus record (``text``)."""

    index: int
    repository: str
    path: str  # posix path inside the repository
    language: str
    file: str | None = None
    text: str | None = None
    size: int = 0
    # Set by `prepare` between its passes: the content hash the second pass must read back.
    digest: bytes | None = None


def discover(
    inputs: Iterable[str | os.PathLike[str]],
    skipped: Counter[str],
    skipped_files: list[dict[str, str]] | None = None,
    max_listed: int = 1000,
) -> Iterator[Document]:
    """Documents under ``inputs`` in a stable order; what is passed over is counted in ``skipped``."""
    index = 0

    def skip(path: str, reason: str) -> None:
        skipped[reason] += 1
        if skipped_files is not None and len(skipped_files) < max_listed:
            skipped_files.append({"path": path, "reason": reason})

    for raw in inputs:
        root = Path(raw)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or directory")
        name = root.name.lower()
        if root.is_file() and name.endswith(CORPUS_SUFFIXES):
            for doc in _read_corpus(root, skip):
                doc.index = index
                index += 1
                yield doc
            continue
        if root.is_file():
            lang = _language(root, skip)
            if lang is not None:
                yield Document(index, root.resolve().parent.name, root.name, lang, file=str(root), size=_size(root))
                index += 1
            continue
        repository = root.resolve().name
        for path, rel in _walk(root, skip):
            lang = _language(path, skip, rel)
            if lang is None:
                continue
            yield Document(index, repository, rel, lang, file=str(path), size=_size(path))
            index += 1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _language(path: Path, skip: Any, rel: str | None = None) -> str | None:
    """The language of a code file, or None (counted) for lock files and unknown types."""
    name = path.name
    if name in LOCK_FILES or name.endswith(".lock"):
        skip(rel or str(path), "lock_file")
        return None
    ext = os.path.splitext(name)[1].lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    if not ext:
        # Extension-less scripts: the shebang names the interpreter.
        try:
            with open(path, "rb") as f:
                head = f.read(128)
        except OSError:
            skip(rel or str(path), "unreadable")
            return None
        lang = detect_language(path, head)
        if lang != "generic":
            return lang
    skip(rel or str(path), "unsupported_language")
    return None


class _Ignore:
    """The ignore files in force for one directory: (base, spec) pairs, outermost first.

    Bases and matched paths are relative to the repository's top (the nearest directory with
    ``.git`` at or above the walk's root), so that a walk of ``repo/src`` still honours
    ``repo/.gitignore``; ``prefix`` is the walk root's place under that top.
    """

    def __init__(self, prefix: str = "", specs: tuple[tuple[str, Any], ...] = ()) -> None:
        self.prefix = prefix
        self.specs = specs

    @classmethod
    def for_root(cls, root: Path) -> _Ignore:
        top = _git_top(root)
        if top is None or top == root.resolve():
            return cls().load(root, "", top=True)
        prefix = root.resolve().relative_to(top).as_posix()
        ignore = cls(prefix).load(top, "", top=True)
        parts = prefix.split("/")
        for i in range(1, len(parts) + 1):
            base = "/".join(parts[:i])
            if ignore._ignored_full(base, True):
                # The root lies in a part of that repository it ignores (a Python install in a
                # pyenv checkout, say): it is not the repository's content, so it stands alone.
                return cls().load(root, "", top=True)
            ignore = ignore.load(top / base, base)
        return ignore

    def load(self, directory: Path, base: str, top: bool = False) -> _Ignore:
        lines = _read_lines(directory / ".gitignore")
        if top:
            lines = _read_lines(directory / ".git" / "info" / "exclude") + lines
        if not lines:
            return self
        import pathspec

        return _Ignore(self.prefix, (*self.specs, (base, pathspec.GitIgnoreSpec.from_lines(lines))))

    def child(self, directory: Path, rel: str) -> _Ignore:
        return self.load(directory, self._full(rel))

    def _full(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def ignored(self, rel: str, is_dir: bool) -> bool:
        return self._ignored_full(self._full(rel), is_dir)

    def _ignored_full(self, full: str, is_dir: bool) -> bool:
        # Deeper files win over shallower ones, and within a file the last match wins.
        for base, spec in reversed(self.specs):
            sub = full[len(base) + 1 :] if base else full
            if is_dir:
                sub += "/"
            check = getattr(spec, "check_file", None)
            if check is None:  # pathspec < 0.12: no negation across files
                if spec.match_file(sub):
                    return True
                continue
            include = check(sub).include
            if include is not None:
                return bool(include)
        return False


def _git_top(root: Path) -> Path | None:
    """The nearest directory at or above ``root`` that holds ``.git``, or None."""
    path = root.resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _read_lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def _walk(root: Path, skip: Any) -> Iterator[tuple[Path, str]]:
    """(path, posix path relative to root) for files not ignored, sorted, depth first."""
    stack: list[tuple[Path, str, _Ignore]] = [(root, "", _Ignore.for_root(root))]
    while stack:
        directory, rel_dir, ignore = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            skip(rel_dir or str(directory), "unreadable")
            continue
        subdirs: list[tuple[Path, str, _Ignore]] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_symlink():
                    skip(rel, "symlink")
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=False)
            except OSError:
                skip(rel, "unreadable")
                continue
            if is_dir:
                reason = SKIP_DIRS.get(entry.name)
                if reason is None and entry.name.endswith(_SKIP_DIR_SUFFIXES):
                    reason = "build_output"
                if reason is None and ignore.ignored(rel, True):
                    reason = "gitignored"
                if reason is not None:
                    skip(rel + "/", reason)
                    continue
                path = Path(entry.path)
                subdirs.append((path, rel, ignore.child(path, rel)))
            elif is_file:
                if ignore.ignored(rel, False):
                    skip(rel, "gitignored")
                    continue
                yield Path(entry.path), rel
            else:
                skip(rel, "not_a_file")
        stack.extend(reversed(subdirs))


def _read_corpus(path: Path, skip: Any) -> Iterator[Document]:
    """Records of a JSONL(.gz) or Parquet corpus, streamed."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        records: Iterator[tuple[str, dict[str, Any]]] = _parquet_records(path)
    else:
        records = _jsonl_records(path, skip)
    default_repo = path.name
    for where, rec in records:
        text = _first(rec, _TEXT_FIELDS)
        if not isinstance(text, str):
            skip(f"{path}:{where}", "no_text_field")
            continue
        rel = str(_first(rec, _PATH_FIELDS) or f"record-{where}")
        repo = str(_first(rec, _REPO_FIELDS) or default_repo)
        lang_value = _first(rec, _LANG_FIELDS)
        lang = str(lang_value).lower() if lang_value else ""
        lang = _LANG_ALIASES.get(lang, lang)
        if lang not in EXTENSIONS.values():
            lang = detect_language(rel, text[:128].encode("utf-8", "replace"))
        yield Document(0, repo, rel, lang, text=text, size=len(text.encode("utf-8", "surrogatepass")))


def _first(rec: dict[str, Any], fields: tuple[str, ...]) -> Any:
    for f in fields:
        value = rec.get(f)
        if value is not None:
            return value
    return None


def _jsonl_records(path: Path, skip: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                skip(f"{path}:{lineno}", "invalid_json")
                continue
            if not isinstance(rec, dict):
                skip(f"{path}:{lineno}", "invalid_json")
                continue
            yield str(lineno), rec


def _parquet_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - the prepare extra installs it
        raise ValueError(f"{path}: reading Parquet needs pyarrow (pip install 'codemill[prepare]')") from exc
    pf = pq.ParquetFile(path)
    wanted = {*_TEXT_FIELDS, *_PATH_FIELDS, *_REPO_FIELDS, *_LANG_FIELDS}
    columns = [c for c in pf.schema_arrow.names if c in wanted]
    row = 0
    for batch in pf.iter_batches(batch_size=1024, columns=columns):
        for rec in batch.to_pylist():
            row += 1
            yield f"row{row}", rec
