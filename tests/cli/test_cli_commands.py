"""Every command through the in-process CLI: output shapes, -q, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcli.cli.main import hoist_global_options

RUN_KEYS = {
    "run_id",
    "run_name",
    "experiment_id",
    "experiment_name",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "parent_run_id",
    "user_id",
    "params",
    "metrics",
    "tags",
    "artifact_uri",
}


@pytest.fixture
def run_id(cli, store_root: Path) -> str:
    return cli("runs", "create", "--experiment", "demo", "--name", "base", "-q").stdout.strip()


def test_json_shape_of_runs_show_and_list_is_stable(cli, run_id: str) -> None:
    shown = cli("runs", "show", run_id, "--json").json()
    assert set(shown) == RUN_KEYS
    listed = cli("runs", "list", "--json").json()
    assert [set(r) for r in listed] == [RUN_KEYS]
    assert listed[0] == shown


def test_quiet_prints_bare_ids(cli, run_id: str) -> None:
    assert cli("runs", "list", "-q").stdout == f"{run_id}\n"
    assert cli("experiments", "list", "-q").stdout == "0\n1\n"


def test_runs_create_options(cli, run_id: str) -> None:
    child = cli(
        "runs", "create", "--parent", run_id[:6], "--tag", "a=b", "--tag", "c=d=e", "--json"
    )
    data = child.json()
    assert data["parent_run_id"] == run_id and data["tags"]["c"] == "d=e"
    assert data["experiment_name"] == "Default"
    bad = cli("runs", "create", "--tag", "novalue")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "mlcli: error: --tag expects KEY=VALUE, got 'novalue'\n",
    )


def test_log_commands_and_run_env_default(cli, run_id: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLCLI_RUN_ID", run_id)
    assert cli("log", "param", "lr", "0.1").exit_code == 0
    assert cli("log", "metric", "loss", "nan", "--step", "2").exit_code == 0
    assert cli("log", "tag", "stage", "dev").exit_code == 0
    (tmp_path / "plot.txt").write_text("x")
    assert (
        cli("log", "artifact", str(tmp_path / "plot.txt"), "--artifact-path", "figs").exit_code == 0
    )
    shown = cli("runs", "show", run_id, "--json").json()
    assert shown["params"] == {"lr": "0.1"} and shown["metrics"] == {"loss": "NaN"}
    assert shown["tags"]["stage"] == "dev"
    assert cli("runs", "artifacts", run_id, "figs", "-q").stdout == "figs/plot.txt\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["log", "metric", "loss", "abc"],
            "invalid value 'abc' for metric 'loss': must be a number",
        ),
        (["log", "param", "lr", "0.2"], "param 'lr' of run"),
        (["log", "param", "a/../b", "1"], "invalid param key 'a/../b'"),
        (["log", "param", "/etc", "1"], "invalid param key '/etc'"),
        (["log", "tag", "..", "1"], "invalid tag key '..'"),
        (["runs", "show", "ffffffffffff"], "no run with an id starting with 'ffffffffffff'"),
        (["runs", "show", "not-hex"], "invalid run id 'not-hex'"),
        (["runs", "end", "RUN", "--status", "DONE"], "invalid final status 'DONE'"),
        (["experiments", "rename", "nope", "x"], "no experiment named 'nope'"),
        (["gc", "--older-than", "soon"], "invalid duration 'soon'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, run_id: str, args: list[str], message: str) -> None:
    cli("log", "param", "lr", "0.1", "--run", run_id)
    if args[0] == "log":
        args = [*args, "--run", run_id]
    args = [run_id if a == "RUN" else a for a in args]
    result = cli(*args)
    assert result.exit_code == 2, result
    assert result.stderr.startswith("mlcli: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_ambiguous_prefix_is_exit_2(cli, store_root: Path) -> None:
    ids = [cli("runs", "create", "-q").stdout.strip() for _ in range(40)]
    first = [i[0] for i in ids]
    prefix = max(set(first), key=first.count)
    result = cli("runs", "show", prefix)
    assert result.exit_code == 2 and "is ambiguous" in result.stderr


def test_artifact_escaping_the_run_is_refused(cli, run_id: str, tmp_path: Path) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    result = cli(
        "log", "artifact", str(source), "--artifact-path", "../../outside", "--run", run_id
    )
    assert result.exit_code == 2 and "escapes the run's artifacts" in result.stderr
    missing = cli("log", "artifact", str(tmp_path / "absent"), "--run", run_id)
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr


def test_log_without_a_run_is_a_clear_error(cli, store_root: Path) -> None:
    result = cli("log", "metric", "m", "1")
    assert (result.exit_code, result.stderr) == (
        2,
        "mlcli: error: no run given: pass --run RUN or set MLCLI_RUN_ID\n",
    )


def test_log_batch_all_or_nothing(cli, run_id: str, tmp_path: Path) -> None:
    good = (
        "\n".join(
            json.dumps(r)
            for r in [
                {"metric": "loss", "value": 0.3, "step": 2},
                {"metric": "loss", "value": "NaN", "step": 3},
                {"param": "lr", "value": 0.1},
                {"tag": "k", "value": "v"},
                {},
            ][:4]
        )
        + "\n\n"
    )
    assert cli("log", "batch", "--run", run_id, input=good).exit_code == 0
    shown = cli("runs", "show", run_id, "--json").json()
    assert shown["params"] == {"lr": "0.1"} and shown["tags"]["k"] == "v"
    batch_file = tmp_path / "batch.jsonl"
    batch_file.write_text(
        '{"metric": "acc", "value": 0.9}\n{"param": "x", "value": "1"}\n'
        '{"metric": "acc", "value": "high"}\n'
    )
    bad = cli("log", "batch", str(batch_file), "--run", run_id)
    assert bad.exit_code == 2
    assert bad.stderr == (
        "mlcli: error: line 3: invalid value 'high' for metric 'acc': must be a number\n"
    )
    after = cli("runs", "show", run_id, "--json").json()
    assert "acc" not in after["metrics"] and "x" not in after["params"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not valid JSON"),
        ("[1]", "line 1: expected an object"),
        ('{"metric": "a", "param": "b", "value": 1}', "line 1: expected exactly one of"),
        ('{"metric": "a"}', "line 1: metric 'a' has no value"),
        ('{"metric": "a", "value": 1, "color": "red"}', "line 1: unknown field(s): color"),
        ('{"metric": 5, "value": 1}', 'line 1: "metric" must be a string'),
        ('{"param": "lr", "value": "0.2"}', "param 'lr' of run"),
    ],
)
def test_log_batch_errors(cli, run_id: str, line: str, message: str) -> None:
    cli("log", "param", "lr", "0.1", "--run", run_id)
    result = cli("log", "batch", "-", "--run", run_id, input=line + "\n")
    assert result.exit_code == 2 and message in result.stderr


def test_delete_restore_and_listing_views(cli, run_id: str) -> None:
    other = cli("runs", "create", "-q").stdout.strip()
    assert cli("runs", "delete", run_id[:8]).exit_code == 0
    assert cli("runs", "list", "-q").stdout.split() == [other]
    assert cli("runs", "list", "--deleted", "-q").stdout.split() == [run_id]
    assert sorted(cli("runs", "list", "--all", "-q").stdout.split()) == sorted([run_id, other])
    assert cli("runs", "list", "--all", "--deleted").exit_code == 2
    assert cli("runs", "restore", run_id).exit_code == 0
    assert sorted(cli("runs", "list", "-q").stdout.split()) == sorted([run_id, other])


def test_deleting_several_runs_resolves_all_before_changing_any(cli, run_id: str) -> None:
    result = cli("runs", "delete", run_id, "fffffffffffffff")
    assert result.exit_code == 2
    assert cli("runs", "list", "-q").stdout.split() == [run_id]


def test_experiments_commands(cli, store_root: Path) -> None:
    assert cli("experiments", "create", "churn", "--tag", "team=growth", "-q").stdout == "1\n"
    assert cli("experiments", "create", "churn").exit_code == 2
    cli("runs", "create", "--experiment", "churn")
    listed = cli("experiments", "list", "--json").json()
    assert [(e["name"], e["run_count"]) for e in listed] == [("Default", 0), ("churn", 1)]
    assert listed[1]["tags"] == {"team": "growth"}
    assert cli("experiments", "rename", "churn", "churn-v2").exit_code == 0
    assert cli("experiments", "delete", "churn-v2").exit_code == 0
    assert cli("runs", "list", "-q").stdout == ""
    assert [e["name"] for e in cli("experiments", "list", "--deleted", "--json").json()] == [
        "churn-v2"
    ]
    assert cli("experiments", "restore", "churn-v2").exit_code == 0
    assert len(cli("runs", "list", "-q").stdout.split()) == 1
    assert cli("experiments", "delete", "Default").exit_code == 2


def test_gc_removes_deleted_runs_for_good(cli, run_id: str, store_root: Path) -> None:
    keep = cli("runs", "create", "-q").stdout.strip()
    cli("runs", "delete", run_id)
    assert cli("gc", "--older-than", "1d", "--json").json()["runs"] == []
    dry = cli("gc", "--dry-run", "--json").json()
    assert dry == {"runs": [run_id], "experiments": [], "temporary_files": [], "dry_run": True}
    assert (store_root / "runs" / run_id).exists()
    assert cli("gc", "-q").stdout == f"{run_id}\n"
    assert not (store_root / "runs" / run_id).exists()
    assert cli("runs", "list", "--all", "-q").stdout.split() == [keep]
    assert cli("runs", "restore", run_id).exit_code == 2


def test_gc_purges_deleted_experiments_with_their_runs(cli, store_root: Path) -> None:
    run_id = cli("runs", "create", "--experiment", "tmp", "-q").stdout.strip()
    cli("experiments", "delete", "tmp")
    result = cli("gc", "--json").json()
    assert result["runs"] == [run_id] and result["experiments"] == ["1"]
    assert not (store_root / "experiments" / "1").exists()


def test_index_rebuild(cli, run_id: str, store_root: Path) -> None:
    assert cli("runs", "list", "-q").exit_code == 0  # a query makes the index
    (store_root / "index.db").unlink()
    result = cli("index", "rebuild")
    assert result.exit_code == 0 and result.stderr.startswith("Indexed 1 run(s)")
    assert cli("runs", "list", "-q").stdout.strip() == run_id


def test_init_is_idempotent(cli, workdir: Path) -> None:
    assert "Created an mlcli store" in cli("init").stderr
    assert "Found an mlcli store" in cli("init").stderr
    assert not (workdir / ".gitignore").exists()  # not a git work tree


def test_store_option_works_before_and_after_the_subcommand(cli, tmp_path: Path, workdir) -> None:
    elsewhere = tmp_path / "elsewhere" / ".mlruns"
    assert cli("--store", str(elsewhere), "runs", "create", "-q").exit_code == 0
    assert len(cli("runs", "list", "-q", "--store", str(elsewhere)).stdout.split()) == 1
    assert not (workdir / ".mlruns").exists()


def test_hoisting_global_options() -> None:
    assert hoist_global_options(["runs", "list", "--store", "x", "-q"]) == [
        "--store",
        "x",
        "runs",
        "list",
        "-q",
    ]
    assert hoist_global_options(["log", "tag", "k", "--debug", "--", "--store"]) == [
        "--debug",
        "log",
        "tag",
        "k",
        "--",
        "--store",
    ]
    assert hoist_global_options(["runs", "list", "--store=y"]) == ["--store=y", "runs", "list"]


def test_usage_errors_are_one_line(cli, store_root: Path) -> None:
    result = cli("runs", "list", "--bogus")
    assert result.exit_code == 2
    assert result.stderr == "mlcli: error: No such option: --bogus (see 'mlcli runs list --help')\n"


def test_debug_shows_the_traceback(cli, store_root: Path) -> None:
    from mlcli.errors import NotFoundError

    with pytest.raises(NotFoundError):
        cli("--debug", "runs", "show", "ffffffff")


def test_version(cli) -> None:
    from mlcli.version import __version__

    assert cli("--version").stdout == f"mlcli {__version__}\n"
