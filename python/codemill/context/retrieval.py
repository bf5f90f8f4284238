"""Retrieval for the assistant: a retrieved snippet (:class:`Hit`), what a retriever is
(:class:`Retriever`), and the hybrid index as one (:class:`IndexRetriever`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from codemill.errors import AssistantError


@dataclass(frozen=True)
class Hit:
    """A retrieved snippet: where it is and its text."""

    path: str
    start_line: int
    end_line: int
    text: str
    score: float = 0.0
    symbol: str | None = None

    @property
    def label(self) -> str:
        what = f" {self.symbol}" if self.symbol else ""
        return f"==> {self.path}:{self.start_line}-{self.end_line}{what} <=="


@runtime_checkable
class Retriever(Protocol):
    """Anything that finds snippets for a query, best first."""

    def search(self, query: str, k: int) -> Sequence[Hit]: ...


class IndexRetriever:
    """Adapts :class:`codemill.index.hybrid.HybridIndex` (hybrid dense + keyword search) to
    :class:`Retriever`. Its results carry a ``chunk`` (path, start_line, end_line, symbol,
    text) and a ``score``."""

    def __init__(self, index: Any, directory: str | os.PathLike[str] | None = None) -> None:
        self.index = index
        self.directory = directory  # where the index keeps its repository graph, if loaded from one

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> IndexRetriever:
        try:
            from codemill.index.hybrid import HybridIndex  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            if exc.name == "codemill.index.hybrid":
                raise AssistantError(
                    "the hybrid index (codemill.index.hybrid) is not part of this codemill installation"
                ) from None
            raise AssistantError(f"the hybrid index needs {exc.name or 'a missing package'}: {exc}") from None
        return cls(HybridIndex.load(directory), directory)

    def search(self, query: str, k: int) -> list[Hit]:
        results = self.index.search(query, k=k)
        if self.directory is not None:
            # The definitions a question names first, as `codemill search` shows them.
            from codemill.context.lookup import named_first_in

            results, _ = named_first_in(self.directory, self.index, query, results, k)
        hits = []
        for r in results:
            c = getattr(r, "chunk", r)
            hits.append(
                Hit(
                    c.path,
                    c.start_line,
                    c.end_line,
                    c.text,
                    float(getattr(r, "score", 0.0)),
                    getattr(c, "symbol", None),
                )
            )
        return hits
