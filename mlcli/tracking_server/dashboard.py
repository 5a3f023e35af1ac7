"""The dashboard of ``mlcli ui`` served by ``mlcli server`` too, from the same process
and store: every path the tracking server has no route for goes to the dashboard's
app (its pages at ``/``, its JSON API under ``/api/``, its assets under ``/static/``),
so one route table serves both servers. Paths under MLflow's API prefixes stay the
tracking server's, and an unknown one keeps its MLflow-style 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from mlcli.tracking_server.backend import Backend

# /api/2.0/..., /api/3.0/..., /ajax-api/...: MLflow's, never the dashboard's (/api/runs).
_MLFLOW_PATH = re.compile(r"^/(ajax-api|api/\d+\.\d+)(/|$)")


def with_dashboard(
    app: Starlette, backend: Backend, gate: Callable[[Any], Any] | None = None
) -> Starlette:
    """``app`` answering the paths it has no route for with the dashboard over the
    backend's store; ``gate`` wraps the dashboard (``--auth-db``: admins only)."""
    from mlcli.client import MlcliClient
    from mlcli.ui.app import dashboard_app

    dashboard = dashboard_app(MlcliClient(backend.open_store()))
    if gate is not None:
        dashboard = gate(dashboard)
    not_found = app.router.default

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        if _MLFLOW_PATH.match(scope["path"]):
            await not_found(scope, receive, send)
        else:
            await dashboard(scope, receive, send)

    app.router.default = fallback
    return app
