"""`mlcli compare` on a terminal: wide tables with few runs are transposed."""

from __future__ import annotations

import pytest

from mlcli.cli.compare import render_comparison
from mlcli.cli.output import Output
from mlcli.compare import build_comparison
from mlcli.search.runs import search_runs
from mlcli.store import Store


@pytest.fixture
def wide(store: Store, add_run) -> list:
    params = {f"param_number_{i}": f"value-{i}" for i in range(12)}
    add_run("left", params=params, metrics={"acc": 0.5}, start_time=1_000)
    add_run(
        "right",
        params={**params, "param_number_0": "other"},
        metrics={"acc": 0.7},
        start_time=2_000,
    )
    return search_runs(store)


def test_wide_table_of_few_runs_is_transposed(wide, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    render_comparison(Output(stdout_tty=True), build_comparison(wide), None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["right", "left"]
    assert lines[1].split()[0] == "RUN"
    assert any(line.split()[:3] == ["params.param_number_0", "other", "value-0"] for line in lines)
    assert any(line.split() == ["metrics.acc", "0.7", "0.5"] for line in lines)


def test_transpose_can_be_forced_either_way(wide, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    render_comparison(Output(stdout_tty=True), build_comparison(wide), False)
    folded = capsys.readouterr().out.splitlines()  # one row per run, cells folded
    assert folded[0].split()[:2] != ["right", "left"]
    assert any(line.startswith(wide[0].run_id[:2]) for line in folded)
    render_comparison(Output(stdout_tty=False), build_comparison(wide), True)
    assert capsys.readouterr().out.splitlines()[0].split() == ["right", "left"]


def test_narrow_table_is_not_transposed(store: Store, add_run, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    add_run("a", params={"lr": "0.1"})
    render_comparison(Output(stdout_tty=True), build_comparison(search_runs(store)), None)
    assert capsys.readouterr().out.split()[:3] == ["RUN", "NAME", "STATUS"]
