"""What a process leaves on disk while it works, and removing it once that process is gone.

Scratch directories (``codemill-{kind}-{pid}-...`` in the temporary directory) and the
temporaries of outputs being written (``.NAME.tmpPID`` beside ``NAME``; a directory output's old
copy, ``.NAME.oldPID``, during its swap) are named after their process and held under an
exclusive ``flock`` while in use. A process killed with kill -9 runs no cleanup, so the next
run removes them: only when the named process is gone *and* nobody holds the lock, as a pid
alone says nothing about another pid namespace (containers sharing ``/tmp``) or another host.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the pid alone decides
    fcntl = None  # type: ignore[assignment]

__all__ = ["hold", "reclaim", "remove_orphans", "scratch_dir"]


def hold(fd: int) -> None:
    """Marks the open file or directory ``fd`` in use for as long as it stays open."""
    if fcntl is None:
        return
    for _ in range(100):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.001)  # another run is looking (`_held` locks for an instant)
        except OSError:
            return  # a file system without locks: the pid alone decides


def _held(path: Path) -> bool:
    """Whether some process holds ``path`` (a regular file or a directory) under `hold`. What
    cannot be opened to tell (another user's, one under a lease) counts as held: it is kept."""
    if fcntl is None:
        return False
    try:
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return False  # only our files and directories are ever held
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError as exc:
        # Locked by someone. Any other failure is a file system without these locks (NFS takes
        # a read-only descriptor's exclusive lock as EBADF): there `hold` took none either, and
        # the pid alone decides.
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)  # releases the lock just taken


def _gone(pid: str) -> bool:
    """Whether ``pid`` names a process that has ended here (not one of another user's, alive)."""
    if not (pid.isascii() and pid.isdigit()):
        return False  # a name not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False  # alive (another user's process, say), or no pid at all
    return _zombie(pid)


def _zombie(pid: str) -> bool:
    """Whether the process ``pid`` has ended and waits to be reaped, as Linux's ``/proc`` says:
    its files, and so its locks, are closed. A worker killed with its run stays one until a
    parent reaps it, and an init that reaps slowly left its scratch directories to a resume
    started at once, which took them for a live process's."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            line = f.read()
    except OSError:
        return False  # not Linux, or gone since: the caller's next look decides
    # "pid (name) state ...": the name may hold spaces and parentheses itself.
    if line[line.rfind(b")") + 2 :][:1] not in (b"Z", b"X"):
        return False
    try:  # a main thread that ended while others run shows Z too: the process is alive
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except OSError:
        return True  # reaped meanwhile


def _abandoned(path: Path, pid: str) -> bool:
    # Our own pid: a process before us in this container had it, or we never use the name now.
    return (pid == str(os.getpid()) or _gone(pid)) and not _held(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_orphans(prefix: str) -> None:
    """Removes the abandoned ``{prefix}{pid}-...`` files and directories of the temporary
    directory; names without a pid are left alone."""
    for f in Path(tempfile.gettempdir()).glob(f"{prefix}*-*"):
        pid = f.name[len(prefix) :].split("-", 1)[0]
        if pid != str(os.getpid()) and _abandoned(f, pid):
            _remove(f)


def reclaim(target: Path) -> None:
    """Before ``target`` is written: removes the abandoned temporaries of earlier writers beside
    it. A directory swap cut short between its two renames left no ``target``, only its old copy
    and, beside it, the new one staged under the same pid: the old copy is put back, as the swap
    would have on an error. (An old copy alone is one whose removal was cut short, after the
    swap: half deleted, never put back.)"""
    tmp, old = f".{target.name}.tmp", f".{target.name}.old"
    try:
        names = sorted(os.listdir(target.parent))
    except OSError:
        return
    for name in names:
        head = old if name.startswith(old) else tmp if name.startswith(tmp) else None
        if head is None:
            continue
        pid = name[len(head) :]
        path = target.parent / name
        if not _abandoned(path, pid):
            continue
        staged = head == old and os.path.isdir(target.parent / f"{tmp}{pid}")
        if staged and not os.path.lexists(target):
            with contextlib.suppress(OSError):  # another run got there first
                os.replace(path, target)
        if path.exists():
            _remove(path)


_scratch_kinds: set[str] = set()


@contextlib.contextmanager
def scratch_dir(kind: str) -> Iterator[str]:
    """A local scratch directory ``codemill-{kind}-{pid}-...``, held while the block runs and
    removed after it. What processes killed with kill -9 left under the same kind is removed
    first, once a process."""
    prefix = f"codemill-{kind}-"
    if kind not in _scratch_kinds:
        _scratch_kinds.add(kind)
        remove_orphans(prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as path:
        if fcntl is None:  # not POSIX (a directory cannot be opened there either)
            yield path
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            hold(fd)
            yield path
        finally:
            os.close(fd)
