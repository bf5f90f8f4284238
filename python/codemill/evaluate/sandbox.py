"""The sandbox: runs one untrusted program against its tests and classifies the outcome.

Two processes per program, never one: the *sample* process runs the program and answers
calls; the *judge* process runs the problem's tests with `candidate` bound to a proxy
(`_judge.Remote`) and decides the verdict. Between them flows data only (`_wire`: exact
built-in types, decoded into fresh objects); the judge never loads sample code and the
sample never sees the tests, the expected outputs or the verdict.

Each worker owns two fork servers (`_harness.py`), one per role, each in its own user,
mount, network and PID namespaces with a minimal read-only root (`_confine.py`): the
standard library, shared libraries and a few devices; no site-packages, no host /tmp, no
/proc. Per program a server forks a pristine child that confines itself before any job
code runs: chroot, an unprivileged uid (sample and judge differ), a fresh size-limited
tmpfs work dir (sample only), rlimits, Landlock and seccomp. Where the host refuses a
layer the sandbox says so in `Sandbox.limitations` rather than silently running without.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemill.evaluate import _cleanup, _wire

HARNESS = str(Path(__file__).with_name("_harness.py"))

STATUSES = ("passed", "failed", "timeout", "syntax_error", "runtime_error")
MODES = ("call", "module")

# Extra seconds the parent waits for a server's reply beyond the program's own timeout.
WATCHDOG_GRACE_S = 5.0
# How long a new server may take to build its namespaces and answer hello.
START_TIMEOUT_S = 60.0
# The most CPU seconds a program's rlimit asks for (136 years): no budget is cut by it.
MAX_CPU_S = 1 << 32


@dataclass(frozen=True)
class Program:
    """What the two sides run: `program` in the sample process, the rest in the judge."""

    program: str  # prompt + completion
    test: str
    entry_point: str | None = None  # check(candidate) when set
    prelude: str | None = None  # trusted code run first in the test namespace
    exposed: tuple[str, ...] = ()  # sample names the tests may call (bare-assert tests)
    mode: str = "call"  # "module": check(module) with the sample's globals as data


@dataclass(frozen=True)
class RunResult:
    status: str
    error_type: str | None
    runtime_s: float | None  # the judge's median time for the tests (passed runs only)
    wall_s: float
    stdout: str
    stderr: str
    returncode: int


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024  # address space of each process
    file_mb: int = 16  # largest file
    work_mb: int = 64  # everything in the work dir together
    open_files: int = 128
    processes: int = 256  # RLIMIT_NPROC; seccomp forbids fork anyway


class Sandbox:
    """Runs programs under `Limits`; learns from its first servers which layers the host allows."""

    def __init__(
        self, limits: Limits | None = None, python: str | None = None, repeats: int = 1, namespaces: bool = True
    ) -> None:
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        self.limits = limits or Limits()
        self.python = python or sys.executable
        self.repeats = repeats
        self.limitations: list[str] = []
        self._base = Path(tempfile.mkdtemp(prefix="codemill-eval-"))
        self._idle: queue.SimpleQueue[_Pair] = queue.SimpleQueue()
        self._isolate = namespaces and sys.platform == "linux"
        if not self._isolate:
            self.limitations.append("namespaces not used: programs see the host file system through Landlock only")
        try:
            first = self._start_pair()
        except BaseException:
            shutil.rmtree(self._base, ignore_errors=True)  # close() never runs for a box not made
            raise
        hello = first.judge.hello or {}
        self.isolated = bool(hello.get("isolated"))
        self.program_ids = bool(hello.get("program_ids"))
        self.landlock_abi = int(hello.get("landlock_abi") or 0)
        self.seccomp = bool(hello.get("seccomp"))
        if not self.program_ids and self.isolated:
            self.limitations.append(
                "not root: programs run as the namespace's root without capabilities, sample and judge share one uid"
            )
        if not self.isolated:
            # Without a private root the work dir is a host directory: files are capped one by
            # one (file_mb), not together (a sample wrote 25 x 4 MiB into an 8 MB work_mb).
            self.limitations.append("no private root: work_mb is not enforced, only file_mb per file")
            if self.landlock_abi < 6:
                # Landlock scopes signals from ABI 6 (Linux 6.12): before it, a program may
                # signal the host's processes of its own uid.
                self.limitations.append("Landlock cannot scope signals: programs may signal host processes of its uid")
        if self.landlock_abi < 1:
            self.limitations.append("Landlock unavailable")
        if not self.seccomp:
            self.limitations.append("no seccomp filter: the program may fork and exec")
        self._idle.put(first)

    def _start_pair(self) -> _Pair:
        while True:
            pair = _Pair(self.python, self._isolate, self._base)
            if pair.ok():
                return pair
            error = pair.error()
            pair.kill()
            if not self._isolate:
                raise OSError(f"the evaluation harness did not start ({error})")
            # The host refuses namespaces: say so, and run with what it allows.
            self._isolate = False
            self.limitations.append(
                f"Linux namespaces unavailable ({error}): no private root, network or PID "
                "namespace; programs see the host file system through Landlock only "
                "(site-packages included)"
            )

    def layers(self) -> dict[str, object]:
        return {
            "namespaces": self.isolated,
            "private_root": self.isolated,
            "unprivileged_ids": self.program_ids,
            "landlock_abi": self.landlock_abi,
            "seccomp": self.seccomp,
            "limitations": list(self.limitations),
        }

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        try:
            _cleanup.remove_tree(str(self._base))
        except OSError as exc:  # never the run's end; say what is left behind
            warnings.warn(f"could not remove {self._base}: {exc}", stacklevel=2)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """Run one program; safe to call from several threads (one server pair per caller).

        Whatever the program does, the outcome is its RunResult: a failure of the
        machinery around it (a server that dies or answers nonsense) is classified as
        that program's runtime_error and the servers are replaced.
        """
        if program.mode not in MODES:
            raise ValueError(f"unknown test mode {program.mode!r} (expected one of {', '.join(MODES)})")
        try:
            pair = self._idle.get_nowait()
        except queue.Empty:
            pair = self._start_pair()
        start = time.perf_counter()
        try:
            replies = self._run_in(pair, program, timeout_s)
        except (OSError, ValueError) as exc:
            pair.kill()
            wall = time.perf_counter() - start
            return RunResult("runtime_error", "HarnessError", None, wall, "", f"harness: {exc}", -1)
        except BaseException:
            pair.kill()
            raise
        wall = time.perf_counter() - start
        sample, judge = replies
        if sample is not None and judge is not None and pair.alive():
            self._idle.put(pair)
        else:
            pair.kill()
        status, error_type, runtime = classify(sample, judge)
        stdout = _text(sample, "stdout")
        stderr = _text(sample, "stderr")
        judge_err = (_text(judge, "stdout") + _text(judge, "stderr")).strip()
        if judge_err and status != "passed":
            stderr = f"{stderr}\n--- judge ---\n{judge_err}\n"
        returncode = sample.get("returncode") if sample else None
        return RunResult(
            status, error_type, runtime, wall, stdout, stderr, returncode if isinstance(returncode, int) else -1
        )

    def _run_in(self, pair: _Pair, program: Program, timeout_s: float) -> tuple[dict | None, dict | None]:
        limits = self.limits
        # The judge holds the load and each repeat to timeout_s; this is the backstop for all of
        # them. (It was timeout_s x repeats: with one repeat, the load and the run shared one
        # budget, so a verdict depended on --repeats.)
        whole_s = timeout_s * (self.repeats + 1)
        common = {
            "timeout_s": whole_s,
            "memory_bytes": limits.memory_mb << 20,
            "file_bytes": limits.file_mb << 20,
            "open_files": limits.open_files,
            "processes": limits.processes,
            # (capped: an RLIMIT_CPU is 64 bits, and a huge --timeout's whole_s may be inf)
            "cpu_seconds": max(1, math.ceil(min(whole_s, MAX_CPU_S)) + 1),
            "landlock": self.landlock_abi >= 1,
            "seccomp": self.seccomp,
        }
        # The program goes through a pipe of its own to the sample's process, never through its
        # server: a sample is forked from its server and inherits its memory, where the jobs'
        # text stayed (freed, not wiped), and read the canonical solution of its task there.
        sample_job = {**common, "role": "sample", "work_bytes": limits.work_mb << 20}
        judge_job = {
            **common,
            "role": "judge",
            "test": program.test,
            "prelude": program.prelude,
            "entry_point": program.entry_point,
            "exposed": list(program.exposed),
            "mode": program.mode,
            "repeats": self.repeats,
            "run_timeout_s": timeout_s,
        }
        mine, theirs = socket.socketpair()
        source_r, source_w = os.pipe()
        try:
            pair.sample.send(sample_job, mine.fileno(), source_r)
            pair.judge.send(judge_job, theirs.fileno())
        except BaseException:
            os.close(source_w)  # (a server gone: no one to read it, and the sample sees EOF)
            raise
        finally:
            mine.close()
            theirs.close()
            os.close(source_r)
        # Through UTF-16 first, as JSON carried it before: a surrogate pair split between the
        # prompt and the completion is one character again (lone ones pass as they are).
        source = program.program.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        _send_source(source_w, source.encode("utf-8", "surrogatepass"))
        deadline = time.monotonic() + whole_s + WATCHDOG_GRACE_S
        sample = pair.sample.receive(deadline)
        judge = pair.judge.receive(deadline)
        return sample, judge


def _send_source(fd: int, source: bytes) -> None:
    """Writes a program into its pipe and closes it, from a thread where it may not fit the
    pipe at once (the sample reads it as it starts); a sample that never reads it ends the
    write (its end closes when it exits)."""

    def write() -> None:
        with contextlib.suppress(OSError), open(fd, "wb") as pipe:
            pipe.write(source)

    if len(source) <= _PIPE_AT_ONCE:
        write()
    else:
        threading.Thread(target=write, name="codemill-eval-source", daemon=True).start()


# Bytes a pipe takes without a reader (Linux: 64 KiB); a longer program is written from a thread.
_PIPE_AT_ONCE = 60 << 10


def classify(sample: dict | None, judge: dict | None) -> tuple[str, str | None, float | None]:
    """(status, error_type, runtime) from the two servers' replies; only the judge can pass."""
    if judge is None or sample is None:
        return "runtime_error", "HarnessError", None
    if judge.get("timed_out"):
        return "timeout", "Timeout", None
    verdict = _verdict(judge.get("report"))
    if verdict is None:  # the judge died without a verdict: never a pass
        return "runtime_error", _exit_kind(judge.get("returncode"), "Judge"), None
    status, error_type = verdict.get("status"), verdict.get("error_type")
    if status not in STATUSES or (error_type is not None and not isinstance(error_type, str)):
        return "runtime_error", "BadVerdict", None
    if status == "runtime_error" and error_type == "SampleDied":
        if sample.get("timed_out"):
            return "timeout", "Timeout", None
        return _sample_exit(sample.get("returncode"))
    if sample.get("cleanup_error"):  # the program left a tree its server could not remove
        return "runtime_error", "CleanupError", None
    if status != "passed":
        return status, error_type, None
    runtime = verdict.get("runtime_s")
    if not isinstance(runtime, float) or not math.isfinite(runtime) or runtime < 0:
        return "runtime_error", "BadRuntime", None
    return "passed", None, runtime


def _verdict(report: object) -> dict | None:
    if not isinstance(report, str) or not report.strip():
        return None
    try:
        verdict = json.loads(report.strip().splitlines()[-1])
    except ValueError:
        return None
    return verdict if isinstance(verdict, dict) else None


def _sample_exit(returncode: object) -> tuple[str, str | None, float | None]:
    if returncode == -signal.SIGXCPU:  # CPU-time limit: a busy loop, i.e. a timeout
        return "timeout", "CPUTimeLimit", None
    if returncode == 0:
        return "runtime_error", "EarlyExit", None  # left before the tests finished
    if returncode == 3:
        return "runtime_error", "SandboxSetupError", None
    return "runtime_error", _exit_kind(returncode, ""), None


def _exit_kind(returncode: object, prefix: str) -> str:
    if not isinstance(returncode, int):
        return prefix + "Error"
    if returncode < 0:
        try:
            return prefix + signal.Signals(-returncode).name
        except ValueError:
            return f"{prefix}Signal{-returncode}"
    return f"{prefix}ExitStatus{returncode}"


def _text(reply: dict | None, key: str) -> str:
    value = reply.get(key) if reply else None
    return value if isinstance(value, str) else ""


class _Pair:
    """A worker's two servers: one only ever sees programs, the other only tests."""

    def __init__(self, python: str, isolate: bool, cwd: Path) -> None:
        self.sample = _Server(python, isolate, cwd)
        self.judge = _Server(python, isolate, cwd)

    def ok(self) -> bool:
        return all(s.hello is not None and not s.hello.get("error") for s in (self.sample, self.judge))

    def error(self) -> str:
        for server in (self.sample, self.judge):
            if server.hello is None:
                return "no answer from the harness"
            if server.hello.get("error"):
                return str(server.hello["error"])
        return ""

    def alive(self) -> bool:
        return self.sample.alive() and self.judge.alive()

    def kill(self) -> None:
        self.sample.kill()
        self.judge.kill()


class _Server:
    """One fork server (`_harness.py`) in its own session (and namespaces)."""

    def __init__(self, python: str, isolate: bool, cwd: Path) -> None:
        mine, theirs = socket.socketpair()
        self.sock = mine
        try:
            self.proc = subprocess.Popen(
                # Not -I, whose -E ignores PYTHONHASHSEED: -s and an environment of the seed alone
                # (the harness takes its own directory off sys.path, as -P would, which Python
                # 3.10 lacks). Each server drew its own seed, so a sample whose answer hangs on
                # the order of a set of strings got one verdict or another by the worker it ran on.
                [python, "-s", HARNESS, str(theirs.fileno()), "1" if isolate else "0"],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=cwd,
                env={"PYTHONHASHSEED": "0"},
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.hello = self.receive(time.monotonic() + START_TIMEOUT_S)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, job: dict[str, Any], fd: int, source: int | None = None) -> None:
        """Sends ``job`` with the channel ``fd`` (and, to a sample server, the read end of the
        program's pipe)."""
        payload = json.dumps(job).encode()
        fds = [fd] if source is None else [fd, source]
        socket.send_fds(self.sock, [len(payload).to_bytes(4, "little")], fds)
        self.sock.sendall(payload)

    def receive(self, deadline: float) -> dict | None:
        """The server's next reply, or None if it died, lied or did not answer in time."""
        try:
            head = self._read(4, deadline)
            if head is None:
                return None
            body = self._read(int.from_bytes(head, "little"), deadline)
            reply = json.loads(body) if body is not None else None
        except (OSError, ValueError):
            return None
        return reply if isinstance(reply, dict) else None

    def _read(self, size: int, deadline: float) -> bytes | None:
        data = b""
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not select.select([self.sock], [], [], min(left, _wire.MAX_WAIT_S))[0]:
                continue
            chunk = self.sock.recv(min(size - len(data), 1 << 20))
            if not chunk:
                return None
            data += chunk
        return data

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.sock.close()
