"""`mlcli.search_runs(output_format="pandas")`: MLflow's DataFrame shape."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import mlcli

pd = pytest.importorskip("pandas")


def test_dataframe_columns_and_values(add_run) -> None:
    old = add_run("old", params={"lr": "0.1"}, metrics={"acc": 0.5}, start_time=1_000)
    new = add_run(
        "new",
        params={"lr": "0.2", "model": "rf"},
        metrics={"acc": [0.1, 0.9], "loss": 0.3},
        tags={"team": "A"},
        start_time=2_000,
        status="RUNNING",
    )
    frame = mlcli.search_runs(output_format="pandas")
    assert list(frame.columns) == [  # MLflow's columns and names
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "metrics.acc",
        "metrics.loss",
        "params.lr",
        "params.model",
        "tags.mlflow.runName",
        "tags.mlflow.user",
        "tags.team",
    ]
    assert list(frame["run_id"]) == [new, old]  # newest first, as search_runs orders
    assert list(frame["metrics.acc"]) == [0.9, 0.5]
    assert math.isnan(frame["metrics.loss"][1])
    assert frame["params.model"][0] == "rf" and pd.isna(frame["params.model"][1])
    assert frame["start_time"][1] == pd.Timestamp(1_000, unit="ms", tz="UTC")
    assert pd.isna(frame["end_time"][0])  # still running
    assert frame["end_time"][1] == pd.Timestamp(2_500, unit="ms", tz="UTC")
    assert str(frame["metrics.acc"].dtype) == "float64"


def test_filter_order_and_empty(add_run) -> None:
    add_run("a", params={"model": "rf"}, metrics={"acc": 0.5})
    best = add_run("b", params={"model": "rf"}, metrics={"acc": 0.9})
    frame = mlcli.search_runs(
        filter="params.model = 'rf'", order_by="metrics.acc DESC", output_format="pandas"
    )
    assert frame["run_id"][0] == best
    empty = mlcli.search_runs(filter="metrics.acc > 2", output_format="pandas")
    assert len(empty) == 0 and list(empty.columns)[:3] == ["run_id", "experiment_id", "status"]
    assert isinstance(mlcli.search_runs(output_format="list"), list)
    assert list(mlcli.search_runs().columns)[:6] == [  # a DataFrame by default, as MLflow's
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]


def test_unknown_output_format(add_run) -> None:
    with pytest.raises(mlcli.errors.InvalidInputError, match="'list' or 'pandas'"):
        mlcli.search_runs(output_format="arrow")


def test_the_commands_do_not_import_pandas(add_run, workdir: Path, loaded_modules) -> None:
    a = add_run("a", metrics={"acc": 0.5})
    b = add_run("b", metrics={"acc": 0.6})
    for args in (["compare", "--json"], ["select", "--max", "acc"], ["diff", a, b]):
        loaded = loaded_modules(*args, cwd=workdir)
        assert loaded & {"pandas", "numpy", "matplotlib", "git"} == set(), args
