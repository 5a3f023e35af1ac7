"""One team server, as its clients talk to it: JSON calls and file transfers over a
pool of keep-alive connections, with credentials, bounded retries and one-line errors.

Credentials, the first found (mlcli's names win over MLflow's, so that one shell can
hold both):

    MLCLI_TRACKING_TOKEN, MLFLOW_TRACKING_TOKEN            Authorization: Bearer <token>
    MLCLI_TRACKING_USERNAME + MLCLI_TRACKING_PASSWORD,
    MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD    Authorization: Basic <user:pw>
    the URL's user and password (http://user:pw@host)    Authorization: Basic <user:pw>
    a netrc file ($NETRC, else ~/.netrc) with the host    Authorization: Basic <login:pw>

A user and password in the URL are used as credentials and never shown: the
connection's ``url`` (in every message) is the URL without them.

Retries: a request that never reached the server (connection refused or reset before
it was sent), and a ``429``/``502``/``503``/``504`` answer, are sent again up to
``MLCLI_HTTP_RETRIES`` times (5 by default) with exponential back-off (0.25 s, 0.5 s,
1 s, ... honouring ``Retry-After``). A request whose answer was lost after it was sent
is retried only when sending it twice does the same as once: GET, PUT, DELETE, and a
POST the caller marks ``idempotent`` (a log-batch carrying its batch id).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

from mlcli.errors import (
    ConflictError,
    InvalidInputError,
    MlcliError,
    NotFoundError,
    StoreError,
)

if TYPE_CHECKING:
    import urllib3

API = "/api/2.0/mlflow"
MLCLI_API = "/api/2.0/mlcli"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
DEFAULT_RETRIES = 5
MAX_ANSWER_BYTES = 256 << 20  # a JSON answer; files stream without a bound
TIMEOUT_SECONDS = 120.0
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_TRANSIENT = (429, 502, 503, 504)
_ERRORS: dict[str, type[MlcliError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFoundError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_ALREADY_EXISTS": ConflictError,
    "INVALID_PARAMETER_VALUE": InvalidInputError,
    "INVALID_STATE": InvalidInputError,
    "BAD_REQUEST": InvalidInputError,
    "RESOURCE_LIMIT_EXCEEDED": InvalidInputError,
}


class ServerUnavailable(StoreError):
    """The server could not be reached, or kept answering that it is not ready.
    ``maybe_applied``: the request was sent and its answer lost, so the server may
    have carried it out."""

    maybe_applied = False


class Answer(dict[str, Any]):
    """A JSON object the server sent: a field it lacks is a one-line StoreError naming
    the call, never a KeyError (a proxy's page, a server of another kind)."""

    def __init__(self, fields: dict[str, Any], where: str) -> None:
        super().__init__(fields)
        self.where = where

    def __missing__(self, key: str) -> Any:
        raise StoreError(f"the server's answer to {self.where} has no field {key!r}")


class AccessDenied(MlcliError):
    """The server refused the credentials (401) or the action (403)."""

    exit_code = 1


@dataclass(frozen=True)
class Credentials:
    """How requests prove who sends them; ``source`` names where they came from, for
    the error a refusal prints."""

    header: str | None
    source: str

    @classmethod
    def find(cls, url: str, environ: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if environ is None else environ
        for name in ("MLCLI_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN"):
            if env.get(name):
                return cls(f"Bearer {env[name]}", name)
        for prefix in ("MLCLI", "MLFLOW"):
            user = env.get(f"{prefix}_TRACKING_USERNAME")
            password = env.get(f"{prefix}_TRACKING_PASSWORD")
            if user and password is not None:
                return cls(_basic(user, password), f"{prefix}_TRACKING_USERNAME/PASSWORD")
        parts = urlsplit(url)
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            return cls(_basic(user, password), "the user and password in the URL")
        found = _from_netrc(urlsplit(url).hostname or "", env)
        if found is not None:
            return found
        return cls(None, "no credentials")


def without_userinfo(url: str) -> str:
    """``url`` with no ``user:password@``: what is shown, logged and hashed."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _from_netrc(host: str, env: Mapping[str, str]) -> Credentials | None:
    import netrc

    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not host or not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as error:
        raise InvalidInputError(f"cannot read the credentials in {path}: {error}") from None
    if entry is None:
        return None
    login, _, password = entry
    return Credentials(_basic(login or "", password or ""), f"{path} (machine {host})")


class ServerConnection:
    """Requests to the server at ``url`` (``http(s)://host[:port][/prefix]``)."""

    API = API  # MLflow's REST API
    MLCLI_API = MLCLI_API  # mlcli's own endpoints, where MLflow's API has none
    ARTIFACTS = ARTIFACTS  # the artifact proxy

    def __init__(
        self,
        url: str,
        credentials: Credentials | None = None,
        retries: int | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        import urllib3

        self.url = without_userinfo(url).rstrip("/")
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            valid = valid and (parts.port or 0) >= 0  # a port out of range: ValueError
            # requests' paths are appended: no ?query or #fragment, no spaces
            valid = valid and "?" not in url and "#" not in url and url.isprintable()
            valid = valid and not any(c.isspace() for c in url)
        except ValueError:
            valid = False
        if not valid:
            raise InvalidInputError(
                f"{self.url!r}: not a server URL (expected http(s)://host[:port][/path], "
                "without a query, a fragment or spaces)"
            )
        self.credentials = credentials or Credentials.find(url)
        self.retries = _retries_from_environment() if retries is None else retries
        self._pool = urllib3.PoolManager(
            maxsize=8,
            retries=False,
            timeout=urllib3.Timeout(connect=min(10.0, timeout), read=timeout),
        )

    # -- JSON calls --------------------------------------------------------------------------

    def call(
        self,
        method: str,
        endpoint: str,
        body: Mapping[str, Any] | bytes | None = None,
        *,
        query: Mapping[str, Any] | None = None,
        api: str = API,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """``method api+endpoint`` with a JSON body (POST, PATCH, DELETE; a document, or
        one already encoded) or a query string (GET); the decoded answer, or the error
        the server named."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        response = self.request(
            method,
            api + endpoint,
            body=data,
            headers=headers,
            query=query,
            idempotent=idempotent,
            stream=True,
        )
        where = f"{method} {api}{endpoint}"
        text = self._read_answer(response, where)
        try:
            answer = (
                json.loads(text, object_hook=lambda d: Answer(d, where)) if text.strip() else {}
            )
        except (ValueError, TypeError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            raise StoreError(
                f"{self.url}{api}{endpoint}: the server's answer is not a JSON document "
                f"(is {self.url} an mlcli or MLflow server?)"
            )
        if "error_code" in answer and isinstance(answer.get("message"), str):
            raise self._error(method, api + endpoint, response, text)  # an error sent as a 200
        return answer

    def _read_answer(self, response: urllib3.BaseHTTPResponse, where: str) -> bytes:
        """The body of a JSON answer, refused past MAX_ANSWER_BYTES (a runaway server)."""
        import urllib3

        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.stream(1 << 20):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise StoreError(
                        f"the server's answer to {where} is larger than "
                        f"{MAX_ANSWER_BYTES >> 20} MiB: {self.url} is not answering as an "
                        "mlcli or MLflow server"
                    )
                chunks.append(chunk)
        except urllib3.exceptions.HTTPError as error:
            raise ServerUnavailable(
                f"the answer of the server at {self.url} to {where} was cut short: "
                f"{type(error).__name__}"
            ) from None
        finally:
            response.release_conn()
        return b"".join(chunks)

    def get(self, endpoint: str, *, api: str = API, **query: Any) -> dict[str, Any]:
        wanted = {k: v for k, v in query.items() if v is not None}
        return self.call("GET", endpoint, query=wanted, api=api)

    def post(
        self, endpoint: str, body: Mapping[str, Any] | bytes, *, idempotent: bool = False
    ) -> dict[str, Any]:
        return self.call("POST", endpoint, body, idempotent=idempotent)

    # -- raw requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | BinaryIO | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        stream: bool = False,
        missing_ok: bool = False,
        idempotent: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """One request, retried as the module doc says; a non-2xx answer is raised as
        an MlcliError (404 too, unless ``missing_ok``). With ``stream``, the body is
        left unread for the caller (who must ``release_conn()``)."""
        import urllib3

        sent = dict(headers or {})
        if self.credentials.header is not None:
            sent["Authorization"] = self.credentials.header
        url = self.url + path
        if query:
            url += "?" + _query_string(query)
        attempt = 0
        while True:
            start = body.tell() if hasattr(body, "tell") else None  # type: ignore[union-attr]
            try:
                response = self._pool.request(
                    method,
                    url,
                    body=body,
                    headers=sent,
                    preload_content=not stream,
                    redirect=False,
                )
            except urllib3.exceptions.HTTPError as error:
                reached = not _never_sent(error)
                if attempt < self.retries and (idempotent or _may_retry(method, error)):
                    attempt += 1
                    _rewind(body, start)
                    _sleep(attempt, None)
                    continue
                failure = ServerUnavailable(
                    f"cannot reach the server at {self.url}: {_reason(error)}"
                )
                failure.maybe_applied = reached and method.upper() not in ("GET", "HEAD")
                raise failure from None
            if response.status in _TRANSIENT and attempt < self.retries:
                attempt += 1
                retry_after = response.headers.get("Retry-After")
                response.drain_conn()
                response.release_conn()
                _rewind(body, start)
                _sleep(attempt, retry_after)
                continue
            if 200 <= response.status < 300 or (missing_ok and response.status == 404):
                return response
            raise self._error(method, path, response)

    def stream(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The body of ``GET path``, a chunk at a time."""
        import urllib3

        response = self.request("GET", path, stream=True)
        try:
            yield from response.stream(chunk_size)
        except urllib3.exceptions.HTTPError as error:
            raise ServerUnavailable(
                f"the download of {path} from {self.url} was cut short: {type(error).__name__}"
            ) from None
        finally:
            response.release_conn()

    def close(self) -> None:
        self._pool.clear()

    # -- errors ------------------------------------------------------------------------------

    def _error(
        self,
        method: str,
        path: str,
        response: urllib3.BaseHTTPResponse,
        data: bytes | None = None,
    ) -> MlcliError:
        if data is None:
            data = response.data if response.status != 304 else b""
        code, message = _error_fields(data)
        status = response.status
        if status == 401:
            return AccessDenied(
                f"the server at {self.url} refused the credentials ({self.credentials.source}): "
                f"{message or 'unauthorized'}; set MLCLI_TRACKING_TOKEN, or "
                "MLCLI_TRACKING_USERNAME and MLCLI_TRACKING_PASSWORD"
            )
        if status == 403:
            return AccessDenied(f"permission denied by the server at {self.url}: {message}")
        if status in _TRANSIENT:
            return ServerUnavailable(
                f"the server at {self.url} is not ready ({status}) after "
                f"{self.retries} retries: {message or response.reason}"
            )
        if 300 <= status < 400 and response.headers.get("Location"):
            target = without_userinfo(response.headers["Location"])[:300]
            return StoreError(
                f"{self.url} redirects {method} {path} to {target}: give the server's own "
                "address as the store (mlcli does not follow redirects)"
            )
        if code is None and not _is_json(data):
            return StoreError(
                f"{self.url} answered {status} {response.reason} to {method} {path}: "
                "it is not an mlcli or MLflow tracking server"
            )
        if code == "ENDPOINT_NOT_FOUND":
            return StoreError(
                f"{self.url} has no endpoint {method} {path}: is the URL the server's address "
                "(with its path prefix, if a proxy adds one)?"
            )
        kind = _ERRORS.get(code or "")
        if kind is None and status >= 300:
            kind = NotFoundError if status == 404 else InvalidInputError if status < 500 else None
        if kind is None:
            return StoreError(
                f"the server at {self.url} failed on {method} {path} ({status}): "
                f"{message or response.reason}"
            )
        return kind(message or f"{method} {path}: {status} {response.reason}", error_code=code)


def _error_fields(data: bytes) -> tuple[str | None, str]:
    """The error code and the message's first line, printable: what a server says is
    shown on the user's terminal, so no escape sequence of it reaches there."""
    try:
        doc = json.loads(data)
    except (ValueError, TypeError, RecursionError):
        return None, _printable(data.decode("utf-8", "replace"), 300)
    if not isinstance(doc, dict):
        return None, _printable(str(doc), 300)
    code = doc.get("error_code")
    message = str(doc.get("message") or doc.get("detail") or "")
    return (_printable(str(code), 100) if code else None), _printable(message, 1000)


def _printable(text: str, limit: int) -> str:
    lines = text.strip().splitlines()
    first = lines[0][:limit] if lines else ""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in first)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, TypeError):
        return False
    return True


def _query_string(query: Mapping[str, Any]) -> str:
    pairs: list[str] = []
    for key, value in query.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append(f"{quote(str(key), safe='')}={quote(str(item), safe='')}")
    return "&".join(pairs)


def _may_retry(method: str, error: Exception) -> bool:
    """Whether sending again cannot do a thing twice: the request never left, or it
    does the same however often it is sent."""
    return method.upper() in _IDEMPOTENT or _never_sent(error)


def _never_sent(error: Exception) -> bool:
    """Whether the request failed before any of it reached the server."""
    import urllib3

    never_sent = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    return isinstance(error, never_sent) or isinstance(getattr(error, "reason", None), never_sent)


def _reason(error: Exception) -> str:
    import urllib3

    reason = getattr(error, "reason", None) or error
    text = str(reason)
    if isinstance(error, urllib3.exceptions.SSLError) or "SSL" in type(reason).__name__:
        return (
            "the TLS handshake failed (is it an http:// server, or is its certificate "
            f"untrusted?): {text.rsplit('] ', 1)[-1].strip()}"
        )
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text.split(": ", 1)[-1] if ": " in text else text


def _rewind(body: bytes | BinaryIO | None, start: int | None) -> None:
    if start is not None and hasattr(body, "seek"):
        body.seek(start)  # type: ignore[union-attr]


def _sleep(attempt: int, retry_after: str | None) -> None:
    import time

    delay = min(8.0, 0.25 * 2 ** (attempt - 1))
    if retry_after:
        with contextlib.suppress(ValueError):
            delay = min(30.0, max(delay, float(retry_after)))
    time.sleep(delay)


def _retries_from_environment() -> int:
    """``MLCLI_HTTP_RETRIES``, else MLflow's ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``."""
    names = ("MLCLI_HTTP_RETRIES", "MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    name = next((n for n in names if os.environ.get(n)), names[0])
    text = os.environ.get(name)
    if text is None or text == "":
        return DEFAULT_RETRIES
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise InvalidInputError(f"{name}={text!r}: expected a number from 0 to 100")
    return value
