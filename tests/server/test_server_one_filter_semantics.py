"""One filter semantics for every search: the same cases, run through every path.

The entities of ``tests/filter_cases.py`` of each kind (runs, experiments, registered
models, model versions, logged models) are made through a real ``mlcli server``; each
filter must select the same names through run search in SQL (the Python API), run
search in memory (``evaluate``), and every search endpoint of the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from filter_cases import CASE_IDS, CASES, NAMES, SENT_PROMPT, STORED_PROMPT, tags_of
from trackingserver import TrackingServer, start_tracking_server

from mlcli.search import evaluate, parse_filter
from mlcli.tracking import TrackingClient

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def _tags(name: str) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags_of(name, "mlflow.prompt.is_prompt").items()]


def _ok(reply: Any) -> Any:
    assert reply.status == 200, reply.body
    return reply.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrackingServer, str]]:
    """A server over a store holding five entities of every kind; and the experiment
    that holds the runs and logged models."""
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
        yield server, home
    finally:
        server.stop()


def _runs_sql(server: TrackingServer, home: str, text: str) -> set[str]:
    runs = TrackingClient(server.store).search_runs([home], text.format(prompt=STORED_PROMPT))
    return {run.info.run_name for run in runs}


def _runs_in_memory(server: TrackingServer, home: str, text: str) -> set[str]:
    node = parse_filter(text.format(prompt=STORED_PROMPT))
    runs = TrackingClient(server.store).search_runs([home])
    return {run.info.run_name for run in runs if evaluate(node, run)}


def _runs_rest(server: TrackingServer, home: str, text: str) -> set[str]:
    body = {"experiment_ids": [home], "filter": text.format(prompt=SENT_PROMPT)}
    runs = _ok(server.api("POST", "runs/search", body)).get("runs", [])
    return {run["info"]["run_name"] for run in runs}


def _experiments_rest(server: TrackingServer, home: str, text: str) -> set[str]:
    body = {"filter": text.format(prompt=SENT_PROMPT), "max_results": 1000}
    found = _ok(server.api("POST", "experiments/search", body)).get("experiments", [])
    return {e["name"] for e in found} - {"home", "Default"}


def _models_rest(server: TrackingServer, home: str, text: str) -> set[str]:
    body = {"filter": text.format(prompt=SENT_PROMPT)}
    found = _ok(server.api("GET", "registered-models/search", body))
    return {m["name"] for m in found.get("registered_models", [])}


def _versions_rest(server: TrackingServer, home: str, text: str) -> set[str]:
    body = {"filter": text.format(prompt=SENT_PROMPT)}
    found = _ok(server.api("GET", "model-versions/search", body))
    return {v["name"] for v in found.get("model_versions", [])}


def _logged_models_rest(server: TrackingServer, home: str, text: str) -> set[str]:
    body = {"experiment_ids": [home], "filter": text.format(prompt=SENT_PROMPT)}
    found = _ok(server.api("POST", "logged-models/search", body))
    return {m["info"]["name"] for m in found.get("models", [])}


PATHS: dict[str, Callable[[TrackingServer, str, str], set[str]]] = {
    "runs via SQL (Python API)": _runs_sql,
    "runs in memory (evaluate)": _runs_in_memory,
    "runs via REST": _runs_rest,
    "experiments via REST": _experiments_rest,
    "registered models via REST": _models_rest,
    "model versions via REST": _versions_rest,
    "logged models via REST": _logged_models_rest,
}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=CASE_IDS)
def test_every_search_selects_the_same_entities(
    world: tuple[TrackingServer, str], text: str, expected: set[str]
) -> None:
    server, home = world
    answers = {path: search(server, home, text) for path, search in PATHS.items()}
    assert answers == dict.fromkeys(PATHS, expected)
