"""Ray for the engines that run on it (tokenize, dedup): one import guard, one way to connect.

Importing this module without Ray installed is a `CodemillError`, which the command line shows
as one line (an ImportError would be a traceback).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from typing import Any

try:
    import ray
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    from codemill.errors import CodemillError

    raise CodemillError("the Ray engine needs Ray: pip install 'codemill[ray]'") from exc

__all__ = ["Spread", "connect", "in_driver_dir", "ray", "stop_tasks", "task_result"]


class Spread:
    """Where a run's tasks go (``scheduling_strategy`` of each, in the order submitted): the
    first, one per CPU of the cluster, to each alive node in turn, the rest where Ray's SPREAD
    puts them. SPREAD alone reads the nodes' free resources as last reported, and at a cluster's
    start a run of short tasks could all land on the driver's node. A node pinned to is a
    preference: one gone, or whose CPUs are all taken (another job's actor on a shared cluster:
    the task waited there, and the run with it), leaves its task to the others. ``cpus``: the
    CPUs the nodes registered, which no report lags (the free CPUs Ray reported at a cluster's
    start made a 3-node CI run one group of tasks, all on one node)."""

    def __init__(self) -> None:
        per_node = {n["NodeID"]: int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]}
        self.cpus = sum(per_node.values())
        # a, b, c, a, b, c, ...: a node's second CPU only after every node's first.
        self._first = iter(
            [node for k in range(max(per_node.values(), default=0)) for node, n in per_node.items() if n > k]
        )

    def __call__(self) -> Any:
        node = next(self._first, None)
        if node is None:
            return "SPREAD"
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return NodeAffinitySchedulingStrategy(node, soft=True, _spill_on_unavailable=True)


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Joins the Ray this process already runs, else the cluster at ``address`` (or the one
    ``RAY_ADDRESS`` names), else starts a local one of ``num_cpus`` CPUs; True when it started
    one. No dashboard, and workers' output is not forwarded."""
    if ray.is_initialized():
        return False
    # Ray's own INFO lines ("Connecting to existing Ray cluster ...") reached stderr under
    # --json and --no-progress: its warnings and errors still do.
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        _check_answers(address)
        kw["address"] = address
    elif os.environ.get("RAY_ADDRESS"):
        # What ray.init() joins when it is given no address (dedup has no --ray-address).
        _check_answers(os.environ["RAY_ADDRESS"], " (RAY_ADDRESS)")
    else:
        # A local one even where `ray start` runs a cluster on this machine: ray.init() without
        # an address joins that one, and then refused the CPU count (a tokenize run failed with
        # "num_cpus ... must not be provided" that the user never gave).
        kw["address"] = "local"
        if num_cpus:
            kw["num_cpus"] = num_cpus
    _raylet_errors_to_stderr()
    ray.init(**kw)
    return True


def _raylet_errors_to_stderr() -> None:
    """Sends the errors the raylets report to the driver ("A worker died ...", "Task ... failed.
    There are 3 retries remaining") to stderr: Ray prints them on stdout, where a run whose
    worker died wrote them into the command's `--json` output. (Its listener thread looks the
    printer up by name for each message; a Ray without it is left as it is.)"""
    from ray._private import worker

    show = getattr(worker, "print_to_stdstream", None)
    if show is None or getattr(show, "codemill", False):
        return

    def to_stderr(data: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if data.get("pid") == "raylet":
            data = {**data, "is_err": True}
        return show(data, *args, **kwargs)

    to_stderr.codemill = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


def in_driver_dir(cwd: str, paths: Iterable[str | os.PathLike[str]]) -> None:
    """Called in a Ray task given ``paths`` to read or write: local paths as the user gave them
    (relative ones too: they are in manifests and reports, which must equal a local run's) mean
    what they mean in the driver's directory ``cwd``, not in the one a node's worker happens to
    run in (where another file of the same name read as the input: the wrong records, silently)."""
    from codemill.errors import SourceError
    from codemill.sources.fs import is_url

    if any(not is_url(p) and not os.path.isabs(p) for p in paths):
        try:
            os.chdir(cwd)
        except OSError:
            raise SourceError(
                f"{cwd}: relative local paths mean the driver's directory, which this Ray node lacks; "
                "give absolute paths on a file system every node shares, or URLs"
            ) from None


# How long a failed run waits for the Ray tasks it cancelled to end, before it kills them.
CANCEL_WAIT_S = 30.0


def stop_tasks(pending: list[Any]) -> None:
    """Stops ``pending`` Ray tasks and waits until they have: each is interrupted, and killed
    if it is still running after ``CANCEL_WAIT_S`` (its worker process ends; what it was
    writing is never published, as after kill -9). None may write on after the run has
    failed, into an output the job may be about to clean up. A second Ctrl-C during the wait
    kills them at once. Ray's own errors here are not raised: the run's error is the one to
    report."""
    try:
        for ref in pending:
            ray.cancel(ref)
        _, left = ray.wait(pending, num_returns=len(pending), timeout=CANCEL_WAIT_S)
    except KeyboardInterrupt:
        _kill(pending)
        raise
    except Exception:
        left = pending  # which ended is unknown: kill them all
    _kill(left)
    if left:
        with contextlib.suppress(Exception):
            ray.wait(left, num_returns=len(left), timeout=CANCEL_WAIT_S)


def _kill(refs: list[Any]) -> None:
    for ref in refs:
        with contextlib.suppress(Exception):
            ray.cancel(ref, force=True)


def task_result(ref: Any, lost: str = "") -> Any:
    """The result of a Ray task (``ray.get``). A task that raised an input or output error (an
    `OSError` or `ValueError`, codemill's own among them, which name the file at fault) raises it
    here as it is, not wrapped in Ray's report of the worker's traceback; a worker or node lost
    (killed, out of memory) is one line, ``lost`` after it (what the user can do)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, OSError | ValueError):
            raise cause from None
        if isinstance(exc, ray.exceptions.RayTaskError):
            raise
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ChildProcessError(f"a Ray task failed ({type(exc).__name__}: {detail}){lost}") from None


def _check_answers(address: str, source: str = "") -> None:
    """Refuses a ``host:port`` (or ``ray://host:port``) where nothing accepts a connection: Ray
    itself retries such an address for minutes, printing connection warnings. ``auto``,
    ``local`` and other forms are left to Ray."""
    import socket

    from codemill.errors import ConfigError

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        conn = socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_S)
    except OSError as exc:
        reason = exc or type(exc).__name__
        raise ConfigError(f"Ray address {address}{source}: nothing answers there ({reason})") from None
    # Ray's GCS (and its client server, ray://) speak gRPC: HTTP/2, whose server answers a
    # client's preface with its SETTINGS frame. Something else there (Ray's dashboard, an S3
    # server) had ray.init() retry forever, printing timeouts. (Over TLS the preface would be
    # no handshake: Ray is left to say.)
    if os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true"):
        conn.close()
        return
    with conn:
        try:
            conn.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9 and (got := conn.recv(9 - len(head))):
                head += got
        except OSError:
            head = b""
    if len(head) < 9 or head[3] != _H2_SETTINGS:
        raise ConfigError(
            f"Ray address {address}{source}: something answers there, but not Ray's GCS "
            "(give the head node's GCS port, 6379 by default, or ray://HOST:10001)"
        )


_CONNECT_S = 10.0
# The HTTP/2 client preface and an empty SETTINGS frame; the type byte of the server's answer.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_SETTINGS = 0x04
