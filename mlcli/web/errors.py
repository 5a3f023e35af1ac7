"""The errors only a server has, placed in mlcli's one tree (``mlcli/errors.py``).

Each carries its HTTP status and the ``error_code`` of the JSON body
``{"error_code": ..., "message": ...}``::

    InvalidInputError                     400  (and everything under it: bad JSON, CSV, schema)
    ├── MalformedRequestError             400  MALFORMED_REQUEST  not JSON, too deep, not an object
    ├── RequestTooLargeError              413  REQUEST_LIMIT_EXCEEDED
    └── UnsupportedMediaTypeError         415  UNSUPPORTED_MEDIA_TYPE
    NotFoundError
    └── EndpointNotFoundError             404  ENDPOINT_NOT_FOUND
    MlcliError
    ├── MethodNotAllowedError             405  METHOD_NOT_ALLOWED
    ├── ModelNotReadyError                503  TEMPORARILY_UNAVAILABLE
    └── PredictionTimeoutError            504  DEADLINE_EXCEEDED
"""

from __future__ import annotations

from mlcli.errors import InvalidInputError, MlcliError, NotFoundError


class MalformedRequestError(InvalidInputError):
    error_code = "MALFORMED_REQUEST"


class RequestTooLargeError(InvalidInputError):
    http_status = 413
    error_code = "REQUEST_LIMIT_EXCEEDED"


class UnsupportedMediaTypeError(InvalidInputError):
    http_status = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"


class EndpointNotFoundError(NotFoundError):
    error_code = "ENDPOINT_NOT_FOUND"


class MethodNotAllowedError(MlcliError):
    http_status = 405
    error_code = "METHOD_NOT_ALLOWED"


class ModelNotReadyError(MlcliError):
    http_status = 503
    error_code = "TEMPORARILY_UNAVAILABLE"


class PredictionTimeoutError(MlcliError):
    http_status = 504
    error_code = "DEADLINE_EXCEEDED"
