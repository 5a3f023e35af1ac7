"""The dashboard's ASGI app (Starlette): the JSON API under ``/api/``, the static
assets under ``/static/``, and the one HTML page every other path serves.

    GET  /api/experiments                         experiments, run counts, last activity
    GET  /api/experiments/{id}/keys               param, metric and tag keys (columns)
    GET  /api/runs?experiment=&filter=&sort=&columns=&offset=&limit=   a page of runs
    GET  /api/runs.csv?(the same)[&all=1]         that page (or every match) as CSV
    GET  /api/runs/{run}                          a run, its lineage and logged models
    GET  /api/runs/{run}/artifacts?path=          a directory listing
    GET  /api/runs/{run}/artifacts/preview?path=  a file's preview
    GET  /api/runs/{run}/artifacts/file?path=[&download=1]   the file itself
    GET  /api/metric-history?runs=&keys=          metric histories, by step and time
    GET  /api/compare?runs=&columns=              runs side by side
    GET  /api/models, /api/models/{name}          the registry and a model's history
    POST /api/models/{name}/versions/{v}/promote  a gated promotion (JSON body, <= 64 KiB)

Errors are JSON ``{"error_code", "message"}`` with the status of the mlcli error
(InvalidInputError 400, NotFoundError 404, a refused promotion 409, ...); a filter
error adds the ``position`` of the offending token. No traceback ever reaches a
client: an unexpected error is a 500 with a one-line message, and its traceback goes
to the server's log. The store is used by one request at a time (its index is one
SQLite connection); requests wait for each other, which the page sizes keep short.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlcli.errors import InvalidInputError, MlcliError
from mlcli.search import FilterSyntaxError
from mlcli.ui.guard import FILE_CSP_HEADER, Guard
from mlcli.ui.runs_table import DEFAULT_PAGE_SIZE, DEFAULT_SORT, RunsView
from mlcli.web.bodies import parse_json, read_body
from mlcli.web.guard import Guard as ServerGuard

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from mlcli.client import MlcliClient

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_ROUTES = ("/", "/experiments/{experiment_id}", "/runs/{run_id}", "/compare", "/models")
# A write (a promotion) is a few short fields; its comment goes to the registry's
# events.jsonl, so the body is refused (413) before it is read beyond this.
MAX_WRITE_BYTES = 64 * 1024
WRITE_LIMIT = "the dashboard's limit for a promotion"
_log = logging.getLogger("mlcli.ui")
T = TypeVar("T")


def create_app(client: MlcliClient, host: str = "127.0.0.1", token: str | None = None) -> Any:
    """The dashboard over ``client``'s store, guarded for a server listening on ``host``
    (and asking for ``token``, when given, as ``Authorization: Bearer``)."""
    return Guard(ServerGuard(Dashboard(client).starlette(), host, token))


def dashboard_app(client: MlcliClient) -> Any:
    """The dashboard with its own hygiene (security headers, the Origin and JSON checks
    on writes) but without a :class:`mlcli.web.guard.Guard`: for a server that mounts it
    behind its own (``mlcli server``)."""
    return Guard(Dashboard(client).starlette())


class Dashboard:
    def __init__(self, client: MlcliClient) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.page = (STATIC_DIR / "index.html").read_bytes()

    def starlette(self) -> Any:
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles

        api = [
            Route("/api/experiments", self.experiments),
            Route("/api/experiments/{experiment_id}/keys", self.experiment_keys),
            Route("/api/runs", self.runs),
            Route("/api/runs.csv", self.runs_csv),
            Route("/api/runs/{run_id}", self.run),
            Route("/api/runs/{run_id}/artifacts", self.artifacts),
            Route("/api/runs/{run_id}/artifacts/preview", self.artifact_preview),
            Route("/api/runs/{run_id}/artifacts/file", self.artifact_file),
            Route("/api/metric-history", self.metric_history),
            Route("/api/compare", self.compare),
            Route("/api/models", self.models),
            Route("/api/models/{name}", self.model),
            Route("/api/models/{name}/versions/{version}/promote", self.promote, methods=["POST"]),
            Route("/api/{rest:path}", self.unknown_api, methods=["GET", "POST"]),
        ]
        pages = [Route(path, self.html) for path in PAGE_ROUTES]
        pages.append(Route("/models/{name}", self.html))
        return Starlette(
            routes=[
                *api,
                *pages,
                Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            ],
            exception_handlers={
                MlcliError: self.mlcli_error,
                HTTPException: self.http_error,
                Exception: self.unexpected_error,
            },
        )

    # -- pages ---------------------------------------------------------------------------

    def html(self, request: Request) -> Response:
        from starlette.responses import Response

        return Response(self.page, media_type="text/html; charset=utf-8")

    # -- the API: reading ------------------------------------------------------------------

    def experiments(self, request: Request) -> Response:
        from mlcli.ui.experiments import experiments_list

        return self.answer(lambda: experiments_list(self.client))

    def experiment_keys(self, request: Request) -> Response:
        from mlcli.ui.experiments import experiment_keys

        experiment_id = request.path_params["experiment_id"]
        return self.answer(lambda: experiment_keys(self.client, experiment_id))

    def runs(self, request: Request) -> Response:
        from mlcli.ui.runs_table import runs_page

        view = runs_view(request.query_params)
        return self.answer(lambda: runs_page(self.client, view))

    def runs_csv(self, request: Request) -> Response:
        from starlette.responses import Response

        from mlcli.ui.runs_table import runs_csv

        view = runs_view(request.query_params)
        every = request.query_params.get("all") in ("1", "true")
        text = self.locked(lambda: runs_csv(self.client, view, every_page=every))
        name = f"runs-{view.experiment_id}.csv"
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "cache-control": "no-store",
            },
        )

    def run(self, request: Request) -> Response:
        from mlcli.ui.run_detail import run_detail

        run_id = request.path_params["run_id"]
        return self.answer(lambda: run_detail(self.client, run_id))

    def artifacts(self, request: Request) -> Response:
        from mlcli.ui.artifacts import listing

        run_id, path = request.path_params["run_id"], request.query_params.get("path", "")
        return self.answer(lambda: listing(self.client, run_id, path))

    def artifact_preview(self, request: Request) -> Response:
        from mlcli.ui.artifacts import preview

        run_id, path = request.path_params["run_id"], request.query_params.get("path", "")
        return self.answer(lambda: preview(self.client, run_id, path))

    def artifact_file(self, request: Request) -> Response:
        from starlette.responses import FileResponse

        from mlcli.ui.artifacts import artifact_file

        run_id, path = request.path_params["run_id"], request.query_params.get("path", "")
        download = request.query_params.get("download") in ("1", "true")
        found = self.locked(lambda: artifact_file(self.client, run_id, path, download))
        return FileResponse(
            found.path,
            media_type=found.media_type,
            filename=found.filename,
            content_disposition_type=found.disposition,
            headers={**FILE_CSP_HEADER, "cache-control": "no-store"},
        )

    def metric_history(self, request: Request) -> Response:
        from mlcli.ui.histories import metric_histories

        runs = id_list(request.query_params.get("runs", ""))
        keys = id_list(request.query_params.get("keys", ""))
        return self.answer(lambda: metric_histories(self.client, runs, keys))

    def compare(self, request: Request) -> Response:
        from mlcli.ui.comparison import comparison

        runs = id_list(request.query_params.get("runs", ""))
        columns = id_list(request.query_params.get("columns", "")) or None
        return self.answer(lambda: comparison(self.client, runs, columns))

    def models(self, request: Request) -> Response:
        from mlcli.ui.registry_view import models_list

        return self.answer(lambda: models_list(self.client))

    def model(self, request: Request) -> Response:
        from mlcli.ui.registry_view import model_detail

        name = request.path_params["name"]
        return self.answer(lambda: model_detail(self.client, name))

    def unknown_api(self, request: Request) -> Response:
        return json_response(
            {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no API endpoint {request.url.path}"},
            404,
        )

    # -- the API: the one write ----------------------------------------------------------------

    async def promote(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from mlcli.ui.registry_view import promote_version, promotion_request

        body = parse_json(await read_body(request, MAX_WRITE_BYTES, WRITE_LIMIT))
        promotion = promotion_request(
            request.path_params["name"], request.path_params["version"], body
        )
        return await run_in_threadpool(self.answer, lambda: promote_version(self.client, promotion))

    # -- plumbing ----------------------------------------------------------------------------

    def locked(self, work: Callable[[], T]) -> T:
        with self.lock:
            return work()

    def answer(self, work: Callable[[], Any]) -> Response:
        return json_response(self.locked(work))

    async def mlcli_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MlcliError)
        body: dict[str, Any] = {"error_code": exc.error_code, "message": exc.message}
        if isinstance(exc, FilterSyntaxError):
            body |= {"position": exc.position, "expected": exc.expected, "text": exc.text}
        return json_response(body, exc.http_status)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        from starlette.exceptions import HTTPException

        assert isinstance(exc, HTTPException)
        code = {404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code)
        return json_response(
            {"error_code": code or "BAD_REQUEST", "message": str(exc.detail)}, exc.status_code
        )

    async def unexpected_error(self, request: Request, exc: Exception) -> Response:
        _log.error("error while serving %s", request.url.path, exc_info=exc)
        return json_response(
            {
                "error_code": "INTERNAL_ERROR",
                "message": f"internal error ({type(exc).__name__}); see the server's log",
            },
            500,
        )


def runs_view(query: Any) -> RunsView:
    """The runs table's view from the query string of /api/runs."""
    experiment = query.get("experiment", "")
    if not experiment:
        raise InvalidInputError("name the experiment (experiment=ID)")
    columns = query.get("columns")
    return RunsView(
        experiment_id=experiment,
        filter=query.get("filter", ""),
        sort=query.get("sort") or DEFAULT_SORT,
        columns=None if columns is None else tuple(id_list(columns)),
        offset=integer(query.get("offset"), "offset", 0),
        limit=integer(query.get("limit"), "limit", DEFAULT_PAGE_SIZE),
    )


def id_list(text: str) -> list[str]:
    """``a,b,,c`` → ``["a", "b", "c"]`` (run ids, metric keys and columns hold no commas)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def integer(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"invalid {name} {text!r}: expected a whole number") from None


def json_response(data: Any, status: int = 200) -> Response:
    from starlette.responses import Response

    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )
