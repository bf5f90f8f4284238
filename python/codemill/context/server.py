"""Context for an editor or agent that asks again and again: one process keeps the repository
graph and the tokenizer loaded and answers requests, one JSON line in, one JSON line out.

A one-off `codemill context` call pays for starting Python, the imports, loading the graph and
the tokenizer (~0.25 s) before it ranks anything (~25-55 ms on the standard library); a served
call pays only the ranking. The graph is reloaded when `codemill index` has rewritten it, so a
long-lived server follows the index.

Request: ``{"file": PATH, "budget": 2000, "query": "...", "id": ANY}`` (only ``file`` needed).
Answer: the fields of ``codemill context --json`` plus ``id`` and ``ms``; or ``{"id": ...,
"error": "..."}`` for that request alone (bad JSON, no such file, a bad budget), never an exit.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from codemill.context.builder import ContextBuilder
from codemill.context.graph import ImportGraph
from codemill.context.graph_store import GRAPH_FILE
from codemill.errors import CodemillError

DEFAULT_BUDGET = 2000


class ContextServer:
    """Answers context requests over one index's saved graph (see the module docstring)."""

    def __init__(self, index_dir: str | os.PathLike[str], tokenizer: Any = None, budget: int = DEFAULT_BUDGET) -> None:
        self.graph_path = Path(index_dir) / GRAPH_FILE
        self.tokenizer = tokenizer
        self.budget = budget
        """Tokens for a request that names no budget."""
        self._stamp: tuple[int, int] | None = None
        self._builder: ContextBuilder | None = None
        self.builder()  # a missing or unreadable graph is the caller's error, before any request

    def builder(self) -> ContextBuilder:
        """The builder over the graph as saved now (reloaded when the file changed)."""
        st = self.graph_path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if self._builder is None or stamp != self._stamp:
            self._builder = ContextBuilder(ImportGraph.load(self.graph_path), self.tokenizer)
            self.tokenizer = self._builder.tokenizer  # loaded once, kept across reloads
            self._stamp = stamp
        return self._builder

    def answer(self, line: str) -> dict[str, Any]:
        """The answer to one request line."""
        t0 = time.perf_counter()
        try:
            req = json.loads(line)
        except json.JSONDecodeError as e:
            return {"id": None, "error": f"not a JSON request: {e.msg} at column {e.colno}"}
        except (ValueError, RecursionError) as e:  # an int of 5,000 digits; nesting 100,000 deep
            return {"id": None, "error": f"not a JSON request: {str(e).splitlines()[0][:200]}"}
        if not isinstance(req, dict):
            return {"id": None, "error": 'a request is a JSON object: {"file": PATH, ...}'}
        rid = req.get("id")
        try:
            file, budget, query = _fields(req, self.budget)
            path = Path(file)
            if not path.is_file():
                raise CodemillError(f"{file}: no such file")
            builder = self.builder()
            ctx = builder.context(path.resolve(), budget, query=query)
        except (CodemillError, OSError) as e:
            return {"id": rid, "error": str(e)}
        return {"id": rid, "repo": str(builder.graph.root), **ctx.to_dict(), "ms": _ms(t0)}

    def serve(self, lines: Iterable[str], out: TextIO) -> int:
        """Answers each non-blank line of ``lines`` on ``out`` (flushed per answer); returns the
        number of requests answered with an error."""
        errors = 0
        for line in lines:
            if not line.strip():
                continue
            reply = self.answer(line)
            errors += "error" in reply
            out.write(json.dumps(reply) + "\n")
            out.flush()
        return errors


def _fields(req: dict[str, Any], default_budget: int) -> tuple[str, int, str | None]:
    file, budget, query = req.get("file"), req.get("budget", default_budget), req.get("query")
    if not isinstance(file, str) or not file:
        raise CodemillError('"file" must name the file being worked on')
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise CodemillError(f'"budget" must be a positive number of tokens, got {budget!r}')
    if query is not None and not isinstance(query, str):
        raise CodemillError(f'"query" must be text, got {query!r}')
    return file, budget, query


def _ms(t0: float) -> float:
    return round(1000 * (time.perf_counter() - t0), 2)
