"""moto's S3 backend alone, served by waitress: the S3 implementation the tests run (moto's
server mode) without that mode's front, for benchmarks where the server shares the run's cores.

`python -m moto.server` answers each request through werkzeug's development server (a thread
and a new connection per request, HTTP/1.0) and a dispatcher that works out the AWS service
from the request (scanning moto's modules each time): about 6 ms of CPU per request here, on
a 2-core machine whose other core the run needs. This serves moto's S3 application directly,
with keep-alive connections and a fixed thread pool: 2.5-4.5 ms per request, and less client
CPU (no connection set-up). Objects live in memory, as with moto's server.

Run: `python benches/moto_s3_server.py PORT [THREADS] [LATENCY_MS]` (127.0.0.1 only; path-style
requests, any credentials). Needs `waitress` (the `bench` extra). ``LATENCY_MS``: each request
is answered that much later (a sleep, no CPU), as a store across a network answers: S3's own
first-byte latency is tens of milliseconds, which a local server does not have.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any


def main() -> None:
    import waitress
    from moto.moto_server.werkzeug_app import create_backend_app

    port = int(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    latency = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0
    app = create_backend_app("s3")
    if latency > 0:
        app = _delayed(app, latency)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def _delayed(app: Callable[..., Iterable[bytes]], seconds: float) -> Callable[..., Iterable[bytes]]:
    def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(seconds)
        return app(environ, start_response)

    return answer


if __name__ == "__main__":
    main()
