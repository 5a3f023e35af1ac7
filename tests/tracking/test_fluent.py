"""The fluent API in this process: start_run as a context manager, nesting, attaching."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import mlcli
from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient


def _status(store_root: Path, run_id: str) -> str:
    return TrackingClient(store_root).get_run(run_id).info.status


def test_context_manager_ends_finished_and_logs_everything(store_root: Path) -> None:
    with mlcli.start_run(experiment="demo", run_name="base", tags={"team": "x"}) as run:
        mlcli.log_param("lr", 0.1)
        mlcli.log_params({"depth": 3})
        for step in range(100):
            mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
        mlcli.log_metrics({"acc": 0.5, "f1": 0.4}, step=1)
        mlcli.set_tag("phase", "train")
        assert mlcli.active_run().run_id == run.run_id
    assert mlcli.active_run() is None
    stored = mlcli.get_run(run.run_id)
    assert stored.info.status == "FINISHED" and stored.experiment_name == "demo"
    assert stored.data.params == {"lr": "0.1", "depth": "3"}
    assert stored.data.metrics["loss"] == pytest.approx(0.01)
    assert stored.data.tags["team"] == "x" and stored.data.tags["mlcli.source.type"] == "LOCAL"
    assert len(mlcli.get_metric_history(run.run_id, "loss")) == 100


def test_exception_ends_failed_and_interrupt_ends_killed(store_root: Path) -> None:
    with pytest.raises(ValueError), mlcli.start_run() as failed:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), mlcli.start_run() as killed:
        raise KeyboardInterrupt
    assert _status(store_root, failed.run_id) == "FAILED"
    assert _status(store_root, killed.run_id) == "KILLED"


def test_nested_runs_record_their_parent(store_root: Path) -> None:
    with mlcli.start_run() as parent:
        with pytest.raises(InvalidInputError, match="already active"):
            mlcli.start_run()
        with mlcli.start_run(nested=True) as child:
            mlcli.log_metric("m", 1)
    stored = mlcli.get_run(child.run_id)
    assert stored.info.parent_run_id == parent.run_id
    assert stored.data.metrics == {"m": 1.0}


def test_attaches_to_mlcli_run_id_without_ending_it(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = TrackingClient(store_root).create_run()
    monkeypatch.setenv("MLCLI_RUN_ID", owner.run_id)
    with mlcli.start_run() as attached:
        mlcli.log_metric("m", 2.0)
    assert attached.run_id == owner.run_id
    stored = TrackingClient(store_root).get_run(owner.run_id)
    assert stored.info.status == "RUNNING" and stored.data.metrics == {"m": 2.0}


def test_resuming_a_run_by_id(store_root: Path) -> None:
    with mlcli.start_run() as first:
        pass
    with mlcli.start_run(run_id=first.run_id[:8]):
        mlcli.log_metric("later", 1.0)
    stored = mlcli.get_run(first.run_id)
    assert stored.info.status == "FINISHED" and stored.data.metrics == {"later": 1.0}


def test_set_experiment_and_search(store_root: Path) -> None:
    mlcli.set_experiment("chosen")
    with mlcli.start_run():
        mlcli.log_metric("m", 1.0)
    [run] = mlcli.search_runs(experiments=["chosen"], output_format="list")
    assert run.experiment_name == "chosen"
    assert mlcli.search_runs(experiments="Default", output_format="list") == []


def test_log_dict_text_and_figure(store_root: Path) -> None:
    class Figure:  # anything with matplotlib's savefig(file, format=) protocol
        def savefig(self, handle: io.BytesIO, format: str) -> None:
            handle.write(f"<{format} image>".encode())

    with mlcli.start_run() as run:
        mlcli.log_dict({"a": 1}, "config.yaml")
        mlcli.log_text("hi", "notes.txt")
        mlcli.log_figure(Figure(), "plots/curve.svg")
        with pytest.raises(InvalidInputError, match="expected a matplotlib or plotly figure"):
            mlcli.log_figure(object(), "x.png")
    root = TrackingClient(store_root).artifact_path(run.run_id)
    assert (root / "config.yaml").read_text() == "a: 1\n"
    assert (root / "plots" / "curve.svg").read_bytes() == b"<svg image>"


def test_matplotlib_figure_when_available(store_root: Path) -> None:
    pyplot = pytest.importorskip("matplotlib.pyplot")
    figure, axes = pyplot.subplots()
    axes.plot([1, 2, 3])
    with mlcli.start_run() as run:
        mlcli.log_figure(figure, "curve.png")
    png = TrackingClient(store_root).artifact_path(run.run_id, "curve.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_end_run_rejects_a_non_final_status(store_root: Path) -> None:
    with pytest.raises(InvalidInputError):
        mlcli.end_run("RUNNING")


def test_public_api_is_explicit() -> None:
    assert "start_run" in mlcli.__all__ and "log_metric" in mlcli.__all__
    with pytest.raises(AttributeError):
        mlcli.not_a_function  # noqa: B018
