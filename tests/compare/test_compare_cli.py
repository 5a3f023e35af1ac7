"""`mlcli compare` end to end on real stores: the selection, the JSON contract, CSV and
Markdown with the same rows, columns, changed-only, best values, and the plots."""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from pathlib import Path

import pytest

from mlcli.compare import Directions, build_comparison
from mlcli.search.runs import search_runs
from mlcli.store import Store

MODELS = ("rf", "svm", "mlp")
FILTER = "metrics.acc > 0.9 and params.model = 'rf'"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def generated(add_run) -> list[dict]:
    """Ninety runs with random params and metrics, two of them tied on the best acc;
    returns what was logged, per run."""
    rng = random.Random(7)
    logged = []
    for number in range(90):
        params = {"model": rng.choice(MODELS), "lr": rng.choice(["0.1", "0.01"])}
        acc, loss = round(rng.uniform(0.8, 0.99), 4), round(rng.uniform(0.0, 1.0), 4)
        if number in (20, 30):
            params["model"], acc = "rf", 0.995
        start = 1_700_000_000_000 + number * 60_000
        tags = {"mlcli.source.git.commit": COMMIT} if number % 2 else {}
        run_id = add_run(
            f"run-{number}",
            params=params,
            metrics={"acc": [acc / 2, acc], "loss": loss},
            tags=tags,
            start_time=start,
            duration=2_000 + number,
        )
        logged.append(
            {
                "run_id": run_id,
                "name": f"run-{number}",
                "params": params,
                "acc": acc,
                "loss": loss,
                "start": start,
                "duration": 2_000 + number,
                "tags": tags,
            }
        )
    return logged


def _record(run: dict) -> dict:
    return {
        "run_id": run["run_id"],
        "run_name": run["name"],
        "status": "FINISHED",
        "start_time": run["start"],
        "duration_ms": run["duration"],
        "git_commit": run["tags"].get("mlcli.source.git.commit"),
        "params.lr": run["params"]["lr"],
        "params.model": run["params"]["model"],
        "metrics.acc": run["acc"],
        "metrics.loss": run["loss"],
    }


def _expected(generated: list[dict]) -> list[dict]:
    matching = [r for r in generated if r["acc"] > 0.9 and r["params"]["model"] == "rf"]
    matching.sort(key=lambda r: (-r["acc"], -r["start"], r["run_id"]))
    assert len(matching) > 5, "the generated store should have more matches than the limit"
    return [_record(r) for r in matching[:5]]


ARGS = ("compare", "--filter", FILTER, "--order-by", "metrics.acc DESC", "--limit", "5")


def test_json_has_exactly_the_right_runs_in_order(cli, generated) -> None:
    result = cli(*ARGS, "--json")
    assert result.exit_code == 0, result.stderr
    expected = _expected(generated)
    assert result.stdout == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"


def test_json_row_contract(cli, generated) -> None:
    """The shape of one row is a contract: identity, facts, then params.* and metrics.*."""
    rows = cli(*ARGS, "--json").json()
    assert list(rows[0]) == [
        "run_id",
        "run_name",
        "status",
        "start_time",
        "duration_ms",
        "git_commit",
        "params.lr",
        "params.model",
        "metrics.acc",
        "metrics.loss",
    ]
    assert isinstance(rows[0]["start_time"], int) and isinstance(rows[0]["metrics.acc"], float)
    assert all(len(row["run_id"]) == 32 for row in rows)


def test_csv_has_the_same_rows_as_json(cli, generated) -> None:
    expected = _expected(generated)
    result = cli(*ARGS, "--csv")
    assert result.exit_code == 0, result.stderr
    lines = [",".join(expected[0])]
    for row in expected:
        lines.append(",".join("" if v is None else str(v) for v in row.values()))
    assert result.stdout == "\n".join(lines) + "\n"
    parsed = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["run_id"] for r in parsed] == [r["run_id"] for r in expected]


def test_markdown_has_the_same_rows(cli, generated) -> None:
    expected = _expected(generated)
    result = cli(*ARGS, "--md")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "| " + " | ".join(expected[0]) + " |"
    assert lines[1] == "|" + "|".join("---" for _ in expected[0]) + "|"
    body = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [cells[0] for cells in body] == [r["run_id"][:8] for r in expected]
    assert [cells[1] for cells in body] == [r["run_name"] for r in expected]
    assert body[0][8] == f"**{expected[0]['metrics.acc']:g}**"  # the best acc, in bold
    assert [cells[5] for cells in body] == [(r["git_commit"] or "")[:7] for r in expected]


def test_output_formats_are_exclusive(cli, generated) -> None:
    result = cli("compare", "--json", "--csv")
    assert result.exit_code == 2
    assert result.stderr == "mlcli: error: --json and --csv cannot be used together\n"


def test_plain_table_when_piped(cli, add_run) -> None:
    first = add_run("a", params={"lr": "0.1"}, metrics={"acc": 0.5}, start_time=1_000)
    add_run("b", params={"lr": "0.2"}, metrics={"acc": 0.7}, start_time=2_000)
    result = cli("compare", "--columns", "params.lr,metrics.acc")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RUN", "NAME", "params.lr", "metrics.acc"]
    assert lines[2].split() == [first[:8], "a", "0.1", "0.5"]
    assert "\033" not in result.stdout


def test_named_runs_keep_their_order_and_take_filter_and_limit(cli, add_run) -> None:
    a = add_run("a", params={"model": "rf"}, metrics={"acc": 0.5}, start_time=1_000)
    b = add_run("b", params={"model": "svm"}, metrics={"acc": 0.9}, start_time=2_000)
    c = add_run("c", params={"model": "rf"}, metrics={"acc": 0.7}, start_time=3_000)
    rows = cli("compare", b[:6], a[:6], c, "--json").json()
    assert [r["run_id"] for r in rows] == [b, a, c]
    rows = cli("compare", b, a, c, "--filter", "params.model = 'rf'", "--json").json()
    assert [r["run_id"] for r in rows] == [a, c]
    ordered = cli("compare", b, a, c, "-o", "metrics.acc DESC", "-n", "2", "--json").json()
    assert [r["run_id"] for r in ordered] == [b, c]
    both = cli("compare", a, "--experiment", "Default")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_experiment_scope(cli, add_run) -> None:
    add_run("x", metrics={"acc": 0.1}, experiment="one")
    mine = add_run("y", metrics={"acc": 0.2}, experiment="two")
    assert [r["run_id"] for r in cli("compare", "-x", "two", "--json").json()] == [mine]


def test_columns_choose_and_order_the_columns(cli, add_run) -> None:
    add_run(
        "a",
        params={"lr": "0.1", "opt": "adam"},
        metrics={"val_loss": 0.3, "val_acc": 0.8, "acc": 0.9},
        tags={"team": "A"},
    )
    rows = cli(
        "compare", "--columns", "metrics.val_*,lr", "--columns", "tags.team,status", "--json"
    ).json()
    assert list(rows[0]) == [
        "run_id",
        "run_name",
        "metrics.val_acc",
        "metrics.val_loss",
        "params.lr",
        "tags.team",
        "status",
    ]
    bare = cli("compare", "--columns", "acc,duration,commit", "--json").json()
    assert list(bare[0]) == ["run_id", "run_name", "metrics.acc", "duration_ms", "git_commit"]
    unknown = cli("compare", "--columns", "metrics.acuracy")
    assert unknown.exit_code == 2
    assert "no selected run has 'metrics.acuracy'" in unknown.stderr


def test_only_changed_keeps_columns_that_differ(cli, add_run) -> None:
    add_run(
        "a",
        params={"lr": "0.1", "seed": "1"},
        metrics={"acc": 0.5, "epochs": 3.0},
        start_time=1_000,
    )
    add_run(
        "b",
        params={"lr": "0.2", "seed": "1"},
        metrics={"acc": 0.7, "epochs": 3.0},
        start_time=2_000,
    )
    add_run("c", params={"lr": "0.2"}, metrics={"acc": 0.7, "epochs": 3.0}, start_time=3_000)
    rows = cli("compare", "--only-changed", "--json").json()
    # seed differs (c lacks it); epochs and status and duration are the same everywhere
    assert list(rows[0]) == [
        "run_id",
        "run_name",
        "start_time",
        "params.lr",
        "params.seed",
        "metrics.acc",
    ]


def test_best_value_per_metric_follows_the_direction(store: Store, add_run) -> None:
    for name, acc, loss, score in (
        ("a", 0.5, 0.1, 3.0),
        ("b", 0.9, 0.4, 1.0),
        ("c", 0.9, 0.2, 2.0),
    ):
        add_run(name, metrics={"acc": acc, "loss": loss, "score": score})
    runs = search_runs(store, order_by=["run_name"])
    comparison = build_comparison(runs)
    assert comparison.best["metrics.acc"] == {1, 2}  # higher is better; ties all win
    assert comparison.best["metrics.loss"] == {0}  # "loss" is lower-is-better
    assert comparison.best["metrics.score"] == {0}
    flipped = build_comparison(runs, directions=Directions.of(lower=["sc*"], higher=["loss"]))
    assert flipped.best["metrics.score"] == {1}
    assert flipped.best["metrics.loss"] == {1}


def test_conflicting_directions_are_refused(cli, add_run) -> None:
    add_run("a", metrics={"acc": 0.5})
    result = cli("compare", "--higher-is-better", "acc", "--lower-is-better", "acc")
    assert result.exit_code == 2
    assert "both higher- and lower-is-better" in result.stderr


def test_no_runs(cli, store_root) -> None:
    assert cli("compare", "--json").stdout == "[]\n"
    empty = cli("compare")
    assert empty.exit_code == 0 and empty.stdout == "" and "No runs" in empty.stderr


def test_terminal_plot_when_piped_uses_ascii_markers(cli, add_run) -> None:
    add_run("first", metrics={"loss": [1.0, 0.5, 0.25]}, start_time=1_000)
    add_run("second", metrics={"loss": [0.9, 0.6, 0.4]}, start_time=2_000)
    result = cli("compare", "--columns", "loss", "--plot", "loss")
    assert result.exit_code == 0, result.stderr
    chart = result.stdout.split("\n\n", 1)[1].splitlines()
    assert chart[0].strip() == "loss"
    assert chart[1].split()[0] == "1"  # the top y label
    assert "*" in result.stdout and "+" in result.stdout
    assert chart[-2:] == ["       ** second", "       ++ first"]
    assert "\033" not in result.stdout


def test_plot_file_html_is_self_contained(cli, add_run, workdir: Path) -> None:
    add_run("first", metrics={"loss": [1.0, 0.5]}, start_time=1_000)
    add_run("second <b>", metrics={"loss": [0.9, 0.6]}, start_time=2_000)
    result = cli("compare", "--plot", "metrics.loss", "--plot-file", "out.html", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(result.json()) == 2
    assert result.stderr == "Wrote out.html\n"
    html = (workdir / "out.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert html.count("<polyline") == 2 and "second &lt;b&gt;" in html
    assert "<script" not in html and "src=" not in html and "href=" not in html


def test_plot_file_png(cli, add_run, workdir: Path) -> None:
    pytest.importorskip("matplotlib")
    add_run("first", metrics={"loss": [1.0, 0.5]})
    result = cli("compare", "--plot", "loss", "--plot-file", "out.png")
    assert result.exit_code == 0, result.stderr
    assert (workdir / "out.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_file_png_without_matplotlib_suggests_html(
    cli, add_run, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_run("first", metrics={"loss": [1.0, 0.5]})
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = cli("compare", "--plot", "loss", "--plot-file", "out.png")
    assert result.exit_code == 1
    assert "needs matplotlib" in result.stderr and ".html" in result.stderr
    assert not (workdir / "out.png").exists()


def test_plot_errors(cli, add_run) -> None:
    add_run("first", metrics={"loss": [1.0, 0.5]})
    assert cli("compare", "--plot-file", "x.html").exit_code == 2
    with_json = cli("compare", "--plot", "loss", "--json")
    assert with_json.exit_code == 2 and "--plot-file" in with_json.stderr
    wrong = cli("compare", "--plot", "loss", "--plot-file", "x.svg")
    assert wrong.exit_code == 2 and ".html or .png" in wrong.stderr
    missing = cli("compare", "--plot", "accuracy")
    assert missing.exit_code == 2
    assert missing.stderr == "mlcli: error: none of the 1 selected run(s) has metric 'accuracy'\n"
