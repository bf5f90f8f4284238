"""The assistant: prompts within budget, the chat-completions client against a local server of
the test's own (plain, streaming and error responses), network errors, and `codemill ask`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")
pytest.importorskip("networkx")
pytest.importorskip("tree_sitter_python")

from codemill.cli import main
from codemill.context.assistant import CodeAssistant
from codemill.context.builder import ContextBuilder
from codemill.context.chat import ChatClient, chat_url
from codemill.context.graph import ImportGraph
from codemill.context.retrieval import Hit, IndexRetriever, Retriever
from codemill.errors import AssistantError, ChatError
from test_context import SHOP
from test_context_imports import write_tree

SECRET = "sk-test-0123456789abcdef"
# Stream events no chat completion sends (each gave a traceback: TypeError, AttributeError).
MALFORMED: dict[str, Any] = {
    "malformed-str": {"choices": ["x"]},
    "malformed-int": {"choices": [{"delta": {"content": 7}}]},
    "malformed-obj": {"choices": "x"},
    "malformed-dict": {"choices": {}},
    "malformed-text": "rate limited",
    "malformed-list": [1, 2],
}


class ChatHandler(BaseHTTPRequestHandler):
    """Speaks the chat-completions protocol; the model name picks the behaviour."""

    protocol_version = "HTTP/1.1"
    requests: list[dict[str, Any]]

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the timeout test's client left
            self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if self.path != "/v1/chat/completions":
            self._send(404, b'{"error": {"message": "no such route"}}')
            return
        model = body["model"]
        question = body["messages"][-1]["content"]
        answer = f"You asked {len(question)} characters."
        if model == "unauthorized":
            msg = {"error": {"message": f"Incorrect API key provided: {self.headers.get('Authorization')}"}}
            self._send(401, json.dumps(msg).encode())
        elif model == "quote-auth":  # quotes the Basic credentials it was sent
            import base64

            sent = base64.b64decode(self.headers.get("Authorization", "Basic ").split(" ", 1)[1]).decode()
            self._send(401, json.dumps({"error": {"message": f"bad credentials {sent}"}}).encode())
        elif model == "status-url":  # an error naming another URL, with an "@" in its query
            self._send(503, b'{"error": {"message": "see https://status.example.com?email=ops@corp.com"}}')
        elif model == "crash":
            self._send(500, b"Internal Server Error\n\ntraceback here")
        elif model == "not-json":
            self._send(200, b"<html>hello</html>", "text/html")
        elif model == "slow":
            time.sleep(1.5)
            self._send(200, b"{}")
        elif body.get("stream"):
            self.send_response(200)
            kind = "Text/Event-Stream; charset=utf-8" if model == "cased" else "text/event-stream"
            self.send_header("Content-Type", kind)
            self.send_header("Connection", "close")
            self.end_headers()
            if model == "stream-error":
                events = [
                    {"choices": [{"delta": {"role": "assistant"}}]},
                    {"choices": [{"delta": {"content": "Half"}}]},
                    {"error": {"message": "model overloaded"}},
                ]
            elif model.startswith("malformed-"):  # an event of another shape than a chunk's
                events = [{"choices": [{"delta": {"content": "Half"}}]}, MALFORMED[model]]
            elif model == "usage":  # events without text, as servers send them: ignored
                events = [
                    {"choices": [{"delta": {"content": "Hello"}}]},
                    {"choices": None},
                    {"usage": {"prompt_tokens": 3}},
                    {"choices": [{"delta": {"content": " world"}}]},
                ]
            else:
                words = ["You ", "asked ", f"{len(question)} ", "characters."]
                events = [{"choices": [{"delta": {"role": "assistant"}, "index": 0}]}] + [
                    {"choices": [{"delta": {"content": w}, "index": 0}]} for w in words
                ]
            self.wfile.write(b": keep-alive\n\n")
            for e in events:
                self.wfile.write(b"data: " + json.dumps(e).encode() + b"\n\n")
                self.wfile.flush()
            if model == "finished":  # ends its last choice with a reason, and sends no [DONE]
                self.wfile.write(b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n')
            elif model != "cut-short":  # its connection ends mid-answer
                self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True
        else:
            data = {
                "id": "x",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}],
            }
            self._send(200, json.dumps(data).encode())


@dataclass
class Server:
    url: str
    requests: list[dict[str, Any]]


@pytest.fixture()
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    httpd.daemon_threads = True
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}/v1", httpd.requests)  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MESSAGES = [{"role": "user", "content": "hello?"}]


async def collect(client: ChatClient) -> list[str]:
    return [p async for p in client.stream(MESSAGES)]


# --------------------------------------------------------------------------------------------
# the client


def test_chat_url_forms() -> None:
    assert chat_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert chat_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_url("https://api.x.com/v1/chat/completions") == "https://api.x.com/v1/chat/completions"
    assert chat_url("http://h/api") == "http://h/api/chat/completions"
    with pytest.raises(ChatError, match="http"):
        chat_url("localhost:8000")
    with pytest.raises(ChatError, match="not a valid URL"):  # was an httpx traceback at the request
        chat_url("http://[::1")


def test_complete_sends_model_messages_and_key(server: Server, monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", SECRET)
    client = ChatClient(server.url, "echo", api_key_env="MY_KEY", max_tokens=64)
    assert asyncio.run(client.complete(MESSAGES)) == "You asked 6 characters."
    req = server.requests[-1]
    assert req["body"]["model"] == "echo" and req["body"]["messages"] == MESSAGES
    assert req["body"]["stream"] is False and req["body"]["max_tokens"] == 64
    assert req["auth"] == f"Bearer {SECRET}"
    assert SECRET not in repr(client) and "api_key=set" in repr(client)


def test_no_key_no_authorization_header(server: Server, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    asyncio.run(ChatClient(server.url, "echo").complete(MESSAGES))
    assert server.requests[-1]["auth"] is None


def test_streaming(server: Server) -> None:
    pieces = asyncio.run(collect(ChatClient(server.url, "echo")))
    assert pieces == ["You ", "asked ", "6 ", "characters."]
    assert server.requests[-1]["body"]["stream"] is True


def test_a_stream_cut_before_its_end_is_an_error_not_an_answer(server: Server) -> None:
    # It was taken as the whole answer: "partial ans", exit status 0, no word.
    pieces: list[str] = []

    async def read() -> None:
        async for p in ChatClient(server.url, "cut-short").stream(MESSAGES):
            pieces.append(p)

    with pytest.raises(ChatError, match=r"before its end \(\[DONE\]\): it is cut short") as info:
        asyncio.run(read())
    assert pieces == ["You ", "asked ", "6 ", "characters."] and "\n" not in str(info.value)
    # A media type is read whatever its case.
    assert asyncio.run(collect(ChatClient(server.url, "cased"))) == ["You ", "asked ", "6 ", "characters."]
    # A stream whose choice says why it finished is whole without [DONE] (some servers send none).
    assert asyncio.run(collect(ChatClient(server.url, "finished"))) == ["You ", "asked ", "6 ", "characters."]


def test_error_response_is_one_clear_line_without_the_key(server: Server) -> None:
    client = ChatClient(server.url, "unauthorized", api_key=SECRET)
    for call in (client.complete(MESSAGES), collect(client)):
        with pytest.raises(ChatError) as info:
            asyncio.run(call)
        msg = str(info.value)
        assert "HTTP 401" in msg and "Incorrect API key provided" in msg
        assert SECRET not in msg and "***" in msg  # the server echoed the key; it is masked
        assert "\n" not in msg


def test_server_error_and_garbage(server: Server) -> None:
    with pytest.raises(ChatError, match=r"HTTP 500: Internal Server Error traceback here"):
        asyncio.run(ChatClient(server.url, "crash").complete(MESSAGES))
    with pytest.raises(ChatError, match="not a chat completion"):
        asyncio.run(ChatClient(server.url, "not-json").complete(MESSAGES))
    with pytest.raises(ChatError, match="HTTP 404: no such route"):
        asyncio.run(ChatClient(server.url.replace("/v1", "/v2"), "echo").complete(MESSAGES))


def test_error_event_inside_a_stream(server: Server) -> None:
    got: list[str] = []

    async def run() -> None:
        async for p in ChatClient(server.url, "stream-error").stream(MESSAGES):
            got.append(p)

    with pytest.raises(ChatError, match="model overloaded"):
        asyncio.run(run())
    assert got == ["Half"]


@pytest.mark.parametrize("model", sorted(MALFORMED))
def test_a_malformed_event_is_one_line(server: Server, model: str) -> None:
    got: list[str] = []

    async def run() -> None:
        async for p in ChatClient(server.url, model).stream(MESSAGES):
            got.append(p)

    with pytest.raises(ChatError, match="sent a malformed event"):
        asyncio.run(run())
    assert got == ["Half"]


def test_bad_ports_keys_and_credentials_in_the_url_are_clear_and_never_shown(server: Server) -> None:
    # A bad port was a traceback at the first request (OverflowError, httpx.InvalidURL).
    for url in ("http://127.0.0.1:99999/v1", "http://127.0.0.1:abc/v1"):
        with pytest.raises(ChatError, match="is not a valid URL"):
            chat_url(url)
    # A key read from a CRLF file ended in "\r": httpx refused the header, and its error showed
    # the key escaped, past the masking. It is stripped; one with control characters inside is
    # refused without being shown.
    client = ChatClient(server.url, "echo", api_key=SECRET + "\r\n")
    asyncio.run(client.complete(MESSAGES))
    assert server.requests[-1]["auth"] == f"Bearer {SECRET}"
    with pytest.raises(ChatError, match="control characters") as info:
        ChatClient(server.url, "echo", api_key=SECRET[:5] + "\n" + SECRET[5:])
    assert SECRET[5:] not in str(info.value)
    # A user:password@ in the endpoint is not echoed in errors (a password may hold an "@").
    for password in ("hunter2", "hun@ter2", "hun#ter2", "hun?ter2"):
        with pytest.raises(ChatError) as info:
            asyncio.run(ChatClient(f"http://me:{password}@127.0.0.1:{closed_port()}/v1", "echo").complete(MESSAGES))
        assert "ter2" not in str(info.value)


def test_a_short_user_name_is_masked_only_where_it_is_one() -> None:
    # Masking the userinfo string wherever it stood blanked every "a" of a message for
    # http://a@host ("All connection ***ttempts f***iled").
    with pytest.raises(ChatError) as info:
        asyncio.run(ChatClient(f"http://a@127.0.0.1:{closed_port()}/v1", "echo").complete(MESSAGES))
    assert "***" not in str(info.value).split(": ", 1)[1] and "http://***@127.0.0.1" in str(info.value)
    with pytest.raises(ChatError) as info:  # the reason would quote the password's start
        chat_url("http://u:pw#x@h/v1")
    assert "pw" not in str(info.value)


def test_a_password_a_server_quotes_is_masked(server: Server) -> None:
    # httpx sends the URL's user:password as Basic auth; a server quoting it showed it once
    # only "user:password@" was masked.
    host = server.url.split("://", 1)[1]
    with pytest.raises(ChatError) as info:
        asyncio.run(ChatClient(f"http://u:s3cret@{host}", "quote-auth").complete(MESSAGES))
    assert "s3cret" not in str(info.value) and "bad credentials ***" in str(info.value)


def test_a_url_in_an_error_is_shown_as_sent(server: Server) -> None:
    # Only the endpoint's own user:password is masked (a pattern over every URL took the host of
    # this one for a password).
    with pytest.raises(ChatError, match=r"see https://status\.example\.com\?email=ops@corp\.com"):
        asyncio.run(ChatClient(server.url, "status-url").complete(MESSAGES))


def test_events_without_text_are_passed_over(server: Server) -> None:
    # A usage summary ({"usage": ...}, or choices null) is no malformed event.
    assert asyncio.run(collect(ChatClient(server.url, "usage"))) == ["Hello", " world"]


def test_connection_refused_is_clear() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    for call in (ChatClient(url, "m").complete(MESSAGES), collect(ChatClient(url, "m"))):
        with pytest.raises(ChatError, match=r"cannot connect to http://127\.0\.0\.1:\d+/v1/chat/completions"):
            asyncio.run(call)


def test_timeout_is_clear(server: Server) -> None:
    with pytest.raises(ChatError, match=r"no answer within 0.3s"):
        asyncio.run(ChatClient(server.url, "slow", timeout=0.3).complete(MESSAGES))


# --------------------------------------------------------------------------------------------
# prompts


class FakeRetriever:
    """An in-memory retriever: hits whose text shares a word with the query, by overlap."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, k: int) -> list[Hit]:
        self.queries.append((query, k))
        words = set(re.findall(r"\w+", query.lower()))
        scored = [(len(words & set(re.findall(r"\w+", h.text.lower()))), h) for h in self.hits]
        return [h for s, h in sorted(scored, key=lambda sh: -sh[0]) if s][:k]


HITS = [
    Hit("shop/pricing.py", 8, 12, "def discount(price, rate=0.1):\n    return price * (1 - rate)", 0.9, "discount"),
    Hit("shop/money.py", 1, 2, "def round_cents(x):\n    return round(x, 2)", 0.5, "round_cents"),
    Hit("docs/big.md", 1, 400, "discount " + "filler words " * 3000, 0.4),
]


@pytest.fixture()
def shop_builder(tmp_path: Path, tok) -> ContextBuilder:
    return ContextBuilder(ImportGraph.build(write_tree(tmp_path, SHOP)), tok)


def test_fake_retriever_is_a_retriever() -> None:
    assert isinstance(FakeRetriever(HITS), Retriever)


def test_prompt_has_snippets_context_and_question(shop_builder: ContextBuilder, tok) -> None:
    retriever = FakeRetriever(HITS)
    a = CodeAssistant(retriever, context=shop_builder, context_window=4096, max_answer_tokens=512, k=5)
    prompt = a.build_prompt("how is the discount computed?", shop_builder.graph.root / "shop/cart.py")
    assert retriever.queries == [("how is the discount computed?", 5)]
    system, user = prompt.messages
    assert system["role"] == "system" and user["role"] == "user"
    content = user["content"]
    assert content.startswith("Current file: shop/cart.py\n")
    assert "Related code from the repository:" in content and "==> shop/pricing.py:" in content
    assert "Retrieved snippets:\n==> shop/pricing.py:8-12 discount <==\ndef discount(price, rate=0.1):" in content
    assert "filler words" not in content
    assert content.endswith("Question: how is the discount computed?")
    kinds = {s.kind for s in prompt.sources}
    assert kinds == {"file", "context", "snippet"}
    # the huge snippet does not fit, the others do
    labels = [s.label for s in prompt.sources if s.kind == "snippet"]
    assert labels == ["shop/pricing.py:8-12"]
    assert prompt.tokens <= prompt.budget == 4096 - 512 - a.reserve
    assert prompt.tokens == a.messages_tokens(prompt.messages)
    # a snippet already shown as repository context is not repeated
    shown = [(s.path, s.start_line, s.end_line) for s in prompt.sources]
    assert len(shown) == len(set(shown))


def test_a_snippet_of_the_current_files_excerpt_is_not_repeated(shop_builder: ContextBuilder) -> None:
    # The current file shown whole, then again as retrieved snippets of its own lines.
    text = (shop_builder.graph.root / "shop/cart.py").read_text()
    own = [Hit("shop/cart.py", 1, 2, "\n".join(text.splitlines()[:2]), 0.9, "head"), *HITS[:2]]
    a = CodeAssistant(FakeRetriever(own), context=shop_builder, context_window=4096, max_answer_tokens=512, k=5)
    prompt = a.build_prompt("how is the discount computed?", shop_builder.graph.root / "shop/cart.py")
    snippets = [s.label for s in prompt.sources if s.kind == "snippet"]
    assert "shop/cart.py:1-2" not in snippets and "shop/pricing.py:8-12" in snippets


@pytest.mark.parametrize("window", [700, 900, 1200, 2000, 3000, 8192])
def test_prompt_never_exceeds_the_window(shop_builder: ContextBuilder, window: int) -> None:
    a = CodeAssistant(FakeRetriever(HITS), context=shop_builder, context_window=window, max_answer_tokens=256, k=8)
    prompt = a.build_prompt("discount rounding words", "shop/cart.py")
    assert prompt.tokens <= a.budget
    assert a.messages_tokens(prompt.messages) + a.max_answer_tokens + a.reserve <= window


def test_prompt_without_file_or_retriever(tok) -> None:
    a = CodeAssistant(FakeRetriever(HITS), tokenizer=tok, context_window=2048, max_answer_tokens=256)
    prompt = a.build_prompt("discount and round")
    assert [s.label for s in prompt.sources] == ["shop/pricing.py:8-12", "shop/money.py:1-2"]
    bare = CodeAssistant(None, tokenizer=tok).build_prompt("what?")
    assert bare.sources == [] and bare.messages[1]["content"] == "Question: what?"


def test_window_too_small_and_empty_question(tok) -> None:
    a = CodeAssistant(FakeRetriever(HITS), tokenizer=tok, context_window=300, max_answer_tokens=200, reserve=0)
    with pytest.raises(AssistantError, match="more than the prompt budget"):
        a.build_prompt("discount")
    with pytest.raises(AssistantError, match="empty"):
        CodeAssistant(None, tokenizer=tok).build_prompt("  ")


def test_answer_streams_through_on_token(server: Server, shop_builder: ContextBuilder) -> None:
    client = ChatClient(server.url, "echo")
    a = CodeAssistant(FakeRetriever(HITS), client=client, context=shop_builder, context_window=4096)
    pieces: list[str] = []

    async def on_token(p: str) -> None:
        pieces.append(p)

    answer = asyncio.run(a.answer("discount?", current_file="shop/cart.py", on_token=on_token))
    sent = server.requests[-1]["body"]
    assert sent["stream"] is True and sent["messages"] == answer.prompt.messages
    assert answer.text == "".join(pieces) == f"You asked {len(sent['messages'][-1]['content'])} characters."
    assert answer.sources and answer.model == "echo"
    plain = asyncio.run(a.answer("discount?"))
    assert server.requests[-1]["body"]["stream"] is False and plain.text.startswith("You asked")

    async def stream_all() -> str:
        return "".join([p async for p in a.stream("discount?")])

    assert asyncio.run(stream_all()).startswith("You asked")


def test_answer_without_client_is_an_error(tok) -> None:
    with pytest.raises(AssistantError, match="no chat endpoint"):
        asyncio.run(CodeAssistant(None, tokenizer=tok).answer("x"))


# --------------------------------------------------------------------------------------------
# the index adapter and `codemill ask`


@dataclass(frozen=True)
class FakeChunk:
    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str
    text: str


@dataclass(frozen=True)
class FakeResult:
    chunk: FakeChunk
    score: float


class FakeHybridIndex:
    """Stands in for codemill.index.hybrid.HybridIndex (load + search returning chunk/score results)."""

    loaded: list[str] = []  # noqa: RUF012

    @classmethod
    def load(cls, directory: Any) -> FakeHybridIndex:
        if not Path(directory).is_dir():
            raise FileNotFoundError(f"{directory}: not a codemill index")
        cls.loaded.append(str(directory))
        return cls()

    def search(self, query: str, k: int = 10) -> list[FakeResult]:
        chunk = FakeChunk("shop/pricing.py", "python", 8, 12, "discount", "function", "def discount(price): ...")
        return [FakeResult(chunk, 0.75)][:k]


@pytest.fixture()
def fake_index(monkeypatch) -> None:
    module = types.ModuleType("codemill.index.hybrid")
    module.HybridIndex = FakeHybridIndex  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "codemill.index.hybrid", module)


def test_index_retriever_adapts_search_results(fake_index, tmp_path: Path) -> None:
    r = IndexRetriever.load(tmp_path)
    assert r.search("discount", 3) == [
        Hit("shop/pricing.py", 8, 12, "def discount(price): ...", 0.75, "discount"),
    ]
    assert isinstance(r, Retriever)


def test_index_retriever_without_the_index_module(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "codemill.index.hybrid", None)  # import fails as if not installed
    with pytest.raises(AssistantError, match=r"hybrid index \(codemill.index.hybrid\) is not part"):
        IndexRetriever.load(tmp_path)


def test_cli_ask_prints_prompt_and_sources(fake_index, tmp_path: Path, capsys) -> None:
    repo = write_tree(tmp_path / "repo", SHOP)
    (tmp_path / "idx").mkdir()
    args = ["ask", "how is the discount computed?", "--index", str(tmp_path / "idx")]
    assert main([*args, "--file", str(repo / "shop/cart.py"), "--repo", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "--- system ---" in out and "--- user ---" in out
    assert "==> shop/pricing.py:8-12 discount <==" in out
    assert "[snippet] shop/pricing.py:8-12" in out and "[file] shop/cart.py:1-" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tokens"] <= data["budget"] and data["sources"][0]["label"] == "shop/pricing.py:8-12"


def test_cli_ask_streams_from_an_endpoint(fake_index, server: Server, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ASK_KEY", SECRET)
    (tmp_path / "idx").mkdir()
    base = ["ask", "discount?", "--index", str(tmp_path / "idx"), "--endpoint", server.url]
    assert main([*base, "--model", "echo", "--api-key-env", "ASK_KEY"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("You asked ") and "sources (" in out and SECRET not in out
    assert server.requests[-1]["auth"] == f"Bearer {SECRET}" and server.requests[-1]["body"]["stream"] is True
    assert main([*base, "--model", "echo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"].startswith("You asked")
    assert main([*base, "--model", "unauthorized", "--api-key-env", "ASK_KEY"]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and SECRET not in err and err.count("\n") == 1
    # An answer cut short ends its line before the error says so.
    assert main([*base, "--model", "cut-short"]) == 2
    captured = capsys.readouterr()
    assert re.fullmatch(r"You asked \d+ characters\.\n", captured.out) and "cut short" in captured.err


def test_cli_ask_errors(fake_index, tmp_path: Path, capsys) -> None:
    assert main(["ask", "q", "--index", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    (tmp_path / "idx").mkdir()
    assert main(["ask", "q", "--index", str(tmp_path / "idx"), "--endpoint", "http://127.0.0.1:1/v1"]) == 2
    assert "--model" in capsys.readouterr().err
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1"
    assert main(["ask", "q", "--index", str(tmp_path / "idx"), "--endpoint", url, "--model", "m"]) == 2
    assert "cannot connect to" in capsys.readouterr().err
