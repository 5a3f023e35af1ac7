"""The dashboard's one write (a promotion) against what a hostile page or client sends:
a 50 MB comment, chunked or not, JSON nested 100,000 deep, JSON of the wrong type,
bodies a foreign page can forge. Each is a 4xx with a JSON error body, and the
registry (its versions and ``events.jsonl``) is unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rawhttp import pieces, send
from uihelpers import UiServer
from uistore import UiStore

PROMOTE = "/api/models/churn/versions/2/promote"


@pytest.fixture
def writable(fresh_store: UiStore, serve_ui: Any) -> tuple[UiServer, Path]:
    """A dashboard over a private store, and that store's registry folder of churn."""
    return serve_ui(fresh_store.root), fresh_store.root / "models" / "churn"


def _snapshot(model: Path) -> dict[str, bytes]:
    return {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}


def _error(reply: Any, status: int, code: str) -> str:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert set(document) == {"error_code", "message"} and document["error_code"] == code
    return str(document["message"])


# -- finding 5: bodies are bounded --------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_50_mb_comment_is_413_and_the_registry_is_unchanged(
    writable: tuple[UiServer, Path], declared: bool
) -> None:
    server, model = writable
    before = _snapshot(model)
    size = 50 * 1024 * 1024
    reply, sent = send(
        server.port,
        "POST",
        PROMOTE,
        pieces(size, prefix=b'{"stage": "Production", "comment": "', suffix=b'"}'),
        headers={"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{server.port}"},
        content_length=size if declared else None,
    )
    message = _error(reply, 413, "REQUEST_LIMIT_EXCEEDED")
    assert message.endswith(
        "exceeds the server's limit of 64.0 KiB (the dashboard's limit for a promotion)"
    )
    assert sent < size  # refused while it was still being sent, never read whole
    assert _snapshot(model) == before
    assert server.api("models/churn")["versions"][0]["stage"] == "None"


def test_a_promotion_within_the_limit_still_writes_its_comment(
    writable: tuple[UiServer, Path],
) -> None:
    server, model = writable
    comment = "c" * 60_000
    reply = server.request("POST", PROMOTE, body={"alias": "champion", "comment": comment})
    assert reply.status == 200, reply.body[:300]
    events = (model / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["comment"] == comment


# -- finding 10 (HTTP): deep JSON, JSON of the wrong type ----------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000 + b"]" * 30_000, b'{"comment": ' * 5_000],
    ids=["array", "unterminated-objects"],
)
def test_json_nested_too_deep_is_400(writable: tuple[UiServer, Path], body: bytes) -> None:
    """Deep enough for Python's parser to give up, small enough for the 64 KiB limit."""
    server, model = writable
    before = _snapshot(model)
    reply = server.request("POST", PROMOTE, None, body, {"Content-Type": "application/json"})
    message = _error(reply, 400, "MALFORMED_REQUEST")
    assert message == "the request body nests JSON arrays or objects too deeply"
    assert _snapshot(model) == before
    assert "Traceback" not in server.log()


def test_json_nested_100000_deep_is_refused(writable: tuple[UiServer, Path]) -> None:
    server, model = writable
    before = _snapshot(model)
    body = b"[" * 100_000 + b"]" * 100_000
    reply = server.request("POST", PROMOTE, None, body, {"Content-Type": "application/json"})
    _error(reply, 413, "REQUEST_LIMIT_EXCEEDED")
    assert _snapshot(model) == before


@pytest.mark.parametrize(
    "body", [b"[]", b"null", b"3", b'"Production"', b"true", b'[{"stage": "Production"}]']
)
def test_json_that_is_not_an_object_is_400(writable: tuple[UiServer, Path], body: bytes) -> None:
    server, model = writable
    before = _snapshot(model)
    reply = server.request("POST", PROMOTE, None, body, {"Content-Type": "application/json"})
    assert _error(reply, 400, "INVALID_PARAMETER_VALUE") == "the request body must be a JSON object"
    assert _snapshot(model) == before


@pytest.mark.parametrize(
    "body",
    [
        {"stage": ["Production"]},
        {"stage": {"name": "Production"}},
        {"alias": 7},
        {"stage": "Production", "archive_existing": "yes"},
        {"stage": "Production", "comment": ["a"]},
        {"stage": "Production", "higher_is_better": 1},
    ],
)
def test_fields_of_the_wrong_type_are_400(writable: tuple[UiServer, Path], body: Any) -> None:
    server, model = writable
    before = _snapshot(model)
    message = _error(server.request("POST", PROMOTE, body=body), 400, "INVALID_PARAMETER_VALUE")
    assert message.startswith("invalid ")
    assert _snapshot(model) == before


# -- finding 2 (dashboard): what a page on another site can send ---------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(None, None, id="no-body-no-content-type"),
        pytest.param(None, b'{"stage": "Production"}', id="json-without-content-type"),
        pytest.param("text/plain", b'{"stage": "Production"}', id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", b"stage=Production", id="form"),
        pytest.param(
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="stage"\r\n\r\nProduction\r\n--b--\r\n',
            id="multipart",
        ),
    ],
)
def test_a_forged_promotion_is_415_and_changes_nothing(
    writable: tuple[UiServer, Path], content_type: str | None, body: bytes | None
) -> None:
    server, model = writable
    before = _snapshot(model)
    headers = {} if content_type is None else {"Content-Type": content_type}
    message = _error(
        server.request("POST", PROMOTE, None, body, headers), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    assert message == "send the request as JSON (Content-Type: application/json)"
    assert _snapshot(model) == before
