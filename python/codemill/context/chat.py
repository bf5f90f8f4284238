"""An OpenAI-compatible chat-completions client (vLLM, llama.cpp server, Ollama, hosted APIs),
with server-sent-event streaming. API keys come from the environment (``OPENAI_API_KEY`` by
default) and never appear in messages, reprs or logs."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from codemill.errors import ChatError


def chat_url(endpoint: str) -> str:
    """The chat-completions URL for an endpoint given as a base (``http://host:8000``,
    ``.../v1``) or as the full URL."""
    url = endpoint.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ChatError(f"endpoint must be an http(s) URL, got {endpoint!r}")
    try:  # a malformed host ("http://[::1") or port (":99999", ":abc") fails here, not as a
        # traceback at the first request
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError("no host")
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError as exc:
        # (the reason may quote part of a password: "Port could not be cast ... as 'p'")
        why = f" ({exc})" if not _userinfo(url) else ""
        raise ChatError(f"endpoint {_without_userinfo(endpoint)!r} is not a valid URL{why}") from None
    if url.endswith("/chat/completions"):
        return url
    path = url.split("://", 1)[1].partition("/")[2]
    return f"{url}/chat/completions" if path else f"{url}/v1/chat/completions"


class ChatClient:
    """An OpenAI-compatible chat-completions client (``POST {base}/chat/completions``), with
    server-sent-event streaming. Every failure is a :class:`ChatError` with one clear line."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        temperature: float | None = 0.2,
        max_tokens: int | None = None,
        extra: dict[str, Any] | None = None,
        transport: Any = None,
    ) -> None:
        self.url = chat_url(endpoint)
        self._where = _without_userinfo(self.url)  # the URL as messages show it
        self._userinfo = _userinfo(self.url)
        self.model = model
        key = api_key if api_key is not None else os.environ.get(api_key_env) or None
        # A key read from a file saved with CRLF ends in "\r": httpx refused the header and its
        # error showed the key, escaped, where the masking could not find it.
        key = key.strip() if key else None
        if key and not key.isprintable():
            raise ChatError(
                f"the API key ({'api_key' if api_key is not None else api_key_env}) holds control characters"
            )
        self._api_key = key or None
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra = dict(extra or {})
        self._transport = transport

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"ChatClient(url={self._where!r}, model={self.model!r}, api_key={key})"

    def _payload(self, messages: Sequence[dict[str, str]], stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": list(messages), "stream": stream}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        body.update(self.extra)
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _clean(self, message: str) -> str:
        """A message safe to show: one line, the API key (if echoed by a server) and the URL's
        user:password@ masked."""
        if self._api_key:  # as a server may echo it
            message = message.replace(self._api_key, "***")
        if ":" in self._userinfo:  # a password: wherever it stands (a server may quote Basic auth)
            message = message.replace(self._userinfo, "***")
        elif self._userinfo:  # a user name alone: in a URL only (not every "a" of a message)
            message = message.replace(self._userinfo + "@", "***@")
        message = " ".join(message.split())
        return message[:500]

    def _client(self) -> Any:
        import httpx

        return httpx.AsyncClient(timeout=self.timeout, transport=self._transport)

    def _transport_error(self, exc: Exception) -> ChatError:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return ChatError(f"{self._where}: no answer within {self.timeout:g}s ({type(exc).__name__})")
        if isinstance(exc, httpx.ConnectError):
            return ChatError(f"cannot connect to {self._where}: {self._clean(str(exc)) or 'connection failed'}")
        return ChatError(f"{self._where}: {type(exc).__name__}: {self._clean(str(exc))}")

    def _status_error(self, status: int, body: bytes) -> ChatError:
        text = body.decode("utf-8", "replace")
        message = text
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            err = data.get("error", data)
            if isinstance(err, dict):
                message = str(err.get("message") or err.get("detail") or err)
            elif isinstance(err, str):
                message = err
            if isinstance(data.get("detail"), str):
                message = data["detail"]
        return ChatError(f"{self._where} answered HTTP {status}: {self._clean(message) or 'no details'}")

    def _malformed(self, data: str) -> ChatError:
        return ChatError(f"{self._where} sent a malformed event: {self._clean(data)[:200]}")

    async def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The whole answer of one (non-streaming) request."""
        import httpx

        try:
            async with self._client() as client:
                resp = await client.post(self.url, json=self._payload(messages, False), headers=self._headers())
                body = await resp.aread()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc) from None
        if resp.status_code >= 400:
            raise self._status_error(resp.status_code, body)
        try:
            data = json.loads(body)
            return _message_text(data["choices"][0]["message"])
        except (ValueError, KeyError, IndexError, TypeError):
            shown = self._clean(body.decode("utf-8", "replace"))[:200]
            raise ChatError(f"{self._where} sent a response that is not a chat completion: {shown}") from None

    async def stream(self, messages: Sequence[dict[str, str]]) -> AsyncIterator[str]:
        """The answer as it arrives (server-sent events, ``data: {...}`` up to ``data: [DONE]``)."""
        import httpx

        try:
            async with (
                self._client() as client,
                client.stream("POST", self.url, json=self._payload(messages, True), headers=self._headers()) as resp,
            ):
                if resp.status_code >= 400:
                    raise self._status_error(resp.status_code, await resp.aread())
                if not resp.headers.get("content-type", "").lower().startswith("text/event-stream"):
                    # A server that ignores "stream": one JSON completion.
                    body = await resp.aread()
                    try:
                        yield _message_text(json.loads(body)["choices"][0]["message"])
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise ChatError(f"{self._where} sent neither an event stream nor a chat completion") from None
                    return
                finished = False  # a choice said why it ended (some servers send no [DONE] after)
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, event names, keep-alives
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except ValueError:
                        raise self._malformed(data) from None
                    if isinstance(event, dict) and "error" in event:
                        raise self._status_error(resp.status_code, json.dumps(event).encode())
                    # An event without choices (a usage summary, choices null) carries no text;
                    # one of another shape is malformed.
                    choices = event.get("choices") if isinstance(event, dict) else "not an object"
                    if choices is None:
                        choices = []
                    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
                        raise self._malformed(data)
                    for choice in choices:
                        finished = finished or bool(choice.get("finish_reason"))
                        delta = choice.get("delta") or {}
                        piece = delta.get("content") if isinstance(delta, dict) else None
                        if piece is not None and not isinstance(piece, str):
                            raise self._malformed(data)
                        if piece:
                            yield piece
                if not finished:
                    # The lines ran out before [DONE] or a finish_reason: a connection cut mid-answer.
                    raise ChatError(f"{self._where} ended the answer's stream before its end ([DONE]): it is cut short")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc) from None


def _message_text(message: Any) -> str:
    """A completion's text; a TypeError where it holds none (a number, say: it went on to be
    written as if text)."""
    content = message["content"]
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text", ""), str))
    if content is not None and not isinstance(content, str):
        raise TypeError(f"content is {type(content).__name__}")
    return content or ""


def _userinfo(url: str) -> str:
    """The ``user:password`` of the endpoint ``url`` ("" for none): all of its authority before
    the last "@" (a password may hold "@", "#", "?")."""
    authority = url.partition("://")[2].partition("/")[0]
    return authority.rpartition("@")[0]


def _without_userinfo(url: str) -> str:
    """The endpoint ``url`` with its ``user:password`` masked."""
    userinfo = _userinfo(url)
    return url.replace(userinfo + "@", "***@", 1) if userinfo else url
