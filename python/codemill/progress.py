"""Progress of a step that can take more than a second, on stderr: on a terminal one line
redrawn in place (a bar when the total is known), elsewhere (a log, CI) a plain line every few
seconds, so a long step is never silent. Every command's progress goes through `Progress`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

__all__ = ["Progress", "progress_iter"]

T = TypeVar("T")
_BAR = 24


class Progress:
    """``label: done/total unit [bar] pct, detail``; ``advance`` and ``update`` are cheap to call
    often (output is throttled: 0.2 s on a terminal, ``interval`` seconds elsewhere)."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 5.0,
    ) -> None:
        self.label, self.total, self.unit, self.enabled = label, total, unit, enabled
        self.stream: Any = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else interval
        self.t0 = time.monotonic()
        self.last = self.t0 if not self.tty else 0.0
        self.done = 0
        self.detail = ""
        self.shown = False
        self._last: tuple[int, str] | None = None  # (done, detail) of the line last shown

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        self.update(self.done + n, detail)

    def update(self, done: int, detail: str | None = None, force: bool = False) -> None:
        self.done = done
        if detail is not None:
            self.detail = detail
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            self._show(now)

    def _line(self, now: float) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = f" [{'#' * int(frac * _BAR):<{_BAR}}]" if self.tty else ""
            text = f"{self.label}: {self.done:,}/{self.total:,}{unit}{bar} {100 * frac:.0f}%"
        elif self.done:
            text = f"{self.label}: {self.done:,}{unit}"
        else:  # a step without counts: said when it starts, and how it ended
            return f"{self.label}: {self.detail}" if self.detail else f"{self.label} ..."
        elapsed = now - self.t0
        text += f", {elapsed:.0f}s" if elapsed >= 1 else ""
        return text + (f", {self.detail}" if self.detail else "")

    def _show(self, now: float) -> None:
        self.shown = True
        self._last = (self.done, self.detail)
        text = "\r" + self._line(now) + "\x1b[K" if self.tty else self._line(now) + "\n"
        self.enabled = show_progress(self.stream, text)

    def close(self) -> None:
        """The final line: where the step shown anything, counted anything or took a second."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and self._last == (self.done, self.detail):
            return  # the last line said it already (a log gets no copy of it)
        if self.shown or self.done or self.detail or now - self.t0 >= 1.0:
            self._show(now)
            if self.tty and self.enabled:
                self.enabled = show_progress(self.stream, "\n")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.end()

    def end(self) -> None:
        """Ends the line of a step that failed, without a last one: on a terminal the line drawn
        is ended, so that the error stands on a line of its own."""
        if self.enabled and self.shown and self.tty:
            self.enabled = show_progress(self.stream, "\n")
        self.enabled = False


def show_progress(stream: TextIO, text: str) -> bool:
    """Writes ``text`` to the progress stream; False once its reader went away (`2>&1 | head`):
    the work goes on without progress, where a BrokenPipeError ended a tokenize run half done
    (exit status 0, its manifest incomplete)."""
    try:
        stream.write(text)
        stream.flush()
    except OSError:
        return False
    return True


def progress_iter(
    items: Iterable[T], label: str, total: int | None = None, unit: str = "", enabled: bool = True
) -> Iterator[T]:
    """``items``, advancing a `Progress` by one per item."""
    with Progress(label, total, unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.advance()
