"""Linux confinement primitives for the harness: namespaces, a minimal root, limits, Landlock, seccomp.

Used by `_harness.py` inside bare `python -I` interpreters, so it imports nothing from
codemill. Every function raises OSError when the kernel refuses; callers fail closed.

The world a program sees (when user namespaces are available):

    /                      a read-only tmpfs holding only the bind mounts below
    <stdlib>               the interpreter's standard library, read-only, site-packages hidden
    /usr/lib, /usr/lib64   shared libraries for extension modules, read-only, Python
                           package dirs hidden
    /dev/{null,zero,urandom,random}
    /work                  (samples only) a fresh size-limited tmpfs per program, its cwd

No /proc, no /tmp of the host, no /etc, no benchmark data. The program runs as an
unprivileged uid of the namespace with no capabilities, under rlimits, Landlock and seccomp.
"""

import ctypes
import os
import platform
import resource
import struct
import sys
import sysconfig

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_SET_DUMPABLE = 38, 22, 4
SECCOMP_MODE_FILTER = 2

# In-namespace ids: the server is root of its namespace; programs and judges are not.
SAMPLE_ID, JUDGE_ID = 1000, 1001
DEVICES = ("null", "zero", "urandom", "random")


def libc():
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return lib


def _check(rc, what):
    if rc != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


# --- namespaces --------------------------------------------------------------------------


def host_ids_for_programs():
    """Host uid/gid that the namespace's unprivileged ids map to, or None when not root.

    Only root may map more than its own id without newuidmap. Root maps SAMPLE_ID and
    JUDGE_ID to two ids of its subordinate range (/etc/subuid), default 100000: never to
    host root, never to each other.
    """
    if os.geteuid() != 0:
        return None
    base = 100000
    try:
        with open("/etc/subuid") as f:
            for line in f:
                name, _, rest = line.strip().partition(":")
                if name in ("root", "0"):
                    base = int(rest.partition(":")[0])
                    break
    except (OSError, ValueError):
        pass
    return base


def enter_namespaces(lib, program_base):
    """Move this process into new user, mount, net and PID namespaces (PID: for children).

    A helper forked first writes our id maps from outside, as only the parent namespace
    may. Returns True when the unprivileged program ids are mapped.
    """
    uid, gid = os.geteuid(), os.getegid()
    ready_r, ready_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        try:
            os.close(ready_w)
            os.read(ready_r, 1)
            target = f"/proc/{os.getppid()}"
            uids, gids = f"0 {uid} 1\n", f"0 {gid} 1\n"
            if program_base is not None:
                uids += f"{SAMPLE_ID} {program_base} 2\n"
                gids += f"{SAMPLE_ID} {program_base} 2\n"
            else:
                with open(f"{target}/setgroups", "w") as f:
                    f.write("deny")
            with open(f"{target}/uid_map", "w") as f:
                f.write(uids)
            with open(f"{target}/gid_map", "w") as f:
                f.write(gids)
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(ready_r)
    try:
        _check(lib.unshare(CLONE_NEWUSER), "unshare(user)")
    finally:
        os.write(ready_w, b"x")
        os.close(ready_w)
        _, status = os.waitpid(helper, 0)
    if status != 0:
        raise OSError(0, "could not write the user namespace id maps")
    _check(lib.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC), "unshare(mount, net, pid, ipc)")
    _check(lib.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    return program_base is not None


def _bind_ro(lib, source, target, device=False):
    _check(lib.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), f"bind {source}")
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | (0 if device else MS_NODEV)
    _check(lib.mount(None, target.encode(), None, flags, None), f"read-only {source}")


def _hide(lib, target):
    """Mount an empty read-only tmpfs over `target` (site-packages and the like)."""
    data = b"size=4k,nr_inodes=4,mode=555"
    _check(lib.mount(b"tmpfs", target.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, data), f"hide {target}")


def build_root(lib, root):
    """Fill `root` (an empty dir) with the minimal world described above; then read-only."""
    _check(lib.mount(b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=1m,mode=755"), "root tmpfs")
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    sources = [stdlib]
    for lib_dir in ("/usr/lib", "/usr/lib64", "/lib", "/lib64"):
        real = os.path.realpath(lib_dir)
        if os.path.isdir(real) and real not in sources:
            sources.append(real)
    for source in sources:
        target = root + source
        os.makedirs(target, mode=0o755, exist_ok=True)
        _bind_ro(lib, source, target)
    for link in ("/lib", "/lib64", "/bin"):  # merged-/usr symlinks, as on the host
        if os.path.islink(link):
            os.symlink(os.readlink(link), root + link)
    hidden = [sysconfig.get_paths()[k] for k in ("purelib", "platlib")]
    hidden += [os.path.join(stdlib, "site-packages"), os.path.join(stdlib, "dist-packages")]
    for lib_dir in sources[1:]:
        for name in os.listdir(lib_dir):  # Debian's /usr/lib/python3/dist-packages and friends
            if name.startswith("python"):
                hidden += [os.path.join(lib_dir, name, "site-packages"), os.path.join(lib_dir, name, "dist-packages")]
    for path in sorted(set(hidden)):
        real = os.path.realpath(path)
        if os.path.isdir(real) and os.path.isdir(root + real):
            _hide(lib, root + real)
    os.makedirs(root + "/dev", mode=0o755)
    for name in DEVICES:
        open(f"{root}/dev/{name}", "w").close()
        _bind_ro(lib, f"/dev/{name}", f"{root}/dev/{name}", device=True)  # nodev would refuse open()
    os.makedirs(root + "/work", mode=0o755)
    flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    _check(lib.mount(None, root.encode(), None, flags, None), "root read-only")


def mount_work(lib, path, size_bytes, owner):
    """A fresh tmpfs at `path`: the program's only writable place, bounded in bytes and inodes."""
    inodes = max(64, size_bytes // 2048)  # each inode costs kernel memory: bound them too
    data = f"size={size_bytes},nr_inodes={inodes},mode=700,uid={owner},gid={owner}".encode()
    _check(lib.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, data), "work tmpfs")


def unmount(lib, path):
    """Detach a tmpfs: its whole tree goes at once, however deep, odd or large."""
    _check(lib.umount2(path.encode(), MNT_DETACH), f"unmount {path}")


def enter_root(lib, root, cwd, uid):
    """chroot into `root`, then become `uid` (no capabilities left); or drop capabilities."""
    os.chroot(root)
    os.chdir(cwd)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # a non-zero uid loses every capability
    else:
        drop_capabilities(lib)


def drop_capabilities(lib):
    """capset(2) to nothing: root of the namespace without any capability."""
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = bytes(24)  # two empty __user_cap_data_struct
    _check(lib.syscall(126 if platform.machine() == "x86_64" else 91, header, data), "capset")


# --- limits --------------------------------------------------------------------------------


def set_limits(memory_bytes, file_bytes, open_files, processes, cpu_seconds):
    limits = {
        resource.RLIMIT_AS: memory_bytes,
        resource.RLIMIT_DATA: memory_bytes,
        resource.RLIMIT_FSIZE: file_bytes,
        resource.RLIMIT_NOFILE: open_files,
        resource.RLIMIT_NPROC: processes,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_MEMLOCK: 0,
        resource.RLIMIT_MSGQUEUE: 0,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    # SIGXCPU at the soft limit ends a busy loop even if the wall-clock kill were late.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


# --- Landlock (linux/landlock.h) -----------------------------------------------------------

_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1, 2, 4, 8
_LL_TRUNCATE, _LL_IOCTL_DEV = 1 << 14, 1 << 15


def landlock_abi(lib):
    if sys.platform != "linux":  # syscall 444 means something else elsewhere
        return 0
    return max(0, int(lib.syscall(_LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))))


def landlock(lib, readable, writable):
    """Reads only under `readable`, writes only under `writable`, no TCP, no signals out."""
    abi = landlock_abi(lib)
    if abi < 1:
        raise OSError(0, "Landlock is not available")
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
    ruleset = lib.syscall(_LL_CREATE, attr, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    read = _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR
    rules = {}
    for path in readable:
        if path and os.path.exists(path):
            rules.setdefault(os.path.realpath(path), read)
    for path in writable:
        rules[os.path.realpath(path)] = fs
    rules["/dev/null"] = (_LL_READ_FILE | _LL_WRITE_FILE | _LL_TRUNCATE) & fs
    for path, access in rules.items():
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        rule = ctypes.create_string_buffer(struct.pack("=Qi", access & fs, fd), 12)
        rc = lib.syscall(_LL_ADD_RULE, ruleset, 1, rule, 0)
        os.close(fd)
        if rc != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    if lib.syscall(_LL_RESTRICT, ruleset, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)


def host_readable():
    """Without a private root: the standard library and system libraries, nothing else.

    site-packages sits inside the stdlib dir and cannot be carved out by Landlock; the
    sandbox lists that as a limitation.
    """
    stdlib = sysconfig.get_paths()["stdlib"]
    return [stdlib, *(p for p in sys.path if p.startswith(stdlib)), "/usr/lib", "/usr/lib64", "/lib", "/lib64"]


# --- seccomp --------------------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# Syscalls a test program has no use for: new processes and programs, namespaces and
# mounts, other processes' memory, anonymous files that escape the address-space limit,
# metadata changes (modes, owners, times, xattrs), device nodes, io_uring (which would
# bypass this filter), kernel keyrings, BPF and perf, and System V IPC (its shared memory
# outlived the run and escaped the address-space limit: 3 x 64 MiB segments left on the host).
_DENIED = {
    "x86_64": {
        "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "kcmp": 312, "pidfd_getfd": 438, "memfd_create": 319, "memfd_secret": 447,
        "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
        "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
        "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
        "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
        "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
        "setxattrat": 463, "removexattrat": 466,
        "mknod": 133, "mknodat": 259, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "userfaultfd": 323, "perf_event_open": 298, "bpf": 321,
        "keyctl": 250, "add_key": 248, "request_key": 249,
        "name_to_handle_at": 303, "open_by_handle_at": 304,
        "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65,
        "semctl": 66, "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
    },
    # asm-generic numbers; written from the tables, not exercised on this project's CI.
    "aarch64": {
        "execve": 221, "execveat": 281,
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
        "chroot": 51, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "kcmp": 272, "pidfd_getfd": 438, "memfd_create": 279, "memfd_secret": 447,
        "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchown": 55, "fchownat": 54,
        "utimensat": 88, "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7,
        "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16,
        "setxattrat": 463, "removexattrat": 466,
        "mknodat": 33, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "userfaultfd": 282, "perf_event_open": 241, "bpf": 280,
        "keyctl": 219, "add_key": 217, "request_key": 218,
        "name_to_handle_at": 264, "open_by_handle_at": 265,
        "msgget": 186, "msgctl": 187, "msgrcv": 188, "msgsnd": 189, "semget": 190, "semctl": 191,
        "semtimedop": 192, "semop": 193, "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197,
    },
}  # fmt: skip
_CLONE = {"x86_64": 56, "aarch64": 220}
_SOCKET = {"x86_64": 41, "aarch64": 198}
_CLONE3 = 435
_CLONE_THREAD = 0x10000
_AF_INET, _AF_INET6 = 2, 10


def seccomp_supported():
    return sys.platform == "linux" and platform.machine() in _AUDIT_ARCH


def seccomp(lib):
    """Install the filter; PR_SET_NO_NEW_PRIVS must already be set."""
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
    # clone: threads (CLONE_THREAD) yes, new processes no. Arguments are at offset 16.
    prog += [
        op(jeq, _CLONE[arch], 0, 4),
        op(ld, 16),
        op(jset, _CLONE_THREAD, 0, 1),
        op(ret, allow),
        op(ret, eperm),
    ]
    # socket: IPv4/IPv6 only (the net namespace has no route out); no unix, netlink,
    # packet, ... sockets. socketpair stays allowed: it reaches nothing outside.
    prog += [
        op(ld, 0),
        op(jeq, _SOCKET[arch], 0, 5),
        op(ld, 16),
        op(jeq, _AF_INET, 2, 0),
        op(jeq, _AF_INET6, 1, 0),
        op(ret, eperm),
        op(ret, allow),
        op(ret, allow),
    ]
    code = ctypes.create_string_buffer(b"".join(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(code, ctypes.c_void_p))
    _check(lib.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp filter")


def no_new_privs(lib):
    _check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
