"""The errors only the tracking server has, placed in mlcli's one tree.

Each carries the HTTP status and MLflow ``error_code`` of its JSON body
``{"error_code": ..., "message": ...}``; the store's own errors already carry theirs
(``INVALID_PARAMETER_VALUE`` 400, ``RESOURCE_ALREADY_EXISTS`` 400,
``RESOURCE_DOES_NOT_EXIST`` 404)::

    InvalidInputError
    └── MalformedRequestError        400  MALFORMED_REQUEST    not JSON, not an object
    MlcliError
    └── UnauthenticatedError         401  UNAUTHENTICATED      no or a wrong bearer token

The scoring server's ``RequestTooLargeError`` (413), ``UnsupportedMediaTypeError``
(415), ``EndpointNotFoundError`` (404) and ``MethodNotAllowedError`` (405) serve here
too.
"""

from __future__ import annotations

from mlcli.errors import InvalidInputError, MlcliError


class MalformedRequestError(InvalidInputError):
    error_code = "MALFORMED_REQUEST"


class UnauthenticatedError(MlcliError):
    http_status = 401
    error_code = "UNAUTHENTICATED"
