"""Object storage on S3 or any S3-compatible service (``s3://bucket/prefix``), through
boto3.

boto3 finds the credentials, region and endpoint the standard way (``AWS_PROFILE``,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``~/.aws``, an
instance role), so nothing here configures them. Conditional writes are PutObject with
``If-None-Match: *`` (create) or ``If-Match: <etag>`` (replace); a refused condition
comes back as None, never as an error. botocore retries transient failures a bounded
number of times; what is left becomes one line: NotFoundError for a missing object,
StoreError for the rest (no credentials, no answer, no access, no bucket).

A retried conditional write can find its own first attempt: a create whose answer was
lost then reports the key as taken. Callers already treat "taken" as "someone else won",
which stays safe (they try another key, or re-read).

This module is imported only when an ``s3://`` store is opened: boto3 is an extra
(``mlcli[s3]``) and slow to import.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import boto3
import botocore.config
import botocore.exceptions
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig

from mlcli.errors import NotFoundError, StoreError, StoreUnavailableError
from mlcli.files.fileio import create_temp_file
from mlcli.objects.base import ObjectInfo
from mlcli.objects.keys import check_key, check_prefix

# the sync engine moves files with 16 threads, each upload in up to 8 parts at once
_MAX_CONNECTIONS = 32
_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=10,
    read_timeout=60,
    max_pool_connections=_MAX_CONNECTIONS,
)
_TRANSFER = TransferConfig(max_concurrency=8)

_REFUSED_CONDITION = {"PreconditionFailed", "ConditionalRequestConflict"}
_NO_OBJECT = {"NoSuchKey", "404", "NotFound"}
_BUSY = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError", "503"}
_DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
}


class S3Objects:
    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._base = f"{self.prefix}/" if self.prefix else ""
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def client(self) -> Any:
        """The S3 client, made on first use and shared by every thread (boto3 clients
        are thread-safe; sessions are not, hence one of our own)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    try:
                        self._client = boto3.session.Session().client("s3", config=_CONFIG)
                    except botocore.exceptions.BotoCoreError as exc:
                        raise StoreError(f"{self.url}: {exc}") from None
        return self._client

    def get(self, key: str) -> tuple[bytes, str]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return answer["Body"].read(), answer["ETag"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._fail(exc, key)

    def get_if_present(self, key: str) -> tuple[bytes, str] | None:
        try:
            return self.get(key)
        except NotFoundError:
            return None

    def put(self, key: str, data: bytes) -> str:
        etag = self._put(key, data)
        assert etag is not None  # an unconditional write has no condition to fail
        return etag

    def create(self, key: str, data: bytes) -> str | None:
        return self._put(key, data, IfNoneMatch="*")

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        try:
            return self._put(key, data, IfMatch=etag)
        except NotFoundError:
            return None  # S3 answers If-Match on a missing object with NoSuchKey

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._fail(exc, key)

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        options = {"Bucket": self.bucket, "Prefix": self._base + prefix}
        if start_after is not None:
            options["StartAfter"] = self._base + start_after
        for page in self._pages(options):
            for found in page.get("Contents", ()):
                yield ObjectInfo(
                    key=found["Key"][len(self._base) :], size=found["Size"], etag=found["ETag"]
                )

    def list_prefixes(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix)
        options = {"Bucket": self.bucket, "Prefix": self._base + prefix, "Delimiter": "/"}
        for page in self._pages(options):
            for found in page.get("CommonPrefixes", ()):
                yield found["Prefix"][len(self._base) :]

    def upload_file(self, key: str, source: Path) -> None:
        if source.stat().st_size < _TRANSFER.multipart_threshold:  # one PUT, no manager
            self.put(key, source.read_bytes())
            return
        try:
            self.client.upload_file(str(source), self.bucket, self._key(key), Config=_TRANSFER)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._fail(exc, key)
        except S3UploadFailedError as exc:  # boto3 wraps the ClientError of a part
            if isinstance(exc.__context__, botocore.exceptions.ClientError):
                self._fail(exc.__context__, key)
            raise StoreError(f"{self.url}: uploading {key!r} failed: {exc}") from None

    def download_file(self, key: str, destination: Path, size: int | None = None) -> None:
        full_key = self._key(key)
        fd, tmp = create_temp_file(destination)
        try:
            with os.fdopen(fd, "wb") as handle:
                if size is not None and size < _TRANSFER.multipart_threshold:
                    body = self.client.get_object(Bucket=self.bucket, Key=full_key)["Body"]
                    for chunk in iter(lambda: body.read(1 << 20), b""):
                        handle.write(chunk)
                else:  # ranged GETs in parallel, for a large (or unknown) size
                    self.client.download_fileobj(self.bucket, full_key, handle, Config=_TRANSFER)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, destination)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(exc, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError):
                self._fail(exc, key)
            raise

    # --- keys, pages, errors

    def full_key(self, key: str) -> str:
        """The bucket's key for ``key``, or for a folder's prefix (ending in ``/``)."""
        return self._base + check_prefix(key) if key.endswith("/") else self._key(key)

    @contextlib.contextmanager
    def failures(self, key: str | None) -> Iterator[None]:
        """boto3's failures inside, as mlcli's one-line errors (for callers that use
        :attr:`client` directly): NotFoundError for ``key`` missing, StoreError else."""
        try:
            yield
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._fail(exc, key)

    def _key(self, key: str) -> str:
        return self._base + check_key(key)

    def _put(self, key: str, data: bytes, **condition: str) -> str | None:
        try:
            answer = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, **condition
            )
        except botocore.exceptions.ClientError as exc:
            if condition and _code(exc) in _REFUSED_CONDITION:
                return None
            self._fail(exc, key)
        except botocore.exceptions.BotoCoreError as exc:
            self._fail(exc, key)
        return str(answer["ETag"])

    def _pages(self, options: dict[str, str]) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.get_paginator("list_objects_v2").paginate(**options)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._fail(exc, None)

    def _fail(self, exc: Exception, key: str | None) -> NoReturn:
        """Raise the one-line mlcli error that stands for a boto3 failure."""
        url = self.url
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            raise StoreError(
                f"{url}: no credentials found (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            ) from None
        if isinstance(  # no answer, or cut off
            exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError
        ):
            endpoint = self.client.meta.endpoint_url
            raise StoreUnavailableError(
                f"{url}: cannot reach the endpoint {endpoint} ({exc})"
            ) from None
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _code(exc)
            if code in _NO_OBJECT and key is not None:
                if code != "NoSuchKey" and not self._bucket_exists():
                    code = "NoSuchBucket"  # a HEAD's bare 404 names neither
                else:
                    raise NotFoundError(f"{url}: no object {key!r}") from None
            if code == "NoSuchBucket":
                raise StoreError(f"{url}: no such bucket {self.bucket!r}") from None
            if code in _DENIED:
                detail = "" if code in {"AccessDenied", "403", "Forbidden"} else f" ({code})"
                raise StoreError(f"{url}: access denied{detail}") from None
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            if code in _BUSY or _status(exc) >= 500:
                raise StoreUnavailableError(f"{url}: {code}: {message}") from None
            raise StoreError(f"{url}: {code}: {message}") from None
        raise StoreError(f"{url}: {exc}") from None

    def _bucket_exists(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            return _code(exc) not in {"404", "NoSuchBucket", "NotFound"}
        except botocore.exceptions.BotoCoreError:
            return True  # unknown: say what the first failure said
        return True


def _status(exc: botocore.exceptions.ClientError) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else 0


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
