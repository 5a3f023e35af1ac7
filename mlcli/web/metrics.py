"""Prometheus metrics of an mlcli HTTP server, counted by one ASGI middleware.

    mlcli_http_requests_total{route,method,status}          every request answered
    mlcli_http_request_duration_seconds{route}              latency histogram
    mlcli_http_errors_total{route,method,class="4xx"|"5xx"}  client and server errors
    mlcli_http_requests_in_flight                           requests being served now

``route`` is the route's template (:mod:`mlcli.web.routes`), never the raw path.
An app adds its own counters with :meth:`HttpMetrics.counter`.

With several worker processes (``--workers N``) each counts in its own process, so
the launcher points ``PROMETHEUS_MULTIPROC_DIR`` at a private folder before the
workers start (:func:`worker_metrics`): prometheus_client then keeps every value in
a file there, and :meth:`HttpMetrics.exposition` adds up the files of all workers.
Without it, the values live in this process and its own registry. prometheus_client
reads that variable when it is first imported, so it is imported only when an app
is made, never by importing this module.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from mlcli.web.routes import route_template

if TYPE_CHECKING:
    from prometheus_client import Counter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets (seconds): a point write takes about a millisecond, an upload minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class HttpMetrics:
    """The metrics of one server process, and the exposition of all its workers."""

    def __init__(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram

        self.content_type = CONTENT_TYPE_LATEST  # of the exposition
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_VARIABLE))
        # In multiprocess mode the values go to files, and the exposition reads the files
        # of every worker: registering them here as well would count this worker twice.
        self._own = None if self.multiprocess else CollectorRegistry()
        self.requests = self._counter(
            "mlcli_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
        )
        self.latency = Histogram(
            "mlcli_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template.",
            ["route"],
            buckets=BUCKETS,
            registry=self._own,
        )
        self.errors = self._counter(
            "mlcli_http_errors",
            "Responses with a 4xx (class=4xx) or 5xx (class=5xx) status, by route template.",
            ["route", "method", "class"],
        )
        self.in_flight = Gauge(
            "mlcli_http_requests_in_flight",
            "Requests being served now (all workers).",
            registry=self._own,
            multiprocess_mode="livesum",
        )
        # labels() looks its child up under a lock: one dict lookup is cheaper per request
        self._counted: dict[tuple[str, str, int], Callable[[float], None]] = {}

    def counter(self, name: str, documentation: str) -> Counter:
        """A counter of this server's own (exposed as ``<name>_total``)."""
        return self._counter(name, documentation, [])

    def _counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        from prometheus_client import Counter

        return Counter(name, documentation, labels, registry=self._own)

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every worker's metrics."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if self._own is not None:
            return generate_latest(self._own)

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def count(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        record = self._counted.get(key)
        if record is None:
            record = self._counted[key] = self._recorder(route, method, status)
        record(seconds)

    def _recorder(self, route: str, method: str, status: int) -> Callable[[float], None]:
        requests = self.requests.labels(route, method, str(status))
        latency = self.latency.labels(route)
        error_class = "5xx" if status >= 500 else "4xx" if status >= 400 else None
        errors = None if error_class is None else self.errors.labels(route, method, error_class)

        def record(seconds: float) -> None:
            requests.inc()
            latency.observe(seconds)
            if errors is not None:
                errors.inc()

        return record


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request in ``metrics`` once it is answered
    (a request whose client went away before the answer counts with status 0)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            self.metrics.count(route_template(scope), scope["method"], status, elapsed)


@contextlib.contextmanager
def worker_metrics(workers: int) -> Iterator[None]:
    """Around a server's life: with several workers, a private folder for
    prometheus_client's multiprocess mode, which the workers inherit through the
    environment, removed when they are gone. One worker keeps its metrics in memory;
    a folder inherited from the caller's environment is ignored either way, since
    another program's files would be added in."""
    os.environ.pop(MULTIPROCESS_VARIABLE, None)
    if workers == 1:
        yield
        return
    folder = tempfile.mkdtemp(prefix="mlcli-server-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)
