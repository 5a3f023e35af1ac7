"""The dashboard's artifacts browser and a link planted in the store (issue 15,
finding 4): the listing shows the link, not what it leads to, and neither a preview
nor a download sends the file behind it."""

from __future__ import annotations

import os
from pathlib import Path

from uistore import UiStore

SECRET = "TOP-SECRET-91d0"


def test_a_planted_link_is_listed_as_a_link_and_never_sent(
    fresh_store: UiStore, serve_ui, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text(SECRET * 10)
    (tmp_path / "secret-dir").mkdir()
    (tmp_path / "secret-dir" / "key.txt").write_text(SECRET)
    run = fresh_store.runs["trial-1"]
    artifacts = fresh_store.root / "runs" / run / "artifacts"
    (artifacts / "links").mkdir(parents=True)
    (artifacts / "links" / "plain.txt").write_text("plain")
    os.symlink(tmp_path / "secret.txt", artifacts / "links" / "secret.txt")
    os.symlink(tmp_path / "secret-dir", artifacts / "links" / "keys")
    os.symlink("plain.txt", artifacts / "links" / "alias.txt")
    server = serve_ui(fresh_store.root)
    listing = server.api(f"runs/{run}/artifacts", path="links")
    assert {e["name"]: (e["is_dir"], e["file_size"], e["symlink"]) for e in listing["entries"]} == {
        "alias.txt": (False, None, "plain.txt"),
        "keys": (False, None, str(tmp_path / "secret-dir")),
        "plain.txt": (False, 5, None),
        "secret.txt": (False, None, str(tmp_path / "secret.txt")),
    }
    for path in ("links/secret.txt", "links/keys/key.txt"):
        for endpoint, params in (
            ("artifacts/file", {"download": 1}),
            ("artifacts/file", {}),
            ("artifacts/preview", {}),
        ):
            reply = server.get(f"/api/runs/{run}/{endpoint}", path=path, **params)
            assert reply.status == 400, (path, endpoint, reply.status)
            assert SECRET.encode() not in reply.body
            assert "escapes the run's artifacts" in reply.json()["message"]
    listed_through = server.get(f"/api/runs/{run}/artifacts", path="links/keys")
    assert listed_through.status == 400 and SECRET.encode() not in listed_through.body
    os.mkfifo(artifacts / "links" / "pipe")  # reading it would block the server forever
    for endpoint in ("artifacts/file", "artifacts/preview"):
        reply = server.get(f"/api/runs/{run}/{endpoint}", path="links/pipe")
        assert reply.status == 400 and "is not a regular file" in reply.json()["message"]
    # a link to a file inside the run's artifacts is sent as that file
    alias = server.get(f"/api/runs/{run}/artifacts/file", path="links/alias.txt", download=1)
    assert (alias.status, alias.body) == (200, b"plain")
