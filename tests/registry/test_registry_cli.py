"""The registry from the shell: register, promote, list, show, history and friends."""

from __future__ import annotations

import pytest


@pytest.fixture
def churn(cli, model_run) -> list[str]:
    runs = [model_run(0.82), model_run(0.86)]
    for run_id in runs:
        assert cli("register", f"runs:/{run_id[:8]}/model", "--name", "churn", "-q").exit_code == 0
    return runs


def test_the_life_of_a_model(cli, churn: list[str]) -> None:
    assert cli("promote", "churn", "1", "--stage", "Production").exit_code == 0
    assert cli("promote", "churn", "2", "--stage", "staging").exit_code == 0
    gated = cli(
        "promote",
        "churn",
        "2",
        "--stage",
        "Production",
        "--archive-existing",
        "--require",
        "metrics.accuracy >= 0.8",
        "--better-than",
        "Production",
        "--metric",
        "accuracy",
        "--comment",
        "weekly retrain",
    )
    assert gated.exit_code == 0, gated.stderr
    assert "Promoted 'churn' version 2 to stage Production" in gated.stderr
    assert cli("promote", "churn", "2", "--alias", "champion").exit_code == 0
    shown = cli("models", "show", "churn", "--json").json()
    assert [(v["version"], v["stage"], v["aliases"]) for v in shown["versions"]] == [
        (1, "Archived", []),
        (2, "Production", ["champion"]),
    ]
    assert shown["versions"][1]["run_metrics"] == {"accuracy": 0.86}
    history = cli("models", "history", "churn", "--json").json()
    assert [(e["action"], e["version"], e["from"], e["to"]) for e in history[3:]] == [
        ("transition", 1, "None", "Production"),
        ("transition", 2, "None", "Staging"),
        ("transition", 2, "Staging", "Production"),
        ("transition", 1, "Production", "Archived"),
        ("set_alias", 2, None, "champion"),
    ]
    assert history[5]["comment"].startswith("weekly retrain; require")
    table = cli("models", "list").stdout.splitlines()
    assert table[1].split()[:4] == ["churn", "2", "Production:", "v2"]


def test_refused_promotion_exits_1_with_one_line(cli, churn: list[str]) -> None:
    cli("promote", "churn", "1", "--stage", "Production")
    refused = cli(
        "promote", "churn", "2", "--stage", "Production", "--require", "metrics.accuracy >= 0.9"
    )
    assert refused.exit_code == 1
    assert refused.stderr == (
        "mlcli: error: promotion of churn version 2 to stage Production refused: --require "
        "'metrics.accuracy >= 0.9' does not hold (metrics.accuracy=0.86)\n"
    )
    rerun = cli("promote", "churn", "1", "--stage", "Production")
    assert rerun.exit_code == 0 and "Nothing to do" in rerun.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["promote", "churn", "7", "--stage", "Staging"], 2, "has no version 7"),
        (["promote", "churn", "x", "--stage", "Staging"], 2, "invalid version 'x'"),
        (["promote", "churn", "1", "--alias", "v2"], 2, "is reserved"),
        (["promote", "nope", "1", "--stage", "Staging"], 2, "no registered model named 'nope'"),
        (["promote", "churn", "1", "--stage", "Live"], 2, "invalid stage 'Live'"),
        (["register", "runs:/ffffffff/model", "--name", "m"], 2, "no run with an id starting"),
        (["models", "show", "nope"], 2, "no registered model named 'nope'"),
        (["models", "delete", "churn"], 2, "Pass --yes to confirm"),
        (["models", "tag", "churn", "1"], 2, "give at least one KEY=VALUE"),
        (["models", "alias", "delete", "churn", "ghost"], 2, "has no alias 'ghost'"),
    ],
)
def test_errors(cli, churn: list[str], args: list[str], code: int, message: str) -> None:
    result = cli(*args)
    assert result.exit_code == code
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_describe_tag_alias_and_delete(cli, churn: list[str]) -> None:
    cli("models", "describe", "churn", "--description", "the churn model")
    cli("models", "describe", "churn", "2", "--description", "retrained")
    cli("models", "tag", "churn", "owner=ml")
    cli("models", "tag", "churn", "2", "validated=yes", "data=v3")
    cli("models", "alias", "set", "churn", "challenger", "1")
    shown = cli("models", "show", "churn", "--json").json()
    assert shown["description"] == "the churn model" and shown["tags"] == {"owner": "ml"}
    assert shown["aliases"] == {"challenger": 1}
    assert shown["versions"][1]["tags"] == {"validated": "yes", "data": "v3"}
    assert shown["versions"][1]["description"] == "retrained"
    assert cli("models", "alias", "delete", "churn", "challenger").exit_code == 0
    assert cli("models", "delete-version", "churn", "1").exit_code == 0
    assert [v["version"] for v in cli("models", "show", "churn", "--json").json()["versions"]] == [
        2
    ]
    assert cli("models", "delete", "churn", "--yes").exit_code == 0
    assert cli("models", "list", "-q").stdout == ""


def test_show_reads_every_version_run_and_skips_a_run_that_is_gone(
    cli, churn: list[str], store_root
) -> None:
    import shutil

    shutil.rmtree(store_root / "runs" / churn[0])
    shown = cli("models", "show", "churn", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert [v["run_metrics"] for v in shown.json()["versions"]] == [{}, {"accuracy": 0.86}]
