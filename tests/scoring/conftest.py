"""Fixtures for the serving tests: a store with registered models, and real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servinghelpers import Server, start_server

pytest.importorskip("sklearn")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="session")
def serving_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding ``iris`` v1 (alias champion, stage Production) and ``scale`` v1."""
    from servingmodels import register_iris, register_scale

    from mlcli.client import MlcliClient

    work = tmp_path_factory.mktemp("serving-store")
    client = MlcliClient(work / ".mlruns")
    client.writable_store()
    version = register_iris(client, work)
    client.set_registered_model_alias("iris", "champion", version)
    client.transition_model_version_stage("iris", version, "Production")
    register_scale(client, work)
    return work / ".mlruns"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``serve(*args, store=...)`` starts ``mlcli serve`` and stops it after the test."""
    servers: list[Server] = []

    def start(*args: str, store: Path | None = None, wait: bool = True, **env: Any) -> Server:
        environ = {k: str(v) for k, v in env.items()}
        if store is not None:
            environ["MLCLI_STORE"] = str(store)
        log = tmp_path / f"serve-{len(servers)}.log"
        server = start_server(list(args), log, environ, wait=wait)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def iris_server(tmp_path_factory: pytest.TempPathFactory, serving_store: Path) -> Iterator[Server]:
    """One server for the protocol tests: ``models:/iris@champion``."""
    log = tmp_path_factory.mktemp("iris-server") / "serve.log"
    server = start_server(["-m", "models:/iris@champion"], log, {"MLCLI_STORE": str(serving_store)})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scale_server(tmp_path_factory: pytest.TempPathFactory, serving_store: Path) -> Iterator[Server]:
    """A server for params and timeouts: ``models:/scale/1`` with --timeout 1."""
    log = tmp_path_factory.mktemp("scale-server") / "serve.log"
    server = start_server(
        ["-m", "models:/scale/1", "--timeout", "1", "--max-body-size", "64KiB"],
        log,
        {"MLCLI_STORE": str(serving_store)},
    )
    yield server
    server.stop()
