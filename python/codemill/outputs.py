"""The one output contract: which existing path a command may replace, decided in one place.

Every command and API function that writes a file or directory calls :func:`check_output`
before it does any work; the writing itself goes through `codemill._io` (temporary name, then
rename; a directory is swapped in whole), so an interrupted or failed run leaves the previous
output intact and no debris. The rules:

- an output equal to an input, inside an input tree, or holding an input is refused, always
  (the next run would read its own output, or the replacement would delete the input);
- an existing output that this command did not write is refused unless ``overwrite``;
- an output this command wrote earlier is replaced as a whole, or resumed where the command
  resumes (`tokenize`).

Each writer says what "written by this command" means with an ``is_ours(path) -> bool``
predicate (a manifest, a report file, a format tag). A URL output (``s3://…``) gets the same
rules with prefixes for trees: equal to an input, under one or above one is refused; an existing
object a file output would replace must carry this command's sidecar (`written_by`) unless
``overwrite``; what a directory output (a prefix) holds is checked by its writer, which owns its
commit (tokenize: its manifest; dedup: its report).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from codemill.errors import OutputError
from codemill.sources.fs import is_url  # the one rule for what is a URL

__all__ = [
    "OVERWRITE_HINT",
    "SIDECAR_SUFFIX",
    "check_output",
    "is_url",
    "publish_json",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
    "written_by",
]

# How a refused output is let through, in library and command-line words at once.
OVERWRITE_HINT = "pass overwrite=True (--overwrite on the command line) to replace it"


def file_says(path: Path, marker: bytes) -> bool:
    """An ``is_ours`` test for :func:`check_output`: the file's first 4 KiB hold ``marker`` (the
    format tag a command writes near the top of its JSON outputs)."""
    try:
        with open(path, "rb") as f:
            return marker in f.read(4096)
    except OSError:
        return False


def check_output(
    output: str | os.PathLike[str],
    *,
    command: str,
    kind: Literal["file", "dir"],
    is_ours: Callable[[Path], bool],
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
) -> Path:
    """Refuses ``output`` (an :class:`OutputError` naming it and the fix) unless ``command``
    may replace it; returns it as a ``Path``. Nothing is created or removed here."""
    out = Path(output)
    if is_url(output):
        _check_url_output(os.fspath(output), command=command, kind=kind, inputs=inputs, overwrite=overwrite)
        return out
    resolved = out.resolve()
    for name in inputs:
        if is_url(name):
            continue
        src = Path(name).resolve()
        if resolved == src or (out.is_file() and src.is_file() and os.path.samefile(out, src)):  # a hard link too
            raise OutputError(f"{out}: the output is the input {name}; name another output")
        if src.is_dir() and resolved.is_relative_to(src):
            raise OutputError(
                f"{out}: the output is inside the input {name} (a later run would read its own output); "
                "name an output outside it"
            )
        if src.is_relative_to(resolved):
            raise OutputError(f"{out}: replacing the output would delete the input {name}; name another output")
    if kind == "file" and out.is_dir():
        raise OutputError(f"{out}: is a directory; `codemill {command}` writes a file here, name one")
    if kind == "dir" and out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; `codemill {command}` writes a directory here, name one")
    if overwrite or not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return out
    if not is_ours(out):
        raise OutputError(f"{out}: exists and was not written by `codemill {command}`; {OVERWRITE_HINT}")
    return out


def _check_url_output(
    url: str, *, command: str, kind: Literal["file", "dir"], inputs: Iterable[str | os.PathLike[str]], overwrite: bool
) -> None:
    """`check_output` for a URL: prefixes stand for trees."""
    key = url.rstrip("/")
    for given in inputs:
        name = os.fspath(given)
        if not is_url(name):
            continue
        src = name.rstrip("/")
        if key == src:
            raise OutputError(f"{url}: the output is the input {name}; name another output")
        if key.startswith(src + "/"):
            raise OutputError(
                f"{url}: the output is inside the input {name} (a later run would read its own output); "
                "name an output outside it"
            )
        if src.startswith(key + "/"):
            raise OutputError(f"{url}: replacing the output would delete the input {name}; name another output")
    if kind == "file" and not overwrite:
        from codemill.sources.fs import url_exists

        if url_exists(url) and not written_by(url, command):
            raise OutputError(f"{url}: exists and was not written by `codemill {command}`; {OVERWRITE_HINT}")


# A file output's description beside it (`OUT.jsonl` -> `OUT.jsonl.codemill.json`): which
# command wrote it and what a reader must know, e.g. the special tokens its samples use.
SIDECAR_SUFFIX = ".codemill.json"


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    p = Path(output)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def read_sidecar(output: str | os.PathLike[str]) -> dict[str, Any]:
    """The description saved beside ``output``, or {} where there is none (or it is unreadable)."""
    try:
        if is_url(output):
            from codemill.sources.fs import read_url

            meta = json.loads(read_url(os.fspath(output) + SIDECAR_SUFFIX))
        else:
            meta = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # StorageError is a ValueError
        return {}
    return meta if isinstance(meta, dict) else {}


def written_by(output: str | os.PathLike[str], command: str) -> bool:
    """Whether the sidecar of ``output`` says ``codemill {command}`` wrote it."""
    return read_sidecar(output).get("written_by") == f"codemill {command}"


def publish_json(output: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as JSON (indented by one, newline-ended) to a local file (temporary name,
    then rename) or to a URL (one upload): either way it appears whole or not at all."""
    if is_url(output):
        from codemill.sources.fs import write_url

        write_url(os.fspath(output), (json.dumps(obj, indent=1) + "\n").encode("utf-8"))
        return
    from codemill._io import atomic_write_json

    atomic_write_json(output, obj)


def write_sidecar(output: str | os.PathLike[str], command: str, **facts: Any) -> None:
    meta = {"written_by": f"codemill {command}", "output": Path(output).name, **facts}
    # Beside the output: a URL's sidecar is named on the URL string (a Path would fold its //).
    publish_json(os.fspath(output) + SIDECAR_SUFFIX if is_url(output) else sidecar_path(output), meta)
