"""Who is asking: every request names a user of the auth database, or is a 401.

``Authorization: Basic <user:password>`` is what MLflow's client sends for
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (and what a browser sends after
its own sign-in prompt); ``Authorization: Bearer <token>`` a personal API token
(MLFLOW_TRACKING_TOKEN). The user lands in ``scope["mlcli_user"]`` for the app's
permission checks. The probes never get here (``mlcli.web.probes``).

Behind a reverse proxy that signs users in itself (SSO), ``--user-header`` names the
header in which the proxy says who that is; it is believed only on requests whose
peer address is a ``--trusted-proxy``, since any other client could send the header
too. The user it names must exist in the auth database.

An auth database that cannot be reached (PostgreSQL down) is a 503: nobody can be
signed in, but nobody's credentials are wrong either.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from mlcli.tracking_server.auth import USER_KEY
from mlcli.tracking_server.auth.database import AuthDatabase, AuthDatabaseUnavailableError, User
from mlcli.web.guard import ASGIApp, Receive, Scope, Send, refuse

_CHALLENGE = [(b"www-authenticate", b'Basic realm="mlcli", charset="UTF-8"')]


@dataclass(frozen=True)
class ProxyIdentity:
    """A reverse proxy's word for who signed in: ``header``, from ``proxies`` only."""

    header: str
    proxies: frozenset[str]

    def claimed_user(self, scope: Scope) -> str | None:
        client = scope.get("client")
        if not client or client[0] not in self.proxies:
            return None
        wanted = self.header.lower().encode("latin-1")
        value = next((v for k, v in scope["headers"] if k == wanted), None)
        return None if value is None else value.decode("utf-8", "replace").strip() or None


class Authenticate:
    def __init__(
        self, app: ASGIApp, database: AuthDatabase, proxy: ProxyIdentity | None = None
    ) -> None:
        self.app = app
        self.database = database
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            user = await self._user(scope, send)
        except AuthDatabaseUnavailableError as exc:
            await refuse(send, exc.http_status, exc.error_code, exc.message)
            return
        if user is not None:
            scope[USER_KEY] = user
            await self.app(scope, receive, send)

    async def _user(self, scope: Scope, send: Send) -> User | None:
        """Who signed in, or None once the request has been refused."""
        from starlette.concurrency import run_in_threadpool

        claimed = None if self.proxy is None else self.proxy.claimed_user(scope)
        if claimed is not None:
            user = await run_in_threadpool(self.database.user, claimed)
            if user is None:
                message = f"the proxy signed in {claimed!r}, who is no user of this server"
                await refuse(send, 403, "PERMISSION_DENIED", message)
            return user
        given = dict(scope["headers"]).get(b"authorization", b"")
        user = await run_in_threadpool(self.user_of, given) if given else None
        if user is None:
            what = "wrong credentials" if given else "no credentials"
            message = (
                f"this server needs 'Authorization: Basic <user:password>' or 'Bearer <token>' "
                f"(the request had {what}); MLflow clients send MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
            )
            await refuse(send, 401, "UNAUTHENTICATED", message, _CHALLENGE)
        return user

    def user_of(self, header: bytes) -> User | None:
        scheme, _, credential = header.partition(b" ")
        credential = credential.strip()
        if scheme.lower() == b"bearer" and credential:
            return self.database.check_token(credential.decode("latin-1"))
        if scheme.lower() == b"basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            name, colon, password = decoded.partition(":")
            return self.database.check_password(name, password) if colon else None
        return None


def admins_only(app: ASGIApp) -> ASGIApp:
    """``app`` for admins; 403 for other users (the dashboard, which shows everything)."""

    async def gated(scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get(USER_KEY)
        if scope["type"] == "http" and (user is None or not user.is_admin):
            message = "the dashboard of a server with users is for admins"
            await refuse(send, 403, "PERMISSION_DENIED", message)
            return
        await app(scope, receive, send)

    return gated
