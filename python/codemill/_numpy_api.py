"""NumPy's C API loaded for the Rust core where a Ctrl-C cannot break the load.

rust-numpy loads NumPy's C API at the first array the core makes, and that runs some of NumPy's
Python code (its version check). A Ctrl-C arriving then raised KeyboardInterrupt inside it,
which rust-numpy takes for a broken NumPy and panics on: a Rust backtrace and a PanicException,
not an interrupt (a review's Ctrl-C at dedup's first batch of signatures). Python runs signal
handlers on its main thread only, so the load runs on a thread of its own, once: when a module
whose core calls make arrays is imported (MinHash, the embedder), and before a command that
makes them runs (`codemill.cli`); not for tokenize, which never imports NumPy.
"""

from __future__ import annotations

import threading

_loaded = False


def _load() -> None:
    global _loaded
    from codemill import _core

    _core.content_hashes([], False)  # an empty array: the API's first use
    _loaded = True


def load() -> None:
    """Loads the API unless it is loaded. A Ctrl-C meanwhile interrupts the wait, as anywhere
    else (the thread finishes the load)."""
    if _loaded:
        return
    thread = threading.Thread(target=_load, name="codemill-numpy-api", daemon=True)
    thread.start()
    thread.join()
