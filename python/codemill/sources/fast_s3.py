"""s3fs whose object reads and single-request uploads go through obstore (Rust) where they can.

A botocore request costs ~1.1 ms of Python CPU (its hooks, signing, parsing, aiohttp's event
loop), an obstore one ~0.1 ms; an 8 MB upload 10.2 ms against 5.5 ms, an 8 MB read 3.5 ms
against 1.4 ms (one core, moto's server on the other). A corpus job spends that CPU on every
task it reads and commits, beside the encoder.

s3fs stays the filesystem: it lists, removes, streams large uploads in parts, and holds the
configuration. Endpoint, region and credentials are read from its botocore client, so the
standard chain (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``~/.aws/config``, an instance role ...)
is resolved once, by botocore, for both (a CA bundle it uses is added to obstore's trusted
roots). Requests go to obstore only where it reproduces what botocore would send: no option
s3fs passes on that obstore lacks (anonymous access, requester pays, extra request arguments,
versions, a proxy, virtual-host addressing, a setting only obstore reads from the environment),
and object names it keeps as they are (see `_plain_key`). Anything else,
and any request obstore fails for a reason other than a missing object or a refusal, goes to
s3fs as before, whose answer (or error) is the one given; a bucket that s3fs serves where
obstore failed stays with s3fs. ``CODEMILL_S3_CLIENT=s3fs`` sends every request to s3fs.

obstore's runtime starts threads at its first request; a process that forks workers does so
before (`codemill._cpus.single_threaded` counts every thread).
"""

from __future__ import annotations

import datetime
import mimetypes
import os
import re
import threading
from pathlib import Path
from typing import Any, cast

from fsspec.asyn import sync
from s3fs import S3FileSystem

__all__ = ["FastS3FileSystem"]

# s3fs uploads a file in one request below twice its part size (50 MiB), in parts above.
_SINGLE_PUT = 100 << 20
# Requests of a `cat_ranges` under way at once (as s3fs's batch of a fetch, `fs.FETCH_BATCH`).
_AT_ONCE = 64
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
# Settings obstore reads from the environment that botocore does not: requests would differ.
_OBSTORE_ONLY_VARIABLES = (
    "AWS_ENDPOINT",
    "AWS_SKIP_SIGNATURE",
    "AWS_REQUESTER_PAYS",
    "AWS_REQUEST_PAYER",
    "AWS_SERVER_SIDE_ENCRYPTION",
    "AWS_SSE_KMS_KEY_ID",
    "AWS_SSE_BUCKET_KEY_ENABLED",
    "AWS_SSE_CUSTOMER_KEY_BASE64",
    "AWS_CHECKSUM_ALGORITHM",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_UNSIGNED_PAYLOAD",
    "AWS_CONDITIONAL_PUT",
    "AWS_DISABLE_TAGGING",
)
# Characters obstore changes or refuses in a name: control characters; `;` (a key with one was
# stored cut at it); `?` (s3fs reads `?versionId=` in a name).
_ODD_CHARS = re.compile(r"[\x00-\x1f\x7f;?\\]")


def _plain_key(key: str) -> bool:
    """Whether obstore sends ``key`` as it is: it drops a leading or trailing ``/`` and refuses
    empty, ``.`` and ``..`` segments, where S3 keeps each as part of the name."""
    if not key or _ODD_CHARS.search(key):
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


_Where = tuple[Any, str, str]  # (obstore store, key, bucket) of a path, `FastS3FileSystem._located`


class _Slow(Exception):
    """obstore cannot serve this request as botocore would: s3fs serves it."""


class FastS3FileSystem(S3FileSystem):
    """`S3FileSystem` with `cat_file`, `cat_ranges`, `pipe_file` and `put_file` sent through
    obstore where it reproduces the request (see the module's description)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stores: dict[str, Any] = {}  # bucket -> obstore S3Store, or None: s3fs serves it
        self._stores_lock = threading.Lock()

    # -- which requests go to obstore

    def _options_plain(self) -> bool:
        """Whether this filesystem sets nothing obstore would not reproduce."""
        return (
            os.environ.get("CODEMILL_S3_CLIENT", "").lower() != "s3fs"
            and not self.anon
            and not self.requester_pays
            and not self.version_aware
            and not self.s3_additional_kwargs
            and not self.cache_regions
            and self.use_ssl
            and set(self.client_kwargs) <= {"endpoint_url", "region_name"}
            and set(self.config_kwargs) <= {"max_pool_connections"}
            and not any(os.environ.get(v) for v in _PROXY_VARIABLES + _OBSTORE_ONLY_VARIABLES)
        )

    def _store(self, bucket: str) -> Any:
        """The obstore store of ``bucket``, None where s3fs serves it."""
        store = self._stores.get(bucket, False)
        if store is not False:
            return store
        with self._stores_lock:
            if bucket not in self._stores:
                self._stores[bucket] = self._new_store(bucket) if self._options_plain() else None
            return self._stores[bucket]

    def _new_store(self, bucket: str) -> Any:
        try:
            from obstore.store import S3Store
        except ImportError:
            return None
        client = self.s3  # botocore's client: what it resolved is what obstore is given
        config = client.meta.config
        s3_config = config.s3 or {}
        endpoint = client.meta.endpoint_url
        if (
            config.proxies
            or s3_config.get("use_accelerate_endpoint")
            or s3_config.get("use_dualstack_endpoint")
            or config.use_fips_endpoint
            or s3_config.get("addressing_style") == "virtual"
        ):
            return None
        credentials = self._credentials()
        if credentials is None:  # none found (s3fs says so) or not to be signed
            return None
        # botocore's attempts (AWS_MAX_ATTEMPTS, or its mode's default), the first one included.
        retry = config.retries or {}
        attempts = retry.get("total_max_attempts") or (5 if retry.get("mode", "legacy") == "legacy" else 3)
        options: dict[str, Any] = {
            "allow_http": endpoint.startswith("http://"),
            "connect_timeout": datetime.timedelta(seconds=config.connect_timeout or 60),
            "read_timeout": datetime.timedelta(seconds=config.read_timeout or 60),
            # A whole request (a 100 MiB upload on a slow link): read_timeout catches stalls.
            "timeout": datetime.timedelta(hours=1),
        }
        bundle = self.session.get_config_variable("ca_bundle")  # AWS_CA_BUNDLE, ca_bundle in a profile
        if bundle and endpoint.startswith("https://"):
            try:
                options["root_certificate"] = Path(bundle).read_text(encoding="ascii")
            except (OSError, ValueError):  # botocore's own request reports it
                return None
        return S3Store(
            bucket,
            credential_provider=credentials,
            client_options=cast("Any", options),
            retry_config={"max_retries": max(int(attempts) - 1, 0)},
            endpoint=endpoint,
            region=client.meta.region_name or "us-east-1",
        )

    def _credentials(self) -> Any:
        """obstore's credential provider, asking botocore (which refreshes what expires), or
        None where botocore has none."""
        if self.key and self.secret:
            frozen = {"access_key_id": self.key, "secret_access_key": self.secret, "token": self.token}
            return lambda: {**frozen, "expires_at": None}
        creds = sync(self.loop, self.session.get_credentials)
        if creds is None:
            return None
        refreshable = hasattr(creds, "refresh_needed")

        def provide() -> dict[str, Any]:
            now = sync(self.loop, creds.get_frozen_credentials)
            # A refreshable set asked again in 5 minutes: botocore renews it ahead of its expiry.
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5) if refreshable else None
            return {
                "access_key_id": now.access_key,
                "secret_access_key": now.secret_key,
                "token": now.token,
                "expires_at": expires,
            }

        return provide

    def _located(self, path: str) -> _Where:
        """(store, key, bucket) of ``path``; raises `_Slow` where s3fs serves it."""
        bucket, key, version = self.split_path(path)
        if version or not _plain_key(key):
            raise _Slow
        store = self._store(bucket)
        if store is None:
            raise _Slow
        return store, key, bucket

    def _failed(self, bucket: str, exc: BaseException) -> BaseException | None:
        """What an obstore failure raises: a missing object or a refusal as the OSError s3fs
        gives; None for any other failure, which s3fs then tries (and if it succeeds, serves
        the bucket from then on, `_served_by_s3fs`)."""
        from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError

        if isinstance(exc, FileNotFoundError):
            return exc
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
            return PermissionError(13, _first_line(exc))
        if isinstance(exc, BaseError | ValueError):
            return None
        return exc

    def _served_by_s3fs(self, bucket: str) -> None:
        with self._stores_lock:
            self._stores[bucket] = None

    # -- the requests

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> Any:
        try:
            if kwargs or (start is not None and start < 0) or (end is not None and end < 0):
                raise _Slow
            store, key, bucket = self._located(path)
        except _Slow:
            return sync(self.loop, self._cat_file, path, start=start, end=end, **kwargs)
        import obstore

        try:
            if start is None and end is None:
                return bytes(obstore.get(store, key).bytes())
            if end is not None and end <= (start or 0):
                return b""
            return bytes(obstore.get_range(store, key, start=start or 0, end=end))
        except Exception as exc:
            failure = self._failed(bucket, exc)
            if failure is not None:
                raise failure from None
        data = sync(self.loop, self._cat_file, path, start=start, end=end)
        self._served_by_s3fs(bucket)
        return data

    def cat_ranges(
        self,
        paths: list[str],
        starts: Any,
        ends: Any,
        max_gap: Any = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[Any]:
        n = len(paths)
        starts = [starts] * n if starts is None or isinstance(starts, int) else list(starts)
        ends = [ends] * n if ends is None or isinstance(ends, int) else list(ends)
        if kwargs or max_gap is not None or on_error != "return" or len(starts) != n or len(ends) != n:
            return list(
                sync(self.loop, self._cat_ranges, paths, starts, ends, max_gap=max_gap, on_error=on_error, **kwargs)
            )
        import asyncio

        import obstore

        # Located here, not in the loop: a store's first use connects s3fs, which waits on the loop.
        located: list[_Where | None] = []
        for path, start, end in zip(paths, starts, ends, strict=True):
            try:
                if (start is not None and start < 0) or (end is not None and end < 0):
                    raise _Slow
                located.append(self._located(path))
            except _Slow:
                located.append(None)

        async def one(gate: asyncio.Semaphore, at: _Where | None, start: int | None, end: int | None) -> Any:
            if at is None:
                return _Slow()
            store, key, bucket = at
            try:
                async with gate:
                    if start is None and end is None:
                        return bytes(await (await obstore.get_async(store, key)).bytes_async())
                    if end is not None and end <= (start or 0):
                        return b""
                    return bytes(await obstore.get_range_async(store, key, start=start or 0, end=end))
            except Exception as exc:
                failure = self._failed(bucket, exc)
                return _Slow() if failure is None else failure

        async def all_of() -> list[Any]:
            gate = asyncio.Semaphore(_AT_ONCE)
            return list(await asyncio.gather(*(one(gate, *args) for args in zip(located, starts, ends, strict=True))))

        got = sync(self.loop, all_of)
        slow = [i for i, data in enumerate(got) if isinstance(data, _Slow)]
        if slow:
            again = sync(
                self.loop,
                self._cat_ranges,
                [paths[i] for i in slow],
                [starts[i] for i in slow],
                [ends[i] for i in slow],
                on_error="return",
            )
            for i, data in zip(slow, again, strict=True):
                got[i] = data
                at = located[i]
                if at is not None and not isinstance(data, BaseException):
                    self._served_by_s3fs(at[2])
        return got

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        if kwargs or mode != "overwrite" or len(value) >= _SINGLE_PUT:
            sync(self.loop, self._pipe_file, path, value, mode=mode, **kwargs)
            return
        self._put(path, value, lambda: sync(self.loop, self._pipe_file, path, value))

    def put_file(self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any) -> None:
        given = {} if callback is None else {"callback": callback}

        def slow() -> None:
            sync(self.loop, self._put_file, lpath, rpath, mode=mode, **given, **kwargs)

        if given or kwargs or mode != "overwrite" or not os.path.isfile(lpath) or os.path.getsize(lpath) >= _SINGLE_PUT:
            slow()
            return
        self._put(rpath, Path(lpath), slow)

    def _put(self, path: str, body: bytes | Path, slow: Any) -> None:
        """One upload of ``body`` as ``path`` (``slow``: the same by s3fs)."""
        try:
            store, key, bucket = self._located(path)
        except _Slow:
            slow()
            return
        import obstore

        # As s3fs: a type guessed from the name (it guesses from the local file's, the same here).
        kind, _ = mimetypes.guess_type(key)
        try:
            obstore.put(store, key, body, use_multipart=False, attributes={"Content-Type": kind} if kind else None)
        except Exception as exc:
            failure = self._failed(bucket, exc)
            if failure is not None:
                raise failure from None
            slow()
            self._served_by_s3fs(bucket)
            return
        self.invalidate_cache(path)


# One cache of instances with s3fs's: clearing its (``fsspec.filesystem("s3").clear_instance_cache()``,
# after the environment changed) clears these too. Each instance's key names its class.
FastS3FileSystem._cache = S3FileSystem._cache


def _first_line(exc: BaseException) -> str:
    """The first line of an obstore error, without the XML body it quotes."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return line.split(": <?xml", 1)[0]
