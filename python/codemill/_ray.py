"""Ray for the engines that run on it (tokenize, dedup): one import guard, one way to connect.

Importing this module without Ray installed is a `CodemillError`, which the command line shows
as one line (an ImportError would be a traceback).
"""

from __future__ import annotations

from typing import Any

try:
    import ray
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    from codemill.errors import CodemillError

    raise CodemillError("the Ray engine needs Ray: pip install 'codemill[ray]'") from exc

__all__ = ["connect", "ray"]


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Joins the Ray this process already runs, else the cluster at ``address`` (or the one
    ``RAY_ADDRESS`` names), else starts a local one of ``num_cpus`` CPUs; True when it started
    one. No dashboard, and workers' output is not forwarded."""
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address:
        kw["address"] = address
    elif num_cpus:
        kw["num_cpus"] = num_cpus
    ray.init(**kw)
    return True
