"""moto's S3 backend alone, served by waitress: the S3 implementation the tests run (moto's
server mode) without that mode's front, for benchmarks where the server shares the run's cores.

`python -m moto.server` answers each request through werkzeug's development server (a thread
and a new connection per request, HTTP/1.0) and a dispatcher that works out the AWS service
from the request (scanning moto's modules each time): about 6 ms of CPU per request here, on
a 2-core machine whose other core the run needs. This serves moto's S3 application directly,
with keep-alive connections and a fixed thread pool: 2.5-4.5 ms per request, and less client
CPU (no connection set-up).

Objects live in memory, and so do request and response bodies: by default moto spools each
object over 5 MB to a temporary file on disk (re-read whole on every ranged GET) and waitress
spools a request body over 512 KB and a response over 1 MB to temporary files too, read back
in 8 KB pieces. On the job's own two cores that cost the server ~2x the CPU of an upload
(320 MB of 8 MB objects: 1.8-2.2 s of server CPU spooled, 0.94-0.98 s in memory).

An object's bytes are also kept whole, once: moto read its buffer into a new bytes object on
every GET and then took the range asked for, so a request cost a copy of the whole object. A 1 KB
range took 78.5 ms from a 149 MB object and 2.5 ms from a 1 MB one; a store charges a request
its latency and the bytes it sends, not the size of the object they are cut from.

Run: `python benches/moto_s3_server.py PORT [THREADS] [LATENCY_MS]` (127.0.0.1 only; path-style
requests, any credentials). Needs `waitress` (the `bench` extra). ``LATENCY_MS``: each request
is answered that much later (a sleep, no CPU), as a store across a network answers: S3's own
first-byte latency is tens of milliseconds, which a local server does not have.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

# Request and response bodies held in memory up to this size (waitress's inbuf_overflow and
# outbuf_overflow; the bench's largest objects are tens of MB).
_IN_MEMORY = 1 << 30


def main() -> None:
    # Read by moto when it stores an object: larger ones would go to a temporary file.
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(_IN_MEMORY))
    import waitress
    from moto.moto_server.werkzeug_app import create_backend_app

    port = int(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    latency = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0
    _continue_keeps_empty_bodies()
    _values_kept_whole()
    app = create_backend_app("s3")
    if latency > 0:
        app = _delayed(app, latency)
    waitress.serve(
        app,
        host="127.0.0.1",
        port=port,
        threads=threads,
        _quiet=True,
        inbuf_overflow=_IN_MEMORY,
        outbuf_overflow=_IN_MEMORY,
        recv_bytes=256 << 10,  # socket reads of an upload (8 KB by default)
        # Open connections at once (100 by default): a client holds up to 64 (s3fs's pool, kept
        # alive), and a bench's uploader holds its own beside the job's processes.
        connection_limit=1000,
    )


def _continue_keeps_empty_bodies() -> None:
    """An upload of zero bytes (an empty ``__init__.py``) answered. botocore sends one with
    ``Expect: 100-continue``; waitress 3.0's answer to that header marks the request as still
    waiting for its body, which a zero-byte body never sends, and the client timed out after
    60 s. A request whose body is in already stays complete."""
    from waitress.channel import HTTPChannel

    send_continue = HTTPChannel.send_continue

    def send(channel: Any) -> None:
        completed = channel.request.completed
        send_continue(channel)
        channel.request.completed = completed

    HTTPChannel.send_continue = send  # type: ignore[method-assign]


def _values_kept_whole() -> None:
    """`FakeKey.value` read once per object and kept (every write goes through its setter, which
    lets the kept bytes go), so that a ranged GET slices them instead of copying the whole object
    out of its buffer first."""
    from moto.s3.models import FakeKey

    read, write = FakeKey.value.fget, FakeKey.value.fset

    def value(key: Any) -> bytes:
        kept = key.__dict__.get("_kept_value")
        if kept is None:
            kept = key.__dict__["_kept_value"] = read(key)
        return kept  # type: ignore[no-any-return]

    def set_value(key: Any, new: bytes) -> None:
        key.__dict__.pop("_kept_value", None)
        write(key, new)

    FakeKey.value = property(value, set_value)  # type: ignore[method-assign, assignment]


def _delayed(app: Callable[..., Iterable[bytes]], seconds: float) -> Callable[..., Iterable[bytes]]:
    def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(seconds)
        return app(environ, start_response)

    return answer


if __name__ == "__main__":
    main()
