"""The interim browser login of ``mlcli server``: the bearer token, typed once.

A browser cannot send ``Authorization: Bearer``, so when the server has a token its
pages would be out of reach. Until users and logins exist (issue 18, item 2), the
guard (:mod:`mlcli.web.guard`) offers this instead:

    GET  /login      a form asking for the server's token
    GET  /login.js   the form's script (carries the page's ``#fragment`` through)
    POST /login      the token, form-encoded: right → a session cookie and a 303 to
                     ``next``; wrong → 401 and the form again

The cookie holds an HMAC of the token under a fixed label, never the token itself;
every worker of the server computes the same value, and a new token ends every
session. It is HttpOnly, SameSite=Strict (never sent by a foreign site's request),
and Secure when the request came over https.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

COOKIE_NAME = "mlcli_session"
LOGIN_PATHS = frozenset({"/login", "/login.js"})
MAX_FORM_BYTES = 4096  # a token and a path
_LABEL = b"mlcli browser session v1"
_PAGE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; base-uri 'none'; "
    b"form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-security-policy", _PAGE_CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_SCRIPT = b"""// Carry the page's #fragment (an MLflow run link) through the login.
const next = document.querySelector("input[name=next]");
if (next && location.hash) next.value += location.hash;
"""


def session_value(token: str) -> str:
    """What the session cookie holds for ``token``."""
    return hmac.new(token.encode(), _LABEL, hashlib.sha256).hexdigest()


def has_session(headers: dict[bytes, bytes], token: str) -> bool:
    """Whether the request's cookies hold a valid session for ``token``. The header is
    split by hand: ``http.cookies`` drops every cookie after one it cannot parse, and
    other sites on the same host name may set those."""
    expected = session_value(token).encode()
    for pair in headers.get(b"cookie", b"").split(b";"):
        name, _, value = pair.strip().partition(b"=")
        if name == COOKIE_NAME.encode() and hmac.compare_digest(value.strip(), expected):
            return True
    return False


def wants_page(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Whether a refused request is a browser opening a page (shown the login form)
    rather than a client of an API (answered 401)."""
    path: str = scope["path"]
    if scope["method"] not in ("GET", "HEAD") or path.startswith(("/api/", "/ajax-api/")):
        return False
    return b"text/html" in headers.get(b"accept", b"")


async def redirect_to_login(scope: Scope, send: Send) -> None:
    target = scope["path"]
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    location = "/login?next=" + quote(target, safe="")
    await _send(send, 303, b"", [(b"location", location.encode()), (b"cache-control", b"no-store")])


async def login(scope: Scope, receive: Receive, send: Send, token: str) -> None:
    """Answer a request for one of :data:`LOGIN_PATHS`."""
    if scope["path"] == "/login.js":
        headers = [(b"content-type", b"text/javascript; charset=utf-8"), *_PAGE_HEADERS]
        await _send(send, 200, _SCRIPT, headers)
        return
    if scope["method"] in ("GET", "HEAD"):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        await _page(send, 200, local_path(query.get("next", ["/"])[0]), "")
        return
    if scope["method"] != "POST":
        await _send(send, 405, b"", [(b"allow", b"GET, POST")])
        return
    form = await _read_form(receive)
    if form is None:
        await _page(send, 413, "/", "That form was too large.")
        return
    target = local_path(form.get("next", ["/"])[0])
    given = form.get("token", [""])[0].strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        await _page(send, 401, target, "Wrong token: not the one this server was started with.")
        return
    cookie = f"{COOKIE_NAME}={session_value(token)}; Path=/; HttpOnly; SameSite=Strict"
    if scope.get("scheme") == "https":
        cookie += "; Secure"
    headers = [
        (b"location", target.encode()),
        (b"set-cookie", cookie.encode()),
        (b"cache-control", b"no-store"),
    ]
    await _send(send, 303, b"", headers)


def local_path(target: str) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return "/"
    return target


async def _read_form(receive: Receive) -> dict[str, list[str]] | None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body"):
            break
    return parse_qs(body.decode("utf-8", errors="replace"))


async def _page(send: Send, status: int, target: str, problem: str) -> None:
    notice = f'<p class="error" role="alert">{html.escape(problem)}</p>\n' if problem else ""
    body = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlcli · sign in</title>
<script type="module" src="/login.js"></script>
</head>
<body>
<h1>mlcli server</h1>
{notice}<form method="post" action="/login">
<p><label>This server's token
<input type="password" name="token" autocomplete="current-password" required autofocus>
</label></p>
<input type="hidden" name="next" value="{html.escape(target)}">
<p><button type="submit">Sign in</button></p>
</form>
<p>The token is the one in the server's <code>--auth-token-file</code>.</p>
</body>
</html>
""".encode()
    await _send(
        send, status, body, [(b"content-type", b"text/html; charset=utf-8"), *_PAGE_HEADERS]
    )


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    sent = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": body})
