"""Removing a tree a program wrote, whatever it did to it.

The tree may be deeper than any recursion limit or PATH_MAX, hold directories with mode
000 and symlinks to anywhere. So: one directory fd at a time (no recursion, no long
paths), never following a symlink (O_NOFOLLOW on every descent, links are unlinked, not
chased), and modes changed only on entries that lstat says are real directories.

Standalone on purpose (no codemill imports): the harness uses it in bare interpreters.
"""

import contextlib
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path):
    """Remove `path` and everything under it; OSError if something could not be removed."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    fd = _open_dir(path, None)
    names = []  # the way down from `path`, one name per level
    try:
        while True:
            child = _empty_or_descend(fd)
            if child is not None:
                names.append(child)
                parent, fd = fd, _open_dir(child, fd)
                os.close(parent)
                continue
            if not names:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _open_dir(name, dir_fd):
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # mode 000: we own it (or are root), so make it ours again
        os.chmod(name, 0o700, dir_fd=dir_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _empty_or_descend(fd):
    """Unlink every non-directory in `fd`; the name of a subdirectory to visit, or None."""
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o700)  # writable and searchable, or nothing inside can go
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=fd)
    return None
