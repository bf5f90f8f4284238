"""Progress of a corpus run on the shared progress line (`codemill.progress`): tasks done,
and the bytes, documents, tokens and rate behind them."""

from __future__ import annotations

import time
from typing import TextIO

from codemill.corpus.manifest import TaskRecord
from codemill.progress import Progress


class TaskProgress:
    """Counts the records of a run's tasks: those an earlier run committed (`resumed`, not
    shown) and those this run commits (`update`, shown as `Progress` throttles it)."""

    def __init__(self, total_bytes: int, total_tasks: int, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.line = Progress("tokenize", total_tasks, "tasks", stream=stream, interval=interval)
        self.total_bytes = total_bytes
        self.t0 = time.monotonic()
        self.tasks = self.bytes = self.documents = self.tokens = self.run_bytes = 0

    def resumed(self, rec: TaskRecord) -> None:
        self.tasks += 1
        self.bytes += rec["task"]["size"]
        self.documents += rec["documents"]
        self.tokens += rec["tokens"]

    def update(self, rec: TaskRecord) -> None:
        self.resumed(rec)
        self.run_bytes += rec["task"]["size"]
        self.line.update(self.tasks, self._detail())

    def close(self) -> None:
        """The last line, also for a run with nothing left to do (no task updated it)."""
        if self.line.done != self.tasks or not self.line.detail:
            self.line.done, self.line.detail = self.tasks, self._detail()
        self.line.close()

    def fail(self) -> None:
        """Ends the line of a run that failed, so that its error stands on a line of its own."""
        self.line.end()

    def _detail(self) -> str:
        rate = self.run_bytes / 1e6 / max(time.monotonic() - self.t0, 1e-9)  # this run's tasks
        return (
            f"{self.bytes / 1e6:,.1f}/{self.total_bytes / 1e6:,.1f} MB, {self.documents:,} docs,"
            f" {self.tokens:,} tokens, {rate:.1f} MB/s"
        )
