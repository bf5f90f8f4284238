"""A retrieval-augmented code assistant over any OpenAI-compatible chat-completions endpoint.

:class:`CodeAssistant` retrieves snippets for a question (from a :class:`Retriever`, such as
the hybrid index through :class:`IndexRetriever`), adds the repository context of the file
being edited (:class:`codemill.context.builder.ContextBuilder`), builds a prompt that fits the
model's context window, and asks a chat-completions endpoint (vLLM, llama.cpp server, Ollama,
hosted APIs) through :class:`codemill.context.chat.ChatClient`, streaming the answer::

    assistant = CodeAssistant(IndexRetriever.load("index/"), repo=".", client=ChatClient(url, model))
    answer = await assistant.answer("where is the config parsed?", current_file="app/main.py")

Token counts are codemill's tokenizer's; a model's own tokenizer counts differently, so the
prompt keeps a margin (``reserve``) below the window.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from codemill.context.chat import ChatClient
from codemill.context.retrieval import Retriever
from codemill.errors import AssistantError
from codemill.syntax.lines import source_lines

DEFAULT_SYSTEM_PROMPT = (
    "You are a coding assistant working in a software repository. Answer the question using the "
    "repository excerpts below; each is labelled with its path and line numbers, cite them as "
    "path:line when you rely on them. If the excerpts do not contain the answer, say so and "
    "answer from general knowledge, making clear which parts are not from the repository."
)
# Tokens a chat template spends on each message (role markers, separators).
MESSAGE_OVERHEAD = 8


SourceKind = Literal["snippet", "context", "file"]


@dataclass(frozen=True)
class Source:
    """A piece of the repository that went into a prompt."""

    path: str
    start_line: int
    end_line: int
    kind: SourceKind
    score: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    sources: list[Source]
    tokens: int
    budget: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "sources": [asdict(s) | {"label": s.label} for s in self.sources],
            "tokens": self.tokens,
            "budget": self.budget,
        }


@dataclass
class Answer:
    text: str
    prompt: Prompt
    model: str | None = None
    sources: list[Source] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.text, "model": self.model, **self.prompt.to_dict()}


class CodeAssistant:
    """Answers questions about a repository with retrieved snippets and file context.

    ``retriever`` finds snippets for the question; ``context`` (a ``ContextBuilder``, or built
    from ``repo``) supplies the context of ``current_file``. The prompt fits in
    ``context_window - max_answer_tokens - reserve`` tokens: the current file gets up to
    ``file_share`` of the room, its repository context up to ``context_share``, and the
    snippets the rest.
    """

    def __init__(
        self,
        retriever: Retriever | None = None,
        *,
        client: ChatClient | None = None,
        context: Any = None,
        repo: str | os.PathLike[str] | None = None,
        tokenizer: Any = None,
        context_window: int = 8192,
        max_answer_tokens: int = 1024,
        reserve: int = 256,
        k: int = 8,
        file_share: float = 0.25,
        context_share: float = 0.3,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    ) -> None:
        if tokenizer is None and context is not None:
            tokenizer = context.tokenizer
        from codemill.tokenizer import load_tokenizer

        self.tokenizer = load_tokenizer(tokenizer)
        self.retriever = retriever
        self.client = client
        self._context = context
        self._repo = Path(repo) if repo is not None else None
        self.context_window = context_window
        self.max_answer_tokens = max_answer_tokens
        self.reserve = reserve
        self.k = k
        self.file_share = file_share
        self.context_share = context_share
        self.system_prompt = system_prompt

    def _count(self, text: str) -> int:
        return int(self.tokenizer.count_tokens(text))

    @property
    def budget(self) -> int:
        """Tokens the prompt may take (messages included)."""
        return self.context_window - self.max_answer_tokens - self.reserve

    def context_builder(self, current_file: str | os.PathLike[str]) -> Any:
        if self._context is None:
            from codemill.context.builder import ContextBuilder
            from codemill.context.graph import find_repo_root

            root = self._repo or find_repo_root(current_file)
            self._context = ContextBuilder.for_repo(root, self.tokenizer)
        return self._context

    def messages_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return sum(self._count(m["content"]) + MESSAGE_OVERHEAD for m in messages)

    def build_prompt(self, query: str, current_file: str | os.PathLike[str] | None = None) -> Prompt:
        """The chat messages for ``query``, within :attr:`budget`, and what went into them."""
        if not query.strip():
            raise AssistantError("the question is empty")
        budget = self.budget
        question = f"Question: {query.strip()}"
        fixed = self._count(self.system_prompt) + self._count(question) + 2 * MESSAGE_OVERHEAD + 8
        room = budget - fixed
        if room < 0:
            raise AssistantError(
                f"the question and instructions take {fixed} tokens, more than the prompt budget of {budget} "
                f"(context window {self.context_window} - answer {self.max_answer_tokens} - reserve {self.reserve})"
            )
        sections: list[str] = []
        sources: list[Source] = []
        # What the prompt shows already: a snippet of it is not shown again. The current file's
        # excerpt is its lines as they are, so a snippet inside it is left out too (it came back
        # as retrieved snippets of its own lines); a context item may show a definition's
        # signature only, so only the same lines count there.
        shown: set[tuple[str, int, int]] = set()
        excerpt_of: tuple[str, int] | None = None
        if current_file is not None and room > 0:
            builder = self.context_builder(current_file)
            rel = builder.graph.ensure(current_file)
            file_text = builder.graph.text(rel) or ""
            head = f"Current file: {rel}\n"
            excerpt, last = self._head(file_text, int(room * self.file_share) - self._count(head))
            if excerpt:
                sections.append(head + excerpt)
                sources.append(Source(rel, 1, last, "file"))
                excerpt_of = (rel, last)
            else:
                sections.append(head.rstrip())
            used = self._count("\n\n".join(sections))
            title = "Related code from the repository:\n"
            ctx_budget = min(int(room * self.context_share), room - used) - self._count(title)
            if ctx_budget > 0:
                ctx = builder.context(rel, ctx_budget, query=query)
                if ctx.items:
                    sections.append(title + ctx.text.rstrip())
                    for item in ctx.items:
                        sources.append(Source(item.path, item.start_line, item.end_line, "context", item.score))
                        shown.add((item.path, item.start_line, item.end_line))
        if self.retriever is not None:
            hits = list(self.retriever.search(query, self.k))
            title = "Retrieved snippets:\n"
            used = self._count("\n\n".join(sections)) + 4
            left = room - used - self._count(title)
            blocks: list[str] = []
            for hit in hits:
                if (hit.path, hit.start_line, hit.end_line) in shown or (
                    excerpt_of is not None and hit.path == excerpt_of[0] and hit.end_line <= excerpt_of[1]
                ):
                    continue
                block = f"{hit.label}\n{hit.text.rstrip()}\n"
                cost = self._count(block) + 1
                if cost <= left:
                    blocks.append(block)
                    left -= cost
                    sources.append(Source(hit.path, hit.start_line, hit.end_line, "snippet", hit.score))
                    shown.add((hit.path, hit.start_line, hit.end_line))
            if blocks:
                sections.append(title + "\n".join(blocks).rstrip())
        sections.append(question)
        while True:
            messages = [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": "\n\n".join(sections)},
            ]
            tokens = self.messages_tokens(messages)
            if tokens <= budget or len(sections) == 1:
                break
            # Pieces counted apart can merge differently when joined: drop the last section
            # before the question until the whole fits (rare, a few tokens over).
            dropped = sections.pop(-2)
            sources = [s for s in sources if s.kind != _section_kind(dropped)]
        if tokens > budget:
            raise AssistantError(f"the prompt needs {tokens} tokens, more than the budget of {budget}")
        return Prompt(messages, sources, tokens, budget)

    def _head(self, text: str, budget: int) -> tuple[str, int]:
        """The first lines of ``text`` that fit in ``budget`` tokens, and the last line number."""
        if budget <= 0 or not text:
            return "", 0
        lines = source_lines(text)
        if self._count(text) <= budget:
            return text.rstrip("\n"), len(lines)
        lo, hi = 0, len(lines)
        while lo < hi:  # the most lines whose text fits
            mid = (lo + hi + 1) // 2
            if self._count("\n".join(lines[:mid])) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return "\n".join(lines[:lo]), lo

    async def answer(
        self,
        query: str,
        current_file: str | os.PathLike[str] | None = None,
        *,
        on_token: Callable[[str], Awaitable[None] | None] | None = None,
    ) -> Answer:
        """Retrieves, builds the prompt and asks the model. With ``on_token`` the answer is
        streamed and each piece passed to it as it arrives."""
        if self.client is None:
            raise AssistantError("no chat endpoint configured (give a ChatClient)")
        prompt = self.build_prompt(query, current_file)
        if on_token is None:
            text = await self.client.complete(prompt.messages)
        else:
            parts = []
            async for piece in self.client.stream(prompt.messages):
                parts.append(piece)
                result = on_token(piece)
                if result is not None:
                    await result
            text = "".join(parts)
        return Answer(text, prompt, self.client.model, prompt.sources)

    async def stream(self, query: str, current_file: str | os.PathLike[str] | None = None) -> AsyncIterator[str]:
        """The answer as it arrives."""
        if self.client is None:
            raise AssistantError("no chat endpoint configured (give a ChatClient)")
        prompt = self.build_prompt(query, current_file)
        async for piece in self.client.stream(prompt.messages):
            yield piece


def _section_kind(section: str) -> SourceKind:
    if section.startswith("Retrieved snippets:"):
        return "snippet"
    if section.startswith("Related code"):
        return "context"
    return "file"
