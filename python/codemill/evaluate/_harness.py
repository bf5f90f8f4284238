"""Fork server for one role, sample or judge: `python -s _harness.py CONTROL_FD ISOLATE`.

The parent (sandbox.py) starts two per worker: a sample server, which only ever receives
programs, and a judge server, which only ever receives tests. Each one, when ISOLATE is
1, first moves into its own user, mount, network and PID namespaces and builds the
minimal read-only root described in `_confine.py`; then it serves jobs. For each job it
receives, with the job, one end of a socketpair whose other end went to the other server,
and forks a child that confines itself before any job code runs:

    chroot into the root, cwd /work (a fresh size-limited tmpfs) or / for the judge,
    an unprivileged uid (sample and judge differ), rlimits, PR_SET_DUMPABLE 0,
    no_new_privs, Landlock, seccomp

and then runs `_sample.main` or `_judge.main`. The server waits (killing the child and,
as PID 1 of its namespace, everything else at the timeout; the sample server also kills
the sample as soon as the judge hangs up), reads the child's capped output and the
judge's verdict, unmounts the work dir and replies. A server never runs job code itself,
so every child starts from the same pristine interpreter.

Standalone on purpose: it imports nothing from codemill, so it runs in any interpreter.
"""

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time

# Load the siblings from this file's directory, then take it off sys.path again (and the entry
# a script's directory gets: the server runs without -I or -P, see sandbox.py) so that no child
# can import from here.
sys.path.insert(0, os.path.realpath(os.path.dirname(os.path.abspath(__file__))))
import _cleanup  # type: ignore[import-not-found]
import _confine  # type: ignore[import-not-found]
import _judge  # type: ignore[import-not-found]
import _sample  # type: ignore[import-not-found]
import _wire  # type: ignore[import-not-found]

# (as named, and as the file resolves: Python puts the resolved script's directory first)
_HERE = {os.path.realpath(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(os.path.realpath(__file__))}
sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") not in _HERE]

# Standard modules that tests and programs commonly import, loaded once per server so that
# each forked child finds them in sys.modules instead of importing them again (pure speed:
# a child may patch its copies, which no other process sees).
for _name in ("typing", "math", "random", "re", "string", "collections", "copy", "hashlib", "itertools", "functools"):
    with contextlib.suppress(ImportError):
        __import__(_name)

OUTPUT_KEEP = 2000  # bytes of stdout (head) and stderr (tail) a reply carries
PRIVATE = "/tmp"  # inside our own mount namespace: a tmpfs nobody else sees
ROOT = PRIVATE + "/root"
STATE = PRIVATE + "/state"


class Server:
    """One role's fork server: hello on start, then one reply per job on the control socket."""

    def __init__(self, control_fd, isolate):
        self.control = socket.socket(fileno=control_fd)
        self.lib = _confine.libc()
        self.isolated = False
        self.program_ids = False
        self.state = None
        self.hello = {"isolated": False, "program_ids": False, "error": None}
        if isolate:
            try:
                self._isolate()
            except OSError as exc:
                self.hello["error"] = str(exc)
                self._reply(self.hello)
                sys.exit(3)
        if self.state is None:  # no private /tmp: use the sandbox's own dir (our cwd), which it removes
            self.state = tempfile.mkdtemp(prefix="server-", dir=os.getcwd())
        self.hello["landlock_abi"] = _confine.landlock_abi(self.lib)
        self.hello["seccomp"] = _confine.seccomp_supported()
        self._reply(self.hello)

    def _isolate(self):
        self.program_ids = _confine.enter_namespaces(self.lib, _confine.host_ids_for_programs())
        pid = os.fork()
        if pid != 0:  # stay as the PID namespace's reaper-of-last-resort's parent
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        # We are PID 1 of the new namespace from here on.
        lib = self.lib
        rc = lib.mount(b"tmpfs", PRIVATE.encode(), b"tmpfs", _confine.MS_NOSUID | _confine.MS_NODEV, b"mode=700")
        if rc != 0:
            raise OSError(0, "could not mount a private /tmp")
        os.mkdir(ROOT, 0o755)
        os.mkdir(STATE, 0o700)
        _confine.build_root(lib, ROOT)
        self.isolated = True
        self.state = STATE
        self.hello.update(isolated=True, program_ids=self.program_ids)

    # --- control channel ---------------------------------------------------------------

    def _reply(self, message):
        payload = json.dumps(message).encode()
        self.control.sendall(len(payload).to_bytes(4, "little") + payload)

    def _receive(self):
        """(job, channel fd, program fd or None) or None at EOF."""
        head, fds, _, _ = socket.recv_fds(self.control, 4, 2)
        if not head:
            return None
        while len(head) < 4:
            more = self.control.recv(4 - len(head))
            if not more:
                return None
            head += more
        size = int.from_bytes(head, "little")
        body = b""
        while len(body) < size:
            chunk = self.control.recv(min(size - len(body), 1 << 20))
            if not chunk:
                return None
            body += chunk
        return json.loads(body), (fds[0] if fds else None), (fds[1] if len(fds) > 1 else None)

    def serve(self):
        while True:
            received = self._receive()
            if received is None:
                return
            job, channel, source = received
            if channel is None or (job.get("role") == "sample") != (source is not None):
                for fd in (channel, source):
                    if fd is not None:
                        os.close(fd)
                self._reply({"error": "job without its channel or program"})
                continue
            self._reply(self.run(job, channel, source))

    # --- one job -------------------------------------------------------------------------

    def run(self, job, channel, source=None):
        """Runs one job in a child; ``source``: the read end of a sample's program pipe, which
        only the child reads (the server never holds a program: see `sandbox._run_in`)."""
        role = job["role"]
        out_path, err_path = os.path.join(self.state, "stdout"), os.path.join(self.state, "stderr")
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        report_r, report_w = os.pipe()
        workdir = None
        try:
            if role == "sample":
                workdir = self._make_workdir(job)
            pid = os.fork()
            if pid == 0:  # the child: nothing may return from here
                try:
                    moves = [(out, 1), (err, 2), (channel, 3), (report_w, 4)]
                    if source is not None:
                        moves.append((source, _sample.SOURCE_FD))
                    kept = [target for _, target in moves]
                    # Each away from the fds it goes to first: one may already sit where another goes.
                    moves = [(fcntl.fcntl(fd, fcntl.F_DUPFD, 16) if fd in kept else fd, t) for fd, t in moves]
                    for fd, target in moves:
                        os.dup2(fd, target)
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    os.closerange(max(kept) + 1, 1 << 16)  # the control socket and anything else
                    self._child(job, workdir)
                finally:
                    os._exit(4)
        finally:
            for fd in (report_w, out, err):
                os.close(fd)
            if source is not None:
                os.close(source)
        # The sample server keeps its copy of the channel until the sample exits, to see
        # the judge hang up (a verdict reached: the sample is no longer needed); then it
        # closes it, so that a judge still waiting sees EOF.
        watch = channel if role == "sample" else None
        if watch is None:
            os.close(channel)
        start = time.monotonic()
        try:
            timed_out = not _wait(pid, job["timeout_s"], watch)
        finally:
            if watch is not None:
                os.close(watch)
        if timed_out:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        wall = time.monotonic() - start
        self._reap_all()
        reply = {
            "returncode": os.waitstatus_to_exitcode(status),
            "timed_out": timed_out,
            "wall_s": wall,
            "report": _drain(report_r).decode("utf-8", "replace"),
            "stdout": _read_capped(out_path, head=True),
            "stderr": _read_capped(err_path, head=False),
            "cleanup_error": None,
        }
        if workdir is not None:
            try:
                self._remove_workdir(workdir)
            except OSError as exc:
                reply["cleanup_error"] = str(exc)
        return reply

    def _make_workdir(self, job):
        if self.isolated:
            owner = _confine.SAMPLE_ID if self.program_ids else 0
            _confine.mount_work(self.lib, ROOT + "/work", job["work_bytes"], owner)
            return "/work"
        return tempfile.mkdtemp(prefix="work-", dir=self.state)

    def _remove_workdir(self, workdir):
        if self.isolated:
            _confine.unmount(self.lib, ROOT + "/work")
        else:
            _cleanup.remove_tree(workdir)

    def _reap_all(self):
        """As PID 1 of the namespace: nothing a child left behind outlives its job."""
        if os.getpid() != 1:
            return
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                if os.waitpid(-1, 0)[0] == 0:
                    break
            except ChildProcessError:
                break

    def _child(self, job, workdir):
        """Confine this process, then run the role's code. Never returns."""
        os.setsid()
        role = job["role"]

        lib = self.lib
        try:
            if self.isolated:
                uid = (_confine.SAMPLE_ID if role == "sample" else _confine.JUDGE_ID) if self.program_ids else None
                _confine.enter_root(lib, ROOT, workdir or "/", uid)
                readable, writable = ["/"], [workdir] if workdir else []
            else:
                os.chdir(workdir or "/")
                if os.geteuid() == 0:  # no namespace to hide in: at least no capabilities
                    _confine.drop_capabilities(lib)
                readable, writable = _confine.host_readable(), [workdir] if workdir else []
            _confine.set_limits(
                job["memory_bytes"], job["file_bytes"], job["open_files"], job["processes"], job["cpu_seconds"]
            )
            lib.prctl(_confine.PR_SET_DUMPABLE, 0, 0, 0, 0)  # no /proc/PID/mem, no ptrace
            if job["landlock"] or job["seccomp"]:
                _confine.no_new_privs(lib)
            if job["landlock"]:
                _confine.landlock(lib, readable, writable)
            if job["seccomp"]:
                _confine.seccomp(lib)
        except OSError as exc:
            # Fail closed: never run job code with less isolation than the parent asked for.
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
            os._exit(3)
        if "random" in sys.modules:  # imported by the server: reseed, as a fresh import would
            sys.modules["random"].seed()
        os.environ.clear()
        if workdir:
            os.environ["TMPDIR"] = workdir
        sys.dont_write_bytecode = True
        sys.path[:] = [p for p in sys.path if "-packages" not in p]
        if role == "sample":
            _sample.main(job, 3)
            _sample.finish()
        else:
            _judge.main(job, 3, 4)
            _sample.finish()


def _wait(pid, timeout, hangup_fd):
    """True when `pid` exited (or `hangup_fd`'s peer hung up, then killed) within `timeout`."""
    if not hasattr(os, "pidfd_open"):  # not Linux: poll the child, no hang-up watch
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(0.001)
        return False
    pidfd = os.pidfd_open(pid)
    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    if hangup_fd is not None:
        poll.register(hangup_fd, select.POLLRDHUP)  # not POLLIN: the data is the child's
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            events = dict(poll.poll(min(left, _wire.MAX_WAIT_S) * 1000))
            if pidfd in events:
                return True
            if hangup_fd in events:
                os.kill(pid, signal.SIGKILL)
                return True
    finally:
        os.close(pidfd)


def _drain(fd):
    os.set_blocking(fd, False)
    chunks = []
    try:
        while len(chunks) < 16:  # the verdict is one short line
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _read_capped(path, head):
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if not head and size > OUTPUT_KEEP:
            f.seek(size - OUTPUT_KEEP)
        data = f.read(OUTPUT_KEEP)
    text = data.decode("utf-8", "replace")
    if size > OUTPUT_KEEP:
        text = text + "\n[... truncated]" if head else "[truncated ...]\n" + text
    return text


if __name__ == "__main__":
    assert _wire.MAX_FRAME > 0
    Server(int(sys.argv[1]), sys.argv[2] == "1").serve()
