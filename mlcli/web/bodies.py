"""Request bodies as every mlcli server reads them: bounded, typed, parsed safely.

- A body is never read beyond its limit: a Content-Length over it is refused before
  a byte is read, and a body without one (chunked) is counted while it streams; both
  are a 413 ``REQUEST_LIMIT_EXCEEDED`` naming the option that sets the limit.
- A request that changes something carries ``Content-Type: application/json``
  (:func:`require_json`), even with an empty body: a web page on another site can
  send ``text/plain``, forms and multipart without asking, but JSON only after a CORS
  preflight that no mlcli server grants. That is what keeps them safe from CSRF.
- A JSON body that is not JSON, nests deeper than Python can parse, or holds a number
  Python refuses, is a 400, never a 500 (:func:`parse_json`).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError
from mlcli.web.errors import (
    MalformedRequestError,
    RequestTooLargeError,
    UnsupportedMediaTypeError,
)

if TYPE_CHECKING:
    from starlette.requests import Request

JSON_MEDIA_TYPE = "application/json"


async def stream_body(request: Request, limit: int, option: str) -> AsyncIterator[bytes]:
    """The body's chunks, refused with a 413 as soon as it is known to exceed ``limit``
    bytes (``option`` names the setting, e.g. ``--max-body-size``)."""
    from starlette.requests import ClientDisconnect

    check_declared_size(request, limit, option)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit, option)
            yield chunk
    except ClientDisconnect:
        raise InvalidInputError("the client went away before sending the whole body") from None


def check_declared_size(request: Request, limit: int, option: str) -> None:
    """413 when the Content-Length header alone says the body is too large."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit, option, int(declared))


async def read_body(request: Request, limit: int, option: str) -> bytes:
    """The whole body, at most ``limit`` bytes (413 beyond)."""
    return b"".join([chunk async for chunk in stream_body(request, limit, option)])


def media_type(content_type: str | None) -> str:
    """``application/json`` for ``Application/JSON; charset=utf-8``."""
    return (content_type or "").split(";")[0].strip().lower()


def require_json(content_type: str | None) -> None:
    """415 unless the request says its body is JSON (whether or not it has one)."""
    given = media_type(content_type)
    if given != JSON_MEDIA_TYPE:
        raise UnsupportedMediaTypeError(
            f"send the request as JSON (Content-Type: {JSON_MEDIA_TYPE}), not "
            f"{given or 'without a Content-Type'}"
        )


def parse_json(body: bytes | str, what: str = "the request body") -> Any:
    """The JSON document in ``body``. MalformedRequestError for what Python's parser
    refuses (bad syntax or encoding, nesting too deep); InvalidInputError for a number
    it cannot hold (an integer of thousands of digits, ``1e309``, which would silently
    become infinity)."""
    try:
        return json.loads(body, parse_float=_finite_float)
    except RecursionError:
        raise MalformedRequestError(f"{what} nests JSON arrays or objects too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequestError(f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:  # an int beyond sys.get_int_max_str_digits(), or 1e309
        raise InvalidInputError(f"{what} holds a number out of range: {exc}") from None


def too_large(limit: int, option: str, size: int | None = None) -> RequestTooLargeError:
    what = "the request body" if size is None else f"the request body ({size_text(size)})"
    return RequestTooLargeError(
        f"{what} exceeds the server's limit of {size_text(limit)} ({option})"
    )


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is too large for a double")
    return value
