"""One filter semantics for every search: the same cases, run through every path.

The entities of ``tests/filter_cases.py`` of each kind (runs, experiments, registered
models, model versions, logged models) are made through a real ``mlcli server``; each
filter must select the same names through run search in SQL (the Python API), run
search in memory (``evaluate``), the dashboard's runs table, and every search endpoint of
the server; registered models and model versions add MLflow's rule for prompts
(``filter_cases.registry_answer``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filter_cases import (
    CASE_IDS,
    CASES,
    NAMES,
    SENT_PROMPT,
    STORED_PROMPT,
    registry_answer,
    tags_of,
)
from trackingserver import TrackingServer, start_tracking_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from uihelpers import UiServer, start_ui

from mlcli.search import evaluate, parse_filter
from mlcli.tracking import TrackingClient

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def _tags(name: str) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags_of(name, "mlflow.prompt.is_prompt").items()]


def _ok(reply: Any) -> Any:
    assert reply.status == 200, reply.body
    return reply.json()


@dataclass(frozen=True)
class World:
    server: TrackingServer
    ui: UiServer
    home: str  # the experiment holding the runs and logged models


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A tracking server and a dashboard over a store holding the entities of every kind."""
    directory = tmp_path_factory.mktemp("one-semantics")
    server = start_tracking_server(directory / ".mlruns", directory / "server.log")
    try:
        home = _ok(server.api("POST", "experiments/create", {"name": "home"}))["experiment_id"]
        for name in NAMES:
            _ok(server.api("POST", "experiments/create", {"name": name, "tags": _tags(name)}))
            run = _ok(
                server.api(
                    "POST",
                    "runs/create",
                    {"experiment_id": home, "run_name": name, "tags": _tags(name)},
                )
            )["run"]["info"]
            run_id = run["run_id"]
            _ok(
                server.api(
                    "POST",
                    "logged-models",
                    {"source_run_id": run_id, "name": name, "tags": _tags(name)},
                )
            )
            _ok(server.api("POST", "registered-models/create", {"name": name, "tags": _tags(name)}))
            root = f"/api/2.0/mlflow-artifacts/artifacts/{home}/{run_id}/artifacts/model"
            mlmodel = "flavors:\n  python_function:\n    loader_module: nothing\n"
            put = server.request("PUT", f"{root}/MLmodel", mlmodel, content_type="text/plain")
            assert put.status == 200, put.body
            source = f"mlflow-artifacts:/{home}/{run_id}/artifacts/model"
            _ok(
                server.api(
                    "POST",
                    "model-versions/create",
                    {"name": name, "source": source, "run_id": run_id, "tags": _tags(name)},
                )
            )
        ui = start_ui(server.store, directory / "ui.log")
        try:
            yield World(server, ui, home)
        finally:
            ui.stop()
    finally:
        server.stop()


def _runs_sql(world: World, text: str) -> set[str]:
    runs = TrackingClient(world.server.store).search_runs(
        [world.home], text.format(prompt=STORED_PROMPT)
    )
    return {run.info.run_name for run in runs}


def _runs_in_memory(world: World, text: str) -> set[str]:
    node = parse_filter(text.format(prompt=STORED_PROMPT))
    runs = TrackingClient(world.server.store).search_runs([world.home])
    return {run.info.run_name for run in runs if evaluate(node, run)}


def _runs_rest(world: World, text: str) -> set[str]:
    body = {"experiment_ids": [world.home], "filter": text.format(prompt=SENT_PROMPT)}
    runs = _ok(world.server.api("POST", "runs/search", body)).get("runs", [])
    return {run["info"]["run_name"] for run in runs}


def _experiments_rest(world: World, text: str) -> set[str]:
    body = {"filter": text.format(prompt=SENT_PROMPT), "max_results": 1000}
    found = _ok(world.server.api("POST", "experiments/search", body)).get("experiments", [])
    return {e["name"] for e in found} - {"home", "Default"}


def _models_rest(world: World, text: str) -> set[str]:
    body = {"filter": text.format(prompt=SENT_PROMPT)}
    found = _ok(world.server.api("GET", "registered-models/search", body))
    return {m["name"] for m in found.get("registered_models", [])}


def _versions_rest(world: World, text: str) -> set[str]:
    body = {"filter": text.format(prompt=SENT_PROMPT)}
    found = _ok(world.server.api("GET", "model-versions/search", body))
    return {v["name"] for v in found.get("model_versions", [])}


def _logged_models_rest(world: World, text: str) -> set[str]:
    body = {"experiment_ids": [world.home], "filter": text.format(prompt=SENT_PROMPT)}
    found = _ok(world.server.api("POST", "logged-models/search", body))
    return {m["info"]["name"] for m in found.get("models", [])}


def _runs_ui(world: World, text: str) -> set[str]:
    page = world.ui.api("runs", experiment=world.home, filter=text.format(prompt=STORED_PROMPT))
    names = {run["run_name"] for run in page["runs"]}
    assert page["total"] == len(names)  # the count and the page agree
    return names


PATHS: dict[str, Callable[[World, str], set[str]]] = {
    "runs via SQL (Python API)": _runs_sql,
    "runs in memory (evaluate)": _runs_in_memory,
    "runs via REST": _runs_rest,
    "runs via the UI (/api/runs)": _runs_ui,
    "experiments via REST": _experiments_rest,
    "logged models via REST": _logged_models_rest,
}
REGISTRY_PATHS: dict[str, Callable[[World, str], set[str]]] = {
    "registered models via REST": _models_rest,
    "model versions via REST": _versions_rest,
}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=CASE_IDS)
def test_every_search_selects_the_same_entities(
    world: World, text: str, expected: set[str]
) -> None:
    answers = {path: search(world, text) for path, search in (PATHS | REGISTRY_PATHS).items()}
    in_registry = registry_answer(text, expected)
    assert answers == dict.fromkeys(PATHS, expected) | dict.fromkeys(REGISTRY_PATHS, in_registry)
