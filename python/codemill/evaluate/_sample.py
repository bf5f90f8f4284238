"""The untrusted side: loads the program, then answers the judge's calls with data only.

Runs in the sandboxed child (see `_harness.py`) and holds nothing worth stealing: no
tests, no expected outputs, no verdict. Protocol over the channel (frames of `_wire`):

    sample -> judge   ["loaded"] | ["syntax", type] | ["load_error", type]    once, first
    judge -> sample   ["call", name, args, kwargs] | ["get", name]
    sample -> judge   ["ok", value] | ["raised", type] | ["unsupported", type]
                      | ["missing", name] | ["callable"]

The judge believes nothing here beyond the data: a sample that lies can only lose.

Standalone on purpose (no codemill imports): the harness loads it into bare interpreters.
"""

import contextlib
import os
import sys
import traceback

import _wire  # type: ignore[import-not-found]  # loaded by the harness from its directory

# The fd the program's source arrives on, written by the parent through a pipe of its own
# (never through the server this process was forked from: see `sandbox._run_in`).
SOURCE_FD = 5


def main(job, channel):
    """Load the program from `SOURCE_FD` and serve calls until the judge closes the channel."""
    del job  # (limits were applied by the harness)
    namespace = {"__name__": "__main__"}
    with os.fdopen(SOURCE_FD, "rb") as f:
        source = f.read()
    try:
        code = compile(source.decode("utf-8", "surrogatepass"), "<program>", "exec")
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        traceback.print_exception(exc)
        _flush()
        _wire.send(channel, ["syntax", type(exc).__name__])
        return
    try:
        exec(code, namespace)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are failures too
        traceback.print_exception(exc)
        _flush()
        _wire.send(channel, ["load_error", _wire._type_name(exc)])
        return
    _flush()
    _wire.send(channel, ["loaded"])
    while True:
        try:
            request = _wire.receive_request(channel)
        except EOFError:
            return
        reply = _answer(namespace, request)
        _flush()  # the server kills this process once the judge is done: output first
        try:
            _wire.send(channel, reply)
        except (_wire.WireError, RecursionError, MemoryError):  # raised before a byte is sent
            _wire.send(channel, ["unsupported", _wire._type_name(reply[1])])


def _answer(namespace, request):
    op, name = request[0], request[1]
    if name not in namespace:
        return ["missing", name]
    value = namespace[name]
    if op == "get":
        if callable(value):
            return ["callable"]
    else:
        try:
            value = value(*request[2], **request[3])
        except BaseException as exc:
            traceback.print_exception(exc)
            return ["raised", _wire._type_name(exc)]
    return ["ok", value]


def _flush():
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # the program may have replaced or closed them
            stream.flush()


def finish():
    """Flush what the program printed (os._exit would drop it) and leave."""
    _flush()
    os._exit(0)
