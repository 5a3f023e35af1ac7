"""Fixtures for registry tests: a client on a fresh store, and runs holding a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcli.client import MlcliClient


@pytest.fixture
def client(store_root: Path) -> MlcliClient:
    return MlcliClient(store_root)


@pytest.fixture
def model_run(client: MlcliClient, tmp_path: Path):
    """``model_run(accuracy)`` makes a finished run with that metric and a model
    directory logged at ``model/``; returns the run id."""

    def make(accuracy: float | None = None, commit: str | None = None) -> str:
        run = client.create_run(tags={"mlcli.source.git.commit": commit} if commit else None)
        model = tmp_path / f"model-{run.run_id}"
        model.mkdir()
        (model / "MLmodel").write_text("flavors: {}\n")
        (model / "weights.bin").write_bytes(run.run_id.encode())
        client.log_artifacts(run.run_id, model, "model")
        if accuracy is not None:
            client.log_metric(run.run_id, "accuracy", accuracy)
        client.set_terminated(run.run_id)
        return run.run_id

    return make
