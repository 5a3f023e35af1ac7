"""MLflow's multipart upload endpoints: a large artifact goes from the client straight to
the bucket through presigned URLs, never through the server (MLflow's own proxy fails
above ~800 MB: mlflow#7564, #8963).

    POST /api/2.0/mlflow-artifacts/mpu/create/<folder>    {"path": <file name>, "num_parts": n}
         -> {"upload_id": ..., "credentials": [{"url", "part_number", "headers"}, ...]}
    POST .../mpu/complete/<folder>   {"path", "upload_id", "parts": [{"part_number", "etag"}]}
    POST .../mpu/abort/<folder>      {"path", "upload_id"}                        -> {}

``<folder>`` is the artifact folder the file goes into (an ``artifacts.py`` path);
``path`` names the file (clients before MLflow 3.18 send their local path: only its
last part counts). The client PUTs each part to its URL and sends back the ETags.
MLflow's client uses them with ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`` (or when
the server's ``/api/3.0/mlflow/server-info`` offers them) for files from
``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` up, in parts of
``MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE`` (S3 wants 5 MiB at least).

The size limit (``--max-artifact-size``) is checked before completing, on the parts
the bucket holds: an upload beyond it is aborted, never visible. A server over a
local store answers 501 with MLflow's message, and MLflow's client then PUTs the file
through the proxy.
"""

from __future__ import annotations

import contextlib
import ntpath
import posixpath
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError
from mlcli.tracking_server.artifacts import parse_artifact_path
from mlcli.tracking_server.backend import Backend
from mlcli.tracking_server.bucket_artifacts import (
    MAX_PARTS,
    abort_upload,
    destination,
    missing_upload,
    object_key,
)
from mlcli.tracking_server.errors import MultipartUnsupportedError
from mlcli.tracking_server.fields import Fields
from mlcli.web.bodies import too_large

if TYPE_CHECKING:
    from mlcli.objects.s3 import S3Objects

PREFIX = "/api/2.0/mlflow-artifacts/mpu"

# MLflow's client recognises this beginning (and the 501) and falls back to a PUT.
UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"


def unsupported() -> MultipartUnsupportedError:
    return MultipartUnsupportedError(
        f"{UNSUPPORTED}: this server's store is local (a server with --store "
        "s3://bucket/prefix takes uploads straight into its bucket)"
    )


def file_path(folder: str, fields: Fields) -> str:
    """The artifact path of the file: ``folder`` and the last part of ``path``."""
    name = ntpath.basename(fields.required("path"))  # "/" and "\\" both separate
    if name in ("", ".", ".."):
        raise InvalidInputError(f"invalid file name {fields.required('path')!r}")
    return posixpath.join(folder.strip("/"), name)


def create(
    backend: Backend, objects: S3Objects, folder: str, fields: Fields, expiry: int
) -> dict[str, Any]:
    """Start a multipart upload; a presigned URL for each of its ``num_parts`` parts."""
    count = fields.integer("num_parts", default=1)
    if not 1 <= count <= MAX_PARTS:
        raise InvalidInputError(f"num_parts must be 1 to {MAX_PARTS}, not {count}")
    key = destination(backend, objects, file_path(folder, fields)).key
    full_key = objects.full_key(key)
    client, bucket = objects.client, objects.bucket
    with objects.failures(key):
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=full_key)["UploadId"]
        credentials = [
            {
                "url": client.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": bucket,
                        "Key": full_key,
                        "UploadId": upload_id,
                        "PartNumber": number,
                    },
                    ExpiresIn=expiry,
                ),
                "part_number": number,
                "headers": {},
            }
            for number in range(1, count + 1)
        ]
    return {"upload_id": upload_id, "credentials": credentials}


def complete(
    backend: Backend, objects: S3Objects, folder: str, fields: Fields, limit: int
) -> dict[str, Any]:
    """Make the uploaded parts the file, unless they exceed ``limit`` bytes together
    (then the upload is aborted: a 413)."""
    path = file_path(folder, fields)
    upload_id = fields.required("upload_id")
    parts = [_part(item) for item in fields.objects("parts")]
    if not parts:
        raise InvalidInputError("missing value for required parameter 'parts'")
    where = destination(backend, objects, path)  # checked again: a run deleted meanwhile
    key = where.key
    size = _uploaded_size(objects, key, upload_id)
    if size > limit:
        abort_upload(objects, key, upload_id)
        raise too_large(limit, "--max-artifact-size", size)
    with objects.failures(key), missing_upload(upload_id), _refused_parts():
        objects.client.complete_multipart_upload(
            Bucket=objects.bucket,
            Key=objects.full_key(key),
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
    where.uploaded()
    return {}


def abort(backend: Backend, objects: S3Objects, folder: str, fields: Fields) -> dict[str, Any]:
    """Drop an upload and every part sent; one already gone is no error."""
    path = file_path(folder, fields)
    upload_id = fields.required("upload_id")
    abort_upload(objects, object_key(backend, parse_artifact_path(path)), upload_id)
    return {}


def _part(item: Fields) -> dict[str, Any]:
    number = item.integer("part_number")
    if number is None or not 1 <= number <= MAX_PARTS:
        raise InvalidInputError(f"part_number must be 1 to {MAX_PARTS}, not {number}")
    return {"PartNumber": number, "ETag": item.required("etag")}


def _uploaded_size(objects: S3Objects, key: str, upload_id: str) -> int:
    """The bytes of every part the bucket holds for the upload."""
    options = {"Bucket": objects.bucket, "Key": objects.full_key(key), "UploadId": upload_id}
    total = 0
    with objects.failures(key), missing_upload(upload_id):
        for page in objects.client.get_paginator("list_parts").paginate(**options):
            total += sum(int(part["Size"]) for part in page.get("Parts", ()))
    return total


@contextlib.contextmanager
def _refused_parts() -> Iterator[None]:
    """The bucket refusing the parts a client names (an unknown part or ETag, parts out
    of order, one but the last under 5 MiB): a 400 naming S3's reason."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") not in _REFUSED_PARTS:
            raise
        reason = error.get("Message") or error.get("Code")
        raise InvalidInputError(f"the bucket refused the parts: {reason}") from None


_REFUSED_PARTS = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"})
