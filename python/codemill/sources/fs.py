"""Local paths and filesystem URLs (``s3://bucket/prefix``, any fsspec protocol): the one place
codemill reads or writes either.

A name with a scheme (``s3://``, ``gs://``, ``memory://`` ...) is a URL and goes to fsspec; it is
never taken as a local path. Endpoint, region and credentials come from the filesystem's own
configuration chain (for S3: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``,
``~/.aws/config`` ... as botocore reads them, so an existing setup just works); codemill passes
none and prints none. Storage failures become one :class:`StorageError` line naming the URL.

Publishing is atomic either way: a local file is written under a temporary name, fsynced and
renamed (:mod:`codemill._io`); an object store makes an object visible only when its upload
completes (a failed or killed upload leaves no object), so an upload is the rename.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

from codemill._io import atomic_write_bytes, fsync_dir
from codemill._leftovers import scratch_dir
from codemill.errors import InputNotFoundError, SourceError, StorageError

# Objects a reader fetches at once (`fetched`): a round trip per object costs more than reading it.
FETCH_BATCH = 64
# Connections an s3fs client holds open at once. botocore's 10 left a tree of small objects
# read 10 per round trip: the tasks reading a 40 MB tree's 3,123 code files took 11.6-12.1 s
# from a server answering 20 ms late (as a store does), 5.6-7.1 s with 64.
S3_CONNECTIONS = FETCH_BATCH

# Bytes a range request of a reader asks for at most (its buffer). Read on from where it starts
# (a task's lines, a compressed stream): a task of a corpus up to 1 GB (a 64th of it,
# `task_size`) is one request, not two of 8 MiB, for requests cost more than bytes (~1.3 ms of
# botocore's CPU each) and a request asks only for what is left of the task's range. Read here
# and there (Parquet's column chunks), a read fills the whole block: 16 MiB fetched 1.7x the
# bytes of a Parquet file's row groups in as many requests.
_BLOCK = 16 << 20
_RANDOM_BLOCK = 8 << 20
# Bytes the readers of objects run at once hold together (`held_reading`): four blocks.
READS_HELD = 4 * _BLOCK
_UPLOADS = 8  # uploads at once in Directory.publish_all
# Folders of a prefix listed at once (`_find`): a store lists 1,000 keys per request, in turn.
_LISTINGS = S3_CONNECTIONS
# Levels below a prefix `_find` goes down through a lone folder to find folders to list at once.
_SPLIT_LEVELS = 3
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_GLOB_CHARS = re.compile(r"[*?\[]")  # what fsspec takes for a glob pattern in a name


def is_url(name: object) -> bool:
    """True for ``scheme://...`` names (read through fsspec, never as local paths)."""
    return isinstance(name, str) and _SCHEME.match(name) is not None


def as_local(name: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """A ``file://`` (or ``local://``) URL as the local path it names, any other name as given.
    An output there is then written by the local code (parent directories made, temp names
    renamed into place, a failed run's leftovers removed): through fsspec's local filesystem
    every write into a directory not made yet failed as "no such bucket or object"."""
    if is_url(name) and str(name).split("://", 1)[0].lower() in ("file", "local"):
        return Path(url_fs(str(name))[1])
    return name


def url_fs(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) for ``url``; a clear error when it cannot be opened."""
    cls, path = url_class(url)
    try:
        return cls(**_options(cls, url)), path
    except (ImportError, ValueError) as exc:
        raise StorageError(f"{url}: {exc}") from None


def url_class(url: str) -> tuple[Any, str]:
    """(fsspec filesystem class, path within it) for ``url``, its package imported but no
    filesystem made: no client, no request, and no thread (s3fs's starts one at its first
    instance), so a process still running one thread may fork after; a clear error when the
    package is missing or the URL names no bucket."""
    try:
        import fsspec
    except ImportError as exc:
        raise StorageError(f"{url}: URLs need fsspec (and s3fs for s3://): pip install 'codemill[cloud]'") from exc
    try:
        # Not fsspec.core.url_to_fs: it takes `::` anywhere in a URL for a chain of filesystems
        # (`simplecache::s3://...`), and an object named `x.py::v2.py` would read as `x.py`. A
        # codemill URL starts with its one scheme (`is_url`), so the rest is taken literally.
        protocol = url.split("://", 1)[0]
        cls = fsspec.get_filesystem_class(protocol)
        if f"{cls.__module__}.{cls.__qualname__}" == "s3fs.core.S3FileSystem":
            from codemill.sources.fast_s3 import FastS3FileSystem

            cls = FastS3FileSystem  # its reads and small uploads through obstore, where it can
        path = cls._strip_protocol(url)
    except ImportError as exc:  # the protocol's package (s3fs, gcsfs ...) is not installed
        raise StorageError(f"{url}: {exc} (pip install 'codemill[cloud]' for s3://)") from None
    except ValueError as exc:  # an unknown protocol
        raise StorageError(f"{url}: {exc}") from None
    if not path.strip("/") and protocol.lower() not in ("file", "local", "memory"):
        # `s3://` alone: s3fs's own error ("Cannot traverse all of S3") named no argument.
        raise StorageError(f"{url}: names no bucket; name one (s3://BUCKET/prefix)")
    return cls, path


def import_filesystems(names: Iterable[str]) -> None:
    """Imports the filesystem packages of the URLs among ``names`` (s3fs for ``s3://`` ...),
    as `url_class` does: a process forked after has them. A URL that cannot be opened is left
    for its first use to report."""
    for name in names:
        if is_url(name):
            with contextlib.suppress(StorageError):
                url_class(name)


def _options(cls: Any, url: str) -> dict[str, Any]:
    """The filesystem's options for ``url``: the URL's own, and for s3fs a connection pool of
    `S3_CONNECTIONS` unless fsspec's configuration names one (``FSSPEC_S3`` ...)."""
    options: dict[str, Any] = cls._get_kwargs_from_urls(url)
    protocols = cls.protocol if isinstance(cls.protocol, tuple | list) else [cls.protocol]
    if "s3" in protocols:
        from fsspec.config import conf

        given = {k: v for p in protocols for k, v in conf.get(p, {}).get("config_kwargs", {}).items()}
        options["config_kwargs"] = {"max_pool_connections": S3_CONNECTIONS, **given}
    return options


def storage_error(url: str, exc: BaseException) -> StorageError:
    """One line for a failed storage call: what went wrong, where; never the credentials."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, PermissionError):
        what = "access denied"
    elif isinstance(exc, FileNotFoundError):
        what = "no such bucket or object"
    else:
        what = "storage request failed"
    return StorageError(f"{url}: {what} ({detail})")


# Packages whose own exceptions (not OSErrors) a storage call can raise: a connection refused
# reaches us as botocore's EndpointConnectionError, say, which s3fs passes on as it is.
_CLIENT_PACKAGES = frozenset({"botocore", "aiobotocore", "aiohttp", "urllib3", "requests", "google", "azure", "s3fs"})


def is_storage_failure(exc: BaseException) -> bool:
    """An OSError, or an exception of a storage client package: a failed request, not a bug."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in _CLIENT_PACKAGES


@contextlib.contextmanager
def storage(url: str) -> Iterator[None]:
    """Turns a failed storage call on ``url`` into one :class:`StorageError`."""
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        if not is_storage_failure(exc):
            raise
        raise storage_error(url, exc) from None


def _join(url: str, rel: str) -> str:
    return f"{url.rstrip('/')}/{rel}" if rel else url


def list_files(url: str) -> list[tuple[str, str, int, str, str]]:
    """(url, posix path relative to ``url``, size (-1: unknown), version, kind) of every object under ``url``,
    in the order a local walk gives; ``(url, "", size, version, "file")`` when it names one
    object. The version is what the store says changes with the content (an ETag, else a
    modification time; "" if neither). The kind is "file", or for what a file system holds
    besides (``file://``) "link" or "other" (a FIFO, a socket), to be counted, never read.
    Missing: :class:`InputNotFoundError`."""
    fs, root = url_fs(url)
    with storage(url):
        if fs.isfile(root):
            info = fs.info(root)
            return [(url, "", _size(info), _version(info), "file")]
        found = _find(fs, root)
    base = root.rstrip("/") + "/"
    out = [
        (_join(url, name[len(base) :]), name[len(base) :], _size(info), _version(info), _kind(info))
        for name, info in found.items()
        if name.startswith(base) and info.get("type", "file") != "directory" and not _is_marker(name[len(base) :])
    ]
    if not out:
        raise InputNotFoundError(f"{url}: no such object or prefix (or it holds no objects)")
    return sorted(out, key=lambda t: walk_order(t[1]))


def _find(fs: Any, root: str) -> dict[str, dict[str, Any]]:
    """What ``fs.find(root, detail=True)`` gives (every object under ``root``, by name), listed a
    folder at a time, `_LISTINGS` folders at once, where ``fs`` is asynchronous: a store lists a
    prefix 1,000 keys per request, page after page, so a prefix of a million objects was a
    thousand round trips in turn. The top level is listed first (one request, and one more per
    level below a folder that holds everything, as ``data/`` may, at most `_SPLIT_LEVELS`), then
    each folder found there whole. Only where a listing can be asked for afresh (s3fs, gcsfs:
    ``refresh``): a filesystem caches a folder's listing, and a job lists its output folder
    again as other processes commit tasks into it."""
    import inspect

    if not getattr(fs, "async_impl", False) or "refresh" not in inspect.signature(fs._ls).parameters:
        found: dict[str, dict[str, Any]] = fs.find(root, detail=True)
        return found
    import asyncio

    from fsspec.asyn import sync

    async def listing() -> dict[str, dict[str, Any]]:
        gate = asyncio.Semaphore(_LISTINGS)

        async def under(folder: str) -> dict[str, dict[str, Any]]:
            async with gate:
                found: dict[str, dict[str, Any]] = await fs._find(folder, detail=True)
                return found

        objects: dict[str, dict[str, Any]] = {}
        folder = root
        for depth in range(_SPLIT_LEVELS + 1):
            try:
                entries: list[dict[str, Any]] = await fs._ls(folder, detail=True, refresh=True)
            except FileNotFoundError:
                # Nothing there, or no bucket: `find` says which (an empty listing, or its error).
                return objects | await under(folder)
            folders = []
            for e in entries:
                if e.get("type") == "directory":
                    folders.append(e["name"])
                else:
                    objects[e["name"]] = e
            if len(folders) != 1 or depth == _SPLIT_LEVELS:
                break
            folder = folders[0]
        for found in await asyncio.gather(*(under(f) for f in folders)):
            objects.update(found)
        return objects

    return sync(fs.loop, listing)


def _is_marker(rel: str) -> bool:
    """Whether an object's name relative to a listed prefix is a folder marker (``prefix/``,
    ``prefix/a/``, as a console's "Create folder" makes): no file of a tree, and never a
    document or an output file."""
    return rel == "" or rel.endswith("/")


def _size(info: dict[str, Any]) -> int:
    """The size the store gives, -1 if it gives none (an HTTP server without Content-Length):
    not 0, which would make the object an empty one."""
    size = info.get("size")
    return -1 if size is None else int(size)


def _kind(info: dict[str, Any]) -> str:
    if info.get("islink"):
        return "link"
    return "file" if info.get("type", "file") == "file" else "other"


def _version(info: dict[str, Any]) -> str:
    return str(info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("mtime") or "")


def walk_order(rel: str) -> list[tuple[int, str]]:
    """The order of a local walk: a directory's files (by name) before its subdirectories."""
    parts = rel.split("/")
    return [(1, p) for p in parts[:-1]] + [(0, parts[-1])]


def connect(url: str) -> None:
    """Readies the filesystem of ``url`` for requests: s3fs builds its client on the first one
    (0.2 s of botocore set-up, after 0.4 s of imports), which a worker can do ahead of its first
    task. A failure here is left to that first request to report, naming what it was for."""
    with contextlib.suppress(Exception):
        fs, _ = url_fs(url)
        start = getattr(fs, "connect", None)  # s3fs: its client (a session) made now
        if callable(start):
            start()


def url_exists(url: str) -> bool:
    """Whether an object (or a prefix holding objects) is at ``url``."""
    fs, path = url_fs(url)
    with storage(url):
        return bool(fs.exists(path))


class SizeUnknown(SourceError):
    """A read needed an object's size (a seek from its end) and its store gives none."""


def url_size(url: str) -> int | None:
    """The size of the object at ``url``; None where the store does not say (an HTTP server
    that sends no length)."""
    fs, path = url_fs(url)
    with storage(url):
        size = fs.size(path)
    return size if isinstance(size, int) else None


def file_size(name: str | os.PathLike[str]) -> int | None:
    """The size of a local file, or of the object at a URL (`url_size`)."""
    return url_size(os.fspath(name)) if is_url(name) else os.path.getsize(name)


def read_url(url: str, start: int | None = None, end: int | None = None) -> bytes:
    """The bytes of the object at ``url`` (or of ``[start, end)`` of it)."""
    fs, path = url_fs(url)
    with storage(url):
        data: bytes = fs.cat_file(path, start=start, end=end)
        return data


def file_bytes(name: str | os.PathLike[str]) -> bytes:
    """The bytes of a local file, or of the object at a URL (as `file_size` tells them apart);
    one that is not there raises FileNotFoundError either way, other storage failures one
    `StorageError`."""
    if not is_url(name):
        return Path(name).read_bytes()
    folder, _, base = os.fspath(name).rpartition("/")
    data = Directory(folder).read_bytes(base)
    if data is None:
        raise FileNotFoundError(errno.ENOENT, "no such object", name)
    return data


class _Gone(bytes):
    """What `read_urls` gives for an object that is not there (removed since it was listed)."""


GONE: bytes = _Gone()


def read_urls(urls: list[str], limit: int | None = None, gone_ok: bool = False) -> list[bytes]:
    """The bytes of many objects, fetched concurrently (one round trip per object costs more
    than reading it); raises like :func:`read_url` for the first that fails. ``limit``: at most
    ``limit + 1`` bytes of each (enough to tell it is over ``limit``: a reader refuses it as
    too large without fetching gigabytes into memory, as a local read stats first).
    ``gone_ok``: an object not found is `GONE` (that very object, ``is`` tells it from an empty
    one), not an error: a local file removed since it was listed is read as unreadable, not the
    end of a run."""
    located = [url_fs(u) for u in urls]
    # One batch per filesystem: inputs may mix stores (s3://, gs://) or options (?versionId=).
    batches: dict[int, list[int]] = {}
    for i, (fs, _) in enumerate(located):
        batches.setdefault(id(fs), []).append(i)
    got: list[Any] = [None] * len(urls)
    for batch in batches.values():
        fs = located[batch[0]][0]
        try:
            with storage(urls[batch[0]]):
                results = _cat(fs, [located[i][1] for i in batch], limit)
        except StorageError as exc:  # the whole batch failed: raised below, in the URLs' order
            results = [exc] * len(batch)
        for i, data in zip(batch, results, strict=True):
            got[i] = data
    return [
        GONE if gone_ok and isinstance(data, FileNotFoundError) else _bytes_or_raise(url, data)
        for url, data in zip(urls, got, strict=True)
    ]


def _bytes_or_raise(url: str, data: Any) -> bytes:
    """An object's bytes as `_cat` gave them, or its failure raised as a read of ``url`` raises
    it (one line for a storage failure)."""
    if isinstance(data, BaseException):
        if is_storage_failure(data):
            raise storage_error(url, data)
        raise data
    got: bytes = data
    return got


def _cat(fs: Any, paths: list[str], limit: int | None) -> list[Any]:
    """The bytes (or the exception) of each object of ``fs`` at ``paths``, see `read_urls`."""
    # cat_ranges, not cat: cat takes a name with * ? [ as a glob pattern (`pages/[id].tsx`).
    if limit is None:
        got: list[Any] = fs.cat_ranges(paths, None, None, on_error="return")
        return got
    got = fs.cat_ranges(paths, [0] * len(paths), [limit + 1] * len(paths), on_error="return")
    # A store refuses any range of an empty object (416): a failed object whose size is 0 is
    # empty; any other failure is raised (never retried by a whole read).
    failed = [i for i, data in enumerate(got) if isinstance(data, BaseException)]
    if failed:
        for i, size in zip(failed, _sizes(fs, [paths[i] for i in failed]), strict=True):
            if size == 0:
                got[i] = b""
    return got


def _sizes(fs: Any, paths: list[str]) -> list[Any]:
    """The size of each object (concurrently where ``fs`` is asynchronous), or the exception
    asking for it raised: the caller keeps its own error for those."""
    if getattr(fs, "async_impl", False):
        import asyncio

        from fsspec.asyn import sync

        async def gather() -> list[Any]:
            return await asyncio.gather(*(fs._size(p) for p in paths), return_exceptions=True)

        return sync(fs.loop, gather)
    out: list[Any] = []
    for p in paths:
        try:
            out.append(fs.size(p))
        except Exception as exc:  # reported as the read's own failure
            out.append(exc)
    return out


def fetched(
    names: Iterable[str], limit: int | None = None, gone_ok: bool = False
) -> Iterator[tuple[str, bytes | None]]:
    """(name, None) for local files; (URL, bytes) for objects, fetched concurrently 64 at a
    time (a round trip per object costs more than reading it), in the order given; ``limit``:
    and ``gone_ok`` as in :func:`read_urls`."""
    batch: list[str] = []
    for name in names:
        if is_url(name):
            batch.append(name)
            if len(batch) < FETCH_BATCH:
                continue
        if batch:  # not a call per local file of a tree
            yield from zip(batch, read_urls(batch, limit, gone_ok), strict=True)
            batch = []
        if not is_url(name):
            yield name, None
    if batch:
        yield from zip(batch, read_urls(batch, limit, gone_ok), strict=True)


def write_url(url: str, data: bytes) -> None:
    """Publishes ``data`` as the object at ``url`` (one upload: visible whole or not at all)."""
    fs, path = url_fs(url)
    with storage(url):
        fs.pipe_file(path, data)


def remove_url(url: str) -> None:
    """Removes the object at ``url`` (by its exact name); one that is not there is fine."""
    fs, path = url_fs(url)
    with storage(url), contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def join(base: Path | str, rel: str) -> Path | str:
    """``rel`` under a local directory or a URL prefix."""
    return _join(base, rel) if isinstance(base, str) else base / rel


def is_tree(path: Path | str) -> bool:
    """A local directory, or a URL that is a prefix rather than one object."""
    if isinstance(path, Path):
        return path.is_dir()
    fs, p = url_fs(path)
    with storage(path):
        return not fs.isfile(p)


def base_name(path: Path | str) -> str:
    """The last part of a URL, or of a local path as given (`.` and `..` made absolute first; a
    link keeps its own name, as `record_origin` does: a hub cache's `train.jsonl.gz` is a link
    to a blob named by its hash, which no reader would take for JSONL)."""
    if isinstance(path, str):
        return path.rstrip("/").rsplit("/", 1)[-1]
    return os.path.basename(os.path.abspath(path))


def open_url(url: str, stop: int | None = None, sequential: bool = False) -> IO[bytes]:
    """A seekable binary reader of the object at ``url``, read in blocks of range requests.

    ``stop``: the caller reads up to about that offset (a task's byte range, and then the rest
    of the line in progress), so no request fetches much past it; None: up to the end.
    ``sequential``: the caller reads on from where it starts, in blocks of `_BLOCK` (else
    `_RANDOM_BLOCK`).
    """
    fs, path = url_fs(url)
    raw = _Ranges(fs, path, url, stop)
    return cast("IO[bytes]", _Blocks(raw)) if sequential else io.BufferedReader(raw, buffer_size=_RANDOM_BLOCK)


def held_reading(size: int | None) -> int:
    """Bytes a reader of an object of ``size`` (None or -1: not known) holds at once, read on
    from its start (`open_url` with ``sequential``): a block, or the whole object if smaller."""
    return _BLOCK if size is None or size < 0 else min(size, _BLOCK)


class _Ranges(io.RawIOBase):
    """The object at a URL as a raw stream: each read is one range request of what is asked.

    Not fsspec's file: its read-ahead cache refetched blocks on ``readline`` (7x the bytes of a
    JSONL task came over the wire), and it asks the object's size first. Requests cost more than
    bytes (10 ms each on moto, tens on a real store), so a task's range is one request that
    also covers the first 64 KiB past ``stop`` (where its last line most likely ends); a line
    still going on is read in requests of 64 KiB, doubling. The size is learnt from a short
    read; a separate request asks it only for a seek from the end or a read exactly at the end.
    """

    _TAIL = 64 << 10

    def __init__(self, fs: Any, path: str, url: str, stop: int | None) -> None:
        super().__init__()
        self._fs, self._path, self._url, self._stop = fs, path, url, stop
        self._size: int | None = None
        self._pos = 0
        self._tail = self._TAIL

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def _object_size(self) -> int:
        if self._size is None:
            size = url_size(self._url)
            if size is None:
                raise SizeUnknown(f"{self._url}: the store gives no size")
            self._size = size
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += self._object_size()
        if offset < 0:
            raise ValueError(f"{self._url}: negative seek position {offset}")
        self._pos = offset
        return offset

    def readall(self) -> bytes:
        # RawIOBase's would read in 8 KiB requests.
        parts = []
        while chunk := self.fetch(_BLOCK):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.fetch(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def fetch(self, want: int) -> bytes:
        """The next bytes, in one request of at most ``want`` (less near ``stop``); none at the end."""
        if self._size is not None and self._pos >= self._size:
            return b""
        if self._stop is not None:
            if self._pos < self._stop:
                want = min(want, self._stop - self._pos + self._TAIL)
            else:
                want = min(want, self._tail)
                self._tail *= 2
        try:
            data = self._fs.cat_file(self._path, start=self._pos, end=self._pos + want)
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            # A range starting at the very end: stores refuse it (416) rather than answer empty.
            at_end = isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)
            if at_end and self._object_size() <= self._pos:
                return b""
            raise storage_error(self._url, exc) from None
        if len(data) > want:  # a server that ignores Range sends the whole object each time
            raise StorageError(f"{self._url}: the server ignored a range request (sent {len(data)} bytes for {want})")
        if len(data) < want:
            self._size = self._pos + len(data)
        self._pos += len(data)
        got: bytes = data
        return got


class _Blocks(io.BufferedIOBase):
    """`_Ranges` read on from where it starts, a block (`_BLOCK`) a request, lines and bytes
    read out of each block as it came. A `BufferedReader` copied each block into a buffer of its
    own: a task's bytes copied once more, and a 16 MiB buffer more held by each task in flight."""

    def __init__(self, raw: _Ranges) -> None:
        super().__init__()
        self._raw = raw
        self._block = b""
        self._at = 0  # where in the block reading is

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._raw.tell() - len(self._block) + self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset, whence = self.tell() + offset, io.SEEK_SET
        start = self._raw.tell() - len(self._block)
        if whence == io.SEEK_SET and start <= offset <= self._raw.tell():
            self._at = offset - start  # inside the block: no request
            return offset
        self._block, self._at = b"", 0
        return self._raw.seek(offset, whence)

    def _more(self) -> bool:
        """The next block, once this one is read; False at the end."""
        if self.closed:  # as a BufferedReader says it (a read after close went on fetching)
            raise ValueError("read of closed file")
        if self._at < len(self._block):
            return True
        self._block, self._at = self._raw.fetch(_BLOCK), 0
        return bool(self._block)

    def read(self, size: int | None = -1) -> bytes:
        return self._take(size, line=False)

    read1 = read

    def readline(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read of closed file")
        block, at = self._block, self._at
        newline = block.find(b"\n", at)
        if newline >= 0 and (size is None or size < 0 or newline - at < size):
            self._at = newline + 1  # the line is in this block: one slice (nearly every line)
            return block[at : newline + 1]
        return self._take(size, line=True)

    def _take(self, size: int | None, line: bool) -> bytes:
        """Up to ``size`` bytes (None or negative: to the end), across blocks; with ``line``, up
        to and with the first newline."""
        left = -1 if size is None or size < 0 else size
        parts = []
        while left != 0 and self._more():
            end = len(self._block) if left < 0 else min(len(self._block), self._at + left)
            newline = self._block.find(b"\n", self._at, end) if line else -1
            if newline >= 0:
                end = newline + 1
            parts.append(self._block[self._at : end])
            if left > 0:
                left -= end - self._at
            self._at = end
            if newline >= 0:
                break
        return b"".join(parts)  # (one part: itself, not a copy)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._block = b""
        self._raw.close()
        super().close()


class _Upload(io.RawIOBase):
    """A file being uploaded (`uploading`) whose writes, which send its parts, fail
    as one `StorageError` naming it."""

    def __init__(self, f: Any, url: str) -> None:
        self._f = f
        self._url = url

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        with storage(self._url):
            return int(self._f.write(data))

    def tell(self) -> int:
        return int(self._f.tell())

    def flush(self) -> None:
        pass  # the parts go as they fill; the last with the upload's close


@contextlib.contextmanager
def uploading(url: str, before_publish: Callable[[int], None] | None = None) -> Iterator[IO[bytes]]:
    """A file written at ``url`` while it is made: an upload in parts (no local copy of it; one
    was staged whole before), which makes the object only once it completes; on an error the
    upload is abandoned and nothing is published. ``before_publish(size)`` runs once the file is
    complete, before it is published (its error abandons the upload too).

    Only object stores (fsspec's asynchronous file systems: S3, GCS, Azure) make an object when
    its upload completes; a file of another (``memory://``, SFTP) is there, growing, once opened,
    so it is staged locally and put whole."""
    fs, path = url_fs(url)
    if not getattr(fs, "async_impl", False):
        with scratch_dir("out") as tmp:
            local = Path(tmp) / "staged"
            with open(local, "wb") as staged:
                yield staged
            if before_publish is not None:
                before_publish(local.stat().st_size)
            with storage(url):
                fs.put_file(os.fspath(local), path)
        return
    with storage(url):
        f = fs.open(path, "wb")
    try:
        yield cast("IO[bytes]", _Upload(f, url))
        if before_publish is not None:
            before_publish(int(f.tell()))
        with storage(url):
            f.close()
    except BaseException:
        with contextlib.suppress(Exception):
            f.discard()  # s3fs: the multipart upload aborted
        with contextlib.suppress(Exception):
            f.closed = True  # never closed, so never committed (fsspec closes an open file when collected)
        raise


def abort_left_uploads(url: str, prefix: bool = True) -> int:
    """Aborts the unfinished multipart uploads under ``url`` (a ``prefix``) or at it, as a run
    killed mid-upload leaves them (kill -9: `uploading` aborts on an error); how many. S3 keeps
    their parts, and bills them, until a lifecycle rule removes them; they make no object, so
    no listing shows them. Called by a run about to write its output there (the output checked
    as its own), before its first upload. Only S3's (an s3fs filesystem); a store that refuses
    to list or abort them (a narrower policy than the run's writes need) is left as it is."""
    fs, path = url_fs(url)
    if not hasattr(fs, "_call_s3"):
        return 0
    bucket, key, _ = fs.split_path(path)
    root = key.rstrip("/")
    if prefix and root:
        root += "/"

    async def left() -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        ask: dict[str, Any] = {"Bucket": bucket, "Prefix": root}
        while True:
            page = await fs._call_s3("list_multipart_uploads", **ask)
            # Filtered here too: a store that ignored Prefix would give the whole bucket's.
            found += [
                (u["Key"], u["UploadId"])
                for u in page.get("Uploads", [])
                if (u["Key"].startswith(root) if prefix else u["Key"] == root)
            ]
            if not page.get("IsTruncated"):
                return found
            ask.update(KeyMarker=page.get("NextKeyMarker", ""), UploadIdMarker=page.get("NextUploadIdMarker", ""))

    from fsspec.asyn import sync

    try:
        uploads = sync(fs.loop, left)
    except Exception as exc:
        if not is_storage_failure(exc):
            raise
        return 0
    aborted = 0
    for k, upload in uploads:
        try:
            fs.abort_mpu(bucket, k, upload)
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            continue
        aborted += 1
    return aborted


def _raise(exc: OSError) -> None:
    raise exc


def publishing_marker(last: str) -> str:
    """The object beside an output prefix while `Directory.publish_tree` replaces it."""
    return f".{last}.publishing"


class FileInfo(NamedTuple):
    """A file of an output directory's listing."""

    size: int
    # When it was last written (seconds since the epoch, as the store says: a local file's
    # mtime, an object's LastModified); None where the store says nothing.
    modified: float | None


def _modified(info: dict[str, Any]) -> float | None:
    """The time an object was last written, from a listing's details (s3fs: LastModified)."""
    for key in ("LastModified", "mtime", "last_modified", "updated"):
        value = info.get(key)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return None


class Directory:
    """An output directory: a local path or a URL prefix, written file by file, each file
    published whole (a temporary name and a rename locally; one completed upload remotely).

    Names are posix paths relative to the directory.
    """

    def __init__(self, name: str | os.PathLike[str]) -> None:
        self.name = os.fspath(name)
        self.remote = is_url(self.name)
        self.path = Path(self.name) if not self.remote else None
        if self.remote:
            self._fs, self._root = url_fs(self.name)

    def __str__(self) -> str:
        return self.name

    def local(self) -> Path:
        assert self.path is not None, "a remote directory has no local path"
        return self.path

    def url(self, rel: str) -> str:
        return _join(self.name, rel)

    def ensure(self) -> dict[str, FileInfo]:
        """Creates the directory (locally) or checks the bucket answers (remotely); returns
        :meth:`files`."""
        if self.path is not None:
            if self.path.exists() and not self.path.is_dir():
                raise StorageError(f"{self.path}: exists and is not a directory")
            self.path.mkdir(parents=True, exist_ok=True)
        # Remotely a full listing, not exists() (False for a denied or missing bucket) nor a
        # shallow one (s3fs answers [] for a missing bucket there).
        files = self.files()
        if self.path is None and not files:
            with storage(self.name):
                if self._fs.isfile(self._root):  # an object of that name: a file, as locally
                    raise StorageError(f"{self.name}: exists and is not a directory (an object)")
        return files

    def files(self) -> dict[str, FileInfo]:
        """Every file under the directory (temporaries included): relative name -> size and
        time written."""
        if self.path is not None:
            out: dict[str, FileInfo] = {}
            # A folder that cannot be listed is an error, not an empty one: a job takes what is
            # missing from this listing for work to redo, and removes what it finds in the way.
            for dirpath, _, names in os.walk(self.path, onerror=_raise):
                for n in names:
                    p = Path(dirpath) / n
                    with contextlib.suppress(OSError):
                        st = p.stat()
                        out[p.relative_to(self.path).as_posix()] = FileInfo(st.st_size, st.st_mtime)
            return out
        with storage(self.name):
            self._fs.invalidate_cache(self._root)
            found = _find(self._fs, self._root)
        base = self._root.rstrip("/") + "/"
        return {
            k[len(base) :]: FileInfo(int(v.get("size") or 0), _modified(v))
            for k, v in found.items()
            if k.startswith(base) and not _is_marker(k[len(base) :])
        }

    def read_bytes(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        if self.path is not None:
            try:
                return (self.path / rel).read_bytes()
            except FileNotFoundError:
                return None
        with storage(self.url(rel)):
            try:
                data: bytes = self._fs.cat_file(f"{self._root}/{rel}")
                return data
            except FileNotFoundError:
                return None

    def read_all(self, rels: list[str]) -> dict[str, bytes | None]:
        """`read_bytes` of each file: objects fetched `FETCH_BATCH` at a time (a resumed run reads
        every committed task's record, a round trip each when read in turn)."""
        if self.path is not None:
            return {rel: self.read_bytes(rel) for rel in rels}
        out: dict[str, bytes | None] = {}
        for at in range(0, len(rels), FETCH_BATCH):
            batch = rels[at : at + FETCH_BATCH]
            with storage(self.url(batch[0])):
                got = _cat(self._fs, [f"{self._root}/{rel}" for rel in batch], None)
            for rel, data in zip(batch, got, strict=True):
                out[rel] = None if isinstance(data, FileNotFoundError) else _bytes_or_raise(self.url(rel), data)
        return out

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Publishes ``data`` as ``rel`` whole (never half-written)."""
        if self.path is not None:
            target = self.path / rel
            atomic_write_bytes(target, data)
            fsync_dir(target.parent)
            return
        with storage(self.url(rel)):
            self._fs.pipe_file(f"{self._root}/{rel}", data)

    def publish(self, local: Path, rel: str) -> None:
        """Publishes the finished local file ``local`` as ``rel`` (moved locally, uploaded remotely)."""
        if self.path is not None:
            target = self.path / rel
            if local != target:
                os.replace(local, target) if local.parent == target.parent else shutil.move(local, target)
            return
        with storage(self.url(rel)):
            self._fs.put_file(os.fspath(local), f"{self._root}/{rel}")

    def publish_all(self, files: list[tuple[Path, str]]) -> None:
        """Publishes each ``(local file, rel)`` as :meth:`publish` does; remotely the uploads run
        at the same time (each costs a round trip more than its bytes). Returns once all are
        done; a failure raises the error of the first failed file in ``files``."""
        if self.path is not None or len(files) < 2:
            for local, rel in files:
                self.publish(local, rel)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(len(files), _UPLOADS), thread_name_prefix="codemill-upload") as pool:
            uploads = [pool.submit(self.publish, local, rel) for local, rel in files]
        for upload in uploads:
            upload.result()

    def publish_tree(self, local: Path, last: str) -> None:
        """Replaces the directory's content by the local directory ``local``: ``last`` (the
        file whose presence says the output is complete) is removed first and published last,
        files no longer in the output are removed before it. While it is missing, the object
        `publishing_marker` names is there: a run killed meanwhile leaves a prefix that is
        still recognisably its output, which the next run may replace. `begin_publishing` and
        `end_publishing` do the same for files published as they are made."""
        old = self.begin_publishing(last)
        new = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
        self.publish_all([(local / rel, rel) for rel in new if rel != last])
        self.end_publishing(old, new, local / last, last)

    def begin_publishing(self, last: str) -> dict[str, FileInfo]:
        """Starts replacing the directory's content (a URL prefix): the marker in place of
        ``last``, which is removed; returns the files it held."""
        if self.path is not None:
            raise AssertionError("a local output is swapped in whole by codemill._io.atomic_dir")
        old = self.files()
        self.write_bytes(publishing_marker(last), b"")
        if last in old:
            self.remove([last])
        return old

    def end_publishing(self, old: dict[str, FileInfo], new: Iterable[str], local_last: Path, last: str) -> None:
        """Ends what `begin_publishing` began: the files of ``old`` not among ``new`` (the
        output's names, ``last`` included) removed, ``local_last`` published as ``last``, and
        the marker removed."""
        marker = publishing_marker(last)
        self.remove(sorted(set(old) - set(new) - {marker}))
        self.publish(local_last, last)
        self.remove([marker])

    def remove(self, rels: list[str]) -> None:
        if not rels:
            return
        if self.path is not None:
            for rel in rels:
                (self.path / rel).unlink(missing_ok=True)
            return
        paths = [f"{self._root}/{r}" for r in rels]
        with storage(self.name):
            # fsspec's rm takes a name with * ? [ as a glob pattern, which could remove other
            # files: those go one by one by exact name, the rest in bulk requests.
            literal: list[str] = []
            globbed: list[str] = []
            for p in paths:
                (globbed if _GLOB_CHARS.search(p) else literal).append(p)
            if literal:
                self._fs.rm(literal)
            for p in globbed:
                self._fs.rm_file(p)
