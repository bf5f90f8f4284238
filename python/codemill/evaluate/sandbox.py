"""The operating-system sandbox that runs one untrusted program and classifies the outcome.

Layers, outermost first (each applied where the host allows, see `Sandbox.limitations`):

- a fresh process per program, forked from a pristine isolated-mode interpreter
  (`python -I`, empty environment) that never runs sample code itself; its own temporary
  work dir as cwd, stdin from /dev/null, stdout/stderr to size-capped files;
- its own session, killed as a whole group on timeout;
- Linux namespaces via `unshare`: a user namespace (no capabilities on the host), a network
  namespace (no network at all) and a PID namespace (host processes invisible; when the
  program's first process exits the kernel kills everything it left behind);
- inside, before any sample code (see `_harness.py`): hard rlimits (address space, CPU
  time, processes, file size, open files, no core dumps), Landlock (writes only under the
  work dir, reads only the interpreter and system libraries, no TCP, no signals outside)
  and a seccomp filter (no fork, no exec).

Pass detection: the harness reports through a pipe, every line prefixed with a per-run
random nonce the sample never sees in its source, argv or environment; only
`<nonce> ok <seconds>` plus exit status 0 is a pass.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HARNESS = str(Path(__file__).with_name("_harness.py"))

STATUSES = ("passed", "failed", "timeout", "syntax_error", "runtime_error")

# How much of stdout/stderr a result keeps (the files themselves are capped by RLIMIT_FSIZE).
OUTPUT_KEEP = 2000

# Extra seconds the parent waits for a server's reply beyond the program's own timeout.
WATCHDOG_GRACE_S = 5.0


@dataclass(frozen=True)
class Program:
    """What the harness runs: see the phases in `_harness.py`."""

    program: str  # prompt + completion
    test: str
    entry_point: str | None = None  # passed to check() when set
    prelude: str | None = None  # trusted code run first in the test namespace
    exposed: tuple[str, ...] = ()  # names the tests take from the sample's namespace


@dataclass(frozen=True)
class RunResult:
    status: str
    error_type: str | None
    runtime_s: float | None  # the harness's own timing of load + tests (passed runs only)
    wall_s: float
    stdout: str
    stderr: str
    returncode: int


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    file_mb: int = 16
    open_files: int = 128
    processes: int = 256  # RLIMIT_NPROC; seccomp forbids fork anyway


class Sandbox:
    """Runs programs under `Limits`; probes once which isolation layers the host allows."""

    def __init__(self, limits: Limits | None = None, python: str | None = None) -> None:
        self.limits = limits or Limits()
        self.python = python or sys.executable
        self.limitations: list[str] = []
        self._unshare = self._probe_namespaces()
        self.landlock_abi = _landlock_abi()
        if self.landlock_abi < 1:
            self.limitations.append(
                "Landlock unavailable: the program can write wherever this user can and read the whole file system"
            )
        elif self.landlock_abi < 4 and not self._unshare:
            self.limitations.append("no network isolation (needs Landlock ABI 4 or a netns)")
        self.seccomp = sys.platform == "linux" and os.uname().machine in ("x86_64", "aarch64")
        if not self.seccomp:
            self.limitations.append("no seccomp filter: the program may fork and exec")
        self._base = Path(tempfile.mkdtemp(prefix="codemill-eval-"))
        self._idle: queue.SimpleQueue[_Server] = queue.SimpleQueue()

    def layers(self) -> dict[str, object]:
        return {
            "namespaces": bool(self._unshare),
            "landlock_abi": self.landlock_abi,
            "seccomp": self.seccomp,
            "limitations": list(self.limitations),
        }

    def _probe_namespaces(self) -> list[str]:
        unshare = shutil.which("unshare")
        cmd = [unshare or "unshare", "--user", "--net", "--pid", "--fork", "--kill-child"]
        if unshare:
            probe = subprocess.run(
                [*cmd, self.python, "-I", "-c", "pass"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env={},
                timeout=30,
                check=False,
            )
            if probe.returncode == 0:
                return cmd
        self.limitations.append(
            "Linux namespaces unavailable (unshare --user --net --pid failed): the program "
            "shares the host's network and process table"
        )
        return []

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        _remove_tree(self._base)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """Run one program; safe to call from several threads (one server per caller)."""
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self._base))
        try:
            server = self._idle.get_nowait()
        except queue.Empty:
            server = _Server([*self._unshare, self.python, "-I", HARNESS], self._base)
        try:
            result = self._run_in(server, run_dir, program, timeout_s)
        except BaseException:
            server.kill()
            raise
        finally:
            _remove_tree(run_dir)
        if server.alive():
            self._idle.put(server)
        return result

    def _run_in(self, server: _Server, run_dir: Path, program: Program, timeout_s: float) -> RunResult:
        workdir = run_dir / "work"
        workdir.mkdir()
        nonce = secrets.token_hex(16)
        limits = self.limits
        job = {
            "nonce": nonce,
            "workdir": str(workdir),
            "stdout": str(run_dir / "stdout"),
            "stderr": str(run_dir / "stderr"),
            "timeout_s": timeout_s,
            "program": program.program,
            "test": program.test,
            "entry_point": program.entry_point,
            "prelude": program.prelude,
            "exposed": list(program.exposed),
            "memory_bytes": limits.memory_mb << 20,
            "file_bytes": limits.file_mb << 20,
            "open_files": limits.open_files,
            "processes": limits.processes,
            "cpu_seconds": max(1, int(timeout_s) + 1),
            "landlock": self.landlock_abi >= 1,
            "seccomp": self.seccomp,
        }
        start = time.perf_counter()
        # The server enforces the timeout; this watchdog only catches a wedged server.
        reply = server.ask(job, timeout_s + WATCHDOG_GRACE_S)
        wall = time.perf_counter() - start
        if reply is None:
            server.kill()
            reply = {"returncode": -signal.SIGKILL, "timed_out": True, "report": ""}
        stdout = _read_capped(run_dir / "stdout", head=True)
        stderr = _read_capped(run_dir / "stderr", head=False)
        report = _nonce_line(reply["report"], nonce)
        status, error_type, runtime = classify(report, reply["returncode"], reply["timed_out"])
        return RunResult(status, error_type, runtime, wall, stdout, stderr, reply["returncode"])


class _Server:
    """One fork server (`_harness.py`) in its own session and namespaces."""

    def __init__(self, cmd: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env={},
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, job: dict, timeout_s: float) -> dict | None:
        """The server's reply to `job`, or None if it died or did not answer in time."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(job).encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            return None
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        if not ready:
            return None
        line = stdout.readline()
        return json.loads(line) if line else None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


def classify(report: str | None, returncode: int, timed_out: bool) -> tuple[str, str | None, float | None]:
    """(status, error_type, runtime) from the harness's nonce line and the exit status."""
    if timed_out:
        return "timeout", "Timeout", None
    if report is not None:
        kind, _, rest = report.partition(" ")
        if kind == "ok" and returncode == 0:
            try:
                return "passed", None, float(rest)
            except ValueError:
                return "runtime_error", "BadReport", None
        if kind == "syntax":
            return "syntax_error", rest or "SyntaxError", None
        if kind == "error":
            phase, _, error_type = rest.partition(" ")
            if phase in ("test", "check") and error_type == "AssertionError":
                return "failed", error_type, None
            return "runtime_error", error_type or "Error", None
        if kind == "sandbox":
            return "runtime_error", rest.partition(" ")[0], None
    if returncode < 0:
        sig = signal.Signals(-returncode)
        if sig == signal.SIGXCPU:  # CPU-time limit: a busy loop, i.e. a timeout
            return "timeout", "CPUTimeLimit", None
        return "runtime_error", sig.name, None
    if returncode == 0:
        return "runtime_error", "EarlyExit", None  # exited 0 before the tests finished
    return "runtime_error", f"ExitStatus{returncode}", None


def _nonce_line(report: str, nonce: str) -> str | None:
    """The last nonce-prefixed line of the result pipe; anything else is the sample's noise."""
    prefix = nonce + " "
    found = None
    for line in report.splitlines():
        if line.startswith(prefix):
            found = line[len(prefix) :]
    return found


def _read_capped(path: Path, head: bool) -> str:
    size = path.stat().st_size
    with open(path, "rb") as f:
        if not head and size > OUTPUT_KEEP:
            f.seek(size - OUTPUT_KEEP)
        data = f.read(OUTPUT_KEEP)
    text = data.decode("utf-8", "replace")
    if size > OUTPUT_KEEP:
        text = text + "\n[... truncated]" if head else "[truncated ...]\n" + text
    return text


def _remove_tree(path: Path) -> None:
    def make_writable(func, p, _exc):  # a sample may chmod its files and dirs to 000
        try:
            os.chmod(p, 0o700)
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable)
    else:
        shutil.rmtree(path, onerror=make_writable)


def _landlock_abi() -> int:
    if sys.platform != "linux":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return max(0, int(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))))
    except (OSError, AttributeError):
        return 0
