"""Memory of a benchmark run: the resident set of a process and every process it started
(pool workers, Ray nodes), sampled from /proc while it runs."""

from __future__ import annotations

import os
import subprocess
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")


def start_as_the_command(engine: str) -> None:
    """Sets this (benchmark child) process's malloc as the `codemill` command sets its own, so its
    memory is the command's: `tune_malloc`; a checkout from before it capped the arenas only
    (`cap_malloc_arenas`), and one from before that (no `codemill._malloc`) set nothing."""
    try:
        from codemill import _malloc
    except ImportError:
        return
    setup = getattr(_malloc, "tune_malloc", None) or _malloc.cap_malloc_arenas
    setup(engine)


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces): state first."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and every descendant (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry)[1])
            with open(f"/proc/{entry}/statm") as f:
                resident = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = resident * _PAGE
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def run_with_peak_rss(
    cmd: list[str], env: dict[str, str] | None = None, interval: float = 0.02
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Runs ``cmd`` to the end, capturing its output; returns it and the peak RSS in bytes of
    its process tree."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(interval)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), peak[0]
