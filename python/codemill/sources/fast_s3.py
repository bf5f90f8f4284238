"""s3fs whose object reads and single-request uploads go through obstore (Rust) where they can.

A botocore request costs ~1.1 ms of Python CPU (its hooks, signing, parsing, aiohttp's event
loop), an obstore one ~0.1 ms; an 8 MB upload 10.2 ms against 5.5 ms, an 8 MB read 3.5 ms
against 1.4 ms (one core, moto's server on the other). A corpus job spends that CPU on every
task it reads and commits, beside the encoder.

s3fs stays the filesystem: it lists, removes, streams large uploads in parts, and holds the
configuration. Endpoint, region and credentials are read from its botocore client, so the
standard chain (``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``~/.aws/config``, an instance role ...)
is resolved once, by botocore, for both (a CA bundle it uses is added to obstore's trusted
roots), and a bucket is addressed as botocore does (a host of its own on AWS, a path at any
other endpoint). Requests go to obstore only where it reproduces what botocore would send: no
option s3fs passes on that obstore lacks (anonymous access, requester pays, extra request
arguments, versions, a proxy, virtual-host addressing at another endpoint, a setting only
obstore reads from the environment), object names it keeps as they are (see `_plain_key`), and
ranges as s3fs asks for them, and bytes only (obstore reads a str as a local file's name).
The store's own answers to a range or an upload (no such object or bucket, a range past the
end, access denied) become the error s3fs makes of them, from the same code and message; any
other request obstore fails is made again by s3fs, whose answer or error is the one given, and
a bucket s3fs then serves where obstore failed stays with s3fs. ``CODEMILL_S3_CLIENT=s3fs``
sends every request to s3fs.

obstore's runtime starts threads at its first request and does not survive a fork: a forked
child uses s3fs. codemill forks its workers before (`codemill._cpus.single_threaded` counts
every thread), so they use obstore.
"""

from __future__ import annotations

import datetime
import errno
import html
import mimetypes
import numbers
import os
import re
import stat
import threading
from collections.abc import Callable
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
# Settings obstore reads from the environment (every ``AWS_`` name of its configuration) that
# botocore does not, and that would change its requests. The rest it reads are given explicitly
# (endpoint, region, credentials through the provider) or only find credentials.
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
    "AWS_COPY_IF_NOT_EXISTS",
    "AWS_DISABLE_TAGGING",
    "AWS_S3_EXPRESS",
)
# botocore's endpoints of AWS itself (global, or a region's), where it addresses a bucket as
# a host of its own (``https://BUCKET.s3.REGION.amazonaws.com``) if its name allows.
_AWS_ENDPOINT = re.compile(r"https://s3(\.[a-z0-9-]+)?\.amazonaws\.com")
_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
# The process whose obstore runtime is running (its first store's): a forked child has none of
# its threads, and its requests would wait forever; it uses s3fs.
_runtime_pid: int | None = None
# Characters obstore changes or refuses in a name: control characters; `;` (a key with one was
# stored cut at it); `?` (s3fs reads `?versionId=` in a name).
_ODD_CHARS = re.compile(r"[\x00-\x1f\x7f;?\\]")


def _plain_key(key: str) -> bool:
    """Whether obstore sends ``key`` as it is: it drops a leading or trailing ``/`` and refuses
    empty, ``.`` and ``..`` segments, where S3 keeps each as part of the name."""
    if not key or _ODD_CHARS.search(key):
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


# The store's answers that botocore gets the same (its code in the XML body obstore quotes).
_ANSWERS = frozenset({"NoSuchKey", "NoSuchBucket", "InvalidRange", "AccessDenied"})
_CODE = re.compile(r"<Code>([^<]+)</Code>")
_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")

_Where = tuple[Any, str, str]  # (obstore store, key, bucket) of a path, `FastS3FileSystem._located`


class _Slow(Exception):
    """obstore cannot serve this request as botocore would: s3fs serves it."""


class _Failed(Exception):
    """obstore failed this request (``error``): s3fs makes it again."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


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
        global _runtime_pid
        if _runtime_pid is not None and _runtime_pid != os.getpid():
            return None
        store = self._stores.get(bucket, False)
        if store is not False:
            return store
        with self._stores_lock:
            if bucket not in self._stores:
                self._stores[bucket] = self._new_store(bucket) if self._options_plain() else None
                if self._stores[bucket] is not None:
                    _runtime_pid = os.getpid()
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
        style = s3_config.get("addressing_style")
        if (
            config.proxies
            or s3_config.get("use_accelerate_endpoint")
            or s3_config.get("use_dualstack_endpoint")
            or config.use_fips_endpoint
        ):
            return None
        where: dict[str, Any] = {"region": client.meta.region_name or "us-east-1"}
        if _AWS_ENDPOINT.fullmatch(endpoint) and style != "path" and _DNS_BUCKET.fullmatch(bucket):
            # As botocore: https://BUCKET.s3[.REGION].amazonaws.com (the endpoint names the bucket).
            where.update(
                endpoint=endpoint.replace("https://", f"https://{bucket}.", 1), virtual_hosted_style_request=True
            )
        elif style == "virtual":  # a host per bucket at another endpoint: not reproduced
            return None
        else:
            where.update(endpoint=endpoint, virtual_hosted_style_request=False)
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
        try:
            return S3Store(
                bucket,
                credential_provider=credentials,
                client_options=cast("Any", options),
                retry_config={"max_retries": max(int(attempts) - 1, 0)},
                **where,
            )
        except Exception:  # a setting obstore refuses (from the environment): s3fs serves the bucket
            return None

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

    def _located(self, path: str, start: int | None = None, end: int | None = None) -> _Where:
        """(store, key, bucket) of ``path`` (of ``[start, end)`` of it, as s3fs asks for a range);
        raises `_Slow` where s3fs serves it."""
        if (start is not None and start < 0) or (end is not None and (end < 0 or end <= (start or 0))):
            raise _Slow  # s3fs sends these as they are (a server ignores `bytes=5-1`: the whole object)
        bucket, key, version = self.split_path(path)
        if version or not _plain_key(key):
            raise _Slow
        store = self._store(bucket)
        if store is None:
            raise _Slow
        return store, key, bucket

    def _served_by_s3fs(self, at: _Where, failure: BaseException) -> None:
        """s3fs made a request obstore failed (``failure``): if that was a failure of the store's
        (not a name it refused), s3fs serves the bucket from then on."""
        from obstore.exceptions import BaseError

        if isinstance(failure, BaseError | OSError):
            with self._stores_lock:
                self._stores[at[2]] = None

    def _answered(self, failure: BaseException, operation: str) -> BaseException | None:
        """The error s3fs raises for the store's own answer in ``failure`` (a missing object or
        bucket, a range past the end, a refusal: botocore gets the same one), as s3fs makes it
        from the answer's code and message; None for any other failure, which s3fs makes again."""
        from botocore.exceptions import ClientError
        from obstore.exceptions import BaseError
        from s3fs.errors import translate_boto_error

        text = str(failure)
        code, message = _CODE.search(text), _MESSAGE.search(text)
        if not isinstance(failure, BaseError | OSError) or code is None or code.group(1) not in _ANSWERS:
            return None
        answer = {"Error": {"Code": code.group(1), "Message": html.unescape(message.group(1)) if message else ""}}
        error: BaseException = translate_boto_error(ClientError(answer, operation), set_cause=False)
        return error

    # -- the requests

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> Any:
        def slow() -> Any:
            return sync(self.loop, self._cat_file, path, start=start, end=end, **kwargs)

        try:
            if kwargs:
                raise _Slow
            at = self._located(path, start, end)
        except _Slow:
            return slow()
        import obstore

        store, key, _ = at
        try:
            if start is None and end is None:
                return bytes(obstore.get(store, key).bytes())
            if end is None:
                return bytes(obstore.get(store, key, options=cast("Any", {"range": {"offset": start}})).bytes())
            return bytes(obstore.get_range(store, key, start=start or 0, end=end))
        except Exception as exc:
            failure = exc
        # A whole read's error is s3fs's own (it asks the size first): s3fs reads it again.
        answered = None if start is None and end is None else self._answered(failure, "GetObject")
        if answered is not None:
            raise answered from None
        data = slow()  # s3fs's answer, or its error
        self._served_by_s3fs(at, failure)
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
        starts = [starts] * n if starts is None or isinstance(starts, numbers.Integral) else list(starts)
        ends = [ends] * n if ends is None or isinstance(ends, numbers.Integral) else list(ends)
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
                located.append(self._located(path, start, end))
            except _Slow:
                located.append(None)

        async def one(gate: asyncio.Semaphore, at: _Where | None, start: int | None, end: int | None) -> Any:
            if at is None:
                return _Slow()
            store, key, _ = at
            try:
                async with gate:
                    if start is None and end is None:
                        return bytes(await (await obstore.get_async(store, key)).bytes_async())
                    if end is None:
                        got = await obstore.get_async(store, key, options=cast("Any", {"range": {"offset": start}}))
                        return bytes(await got.bytes_async())
                    return bytes(await obstore.get_range_async(store, key, start=start or 0, end=end))
            except Exception as exc:
                answered = None if start is None and end is None else self._answered(exc, "GetObject")
                return _Failed(exc) if answered is None else answered

        async def all_of() -> list[Any]:
            gate = asyncio.Semaphore(_AT_ONCE)
            return list(await asyncio.gather(*(one(gate, *args) for args in zip(located, starts, ends, strict=True))))

        got = sync(self.loop, all_of)
        again = [i for i, data in enumerate(got) if isinstance(data, _Slow | _Failed)]
        if again:
            answers = sync(
                self.loop,
                self._cat_ranges,
                [paths[i] for i in again],
                [starts[i] for i in again],
                [ends[i] for i in again],
                on_error="return",
            )
            for i, data in zip(again, answers, strict=True):
                failed, got[i] = got[i], data
                at = located[i]
                if isinstance(failed, _Failed) and at is not None and not isinstance(data, BaseException):
                    self._served_by_s3fs(at, failed.error)
        return got

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        def slow() -> None:
            sync(self.loop, self._pipe_file, path, value, mode=mode, **kwargs)

        # Bytes only: obstore reads a str as a local file's name, and takes a memoryview botocore refuses.
        if kwargs or mode != "overwrite" or not isinstance(value, bytes | bytearray) or len(value) >= _SINGLE_PUT:
            slow()
            return
        self._put(path, bytes(value), None, slow)  # s3fs sets no type here: the store's default

    def put_file(self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any) -> None:
        given = {} if callback is None else {"callback": callback}

        def slow() -> None:
            sync(self.loop, self._put_file, lpath, rpath, mode=mode, **given, **kwargs)

        try:
            local = os.stat(lpath)
        except OSError:  # s3fs's own error
            local = None
        if (
            given
            or kwargs
            or mode != "overwrite"
            or local is None
            or not stat.S_ISREG(local.st_mode)
            or local.st_size >= _SINGLE_PUT
        ):
            slow()
            return
        # As s3fs: a type guessed from the local file's name.
        self._put(rpath, Path(lpath), mimetypes.guess_type(lpath)[0], slow)

    def _put(self, path: str, body: bytes | Path, content_type: str | None, slow: Callable[[], None]) -> None:
        """One upload of ``body`` as ``path`` (``slow``: the same by s3fs)."""
        try:
            at = self._located(path)
        except _Slow:
            slow()
            return
        import obstore

        store, key, _ = at
        try:
            attributes = {"Content-Type": content_type} if content_type else None
            obstore.put(store, key, body, use_multipart=False, attributes=attributes)
        except Exception as exc:
            answered = self._answered(exc, "PutObject")
            if answered is not None:
                raise answered from None
            slow()  # s3fs's upload, or its error
            self._served_by_s3fs(at, exc)
            return
        self.invalidate_cache(path)

    async def _bulk_delete(self, pathlist: list[str], **kwargs: Any) -> list[str]:
        """s3fs's delete of up to 1,000 keys of a bucket in one request, its failures raised.

        S3 answers such a request 200 and names each key it did not delete (a policy denying
        `s3:DeleteObject`, a key's InternalError) in the body, which s3fs passes over: a run
        replacing an output then left the previous one's files beside it and said nothing."""
        if not pathlist:
            return []
        buckets = {self.split_path(path)[0] for path in pathlist}
        if len(buckets) > 1 or len(pathlist) > 1000:  # as s3fs's: one request's worth
            raise ValueError("a bulk delete takes up to 1,000 keys of one bucket")
        bucket = buckets.pop()
        for path in pathlist:
            self.invalidate_cache(self._parent(path))
        keys = [{"Key": self.split_path(path)[1]} for path in pathlist]
        out = await self._call_s3("delete_objects", kwargs, Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        errors = out.get("Errors") or []
        if errors:
            first = errors[0]
            code, key = first.get("Code", ""), f"{bucket}/{first.get('Key', '')}"
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            detail = f"{code}: {first.get('Message', '')}{more}"
            if code == "AccessDenied":
                raise PermissionError(errno.EACCES, f"not deleted, {detail}", key)
            raise OSError(errno.EIO, f"not deleted, {detail}", key)
        return list(pathlist)


# One cache of instances with s3fs's: clearing its (``fsspec.filesystem("s3").clear_instance_cache()``,
# after the environment changed) clears these too. Each instance's key names its class.
FastS3FileSystem._cache = S3FileSystem._cache
