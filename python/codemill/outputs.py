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

import errno
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from codemill._io import through_link
from codemill._json import json_text
from codemill.errors import OutputError, SourceError
from codemill.sources.fs import as_local, is_url  # the one rule for what is a URL
from codemill.sources.streams import SIDECAR_SUFFIX

__all__ = [
    "OVERWRITE_HINT",
    "SIDECAR_SUFFIX",
    "check_output",
    "check_sidecar_place",
    "described",
    "is_url",
    "publish_json",
    "read_sidecar",
    "same_place",
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
    is_ours_url: Callable[[str], bool] | None = None,
    in_place: bool = False,
) -> Path:
    """Refuses ``output`` (an :class:`OutputError` naming it and the fix) unless ``command``
    may replace it; returns it as a ``Path``. Nothing is created or removed here. A file at a
    URL is ours if its sidecar says so or ``is_ours_url`` does (a file written without one).
    ``in_place``: a directory the command writes into (tokenize resumes there) rather than
    replaces whole, which may then be the current directory unless ``overwrite``."""
    out = Path(output)
    _check_against_inputs(output, inputs)
    if is_url(output):
        kind_of, where, _ = _place(output)
        if not kind_of:  # a file:// URL: a local path, which must pass the local checks too
            _check_place(Path(where), output, kind, overwrite, in_place)
        elif kind == "file" and kind_of in _BUCKET_STORES:
            if len(where.parts) < 3:  # "/", the bucket, a key
                raise OutputError(f"{output}: names a bucket, not a file in it; name one (s3://BUCKET/out.jsonl)")
            _check_bucket(os.fspath(output), where.parts[1])
        if kind == "file" and not overwrite:
            from codemill.sources.fs import url_exists

            url = os.fspath(output)
            # In this order: an output that is not there yet costs one request, not three.
            free = not url_exists(url) or written_by(url, command) or bool(is_ours_url and is_ours_url(url))
            if not free:
                raise OutputError(f"{url}: exists and was not written by `codemill {command}`; {OVERWRITE_HINT}")
        # A prefix's content is checked by its writer, which owns its commit (module docstring).
        return out
    try:
        os.stat(out)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{out}: is a loop of symbolic links; name another output") from None
    _check_place(out, output, kind, overwrite, in_place)
    if kind == "file" and out.is_dir():
        raise OutputError(f"{out}: is a directory; `codemill {command}` writes a file here, name one")
    if kind == "dir" and out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; `codemill {command}` writes a directory here, name one")
    if overwrite or not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return out
    if not is_ours(out):
        raise OutputError(f"{out}: exists and was not written by `codemill {command}`; {OVERWRITE_HINT}")
    return out


# The stores whose paths start with a bucket (container): a file output needs one and a key in it.
_BUCKET_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "r2"})


def _check_bucket(url: str, bucket: str) -> None:
    """A file output's bucket must answer before the work, not at the upload after it (a
    directory output's is listed by its writer first). One request (S3: HEAD bucket)."""
    from codemill.sources.fs import storage, url_fs

    fs, _ = url_fs(url)
    with storage(url):
        try:
            fs.info(bucket)
        except FileNotFoundError:
            raise OutputError(f"{url}: no such bucket ({bucket}); create it or name another output") from None
        except PermissionError:
            pass  # one may put objects without leave to list the bucket: the upload will tell


def _check_place(path: Path, output: str | os.PathLike[str], kind: str, overwrite: bool, in_place: bool) -> None:
    """Where a local output (or a ``file://`` one) would be made: under a directory, and not
    the directory the user works in when it would be replaced or emptied."""
    # An output replaced whole through a link is made beside the link's target (atomic_file,
    # atomic_dir); a directory written in place is written into through the link.
    made = path if in_place else through_link(path)
    for parent in made.absolute().parents:  # the nearest that exists is where it will be made
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{output}: {parent} is not a directory; name an output in one")
            # Said before the work, not after it (a read-only file system, a folder of root's):
            # where the output is made, or, for a directory written in place, the directory
            # (--overwrite removes and makes it again, in its parent).
            where = path if in_place and not overwrite and path.is_dir() else parent
            if not os.access(where, os.W_OK | os.X_OK):
                raise OutputError(f"{output}: {where} is not writable; name an output elsewhere")
            break
    if kind != "dir" or (in_place and not overwrite):
        return
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working directory was removed: nothing there to protect
        return
    if cwd.is_relative_to(path.resolve()):
        # Replaced whole (dedup, index) or emptied by --overwrite (tokenize): never the directory
        # a user works in. Before, `-o .` failed only after the work (a path with no name).
        raise OutputError(f"{output}: is the current directory or holds it; name a directory of its own")


def _place(name: str | os.PathLike[str]) -> tuple[str, PurePosixPath, PurePosixPath]:
    """Where ``name`` points, comparable however it is spelled: ("", the real path, the path as
    spelled, made absolute) for a local path or a ``file://`` URL (links, ``..`` and loops
    resolved as far as they go); (protocol, path, path) for any other URL (``s3a://b/x`` is
    ``s3://b/x``)."""
    text = os.fspath(name)
    if is_url(text):
        from codemill.sources.fs import url_class

        # The class, not a filesystem: an s3fs one would start its thread here, before a run
        # that still runs one thread has forked its workers.
        cls, path = url_class(text)
        protocol = cls.protocol if isinstance(cls.protocol, str) else cls.protocol[0]
        if protocol not in ("file", "local"):
            key = PurePosixPath("/" + path.strip("/"))
            return protocol, key, key
        text = path
    return "", PurePosixPath(os.path.realpath(text)), PurePosixPath(os.path.abspath(text))


def same_place(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two names point at one file or prefix, however spelled (`_place`)."""
    return _place(a)[:2] == _place(b)[:2]


def _check_against_inputs(output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]]) -> None:
    """An output equal to an input, inside one (an input tree or prefix) or holding one is
    refused, whatever the spelling of either: a local path, a ``file://`` URL or a bucket's."""
    out_kind, out, out_spelled = _place(output)
    for name in inputs:
        kind, src, src_spelled = _place(name)
        if kind != out_kind:
            continue
        local = not kind
        same_file = local and os.path.isfile(out) and os.path.isfile(src) and os.path.samefile(out, src)
        if out == src or same_file:  # a hard link too
            raise OutputError(f"{output}: the output is the input {name}; name another output")
        if out.is_relative_to(src) and (not local or os.path.isdir(src)):
            raise OutputError(
                f"{output}: the output is inside the input {name} (a later run would read its own output); "
                "name an output outside it"
            )
        # Under the output as spelled too, not only as resolved: a link in it to elsewhere would
        # be deleted with the output it stands in; and under the output's target, which an
        # output named by a link replaces or empties (`through_link`).
        if src.is_relative_to(out) or src_spelled.is_relative_to(out_spelled) or src_spelled.is_relative_to(out):
            raise OutputError(f"{output}: replacing the output would delete the input {name}; name another output")


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """Where the description of the local file ``output`` is: beside the file it describes,
    which for an output named by a link is the link's target (where it is written)."""
    p = through_link(Path(output))
    return p.with_name(p.name + SIDECAR_SUFFIX)


def read_sidecar(output: str | os.PathLike[str]) -> dict[str, Any]:
    """The description saved beside ``output``, or {} where there is none (or it is not JSON).
    A store that fails to answer is an error, not "none": a run would quietly encode a prepared
    file's FIM markers as text, and its resume be refused for different settings. A description
    that is no regular file (a FIFO, a folder) is none, as a walk finds none there."""
    output = as_local(output)  # file://: read as the local file, through its links
    try:
        if is_url(output):
            from codemill.sources.fs import storage, url_fs

            url = os.fspath(output) + SIDECAR_SUFFIX
            fs, path = url_fs(url)
            with storage(url):
                try:
                    data = fs.cat_file(path)
                except (FileNotFoundError, PermissionError):
                    # Missing; or a store that answers a missing key with 403 to a reader who
                    # may not list the bucket (S3 without s3:ListBucket, a CDN): none either.
                    return {}
            meta = json.loads(data)
        elif not Path(output).name or os.path.isdir(output):
            return {}  # a directory (".", "/", a tree): only file outputs are described
        elif not sidecar_path(output).is_file():
            return {}  # none, or no file to read (a FIFO would block the read forever)
        else:
            meta = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def written_by(output: str | os.PathLike[str], command: str) -> bool:
    """Whether the sidecar of ``output`` says ``codemill {command}`` wrote it."""
    return read_sidecar(output).get("written_by") == f"codemill {command}"


def publish_json(output: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as JSON (`json_text`) to a local file (temporary name,
    then rename) or to a URL (one upload): either way it appears whole or not at all."""
    if is_url(output):
        from codemill.sources.fs import write_url

        write_url(os.fspath(output), json_text(obj).encode("utf-8"))
        return
    from codemill._io import atomic_write_json

    atomic_write_json(output, obj)


def _size(output: str | os.PathLike[str]) -> int | None:
    """The size of a published file output; None where the store does not say (an HTTP server
    that sends no length, a failed request)."""
    from codemill.sources.fs import file_size

    try:
        return file_size(output)
    except (OSError, SourceError):
        return None


def described(output: str | os.PathLike[str]) -> dict[str, Any]:
    """`read_sidecar`, for a reader that acts on the facts: the description must be of the file
    beside it. The output and its sidecar are published one after the other, so a run stopped
    between the two leaves a new output beside the old run's description (its special tokens
    may not be the new samples'); the size it records tells. Raises `OutputError` then."""
    meta = read_sidecar(output)
    if isinstance(meta.get("bytes"), int):
        size = _size(output)  # None: the output itself is reported by whoever reads it
        if size is not None and size != meta["bytes"]:
            raise OutputError(
                f"{output}: its description ({Path(os.fspath(output)).name}{SIDECAR_SUFFIX}) is of a "
                f"{meta['bytes']}-byte version of it, and it has {size} bytes now (a prepare stopped "
                "between writing the two, or the file changed since): write it again, or say which "
                "special tokens it uses (--allowed-special; allowed_special= in Python)"
            )
    return meta


def write_sidecar(output: str | os.PathLike[str], command: str, size: int | None = None, **facts: Any) -> None:
    """Publishes the description of ``output`` with its size, which ties the two together (see
    `described`): ``size`` of the file about to be published, else of the one there now."""
    described_file = Path(output) if is_url(output) else through_link(Path(output))
    meta: dict[str, Any] = {"written_by": f"codemill {command}", "output": described_file.name}
    size = _size(output) if size is None else size
    if size is not None:  # else described as before sizes were
        meta["bytes"] = size
    meta.update(facts)
    publish_json(sidecar_name(output), meta)


def check_sidecar_place(output: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Refuses (an :class:`OutputError`) to describe ``output`` where a file that is no codemill
    description has its description's name, unless ``overwrite``: `write_sidecar` replaced a
    user's ``OUT.codemill.json`` without a word."""
    if overwrite or str(read_sidecar(output).get("written_by", "")).startswith("codemill "):
        return
    name = sidecar_name(output)
    if is_url(name):
        from codemill.sources.fs import url_exists

        there = url_exists(os.fspath(name))
    else:
        there = os.path.lexists(name)
    if there:
        raise OutputError(
            f"{name}: exists and is not a codemill description, which is written there beside "
            f"{Path(os.fspath(output)).name}; {OVERWRITE_HINT}"
        )


def put_back_sidecar(output: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Puts back the description ``meta`` that `read_sidecar` read before a run published its
    own, whose output then failed to publish (the earlier output stays, and stays readable);
    where there was none, the run's is removed."""
    name = sidecar_name(output)
    if meta:
        publish_json(name, meta)
    elif is_url(name):
        from codemill.sources.fs import remove_url

        remove_url(os.fspath(name))
    else:
        Path(name).unlink(missing_ok=True)


def sidecar_name(output: str | os.PathLike[str]) -> str | Path:
    # Beside the output: a URL's sidecar is named on the URL string (a Path would fold its //).
    return os.fspath(output) + SIDECAR_SUFFIX if is_url(output) else sidecar_path(output)
