"""The tracking server's ASGI app (Starlette): MLflow's REST API over the store.

    /api/2.0/mlflow/...                 experiments, runs, metrics, logged models, registry
    /ajax-api/2.0/mlflow/...            the same (the path MLflow's web UI uses)
    /api/2.0/mlflow-artifacts/...       the artifact proxy (``artifacts.py``)
    GET /health                         {"status": "OK"}: liveness, without a token
    GET /ready                          200 when the store (and auth DB) answer, else 503
    GET /metrics                        Prometheus metrics (``mlcli.web.metrics``)
    GET /version                        mlcli's version, as JSON
    GET /api/3.0/mlflow/server-info     what MLflow 3 clients ask before big uploads
    everything else                     the dashboard of ``mlcli ui`` (``dashboard.py``)

With ``--auth-db`` every request but the probes names a user (``auth.authenticate``)
and each route is checked against its rule (``auth.rules``); the dashboard is then
for admins only, until it filters what it shows by user.

A GET carries its fields in the query string, anything else a JSON object (sent as
``application/json``, within ``--max-body-size``). Handlers run in a thread pool.
Every error is MLflow's JSON ``{"error_code", "message"}`` with its HTTP status: a
client's mistake is a 4xx, never a 500; a fault of the server is a 500 whose
traceback goes to stderr.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError, MlcliError
from mlcli.tracking_server import artifacts, experiments, logged_models, registry, runs
from mlcli.tracking_server.auth import USER_KEY
from mlcli.tracking_server.backend import Backend, Endpoint
from mlcli.tracking_server.config import ServerConfig
from mlcli.tracking_server.dashboard import with_dashboard
from mlcli.tracking_server.fields import Fields
from mlcli.tracking_server.readiness import ReadinessLog
from mlcli.tracking_server.readiness import check as check_readiness
from mlcli.web.bodies import check_declared_size, read_body, require_json, stream_body
from mlcli.web.errors import EndpointNotFoundError, MethodNotAllowedError
from mlcli.web.guard import Guard
from mlcli.web.log import AccessLog, ServerLog
from mlcli.web.probes import PublicPaths
from mlcli.web.routes import templated_route

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlcli.objects.s3 import S3Objects
    from mlcli.tracking_server.auth.authorize import Authorizer
    from mlcli.tracking_server.auth.database import User
    from mlcli.web.metrics import HttpMetrics

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MLCLI_PREFIX = "/api/2.0/mlcli"  # mlcli's own endpoints, where MLflow's API has none
ARTIFACT_PREFIXES = (artifacts.PREFIX, "/ajax-api/2.0/mlflow-artifacts/artifacts")
MULTIPART_PREFIXES = ("/api/2.0/mlflow-artifacts/mpu", "/ajax-api/2.0/mlflow-artifacts/mpu")
MULTIPART_ACTIONS = ("create", "complete", "abort")  # multipart.py
# What a load balancer probes without credentials (docs/security.md): nothing else.
PROBES = frozenset({"/health", "/ready"})
ENDPOINTS: list[Endpoint] = [
    *experiments.ENDPOINTS,
    *runs.ENDPOINTS,
    *logged_models.ENDPOINTS,
    *registry.ENDPOINTS,
    *registry.MLCLI_ENDPOINTS,
]


def create_app(config: ServerConfig, log: ServerLog | None = None) -> Any:
    """The whole ASGI app: metrics, the guard (the probes need no token), access log,
    routes."""
    from mlcli.web.metrics import HttpMetrics, MetricsMiddleware

    log = log or ServerLog(name="mlcli server")
    metrics = HttpMetrics()
    backend = Backend.for_config(config.store, config.index)
    authorizer = None if config.auth_db is None else _authorizer(config.auth_db, backend)
    app: Any = TrackingApp(config, backend, log, metrics, authorizer).starlette()
    gate = None if authorizer is None else _admins_only()
    app = with_dashboard(app, backend, gate)  # every other path: the UI
    if config.access_log:
        app = AccessLog(app, log, json_lines=config.log_format == "json")
    if authorizer is None:
        guarded = Guard(app, config.host, config.token(), browser_login=True)
    else:
        from mlcli.tracking_server.auth.authenticate import Authenticate, ProxyIdentity

        proxy = (
            None
            if config.user_header is None
            else ProxyIdentity(config.user_header, frozenset(config.trusted_proxies))
        )
        guarded = Guard(Authenticate(app, authorizer.database, proxy), config.host)
    probes = Guard(app, config.host)  # no token, but a foreign Host is still refused
    return MetricsMiddleware(PublicPaths(PROBES, probes, guarded), metrics)


def _authorizer(location: str, backend: Backend) -> Authorizer:
    from mlcli.tracking_server.auth.authorize import Authorizer
    from mlcli.tracking_server.auth.database import AuthDatabase

    return Authorizer(AuthDatabase.open(location), backend)


def _admins_only() -> Any:
    from mlcli.tracking_server.auth.authenticate import admins_only

    return admins_only


def app_from_environment() -> Any:
    """The app of one uvicorn worker process (``--workers N``)."""
    return create_app(ServerConfig.from_environment())


class TrackingApp:
    def __init__(
        self,
        config: ServerConfig,
        backend: Backend,
        log: ServerLog,
        metrics: HttpMetrics,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.config = config
        self.authorizer = authorizer
        self.backend = backend
        self.log = log
        self.metrics = metrics
        self.points_written = metrics.counter(
            "mlcli_metric_points_written",
            "Metric points written by log-metric and log-batch requests that succeeded.",
        )
        self.readiness_log = ReadinessLog(log)

    def starlette(self) -> Starlette:
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException

        by_path: dict[tuple[str, str], dict[str, Endpoint]] = defaultdict(dict)
        for endpoint in ENDPOINTS:
            by_path[(endpoint.api, endpoint.path)][endpoint.method] = endpoint
        routes = [
            templated_route("/health", self.health, ["GET"]),
            templated_route("/ready", self.ready, ["GET"]),
            templated_route("/metrics", self.prometheus_metrics, ["GET"]),
            templated_route("/version", self.version, ["GET"]),
            templated_route("/api/3.0/mlflow/server-info", self.server_info, ["GET"]),
        ]
        # Fixed paths before parameterised ones: /logged-models/search, not {model_id}.
        for api, path in sorted(by_path, key=lambda p: ("{" in p[1], p)):
            methods = by_path[(api, path)]
            for prefix in (MLCLI_PREFIX,) if api == "mlcli" else API_PREFIXES:
                routes.append(templated_route(prefix + path, self._api(methods), list(methods)))
        for prefix in ARTIFACT_PREFIXES:
            routes.append(templated_route(prefix, self.list_artifacts, ["GET"]))
            routes.append(templated_route(prefix + "/{path:path}", self.artifact, ["GET", "PUT"]))
        for prefix in MULTIPART_PREFIXES:
            for action in MULTIPART_ACTIONS:
                path = f"{prefix}/{action}/{{path:path}}"
                routes.append(templated_route(path, self._multipart(action), ["POST"]))
        handlers: dict[Any, Any] = {
            MlcliError: self.on_error,
            HTTPException: self.on_http_exception,
            Exception: self.on_crash,
        }
        return Starlette(routes=routes, exception_handlers=handlers, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        """A team store flushes its buffer to the bucket in the background while the
        server runs, and what is left once the requests in flight have finished (each
        worker of ``--workers N`` for itself)."""
        from starlette.concurrency import run_in_threadpool

        if self.backend.team is not None:
            self.backend.team.flusher.start()
        yield
        await run_in_threadpool(self.backend.close)

    # -- endpoints -------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return _json({"status": "OK"})

    async def ready(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        auth = None if self.authorizer is None else self.authorizer.database
        readiness = await run_in_threadpool(check_readiness, self.backend, auth)
        self.readiness_log.note(readiness)
        return _json(readiness.document(), 200 if readiness.ready else 503)

    async def prometheus_metrics(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        body = await run_in_threadpool(self.metrics.exposition)  # reads every worker's files
        return Response(body, media_type=self.metrics.content_type)

    async def version(self, request: Request) -> Response:
        from mlcli.version import __version__

        return _json({"version": __version__, "server": "mlcli"})

    async def server_info(self, request: Request) -> Response:
        return _json(
            {
                "store_type": "mlcli",
                "workspaces_enabled": False,
                "multipart_uploads_enabled": self.bucket is not None
                and self.config.presigned_uploads,
                "multipart_downloads_enabled": False,
            }
        )

    def _api(self, methods: dict[str, Endpoint]) -> Any:
        async def call(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            endpoint = methods.get("GET" if request.method == "HEAD" else request.method)
            if endpoint is None:
                raise MethodNotAllowedError(
                    f"{request.method} is not allowed on {request.url.path}"
                )
            if request.method == "GET":
                fields = Fields.from_query(request.scope["query_string"], request.path_params)
            else:
                body = await self._body(request)
                fields = Fields.from_json(body, request.path_params)
            fields.check(endpoint.kinds)  # every field, read by the handler or not
            user = request.scope.get(USER_KEY)
            reply = await run_in_threadpool(self._handle, endpoint, fields, user)
            if endpoint.points is not None:
                self.points_written.inc(endpoint.points(fields))
            return _json(reply)

        return call

    def _handle(self, endpoint: Endpoint, fields: Fields, user: User | None) -> dict[str, Any]:
        """The handler's reply, checked against the user's permissions (``--auth-db``)."""
        if self.authorizer is None or user is None:
            return _guarded(endpoint, self.backend, fields)
        from mlcli.tracking.context import acting_as
        from mlcli.tracking_server.auth.rules import endpoint_rule

        rule = endpoint_rule(endpoint.api, endpoint.method, endpoint.path)
        with acting_as(user.name):  # the registry's audit trail names the user
            self.authorizer.check(user, rule, fields)
            reply = _guarded(endpoint, self.backend, fields)
            return self.authorizer.after(user, rule, fields, reply)

    async def _check_artifact(self, request: Request, path: str) -> None:
        user = request.scope.get(USER_KEY)
        if self.authorizer is not None and user is not None:
            from starlette.concurrency import run_in_threadpool

            from mlcli.tracking_server.auth.levels import Level

            level = Level.READ if request.method in ("GET", "HEAD") else Level.EDIT
            await run_in_threadpool(self.authorizer.check_artifact, user, path, level)

    @property
    def bucket(self) -> S3Objects | None:
        """The bucket of a team store: artifacts go there (``bucket_artifacts.py``)."""
        return self.backend.bucket

    async def list_artifacts(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        fields = Fields.from_query(request.scope["query_string"])
        path = fields.required("path")
        await self._check_artifact(request, path)
        if self.bucket is not None:
            from mlcli.tracking_server import bucket_artifacts

            listing = bucket_artifacts.list_folder
            return _json(await run_in_threadpool(listing, self.backend, self.bucket, path))
        return _json(await run_in_threadpool(artifacts.list_folder, self.backend, path))

    async def artifact(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import FileResponse

        path = request.path_params["path"]
        await self._check_artifact(request, path)
        reading = request.method in ("GET", "HEAD")  # a HEAD is never an upload
        if self.bucket is not None:
            from mlcli.tracking_server import bucket_artifacts

            if reading:
                return await bucket_artifacts.download(self.backend, self.bucket, path)
            limit = self.config.max_artifact_bytes
            await bucket_artifacts.upload(request, self.backend, self.bucket, path, limit)
            return _json({})
        if reading:
            local = await run_in_threadpool(artifacts.file_to_download, self.backend, path)
            return FileResponse(local, media_type="application/octet-stream")
        await self._upload(request, path)
        return _json({})

    def _multipart(self, action: str) -> Any:
        """MLflow's ``mpu/<action>`` endpoint (``multipart.py``); 501 without a bucket."""

        async def call(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            from mlcli.tracking_server import multipart

            folder = request.path_params["path"]
            await self._check_artifact(request, folder)
            fields = Fields.from_json(await self._body(request))
            if self.bucket is None:
                raise multipart.unsupported()
            handler: Any = multipart.abort
            if action == "create":
                handler = functools.partial(
                    multipart.create, expiry=self.config.presigned_url_expiry
                )
            elif action == "complete":
                handler = functools.partial(
                    multipart.complete, limit=self.config.max_artifact_bytes
                )
            reply = await run_in_threadpool(handler, self.backend, self.bucket, folder, fields)
            return _json(reply)

        return call

    # -- errors ----------------------------------------------------------------------------------

    async def on_error(self, request: Request, exc: Exception) -> Response:
        error = exc if isinstance(exc, MlcliError) else MlcliError(str(exc))
        return _error(error)

    async def on_http_exception(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 405:
            return _error(
                MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
            )
        if status == 404:
            return _error(
                EndpointNotFoundError(
                    f"mlcli server has no endpoint {request.method} {request.url.path}"
                )
            )
        error = MlcliError(str(getattr(exc, "detail", exc)), error_code="BAD_REQUEST")
        error.http_status = status
        return _error(error)

    async def on_crash(self, request: Request, exc: Exception) -> Response:
        self.log.info(f"internal error on {request.method} {request.url.path}:")
        self.log.line("".join(traceback.format_exception(exc)).rstrip())
        return _error(MlcliError(f"internal error: {type(exc).__name__}: {exc}"))

    # -- bodies ----------------------------------------------------------------------------------

    async def _body(self, request: Request) -> bytes:
        """A JSON request's body; its content type is checked before it is read, and
        even when it is empty (CSRF: see ``mlcli.web.bodies``)."""
        require_json(request.headers.get("content-type"))
        return await read_body(request, self.config.max_body_bytes, "--max-body-size")

    async def _upload(self, request: Request, path: str) -> None:
        """An artifact PUT, streamed into a temporary file renamed into place when whole.
        Any content type will do: a foreign page cannot PUT without a CORS preflight."""
        from starlette.concurrency import run_in_threadpool

        limit, option = self.config.max_artifact_bytes, "--max-artifact-size"
        check_declared_size(request, limit, option)  # before anything is opened
        destination, fd, temporary = await run_in_threadpool(
            artifacts.open_upload, self.backend, path
        )
        complete = False
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in stream_body(request, limit, option):
                    handle.write(chunk)
            complete = True
        finally:
            artifacts.finish_upload(destination, temporary, complete)


def _guarded(endpoint: Endpoint, backend: Backend, fields: Fields) -> dict[str, Any]:
    """Run a handler; a name too long for the file system is the client's mistake."""
    try:
        return endpoint.handler(backend, fields)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidInputError(f"a name is too long for the store: {exc.filename}") from None
        raise


def _json(document: Any, status: int = 200) -> Response:
    from starlette.responses import Response

    body = json.dumps(document, allow_nan=False, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json")


def _error(error: MlcliError) -> Response:
    message = error.message
    if len(message) > 4000:
        message = message[:4000] + "..."
    return _json({"error_code": error.error_code, "message": message}, error.http_status)
