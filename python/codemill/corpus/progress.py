"""Progress of a corpus run: one updating line on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from codemill.corpus.manifest import TaskRecord
from codemill.progress import show_progress


class Progress:
    """Bytes, documents, tokens and rate of the tasks done so far."""

    def __init__(self, total_bytes: int, total_tasks: int, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.stream: Any = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total_bytes = total_bytes
        self.total_tasks = total_tasks
        self.t0 = self.last = time.monotonic()
        self.interval = 0.2 if self.tty else interval
        self.tasks = self.bytes = self.documents = self.tokens = self.run_bytes = 0
        self.lost = False  # the stream's reader went away: the run goes on without progress

    def resumed(self, rec: TaskRecord) -> None:
        self.tasks += 1
        self.bytes += rec["task"]["size"]
        self.documents += rec["documents"]
        self.tokens += rec["tokens"]

    def update(self, rec: TaskRecord) -> None:
        self.resumed(rec)
        self.run_bytes += rec["task"]["size"]
        now = time.monotonic()
        if now - self.last >= self.interval or self.tasks == self.total_tasks:
            self.last = now
            self.show(now)

    def show(self, now: float) -> None:
        rate = self.run_bytes / 1e6 / max(now - self.t0, 1e-9)
        pct = 100.0 * self.bytes / max(self.total_bytes, 1)
        line = (
            f"tokenize: {self.tasks}/{self.total_tasks} tasks, {self.bytes / 1e6:,.1f}/{self.total_bytes / 1e6:,.1f} MB"
            f" ({pct:.0f}%), {self.documents:,} docs, {self.tokens:,} tokens, {rate:.1f} MB/s"
        )
        if self.lost:
            return
        end = "\n" if not self.tty or self.tasks == self.total_tasks else ""
        self.lost = not show_progress(self.stream, ("\r" if self.tty else "") + line + end)
