"""The dashboard served by a real ``mlcli server`` at ``/``: its pages and API from the
same process and store, its own checks on writes, the interim browser login when the
server has a token, and MLflow's run links (``/#/experiments/<id>/runs/<run>``)
landing on the run page in headless Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from chromium import chromium_context
from rawhttp import Reply
from trackingserver import TrackingServer

TOKEN = "ui-token-0123456789abcdef"
RUN_NAME = "linked-from-mlflow"
PAGE = {"Accept": "text/html,application/xhtml+xml"}
FORM = "application/x-www-form-urlencoded"


def _create_run(server: TrackingServer, name: str = RUN_NAME) -> tuple[str, str]:
    """A new experiment and a run in it, through MLflow's REST API: (experiment, run)."""
    reply = server.api("POST", "experiments/create", {"name": f"exp-{time.monotonic_ns()}"})
    assert reply.status == 200, reply.body
    experiment_id = reply.json()["experiment_id"]
    body = {"experiment_id": experiment_id, "run_name": name, "start_time": 1_700_000_000_000}
    reply = server.api("POST", "runs/create", body)
    assert reply.status == 200, reply.body
    return experiment_id, reply.json()["run"]["info"]["run_id"]


def _token_server(start_server: Callable[..., TrackingServer], tmp_path: Path) -> TrackingServer:
    (tmp_path / "token").write_text(TOKEN + "\n")
    server = start_server("--auth-token-file", str(tmp_path / "token"))
    server.token = TOKEN
    return server


def _login(server: TrackingServer, token: str, next_path: str = "/") -> Reply:
    body = urlencode({"token": token, "next": next_path})
    return server.request("POST", "/login", body, content_type=FORM, auth=False)


def _cookie(reply: Reply) -> str:
    """The ``name=value`` of the session cookie a login set."""
    return reply.headers["set-cookie"].split(";", 1)[0]


def test_the_dashboard_and_its_api_are_served_at_the_root(
    start_server: Callable[..., TrackingServer],
) -> None:
    server = start_server()
    experiment_id, run_id = _create_run(server)
    for path in ("/", f"/runs/{run_id}", f"/experiments/{experiment_id}", "/models"):
        page = server.request("GET", path, headers=PAGE)
        assert page.status == 200, (path, page.body)
        assert page.headers["content-type"].startswith("text/html")
        assert b'src="/static/js/main.js"' in page.body
        assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/js/main.js", "/static/js/mlflow_links.js", "/static/app.css"):
        assert server.request("GET", asset).status == 200, asset
    # The UI's API answers from the same store the MLflow client wrote to.
    listed = server.request("GET", "/api/experiments").json()
    assert experiment_id in str(listed)
    run = server.request("GET", f"/api/runs/{run_id}").json()
    assert run["run"]["run_name"] == RUN_NAME
    # MLflow's paths stay the tracking server's, unknown ones with its own 404.
    missing = server.request("GET", "/api/2.0/mlflow/no-such-endpoint")
    assert missing.status == 404
    assert "mlcli server has no endpoint" in missing.json()["message"]
    assert server.request("GET", "/health").json() == {"status": "OK"}


def test_the_dashboards_checks_on_writes_hold_in_the_server(
    start_server: Callable[..., TrackingServer],
) -> None:
    server = start_server()
    path = "/api/models/m/versions/1/promote"
    foreign = server.request(
        "POST", path, {"stage": "Production"}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status == 403, foreign.body
    assert foreign.json()["error_code"] == "PERMISSION_DENIED"
    as_form = server.request("POST", path, "stage=Production", content_type=FORM)
    assert as_form.status == 415, as_form.body
    assert as_form.headers["x-frame-options"] == "DENY"


def test_with_a_token_a_browser_signs_in_once_with_a_cookie(
    start_server: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    server = _token_server(start_server, tmp_path)
    _, run_id = _create_run(server)

    # Without credentials: a page sends the browser to the login form, the API says 401.
    bounced = server.request("GET", f"/runs/{run_id}", headers=PAGE, auth=False)
    assert bounced.status == 303
    assert bounced.headers["location"] == f"/login?next=%2Fruns%2F{run_id}"
    form = server.request("GET", bounced.headers["location"], headers=PAGE, auth=False)
    assert form.status == 200
    assert b'name="token"' in form.body and f'value="/runs/{run_id}"'.encode() in form.body
    for path in ("/api/experiments", "/api/2.0/mlflow/experiments/search?max_results=5"):
        refused = server.request("GET", path, headers=PAGE, auth=False)
        assert refused.status == 401, path
        assert refused.json()["error_code"] == "UNAUTHENTICATED"

    # A wrong token is refused, and sets nothing.
    wrong = _login(server, "not-the-token-at-all")
    assert wrong.status == 401
    assert "set-cookie" not in wrong.headers
    assert b"Wrong token" in wrong.body

    # The right one sets a session cookie (an HMAC, never the token) and goes on.
    signed_in = _login(server, TOKEN, f"/runs/{run_id}")
    assert signed_in.status == 303
    assert signed_in.headers["location"] == f"/runs/{run_id}"
    cookie = signed_in.headers["set-cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http here; over https it is Secure
    assert TOKEN not in cookie
    assert re.fullmatch(r"mlcli_session=[0-9a-f]{64}", _cookie(signed_in))

    with_cookie = {"Cookie": _cookie(signed_in), **PAGE}
    page = server.request("GET", "/", headers=with_cookie, auth=False)
    assert page.status == 200 and b"/static/js/main.js" in page.body
    assert (
        server.request("GET", "/static/js/main.js", headers=with_cookie, auth=False).status == 200
    )
    run = server.request("GET", f"/api/runs/{run_id}", headers=with_cookie, auth=False)
    assert run.status == 200 and run.json()["run"]["run_name"] == RUN_NAME

    # Among other cookies of the same host name, even ones Python's parser gives up on.
    among = {"Cookie": f'theirs="unterminated; a=b; {_cookie(signed_in)}; c=d'}
    assert server.request("GET", "/api/experiments", headers=among, auth=False).status == 200

    # Forged cookies are no session; the bearer header still works as before.
    for forged in ("mlcli_session=" + "0" * 64, f"mlcli_session={TOKEN}", "mlcli_session="):
        reply = server.request("GET", "/api/experiments", headers={"Cookie": forged}, auth=False)
        assert reply.status == 401, forged
    assert server.request("GET", "/api/experiments").status == 200


def test_the_login_redirects_only_to_this_server(
    start_server: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    server = _token_server(start_server, tmp_path)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "runs"):
        reply = _login(server, TOKEN, target)
        assert reply.status == 303
        assert reply.headers["location"] == "/", target


# -- in a browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_context() as context:
        yield context


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A new tab on ``url`` with no cookies (they are per host, not per port), and the
    list its script errors and console errors (a CSP violation among them) go to."""
    browser.clear_cookies()
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda m: m.type == "error" and errors.append(m.text))  # CSP, too
    tab.goto(url)
    return tab, errors


@pytest.mark.slow
def test_mlflows_run_and_experiment_links_land_on_the_dashboards_pages(
    start_server: Callable[..., TrackingServer], browser: Any
) -> None:
    from playwright.sync_api import expect

    server = start_server()
    experiment_id, run_id = _create_run(server)
    tab, errors = _open(browser, f"{server.url}/#/experiments/{experiment_id}/runs/{run_id}")
    expect(tab.locator("#run-name")).to_contain_text(RUN_NAME)
    assert tab.url == f"{server.url}/runs/{run_id}"
    tab.goto(f"{server.url}/#/experiments/{experiment_id}")
    expect(tab.locator("#runs-table tbody")).to_contain_text(RUN_NAME)
    assert tab.url.startswith(f"{server.url}/experiments/{experiment_id}")
    assert errors == []
    tab.close()


@pytest.mark.slow
def test_a_run_link_leads_through_the_login_to_the_run(
    start_server: Callable[..., TrackingServer], tmp_path: Path, browser: Any
) -> None:
    from playwright.sync_api import expect

    server = _token_server(start_server, tmp_path)
    experiment_id, run_id = _create_run(server)
    tab, errors = _open(browser, f"{server.url}/#/experiments/{experiment_id}/runs/{run_id}")
    tab.fill("input[name=token]", TOKEN)
    tab.click("button[type=submit]")
    expect(tab.locator("#run-name")).to_contain_text(RUN_NAME)
    cookies = {c["name"]: c for c in browser.cookies(server.url)}
    assert cookies["mlcli_session"]["httpOnly"] is True
    assert cookies["mlcli_session"]["sameSite"] == "Strict"
    assert errors == []
    tab.close()
