"""The errors only the tracking server has, placed in mlcli's one tree.

Each carries the HTTP status and MLflow ``error_code`` of its JSON body
``{"error_code": ..., "message": ...}``; the store's own errors already carry theirs
(``INVALID_PARAMETER_VALUE`` 400, ``RESOURCE_ALREADY_EXISTS`` 400,
``RESOURCE_DOES_NOT_EXIST`` 404)::

    MlcliError
    ├── UnauthenticatedError         401  UNAUTHENTICATED      no or a wrong bearer token
    └── MultipartUnsupportedError    501  NOT_IMPLEMENTED      multipart upload, local store

The scoring server's ``MalformedRequestError`` (400), ``RequestTooLargeError`` (413),
``UnsupportedMediaTypeError`` (415), ``EndpointNotFoundError`` (404) and
``MethodNotAllowedError`` (405) serve here too.
"""

from __future__ import annotations

from mlcli.errors import MlcliError
from mlcli.web.errors import MalformedRequestError

__all__ = ["MalformedRequestError", "MultipartUnsupportedError", "UnauthenticatedError"]


class UnauthenticatedError(MlcliError):
    http_status = 401
    error_code = "UNAUTHENTICATED"


class MultipartUnsupportedError(MlcliError):
    """MLflow's presigned multipart upload, asked of a server without a bucket (MLflow's
    client then uploads through the proxy)."""

    http_status = 501
    error_code = "NOT_IMPLEMENTED"
