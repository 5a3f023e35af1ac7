"""The artifact proxy of a server whose store is a bucket (``--store s3://...``): the
routes of ``artifacts.py``, but the bytes stream between the client and the bucket and
never touch the server's disk.

- A listing is one delimited listing of the folder's prefix (MLflow's shape: names
  relative to the folder); a folder that holds nothing lists as empty, a file as itself.
- A download streams the object's body as it arrives, with its length.
- An upload goes to the bucket in parts (S3 multipart, :data:`PART_SIZE` each), one part
  sent while the next arrives: at most two parts in memory, whatever the file's size.
  A body smaller than a part is one PutObject. Nothing is visible until the last part
  is in; a body cut short, a client gone, a limit exceeded or a part refused aborts
  the upload, so the bucket keeps no part of it.

Object keys are a remote's (``mlcli.store.sync.keys``): ``runs/<run_id>/artifacts/<path>``
and ``models/<name>/versions/<n>/artifacts/<path>``. A file cannot be uploaded where a
folder is, nor below a file (a 400, as in a local store).
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store import TeamStore
from mlcli.store.sync import keys
from mlcli.tracking_server.artifacts import (
    RunArtifact,
    VersionArtifact,
    check_writable,
    parse_artifact_path,
    run_of,
)
from mlcli.tracking_server.backend import Backend
from mlcli.web.bodies import check_declared_size, stream_body

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import StreamingResponse

    from mlcli.objects.s3 import S3Objects

PART_SIZE = 8 * 1024 * 1024  # S3's parts are 5 MiB at least (but the last)
MAX_PARTS = 10_000  # S3's limit on the parts of one upload
READ_SIZE = 1024 * 1024  # of a download, per read from the bucket
LIMIT_OPTION = "--max-artifact-size"

Target = RunArtifact | VersionArtifact


def object_key(backend: Backend, target: Target) -> str:
    """The bucket key (relative to the store's prefix) of ``target``; NotFoundError for
    an unknown run or version. The root of the artifacts is a prefix ending in ``/``."""
    if isinstance(target, VersionArtifact):
        backend.client.registry().get_version(target.name, target.version)
        return keys.version_artifact_key(target.name, target.version, target.path)
    return keys.run_artifact_key(run_of(backend, target), target.path)


# -- listing ---------------------------------------------------------------------------------


def list_folder(backend: Backend, objects: S3Objects, path: str) -> dict[str, Any]:
    """``{"files": [...]}`` as ``artifacts.list_folder`` answers."""
    target = parse_artifact_path(path)
    key = object_key(backend, target)
    folder = key if key.endswith("/") else key + "/"
    files = [_shape(entry, folder) for entry in _level(objects, folder)]
    if not files and target.path:
        size = _size(objects, key)
        if size is not None:  # a file lists as itself
            files = [{"path": posixpath.basename(key), "is_dir": False, "file_size": size}]
    return {"files": sorted(files, key=lambda shape: shape["path"])}


def _level(objects: S3Objects, folder: str) -> list[dict[str, Any]]:
    """The objects and folders right under ``folder`` (one delimited listing)."""
    found: list[dict[str, Any]] = []
    options = {"Bucket": objects.bucket, "Prefix": objects.full_key(folder), "Delimiter": "/"}
    with objects.failures(None):
        for page in objects.client.get_paginator("list_objects_v2").paginate(**options):
            found.extend(page.get("Contents", ()))
            found.extend(page.get("CommonPrefixes", ()))
    prefix = options["Prefix"]
    # a folder's own marker (some servers list one) is not an entry
    return [entry for entry in found if (entry.get("Key") or entry["Prefix"]) != prefix]


def _shape(entry: dict[str, Any], folder: str) -> dict[str, Any]:
    if "Prefix" in entry:
        return {"path": entry["Prefix"].rstrip("/").rsplit("/", 1)[-1], "is_dir": True}
    name = entry["Key"].rsplit("/", 1)[-1]
    return {"path": name, "is_dir": False, "file_size": int(entry["Size"])}


def _size(objects: S3Objects, key: str) -> int | None:
    """The size of the object ``key``, or None when there is none."""
    try:
        with objects.failures(key):
            answer = objects.client.head_object(Bucket=objects.bucket, Key=objects.full_key(key))
    except NotFoundError:
        return None
    return int(answer["ContentLength"])


def _is_folder(objects: S3Objects, key: str) -> bool:
    with objects.failures(None):
        answer = objects.client.list_objects_v2(
            Bucket=objects.bucket, Prefix=objects.full_key(key) + "/", MaxKeys=1
        )
    return bool(answer.get("Contents"))


# -- download --------------------------------------------------------------------------------


async def download(backend: Backend, objects: S3Objects, path: str) -> StreamingResponse:
    """The file, streamed from the bucket; a 404 (one line) for a missing one."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import StreamingResponse

    body, length = await run_in_threadpool(_open, backend, objects, path)
    headers = {"Content-Length": str(length)}
    return StreamingResponse(_chunks(body), media_type="application/octet-stream", headers=headers)


def _open(backend: Backend, objects: S3Objects, path: str) -> tuple[Any, int]:
    target = parse_artifact_path(path)
    if not target.path:
        raise InvalidInputError(f"{path!r} is a folder: list it with ?path=")
    key = object_key(backend, target)
    try:
        with objects.failures(key):
            answer = objects.client.get_object(Bucket=objects.bucket, Key=objects.full_key(key))
    except NotFoundError:
        if _is_folder(objects, key):
            raise InvalidInputError(f"{target.path!r} is a folder: list it with ?path=") from None
        raise NotFoundError(f"no artifact {target.path!r} in {path!r}") from None
    return answer["Body"], int(answer["ContentLength"])


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    from starlette.concurrency import run_in_threadpool

    try:
        while chunk := await run_in_threadpool(body.read, READ_SIZE):
            yield chunk
    finally:
        body.close()  # a client gone mid-way: the bucket's connection is not left open


# -- upload ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where an upload goes: its key, and whom to tell once the file is whole there (a
    team store's run, whose manifest then comes to name the file)."""

    key: str
    uploaded: Callable[[], None] = lambda: None


def destination(backend: Backend, objects: S3Objects, path: str) -> Destination:
    """Where a file may be uploaded at ``path``; InvalidInputError for a file that may
    not be written (a deleted run, a registered version) or has a folder in its place
    or a file above it."""
    target = parse_artifact_path(path)
    check_writable(backend, target)
    if isinstance(target, RunArtifact) and isinstance(backend.store, TeamStore):
        # a team store's run checks its own files (TeamArtifacts), and is told of new ones
        repository = backend.store.artifacts(run_of(backend, target))
        return Destination(repository.check_upload(target.path), repository.uploaded)
    key = object_key(backend, target)
    if _is_folder(objects, key):
        raise InvalidInputError(f"{target.path!r} is a folder; upload files into it")
    parts = target.path.split("/")
    for depth in range(1, len(parts)):
        above = "/".join(parts[:depth])
        if _size(objects, key[: len(key) - len(target.path)] + above) is not None:
            raise InvalidInputError(f"{above!r} is a file, so {target.path!r} cannot be below it")
    return Destination(key)


def part_size(limit: int) -> int:
    """Parts large enough that a file of ``limit`` bytes fits in S3's 10,000."""
    return max(PART_SIZE, -(-limit // MAX_PARTS))


async def upload(
    request: Request, backend: Backend, objects: S3Objects, path: str, limit: int
) -> None:
    """An artifact PUT, streamed into the bucket; complete, or not there at all."""
    from starlette.concurrency import run_in_threadpool

    check_declared_size(request, limit, LIMIT_OPTION)  # before the bucket is asked
    where = await run_in_threadpool(destination, backend, objects, path)
    declared = request.headers.get("content-length", "")
    writer = PartWriter(objects, where.key, part_size(limit))
    try:
        async for chunk in stream_body(request, limit, LIMIT_OPTION):
            await writer.write(chunk)
        if declared.isdigit() and writer.size != int(declared):
            raise InvalidInputError(f"the body ended after {writer.size} of its {declared} bytes")
        await writer.finish()
    except BaseException:
        await writer.abort()
        raise
    await run_in_threadpool(where.uploaded)


class PartWriter:
    """Bytes written to one object in parts: each part is sent while the next one is
    written, so at most two parts are held. Nothing is visible before :meth:`finish`."""

    def __init__(self, objects: S3Objects, key: str, size: int) -> None:
        self.objects = objects
        self.key = key
        self.part_size = size
        self.size = 0  # bytes written
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._sending: asyncio.Future[dict[str, Any]] | None = None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._buffer += data
        if len(self._buffer) >= self.part_size:
            await self._send_part()

    async def finish(self) -> None:
        from starlette.concurrency import run_in_threadpool

        if self._upload_id is None:  # smaller than a part: one PUT
            await run_in_threadpool(self.objects.put, self.key, bytes(self._buffer))
            return
        if self._buffer:
            await self._send_part()
        await self._wait()
        await run_in_threadpool(self._complete)

    async def abort(self) -> None:
        """Drop what was sent (safe to call whatever happened, even when cancelled)."""
        import anyio
        from starlette.concurrency import run_in_threadpool

        if self._upload_id is None:
            return
        # the request's own error is the one to report: a failed abort leaves parts
        # that the bucket's lifecycle rule for incomplete uploads removes
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            with contextlib.suppress(Exception):
                await self._wait()  # a part still in flight would outlive the abort
            await run_in_threadpool(self._abort)

    async def _send_part(self) -> None:
        from starlette.concurrency import run_in_threadpool

        data, self._buffer = self._buffer, bytearray()  # boto3 sends a bytearray as is
        if self._upload_id is None:
            self._upload_id = await run_in_threadpool(self._start)
        await self._wait()
        number = len(self._parts) + 1
        self._sending = asyncio.ensure_future(run_in_threadpool(self._put_part, number, data))

    async def _wait(self) -> None:
        sending, self._sending = self._sending, None
        if sending is not None:
            self._parts.append(await sending)

    # -- the bucket's calls (in the thread pool) ----------------------------------------------

    def _start(self) -> str:
        with self.objects.failures(self.key):
            answer = self.objects.client.create_multipart_upload(
                Bucket=self.objects.bucket, Key=self.objects.full_key(self.key)
            )
        return str(answer["UploadId"])

    def _put_part(self, number: int, data: bytearray) -> dict[str, Any]:
        with self.objects.failures(self.key):
            answer = self.objects.client.upload_part(
                Bucket=self.objects.bucket,
                Key=self.objects.full_key(self.key),
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
            )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _complete(self) -> None:
        with self.objects.failures(self.key):
            self.objects.client.complete_multipart_upload(
                Bucket=self.objects.bucket,
                Key=self.objects.full_key(self.key),
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def _abort(self) -> None:
        abort_upload(self.objects, self.key, str(self._upload_id))


def abort_upload(objects: S3Objects, key: str, upload_id: str) -> None:
    """Abort a multipart upload; one already gone (completed, aborted) is no error."""
    with contextlib.suppress(NotFoundError), objects.failures(key), missing_upload(upload_id):
        objects.client.abort_multipart_upload(
            Bucket=objects.bucket, Key=objects.full_key(key), UploadId=upload_id
        )


@contextlib.contextmanager
def missing_upload(upload_id: str) -> Iterator[None]:
    """S3's NoSuchUpload as one line (NotFoundError) naming the upload."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404"):
            raise
        raise NotFoundError(
            f"no multipart upload {upload_id!r} (completed or aborted already?)"
        ) from None
