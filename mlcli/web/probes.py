"""The probes a load balancer calls without credentials, past the token.

A load balancer or an orchestrator checks a server every few seconds and carries no
token, so ``mlcli server``'s probes (``GET /health``, ``GET /ready``) answer without
one. :class:`PublicPaths` is the explicit allow-list: a request whose path is exactly
one of ``paths`` goes to ``public`` (the same app behind a guard without a token,
which still refuses a foreign Host header), every other request to ``guarded``.
Paths are compared whole (ASGI gives the path decoded, without its query), so
``/health/`` or ``/ready/../api`` are not public.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PublicPaths:
    def __init__(self, paths: frozenset[str], public: ASGIApp, guarded: ASGIApp) -> None:
        self.paths = paths
        self.public = public
        self.guarded = guarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.public(scope, receive, send)
        else:
            await self.guarded(scope, receive, send)
