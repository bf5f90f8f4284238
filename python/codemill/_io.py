"""Atomic writes: an output is either the old one or the whole new one, never half-written.

Every writer in codemill (tokenizer files, token shards and manifests, prepared samples, index
directories) goes through these helpers: data is written under a temporary name in the same
directory, flushed to disk, then renamed over the target (a rename within one file system is
atomic). A directory output is built beside the target and swapped in whole.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from codemill._json import json_text
from codemill._leftovers import hold, reclaim
from codemill.errors import SourceError

__all__ = [
    "InterruptedWhenWritten",
    "atomic_dir",
    "atomic_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "compressing",
    "fsync_dir",
    "naming",
    "remove_tree",
    "through_link",
    "tmp_name",
]


def tmp_name(path: Path) -> Path:
    """The temporary name ``path`` is written under before the rename.

    Hidden, and carrying the pid, so a stray worker of a killed run never collides with the
    run that resumes it.
    """
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def fsync_dir(path: Path) -> None:
    """Makes a rename inside ``path`` durable (POSIX needs the directory itself synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    mode: str = "wb",
    before_replace: Callable[[int], None] | None = None,
    **open_kw: Any,
) -> Iterator[IO[Any]]:
    """Opens a temporary file that replaces ``path`` when the block ends without an error
    (its directory made if missing). ``before_replace(size)`` runs once the file is complete and
    before it replaces ``path`` (to publish what describes it first).

    On an error (or Ctrl-C) the temporary file is removed and ``path`` keeps its old content.
    A ``path`` that is a symbolic link is written through: the file beside its target replaces
    the target, and the link stays.
    """
    spelled = Path(path)
    target = through_link(spelled)
    tmp = tmp_name(target)
    target.parent.mkdir(parents=True, exist_ok=True)  # as tokenize and prepare make theirs
    with naming(spelled, tmp):  # the output as the user named it
        try:
            with open(tmp, mode, **open_kw) as f:
                hold(f.fileno())  # in use: not an orphan to a run that looks beside the target
                yield f
                f.flush()
                os.fsync(f.fileno())
                if before_replace is not None:
                    before_replace(os.fstat(f.fileno()).st_size)
                os.replace(tmp, target)  # still held: renamed before the lock goes
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def through_link(path: Path) -> Path:
    """Where an output named ``path`` is written: the target of a symbolic link, resolved as far
    as the links go (as outputs.py compares it), else ``path``. Renamed over the link, the output
    replaced it, and its target (a file or folder on a bigger disk, say) kept the previous one."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextlib.contextmanager
def naming(target: Path, tmp: Path) -> Iterator[None]:
    """An OSError about writing ``tmp`` raised in the block names ``target`` instead: the output
    the user gave, not its hidden temporary (a full disk's ENOSPC names no file at all)."""
    try:
        yield
    except OSError as exc:
        if _writing(exc, tmp):
            raise type(exc)(exc.errno, exc.strerror, str(target)) from None
        raise


def _writing(exc: OSError, tmp: Path) -> bool:
    """Whether ``exc`` is about writing ``tmp`` or a file in it (and not, say, about an input
    read in the block)."""
    if isinstance(exc.filename, str | os.PathLike):
        name = Path(exc.filename)
        return name == tmp or tmp in name.parents
    if exc.filename is not None:  # a file descriptor or bytes: not a path of ours
        return False
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def compressing(name: str | os.PathLike[str], raw: IO[bytes]) -> Iterator[IO[bytes]]:
    """What writes into ``raw`` compressed as ``name`` says: ``.gz``, ``.zst`` or not at all.

    Gzip output carries no file name and no time, so the same data gives the same bytes;
    level 6 (zlib's default) compresses about as well as 9 at a fraction of the time.
    """
    lower = Path(name).name.lower()
    if lower.endswith(".gz"):
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            yield gz  # type: ignore[misc]
    elif lower.endswith(".zst"):
        try:
            import zstandard
        except ImportError as exc:
            raise SourceError(f"{name}: writing .zst needs zstandard: pip install 'codemill[corpus]'") from exc
        with zstandard.ZstdCompressor().stream_writer(raw, closefd=False) as zst:
            yield zst
    else:
        yield raw


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_file(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_bytes(path, json_text(obj).encode("utf-8"))


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Removes a file or directory tree without following symlinks; missing is fine."""
    p = Path(path)
    if p.is_symlink() or p.is_file():
        p.unlink(missing_ok=True)
    elif p.exists():
        shutil.rmtree(p)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields an empty staging directory that replaces the directory ``path`` as a whole.

    The caller writes every file of the output into the staging directory; when the block ends
    without an error, the old ``path`` (if any) is moved aside, the staging directory renamed to
    ``path`` and the old one removed. On an error the staging directory is removed and ``path``
    is left as it was. Nothing of an earlier output survives beside the new one. A ``path`` that
    is a symbolic link is written through: the swap happens beside its target, and the link
    stays, pointing at the new output.
    """
    spelled = Path(path)
    target = through_link(spelled)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = tmp_name(target)
    old = target.with_name(f".{target.name}.old{os.getpid()}")
    reclaim(target)  # what runs killed with kill -9 left, and this pid's leftovers
    remove_tree(stage)
    stage.mkdir()
    fd = os.open(stage, os.O_RDONLY)
    staged = os.fstat(fd)
    hold(fd)  # in use: not an orphan to a run that looks beside the target
    try:
        try:
            with naming(spelled, stage):  # the output as the user named it
                try:
                    yield stage
                    if target.exists():
                        os.replace(target, old)
                    os.replace(stage, target)
                except BaseException:
                    remove_tree(stage)
                    if old.exists() and not target.exists():
                        os.replace(old, target)
                    raise
        finally:
            os.close(fd)
        fsync_dir(target.parent)
        with contextlib.suppress(OSError):  # left to the next run's `reclaim`, the run complete
            remove_tree(old)
    except KeyboardInterrupt:
        # One that came once the new output was in place (as soon as the rename returned, say)
        # says so: it was "interrupted; the previous output is intact". The staged folder's
        # identity tells, not a flag the interrupt could come before.
        if not _same_file(target, staged):
            raise
        raise InterruptedWhenWritten(str(spelled)) from None


def _same_file(path: Path, st: os.stat_result) -> bool:
    try:
        return os.path.samestat(os.stat(path), st)
    except OSError:
        return False


class InterruptedWhenWritten(KeyboardInterrupt):
    """A Ctrl-C once an output was in place (its folder synced, its old copy removed after): the
    output named by ``args[0]`` is complete."""


def check_regular_file(path: Path, error: type[Exception]) -> Path:
    """``path`` if it is a regular file (or a link to one), else ``error`` naming it: a FIFO or a
    device would block the read that follows forever (a file given as a tokenizer is read whole).
    A missing path passes, for the read to say so."""
    if path.exists() and not path.is_file():
        raise error(f"{path}: not a regular file")
    return path
