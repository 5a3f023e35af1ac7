"""The route template of a request, for its access line and its metrics.

Logs and metrics name a request by the route that served it
(``/api/2.0/mlflow-artifacts/artifacts/{path:path}``), never by its raw path, which
carries run ids and file names: a Prometheus label per run would grow without bound.
Starlette's router does not record which route matched, so :func:`templated_route`
makes routes that write their template into the request's scope, where the
middleware around the app reads it after the response (:func:`route_template`).
Starlette is imported only when a route is made (this module is imported by the
access log, which start-up must not pay for).
"""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from typing import Any

ROUTE_KEY = "mlcli_route"  # an ASGI scope key (not an "mlcli." tag key)
UNROUTED = "other"  # no route took the request: a 404, or a refusal of the guard


def route_template(scope: MutableMapping[str, Any]) -> str:
    """The template of the route that served the request, else :data:`UNROUTED`."""
    template: str = scope.get(ROUTE_KEY, UNROUTED)
    return template


def templated_route(path: str, endpoint: Any, methods: list[str]) -> Any:
    """A Starlette ``Route`` that names itself in the scope when its path matches (also
    when only the path does: a 405 is counted under its route too)."""
    route_class: Any = _templated_route_class()
    return route_class(path, endpoint, methods=methods)


@functools.cache
def _templated_route_class() -> type:
    from starlette.routing import Match, Route

    class TemplatedRoute(Route):
        def matches(self, scope: Any) -> tuple[Match, Any]:
            match, child_scope = super().matches(scope)
            if match is not Match.NONE:
                child_scope[ROUTE_KEY] = self.path
            return match, child_scope

    return TemplatedRoute
