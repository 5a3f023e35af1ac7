"""``mlcli ui``: a local web dashboard over the store.

    create_app(client)        the ASGI app (Starlette): pages, static assets, JSON API
    serve_ui(config, client)  bind, then run the app on uvicorn until Ctrl-C or SIGTERM

The pages are static files (``static/``: HTML, CSS and plain ES modules, no build
step) that draw everything from the JSON API under ``/api/``. The API answers from the
store's index and reads only what a page shows. It writes only through the registry's
gated promotion (``mlcli.registry.promotion.promote``), as ``mlcli promote`` does.
Starlette and uvicorn are imported by ``app`` and ``server`` only, never at start-up
of the command line. Users read about it in ``docs/ui.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcli.ui.server import UiConfig

__all__ = ["UiConfig", "create_app", "serve_ui"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mlcli.ui.app import create_app

        return create_app
    if name in ("serve_ui", "UiConfig"):
        from mlcli.ui import server

        return getattr(server, name)
    raise AttributeError(f"module 'mlcli.ui' has no attribute {name!r}")
