"""Fixtures for the dashboard tests: a store with everything the pages show, and real
``mlcli ui`` servers on 127.0.0.1 (subprocesses on a free port)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from uihelpers import UiServer, start_ui
from uistore import UiStore, build_store

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    """The store, built once; tests that change it take a copy (``fresh_store``)."""
    return build_store(tmp_path_factory.mktemp("ui-store"))


@pytest.fixture
def fresh_store(built_store: UiStore, tmp_path: Path) -> UiStore:
    """A private copy of the store, for a test that writes (promotions)."""
    root = tmp_path / "copy" / ".mlruns"
    shutil.copytree(built_store.root, root, ignore=shutil.ignore_patterns("index.db*"))
    return UiStore(root, built_store.experiment_id, built_store.runs, built_store.xss_run)


@pytest.fixture(scope="module")
def ui_server(built_store: UiStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """One read-only server over the shared store."""
    server = start_ui(built_store.root, tmp_path_factory.mktemp("ui-server") / "ui.log")
    yield server
    server.stop()


@pytest.fixture
def serve_ui(tmp_path: Path) -> Iterator[Callable[..., UiServer]]:
    """``serve_ui(store_root, *args)`` starts a server and stops it after the test."""
    servers: list[UiServer] = []

    def start(root: Path, *args: str) -> UiServer:
        server = start_ui(root, tmp_path / f"ui-{len(servers)}.log", list(args))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
