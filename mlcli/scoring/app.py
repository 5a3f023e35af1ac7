"""The scoring server's ASGI app (Starlette), speaking MLflow's protocol.

    GET  /ping, /health   200 "\\n" once the model is loaded (503 before)
    GET  /version         the mlcli version (as MLflow: the bare text, typed application/json)
    GET  /metadata        model URI, resolved version, run, flavors, signature, input example
    POST /invocations     see :mod:`mlcli.scoring.protocol`

Parsing and prediction run in a small thread pool (so the event loop keeps answering
``/ping`` and reading bodies), bounded by ``timeout``: a 504 when it runs out, while the
thread finishes in the background, as Python threads cannot be killed. Every error is
a JSON body ``{"error_code", "message"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mlcli.errors import MlcliError
from mlcli.scoring.config import ServeConfig
from mlcli.scoring.protocol import JSON, content_kind, encode, error_body, score
from mlcli.scoring.served import ServedModel, load_served_model
from mlcli.scoring.watcher import ModelHolder, Watcher
from mlcli.web.bodies import read_body
from mlcli.web.errors import (
    EndpointNotFoundError,
    MethodNotAllowedError,
    ModelNotReadyError,
    PredictionTimeoutError,
)
from mlcli.web.guard import Guard
from mlcli.web.log import VERSION_HEADER, AccessLog, ServerLog

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlcli.client import MlcliClient

PING_BODY = b"\n"


def create_app(
    config: ServeConfig,
    client: MlcliClient,
    served: ServedModel | None = None,
    log: ServerLog | None = None,
    token: str | None = None,
) -> Any:
    """The ASGI app; it loads the model at start-up unless ``served`` is given. It
    answers as every mlcli server does (:mod:`mlcli.web.guard`): a loopback server
    only for loopback Host names, and with ``token`` only to requests bearing it."""
    app = ScoringServer(config, client, served, log or ServerLog()).asgi()
    return Guard(app, config.host, token)


def app_from_environment() -> Any:
    """The app of one uvicorn worker process (``--workers N``): config from the
    environment, model loaded at start-up."""
    from mlcli.client import MlcliClient

    config = ServeConfig.from_environment()
    return create_app(config, MlcliClient(config.store), token=config.token())


class ScoringServer:
    def __init__(
        self, config: ServeConfig, client: MlcliClient, served: ServedModel | None, log: ServerLog
    ) -> None:
        self.config = config
        self.client = client
        self.holder = ModelHolder(served)
        self.log = log
        self.executor = ThreadPoolExecutor(prediction_threads(), thread_name_prefix="predict")

    def asgi(self) -> Any:
        app = self.starlette()
        return AccessLog(app, self.log) if self.config.access_log else app

    def starlette(self) -> Starlette:
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.routing import Route

        routes = [
            Route("/ping", self.ping, methods=["GET"]),
            Route("/health", self.ping, methods=["GET"]),
            Route("/version", self.version, methods=["GET"]),
            Route("/metadata", self.metadata, methods=["GET"]),
            Route("/invocations", self.invocations, methods=["POST"]),
        ]
        handlers: dict[Any, Any] = {
            MlcliError: self.on_error,
            HTTPException: self.on_http_exception,
            Exception: self.on_crash,
        }
        return Starlette(routes=routes, exception_handlers=handlers, lifespan=self.lifespan)

    # -- endpoints -------------------------------------------------------------------------------

    async def ping(self, request: Request) -> Response:
        self._served()
        return _response(PING_BODY)

    async def version(self, request: Request) -> Response:
        from starlette.responses import Response

        from mlcli.version import __version__

        # MLflow answers its version as the body, with this content type (not quoted)
        return Response(__version__, media_type="application/json")

    async def metadata(self, request: Request) -> Response:
        return _response(encode(self._served().metadata()))

    async def invocations(self, request: Request) -> Response:
        served = self._served()  # this request keeps this model, even if a swap happens
        kind = content_kind(request.headers.get("content-type"))
        body = await self._read_body(request)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.executor, score, served.model, body, kind)
        try:
            payload = await asyncio.wait_for(work, self.config.timeout)
        except asyncio.TimeoutError:
            raise PredictionTimeoutError(
                f"the prediction took longer than {self.config.timeout:g} s (the server's "
                "--timeout); send fewer rows per request, or ask for a longer timeout"
            ) from None
        return _response(payload, served.version_header)

    # -- errors ----------------------------------------------------------------------------------

    async def on_error(self, request: Request, exc: Exception) -> Response:
        error = exc if isinstance(exc, MlcliError) else MlcliError(str(exc))
        return _response(error_body(error), status=error.http_status)

    async def on_http_exception(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 405:
            error: MlcliError = MethodNotAllowedError(
                f"{request.method} is not allowed on {request.url.path}"
            )
        elif status == 404:
            error = EndpointNotFoundError(
                f"no endpoint {request.url.path}: use /invocations, /ping, /health, /version "
                "or /metadata"
            )
        else:
            error = MlcliError(str(getattr(exc, "detail", exc)), error_code="BAD_REQUEST")
            error.http_status = status
        return _response(error_body(error), status=error.http_status)

    async def on_crash(self, request: Request, exc: Exception) -> Response:
        error = MlcliError(f"internal error: {type(exc).__name__}: {exc}")
        return _response(error_body(error), status=500)

    # -- internals -------------------------------------------------------------------------------

    def _served(self) -> ServedModel:
        served = self.holder.current
        if served is None:
            raise ModelNotReadyError("the model is still loading; retry in a moment")
        return served

    async def _read_body(self, request: Request) -> bytes:
        return await read_body(request, self.config.max_body_bytes, "--max-body-size")

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self.holder.current is None:
            self.holder.current = await loop.run_in_executor(
                self.executor, load_served_model, self.config.model_uri, self.client
            )
        task = None
        if self.config.watch:
            task = asyncio.create_task(self._watcher().run())
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            self.executor.shutdown(wait=False)

    def _watcher(self) -> Watcher:
        from mlcli.scoring.origin import current_version

        return Watcher(
            self.holder,
            self.config.model_uri,
            self.config.watch_interval,
            lambda uri: current_version(uri, self.client),
            lambda uri: load_served_model(uri, self.client),
            self.executor,
            self.log,
        )


def prediction_threads() -> int:
    """Threads predicting at once in one worker: 2 to 4, by CPUs. Predictions are mostly
    CPU-bound Python under the GIL; measured on 2 CPUs at concurrency 32, two threads
    gave 25-40% more requests/s than Python's default of CPUs + 4 (see the serving
    benchmark). More worker processes (--workers) is how to use more cores."""
    import os

    return max(2, min(4, os.cpu_count() or 1))


def _response(body: bytes, version: bytes | None = None, status: int = 200) -> Response:
    from starlette.responses import Response

    response = Response(body, status_code=status, media_type=JSON)
    if version is not None:
        response.raw_headers.append((VERSION_HEADER, version))
    return response
