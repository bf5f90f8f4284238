"""Walking repository trees as a code tool should: the files a user means by "my code".

The walk honours ``.gitignore`` files (nested ones too, with git's last-match-wins and ``!``
negation) and ``.git/info/exclude``; it passes over version-control state, vendored and
third-party trees, dependency and build output, tool state, lock files and symlinks (git stores
a link, not its target, so a link loop can never trap the walk), and opens regular files only
(a FIFO would block the reader). Order is stable: sorted by name, depth first. Every entry that
is passed over is counted in ``skips`` with a reason from :mod:`codemill.sources.skips`.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import operator
import os
import stat
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeAlias, cast

from codemill._core import HEAD_BYTES, ListingAhead, list_dir
from codemill._cpus import usable_cpus
from codemill.languages import code_language, extension
from codemill.sources import gitignore
from codemill.sources import skips as reasons
from codemill.sources.skips import Skips
from codemill.sources.streams import SIDECAR_SUFFIX, is_records

if TYPE_CHECKING:
    from codemill._workers import WorkerPool

# Directory name -> reason. Dependency trees, vendored copies, tool state and build output.
SKIP_DIRS: dict[str, str] = {
    **dict.fromkeys((".git", ".hg", ".svn", ".bzr", "CVS"), reasons.VCS),
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
        reasons.VENDORED,
    ),
    **dict.fromkeys(
        ("build", "dist", "target", "_build", "out-tsc", ".next", ".nuxt", "htmlcov", "__pycache__"),
        reasons.BUILD_OUTPUT,
    ),
    **dict.fromkeys(
        (".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradle", ".idea"),
        reasons.TOOL_STATE,
    ),
}
_SKIP_DIR_SUFFIXES = (".egg-info", ".dist-info")
# A virtual environment is known by its marker, not its name: the standard library has a
# `venv` package that is code.
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")

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


class Entry(NamedTuple):
    """A file found by the walk: a code file (``language`` set) or a record file (JSONL/Parquet).
    A tuple: made once per file and, in a shared walk, sent back from a worker (a frozen
    dataclass took 3x the time to make and 4x to unpickle)."""

    # The file's path on disk, or the URL of an object in a bucket: a str either way, as
    # pathlib's parsing cost more than a third of listing a tree (the walk knows which it is).
    path: str
    rel: str  # posix path relative to the walk's root
    language: str | None  # None for a record file
    size: int  # bytes on disk, -1 if it could not be read (reported when read)
    # Changes when the file does, as the listing says (mtime in ns; an object's ETag): a resumed
    # run redoes a task whose input was edited in place, even to the same size.
    stamp: str = ""
    # A record file with a description beside it (`codemill prepare`'s output and its
    # SIDECAR_SUFFIX file): its special tokens are read as a named file's are.
    described: bool = False

    @property
    def records(self) -> bool:
        return self.language is None


def file_size(path: Path) -> int:
    return file_stat(path)[0]


def read_head(path: str | os.PathLike[str]) -> bytes | None:
    """The first `HEAD_BYTES` of a file, for its shebang line; None where it cannot be read.
    Non-blocking, as the core's listing reads them: a file swapped for a FIFO since it was
    listed does not hold the reader."""
    try:
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return None


def file_stat(path: Path) -> tuple[int, str]:
    """(size, stamp) of a file, as in `Entry`; size -1 if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return -1, ""
    return st.st_size, str(st.st_mtime_ns)


# A directory's entry as `_core.list_dir` lists it: (name, kind, size, stamp, language, head),
# with a regular file's size and stamp as in `Entry` (-1 and "" for the rest), the language its
# extension names (`code_language` of the name, looked up in the core, "" for none; None where
# it was not looked up) and the first `HEAD_BYTES` of a file with no extension, for its shebang
# (read by the core, on the lister's thread; None for the rest, or where they could not be read).
# Its kinds:
_Listed = tuple[str, int, int, str, "str | None", "bytes | None"]
_FILE, _DIR, _LINK, _UNREADABLE = 1, 2, 3, 4  # 0: a FIFO, socket or device
# Why a walk passes over an entry of another kind than a file or a directory.
_KIND_SKIPS = {_LINK: reasons.SYMLINK, _UNREADABLE: reasons.UNREADABLE}
# How a walk lists directories: made ahead by a `_core.ListingAhead` (None: `_core.list_dir`).
Lister: TypeAlias = ListingAhead


def classify(
    name: str,
    where: str,
    rel: str,
    size: int,
    stamp: str,
    skips: Skips,
    language: str | None = None,
    head: bytes | None = None,
) -> Entry | None:
    """The entry for the regular file ``name`` found in a tree (at ``where``, ``rel`` from the
    walk's root; its size and stamp), or None (counted) when it is not code. ``language``: what
    ``code_language(name)`` gives, where the listing says already ("" for none); ``head``: the
    file's first `HEAD_BYTES`, where the listing read them (else an extension-less file is read
    here). Strings, not pathlib, until a file is kept: this runs for every file of a tree
    (millions on a corpus)."""
    if name in LOCK_FILES or name.endswith(".lock"):
        skips.add(where, reasons.LOCK_FILE)
        return None
    lang = code_language(name) if language is None else language
    if lang:  # first: most files of a tree are code (no code extension is a record file's)
        return Entry(where, rel, lang, size, stamp)
    if is_records(name):
        return Entry(where, rel, None, size, stamp, described=os.path.isfile(where + SIDECAR_SUFFIX))
    if not extension(name):
        # Extension-less scripts: the shebang names the interpreter.
        if head is None:
            head = read_head(where)
            if head is None:
                skips.add(where, reasons.UNREADABLE)
                return None
        lang = code_language(name, head)
    if not lang:
        skips.add(where, reasons.UNSUPPORTED_LANGUAGE)
        return None
    return Entry(where, rel, lang, size, stamp)


# Worker processes to share a walk with, or what gives them once the walk has found enough
# input for them: called between directories with the bytes of the files found so far.
SharedWith: TypeAlias = "WorkerPool | Callable[[int], WorkerPool | None]"


def walk(root: Path, skips: Skips, pool: SharedWith | None = None) -> Iterator[Entry]:
    """The code and record files under ``root``, sorted, depth first; the rest counted in ``skips``.

    ``pool``: worker processes that walk parts of the tree beside this process (see
    `_walk_shared`); the same entries and skips, in the same order. A callable gives them (or
    None, not yet) from the bytes of the files found so far: the walk asks between directories
    and shares what is left of the tree once it has them (a small tree never starts them)."""
    top = os.fspath(root)
    if pool is not None and not callable(pool):
        yield from _walk_shared(top, [_root(root)], skips, pool)
        return
    under = _under(top)
    lister = _lister()
    stack, found = [_root(root, lister)], 0
    while stack:
        for kept in _classified(_next_dir(stack, skips, under, lister), skips):
            if kept.size > 0:
                found += kept.size
            yield kept
        shared = pool(found) if pool is not None and stack else None
        if shared is not None:
            del lister  # its thread ends: the shared walk lists in its own order
            yield from _walk_shared(top, stack[::-1], skips, shared)
            return


def _lister() -> Lister | None:
    """How a walk in this process lists directories: the subtrees of each listing listed ahead
    on another core where there is one (`_core.ListingAhead`), but not the folders the walk
    passes over by name or marker; else one at a time (on one core the thread only takes turns
    with the walk)."""
    if usable_cpus() < 2:
        return None
    return ListingAhead(list(SKIP_DIRS), list(_SKIP_DIR_SUFFIXES), list(_ENV_MARKERS))


def _classified(found: Iterator[_Found], skips: Skips) -> Iterator[Entry]:
    for name, where, rel, size, stamp, language, head in found:
        kept = classify(name, where, rel, size, stamp, skips, language, head)
        if kept is not None:
            yield kept


# One directory of a walk: (its path, its path from the root, its ignore rules, its listing:
# None if unreadable).
_Dir = tuple[str, str, "_Ignore", "list[_Listed] | None"]
# A file a walk found: its name, path, path from the root, size, stamp, the language its
# extension names ("": none; None: not looked up) and its head where the listing read it.
_Found = tuple[str, str, str, int, str, "str | None", "bytes | None"]


class _Walked(NamedTuple):
    """A walked part of a tree: its entries and what it passed over, in order."""

    files: list[Entry]
    skips: Skips
    # For each listed skip, how many of the files came before it: the caller of a walk counts
    # skips of its own as files come (an empty record file, say), and the listing keeps the
    # order of a walk in one process.
    marks: list[int]


def _walked(found: Iterator[_Found], skips: Skips) -> _Walked:
    files: list[Entry] = []
    marks: list[int] = []
    for kept in _classified(found, skips):
        marks += [len(files)] * (len(skips.items) - len(marks))
        files.append(kept)
    marks += [len(files)] * (len(skips.items) - len(marks))
    return _Walked(files, skips, marks)


# A shared walk cuts a tree into at least this many subtrees, where it has them (enough for
# each of a few processes to take many, so that they finish close together), a whole level at a
# time (a level cut halfway leaves a few large subtrees behind many small ones: the last to
# finish), listing at most _MAX_CUT_DEPTH levels ahead; a directory whose subdirectories would
# make more than _MAX_PARTS is not cut (not 50,000 subtrees of a flat folder of folders).
_PARTS = 256
_MAX_PARTS = 16 * _PARTS
_MAX_CUT_DEPTH = 8


def _walk_shared(top: str, start: list[_Dir], skips: Skips, pool: WorkerPool) -> Iterator[Entry]:
    """The walk of the subtrees ``start`` (listed, in walk order) of the tree ``top``, with
    ``pool``'s processes. A walk is listing and stat calls, each with a few microseconds of
    interpreter around it: one process takes seconds over a tree of 100,000 files while the
    workers that will tokenize it wait.

    Unless there are enough of them already, this process lists the top levels of the subtrees,
    level by level, until they fall into enough subtrees (in walk order: a directory's files,
    then each subdirectory's subtree). Runs of subtrees go to the pool in order; this process
    takes runs from the other end for as long as the pool has not started them, then gathers
    everything in order, each part's skips with it. The cut depends on the tree only. A run
    whose worker died or failed is walked here."""
    under = _under(top)
    parts: list[_Walked | _Dir] = list(start)
    trees = len(parts)
    for _ in range(_MAX_CUT_DEPTH):
        if trees >= _PARTS:
            break
        cut: list[_Walked | _Dir] = []
        grown = False
        for part in parts:
            if isinstance(part, _Walked) or part[3] is None:
                cut.append(part)
                continue
            if trees > 1 and trees - 1 + sum(e[1] == _DIR for e in part[3]) > _MAX_PARTS:
                cut.append(part)
                continue
            own, subdirs = Skips(skips.limit), list[_Dir]()
            cut.append(_walked(_in_dir(part, own, under, subdirs), own))
            cut.extend(subdirs)
            trees += len(subdirs) - 1
            grown = True
        parts = cut
        if not grown:
            break
    subtrees = [i for i, p in enumerate(parts) if not isinstance(p, _Walked)]
    step = max(1, -(-len(subtrees) // _PARTS))
    runs = [subtrees[i : i + step] for i in range(0, len(subtrees), step)]
    here = [[cast(_Dir, parts[i]) for i in run] for run in runs]
    futures: list[Future[list[_Walked]]] = []
    with contextlib.suppress(BrokenExecutor, RuntimeError):  # a pool broken or shut down: walked here
        for dirs in here:
            futures.append(pool.submit(_walk_parts, dirs, top, skips.limit))
    walked: dict[int, list[_Walked]] = {}
    for r in reversed(range(len(runs))):
        if r >= len(futures) or futures[r].cancel():  # not started by the pool: walked here
            walked[r] = _walk_parts(here[r], top, skips.limit)
    for r, run in enumerate(runs):
        if r in walked:
            done = walked.pop(r)
        elif not futures[r].done() and not pool.ready():
            # Handed to a worker that is still starting: walked here rather than waited for (the
            # worker's copy, done later, goes unread). A small tree is all walked by then.
            done = _walk_parts(here[r], top, skips.limit)
        else:
            try:
                done = futures[r].result()
            except Exception:  # a worker that died, a run that could not travel: walked here
                # (an error of the walk itself comes again, from here)
                done = _walk_parts(here[r], top, skips.limit)
        for i, part in zip(run, done, strict=True):
            parts[i] = part
    for part in parts:
        assert isinstance(part, _Walked)
        skips.update(part.skips.counts)
        items, listed = part.skips.items, 0
        for i, entry in enumerate(part.files):
            if listed < len(items) and part.marks[listed] <= i:  # skips listed before this file
                upto = bisect.bisect_right(part.marks, i)
                skips.update({}, items[listed:upto])
                listed = upto
            yield entry
        skips.update({}, items[listed:])


def _walk_parts(items: list[_Dir], top: str, limit: int) -> list[_Walked]:
    """The subtrees ``items`` of the walk of ``top``, each with its skips."""
    walked = []
    under = _under(top)
    for item in items:
        skips = Skips(limit)
        walked.append(_walked(_walk_from(item, skips, under), skips))
    return walked


_EXCLUDE = ".git/info/exclude"


def _is_exclude(rel: str) -> bool:
    """Whether a listed object is a repository's exclude file (the top's or a nested one's)."""
    return rel == _EXCLUDE or rel.endswith("/" + _EXCLUDE)


def walk_url(url: str, skips: Skips) -> Iterator[Entry]:
    """The code and record objects under a URL prefix, in the order of a local walk; the rest
    counted.

    The same rules as :func:`walk`: skipped directories (and virtual environments, by their
    marker), ``.gitignore`` files in the prefix, lock files, languages by name, then shebang;
    so a tree copied to a bucket gives what the tree gives on disk. A URL naming one object
    gives that object (of any language, as a named local file does).
    """
    from codemill.sources.fs import as_local, list_files, read_urls, walk_order

    objects = list_files(url)
    if len(objects) == 1 and objects[0][1] == "":
        obj, _, size, stamp, _ = objects[0]
        name = obj.rstrip("/").rsplit("/", 1)[-1]
        language = None if is_records(name) else code_language(name, _object_heads([(obj, size)])[0]) or "generic"
        yield Entry(obj, name, language, size, stamp)
        return
    rels = {rel for _, rel, _, _, kind in objects if kind == "file"}
    # Descriptions, as a local walk finds them: a link (file:// only) counts when it leads to a file.
    sidecars = {
        rel
        for obj, rel, _, _, kind in objects
        if rel.endswith(SIDECAR_SUFFIX) and (kind == "file" or (kind == "link" and os.path.isfile(as_local(obj))))
    }
    envs = {rel.rsplit("/", 1)[0] for rel in rels if "/" in rel and rel.rsplit("/", 1)[1] in _ENV_MARKERS}
    envs |= {rel.split("/conda-meta/")[0] for rel in rels if "/conda-meta/" in rel}
    # As on disk: each repository's .git/info/exclude (the top's, a nested one's; a link is
    # read there, never for a .gitignore), then the folder's .gitignore, which wins over it.
    ignore_urls = [
        (obj, rel)
        for obj, rel, _, _, kind in objects
        if (kind == "file" and rel.rsplit("/", 1)[-1] == ".gitignore")
        or (kind in ("file", "link") and _is_exclude(rel))
    ]
    ignore_lines: dict[str, list[str]] = {}  # folder -> the lines of its ignore files
    for (_, rel), data in zip(ignore_urls, read_urls([o for o, _ in ignore_urls]), strict=True):
        lines = gitignore.lines(data.decode("utf-8", "replace"))
        if _is_exclude(rel):
            folder = rel.removesuffix(_EXCLUDE).rstrip("/")
            ignore_lines[folder] = lines + ignore_lines.get(folder, [])
        else:
            folder = rel.rpartition("/")[0]
            ignore_lines[folder] = ignore_lines.get(folder, []) + lines
    ignores: dict[str, _Ignore] = {"": _Ignore().with_lines("", ignore_lines.get("", []))}

    def ignore_in(folder: str) -> _Ignore:
        """The ignore rules in force inside ``folder`` (relative to the prefix)."""
        if folder not in ignores:
            parent = folder.rpartition("/")[0]
            ignores[folder] = ignore_in(parent).with_lines(folder, ignore_lines.get(folder, []))
        return ignores[folder]

    # Each object's outcome in walk order: an entry, a skip (where, reason), or the index in
    # ``pending`` of an object whose language only its shebang can tell (neither its name nor an
    # extension does). Their heads are fetched together, concurrently, before anything is
    # yielded: a request each, in turn, was a round trip each (the 352 such objects of a 40 MB
    # tree on a local server answering 20 ms late, as a store does: 10.4-11.0 s of planning
    # against 3.0 s).
    outcomes: list[tuple[int, Entry | tuple[str, str] | int]] = []  # (the object's index, outcome)
    pending: list[Entry] = []
    # The folders passed over, each where a walk on disk lists it: where its name falls among
    # its parent's files (in walk order, as a file of that name would be), not at its objects.
    skipped_dirs: dict[str, tuple[str, str]] = {}  # folder -> (where, reason)
    for index, (obj, rel, size, stamp, kind) in enumerate(objects):
        parts = rel.split("/")
        reason = None
        for i, part in enumerate(parts[:-1]):
            folder = "/".join(parts[: i + 1])
            reason = _passed_over_dir(
                part, folder, ignore_in("/".join(parts[:i])), functools.partial(envs.__contains__, folder)
            )
            if reason is not None:
                skipped_dirs.setdefault(folder, (f"{url.rstrip('/')}/{folder}/", reason))
                break
        if reason is not None:
            continue
        if kind != "file":  # as a local walk counts them (file:// only: a bucket holds objects)
            outcomes.append((index, (obj, reasons.SYMLINK if kind == "link" else reasons.NOT_A_FILE)))
            continue
        if ignore_in("/".join(parts[:-1])).ignored(rel, False):
            outcomes.append((index, (obj, reasons.GITIGNORED)))
            continue
        name = parts[-1]
        if name in LOCK_FILES or name.endswith(".lock"):
            outcomes.append((index, (obj, reasons.LOCK_FILE)))
            continue
        if is_records(name):
            outcomes.append((index, Entry(obj, rel, None, size, stamp, described=rel + SIDECAR_SUFFIX in sidecars)))
            continue
        lang = code_language(name)
        if lang is None and not extension(name):
            outcomes.append((index, len(pending)))
            pending.append(Entry(obj, rel, None, size, stamp))
        elif lang is None:
            outcomes.append((index, (obj, reasons.UNSUPPORTED_LANGUAGE)))
        else:
            outcomes.append((index, Entry(obj, rel, lang, size, stamp)))
    heads = _object_heads([(e.path, e.size) for e in pending])
    # In walk order (two with no object between them too), each with where it falls among the
    # objects (sorted in walk order by `list_files`).
    passed_over = [
        (bisect.bisect_left(objects, order, key=lambda o: walk_order(o[1])), where)
        for order, where in sorted((walk_order(folder), where) for folder, where in skipped_dirs.items())
    ]
    at = 0  # passed_over[:at] are listed
    for index, outcome in outcomes:
        while at < len(passed_over) and passed_over[at][0] <= index:
            skips.add(*passed_over[at][1])
            at += 1
        if isinstance(outcome, int):
            entry = pending[outcome]
            lang = code_language(entry.rel.rsplit("/", 1)[-1], heads[outcome])
            if lang is None:
                skips.add(entry.path, reasons.UNSUPPORTED_LANGUAGE)
            else:
                yield entry._replace(language=lang)
        elif isinstance(outcome, Entry):  # a tuple too: asked first
            yield outcome
        else:
            skips.add(*outcome)
    for _, where in passed_over[at:]:
        skips.add(*where)


# Heads asked for in one concurrent call at most: a bucket of a million objects starts no
# million requests (and their coroutines) at once.
_HEADS_AT_ONCE = 1024


def _object_heads(objects: list[tuple[str, int]]) -> list[bytes]:
    """The first `HEAD_BYTES` of each ``(url, size)``, for a shebang line, fetched concurrently;
    none of an empty object (a store answers a range request on zero bytes with 416)."""
    from codemill.sources.fs import read_urls

    urls = [url for url, size in objects if size != 0]
    fetched: list[bytes] = []
    for i in range(0, len(urls), _HEADS_AT_ONCE):
        fetched += read_urls(urls[i : i + _HEADS_AT_ONCE], HEAD_BYTES - 1)  # limit + 1 bytes each
    got = iter(fetched)
    return [next(got) if size != 0 else b"" for _, size in objects]


class _Ignore:
    """The ignore files in force for one directory: (base, spec) pairs, outermost first.

    Bases and matched paths are relative to the repository's top (the nearest directory with
    ``.git`` at or above the walk's root), so that a walk of ``repo/src`` still honours
    ``repo/.gitignore``; ``prefix`` is the walk root's place under that top.
    """

    def __init__(self, prefix: str = "", specs: tuple[tuple[str, gitignore.Rules], ...] = ()) -> None:
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
            lines = _read_lines(_git_dir(directory) / "info" / "exclude", follow_link=True) + lines
        return self.with_lines(base, lines)

    def listed(self, directory: str, entries: list[_Listed], rel: str) -> _Ignore:
        """`child` from the directory's listing: it is loaded only where the listing holds a
        ``.gitignore`` or a ``.git``, so most directories need no look on disk."""
        top = _entry(entries, ".git") is not None
        if not top and _entry(entries, ".gitignore") is None:
            return self  # no rules to add, as `with_lines` of nothing gives
        return self.load(Path(directory), self._full(rel), top=top)

    def with_lines(self, base: str, lines: list[str]) -> _Ignore:
        """These rules plus an ignore file's ``lines`` for the directory ``base``."""
        rules = gitignore.rules_of(tuple(lines))
        if rules is None:
            return self
        return _Ignore(self.prefix, (*self.specs, (base, rules)))

    def child(self, directory: Path, rel: str) -> _Ignore:
        # A nested repository (a submodule) brings its own exclude file, as its top does.
        # (A string join: a Path per directory cost a walk ~15%.)
        return self.load(directory, self._full(rel), top=os.path.lexists(os.path.join(directory, ".git")))

    def _full(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def ignored(self, rel: str, is_dir: bool) -> bool:
        return self._ignored_full(self._full(rel), is_dir)

    def _ignored_full(self, full: str, is_dir: bool) -> bool:
        # Deeper files win over shallower ones, and within a file the last match wins.
        for base, rules in reversed(self.specs):
            found = rules.ignored(full[len(base) + 1 :] if base else full, is_dir)
            if found is not None:
                return found
        return False


def _git_top(root: Path) -> Path | None:
    """The nearest directory at or above ``root`` that holds ``.git``, or None."""
    path = root.resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_dir(top: Path) -> Path:
    """The directory of ``top``'s git state: ``.git``, or where a ``.git`` file (a worktree, a
    submodule) points, and for a worktree the repository's common one, which holds info/."""
    dot = top / ".git"
    try:
        if not dot.is_file():
            return dot
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
        gitdir = top / text.removeprefix("gitdir:").strip() if text.startswith("gitdir:") else dot
        common = gitdir / "commondir"
        return gitdir / common.read_text(encoding="utf-8").strip() if common.is_file() else gitdir
    except OSError:
        return dot


def _read_lines(path: Path, follow_link: bool = False) -> list[str]:
    """The lines of an ignore file; none unless it is a regular file (a FIFO would block the walk),
    nor a link where git reads none (a .gitignore in the tree; info/exclude may be one)."""
    try:
        if not stat.S_ISREG((path.stat() if follow_link else path.lstat()).st_mode):
            return []
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            return gitignore.lines(f.read())
    except OSError:
        return []


def _passed_over_dir(name: str, rel: str, ignore: _Ignore, is_env: Callable[[], bool]) -> str | None:
    """Why a walk does not enter the directory ``name`` (``rel`` from its root), if it does not:
    the one rule of the local and the URL walk. ``is_env``: whether it holds a virtual
    environment's marker (asked last: a look on disk for a local walk)."""
    reason = SKIP_DIRS.get(name)
    if reason is None and name.endswith(_SKIP_DIR_SUFFIXES):
        reason = reasons.BUILD_OUTPUT
    if reason is None and is_env():
        reason = reasons.TOOL_STATE
    if reason is None and ignore.ignored(rel, True):
        reason = reasons.GITIGNORED
    return reason


def _is_env(path: str) -> bool:
    """Whether the directory ``path`` holds a virtual environment's marker."""
    return any(os.path.exists(os.path.join(path, m)) for m in _ENV_MARKERS)


def _listed_env(path: str, entries: list[_Listed]) -> bool:
    """`_is_env` from the listing of the directory ``path`` (a link counts where it leads to
    something)."""
    for marker in _ENV_MARKERS:
        entry = _entry(entries, marker)
        if entry is not None and (entry[1] != _LINK or os.path.exists(os.path.join(path, marker))):
            return True
    return False


def _env_listed(path: str, listing: list[list[_Listed] | None], lister: Lister | None = None) -> bool:
    """`_is_env` by listing the directory; the listing is appended to ``listing`` for the walk."""
    listing.append(_listing(path, lister))
    return listing[0] is not None and _listed_env(path, listing[0])


def _entry(entries: list[_Listed], name: str) -> _Listed | None:
    """The entry called ``name`` of a listing, if there is one."""
    i = bisect.bisect_left(entries, name, key=_NAME)
    return entries[i] if i < len(entries) and entries[i][0] == name else None


_NAME = operator.itemgetter(0)


# The core sorts names as UTF-8 names decode (with surrogateescape), Python's file system
# encoding nearly everywhere (a C or POSIX locale included); under another, the walk sorts.
_UTF8_NAMES = sys.getfilesystemencoding() == "utf-8" and sys.getfilesystemencodeerrors() == "surrogateescape"


def _listing(path: str, lister: Lister | None = None) -> list[_Listed] | None:
    """A directory's entries sorted by name; None if it cannot be read. In the Rust core: the
    listing, a stat of each file and the sort cost the walk more than its rules did in Python."""
    listed = lister.list_dir(path) if lister is not None else list_dir(path)
    if listed is not None and not _UTF8_NAMES:
        listed.sort(key=_NAME)
    return listed


def walk_reaches(root: Path, target: Path) -> bool:
    """Whether a walk of the directory ``root`` reads ``target`` (a path under it) or, for a
    directory, any file that a walk of ``target`` reads: what the two walks would both read.
    Follows only the paths concerned, with the walk's own rules (both resolved paths)."""
    ignores: dict[Path, _Ignore | None] = {root: _Ignore.for_root(root)}

    def ignore_at(directory: Path) -> _Ignore | None:
        """The rules in force in ``directory``; None where the walk does not enter it."""
        if directory not in ignores:
            parent = ignore_at(directory.parent)
            rel = directory.relative_to(root).as_posix()
            if (
                parent is None
                or directory.is_symlink()
                or _passed_over_dir(directory.name, rel, parent, lambda: _is_env(str(directory))) is not None
            ):
                ignores[directory] = None
            else:
                ignores[directory] = parent.child(directory, rel)
        return ignores[directory]

    def reads(file: Path) -> bool:
        rules = ignore_at(file.parent)
        return rules is not None and not rules.ignored(file.relative_to(root).as_posix(), False)

    if target.is_dir() and not target.is_symlink():
        return ignore_at(target) is not None and any(reads(Path(e.path)) for e in walk(target, Skips()))
    if target.is_symlink() or not target.is_file() or not reads(target):
        return False
    # Named alone, any file is read; the walk keeps only code and record files, no lock files.
    return classify(target.name, str(target), target.name, *file_stat(target), Skips()) is not None


def _under(top: str) -> Callable[[str], str]:
    """What ``str(Path(top) / rel)`` gives, without a Path per name."""
    return (lambda rel: rel) if top == "." else (lambda rel: f"{top.rstrip('/')}/{rel}")


def _root(root: Path, lister: Lister | None = None) -> _Dir:
    """The walk's first directory: ``root`` itself, listed."""
    top = os.fspath(root)
    return (top, "", _Ignore.for_root(root), _listing(top, lister))


def _walk_from(start: _Dir, skips: Skips, under: Callable[[str], str]) -> Iterator[_Found]:
    """The files of the subtree ``start`` that are not ignored, sorted, depth first."""
    stack = [start]
    while stack:
        yield from _next_dir(stack, skips, under)


def _next_dir(
    stack: list[_Dir], skips: Skips, under: Callable[[str], str], lister: Lister | None = None
) -> Iterator[_Found]:
    """The files of the next directory of a walk whose subtrees still to walk are ``stack`` (the
    next one last); the directory's own subdirectories go on it."""
    subdirs: list[_Dir] = []
    yield from _in_dir(stack.pop(), skips, under, subdirs, lister)
    stack.extend(reversed(subdirs))


def _in_dir(
    item: _Dir, skips: Skips, under: Callable[[str], str], subdirs: list[_Dir], lister: Lister | None = None
) -> Iterator[_Found]:
    """The files of one directory that are not ignored, in order; the subdirectories the walk
    enters go to ``subdirs``, in order.

    A directory is listed when its parent is, before the walk enters it: the listing says
    whether it holds a virtual environment's marker, a ``.gitignore`` or a ``.git`` (four looks
    on disk a directory otherwise, for files that are nearly always absent)."""
    directory, rel_dir, ignore, entries = item
    if entries is None:
        skips.add(directory, reasons.UNREADABLE)
        return
    # Paths as os.scandir joins them, but those in "." are "a", not "./a", as a Path says.
    prefix = "" if directory == "." else directory if directory.endswith("/") else directory + "/"
    for name, kind, size, stamp, language, head in entries:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        if kind == _FILE:
            if ignore.specs and ignore.ignored(rel, False):  # (most folders have no rules: no call)
                skips.add(under(rel), reasons.GITIGNORED)
                continue
            yield name, prefix + name, rel, size, stamp, language, head
        elif kind == _DIR:
            path = prefix + name
            listing: list[list[_Listed] | None] = []
            reason = _passed_over_dir(name, rel, ignore, functools.partial(_env_listed, path, listing, lister))
            if reason is not None:
                skips.add(under(rel) + "/", reason)
                if lister is not None and reason == reasons.GITIGNORED:
                    # Listed ahead maybe, and its subtree queued (the lister leaves out the
                    # folders passed over by name or marker itself).
                    lister.pass_over(path)
                continue
            sub = listing[0] if listing else _listing(path, lister)  # listed by the env check, else now
            subdirs.append((path, rel, ignore if sub is None else ignore.listed(path, sub, rel), sub))
        else:
            skips.add(under(rel), _KIND_SKIPS.get(kind, reasons.NOT_A_FILE))
