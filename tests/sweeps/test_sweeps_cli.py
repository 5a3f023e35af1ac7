"""Sweeps through ``mlcli run``, end to end: the real example project, real trial
processes, a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweephelpers import git_commit_all, store_runs, sweep_runs

from mlcli.store import RunStatus
from mlcli.tracking import TrackingClient

LOCAL = ("--env-manager", "local")


@pytest.mark.slow
@pytest.mark.parametrize(("direction", "select"), [("maximize", "--max"), ("minimize", "--min")])
def test_a_grid_runs_every_combination_and_records_the_best(
    cli, store_root: Path, example: Path, direction: str, select: str
) -> None:
    result = cli(
        "run",
        str(example),
        *LOCAL,
        "-P",
        "alpha=[0.1,0.05,0.01]",
        "-P",
        "epochs=[20,50]",
        "--parallel",
        "2",
        "--objective",
        "metrics.final_loss",
        "--direction",
        direction,
    )
    assert result.exit_code == 0, result.stderr
    parent, children = sweep_runs(store_root)
    assert result.stdout.splitlines()[-1] == parent.run_id
    assert parent.info.status == RunStatus.FINISHED
    assert [r.info.status for r in children] == [RunStatus.FINISHED] * 6
    assert [(r.data.params["alpha"], r.data.params["epochs"]) for r in children] == [
        ("0.1", "20"),
        ("0.1", "50"),
        ("0.05", "20"),
        ("0.05", "50"),
        ("0.01", "20"),
        ("0.01", "50"),
    ]
    for number, child in enumerate(children, start=1):
        assert child.data.tags["mlcli.parentRunId"] == parent.run_id
        assert child.info.run_name == f"{parent.info.run_name}-{number}"
        assert child.data.params["label"] == "baseline"  # the defaults, as in any run
        assert child.data.tags["mlcli.project.entryPoint"] == "main"
        log = TrackingClient(store_root).artifact_path(child.run_id, "logs/stdout.txt")
        assert f"after {child.data.params['epochs']} epochs" in log.read_text()
    tags = parent.data.tags
    assert tags["mlcli.sweep.sampler"] == "grid"
    assert json.loads(tags["mlcli.sweep.spec"]) == {
        "alpha": "[0.1,0.05,0.01]",
        "epochs": "[20,50]",
    }
    assert tags["mlcli.sweep.trials"] == "6" and tags["mlcli.sweep.parallel"] == "2"
    assert "mlcli.sweep.seed" not in tags

    chosen = cli(
        "select",
        select,
        "metrics.final_loss",
        "--filter",
        f"tags.mlcli.parentRunId = '{parent.run_id}'",
    )
    assert chosen.exit_code == 0, chosen.stderr
    assert tags["best_run_id"] == chosen.stdout.strip()
    assert tags["mlcli.sweep.bestRunId"] == tags["best_run_id"]
    best = next(r for r in children if r.run_id == tags["best_run_id"])
    assert tags["mlcli.sweep.bestTrial"] == best.data.tags["mlcli.sweep.trial"]
    values = [r.data.metrics["final_loss"] for r in children]
    assert best.data.metrics["final_loss"] == (max if direction == "maximize" else min)(values)
    assert parent.data.metrics["best_final_loss"] == best.data.metrics["final_loss"]

    compared = cli("compare", "--parent", parent.run_id[:8], "--json")
    assert compared.exit_code == 0, compared.stderr
    rows = compared.json()
    assert rows[0]["run_id"] == tags["best_run_id"]
    ranked = [row["metrics.final_loss"] for row in rows]
    assert ranked == sorted(ranked, reverse=direction == "maximize")
    assert len(rows) == 6


@pytest.mark.slow
def test_a_seeded_random_search_picks_the_same_trials_twice(
    cli, store_root: Path, example: Path
) -> None:
    args = [
        "run",
        str(example),
        *LOCAL,
        "-P",
        "alpha=loguniform(1e-3,1e-1)",
        "-P",
        "epochs=randint(5,30)",
        "-P",
        "label=choice(a,b)",
        "--trials",
        "8",
        "--seed",
        "7",
        "--parallel",
        "2",
        "--json",
    ]
    first, second = cli(*args), cli(*args)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    picked = [[t["params"] for t in r.json()["trials"]] for r in (first, second)]
    assert picked[0] == picked[1]
    assert len({json.dumps(p, sort_keys=True) for p in picked[0]}) == 8
    for params in picked[0]:
        assert 1e-3 <= float(params["alpha"]) <= 1e-1
        assert 5 <= int(params["epochs"]) <= 30
        assert params["label"] in ("a", "b")
    report = first.json()
    assert report["sampler"] == "random" and report["seed"] == 7
    assert report["best_run_id"] is None  # no --objective: nothing ranked
    parent = TrackingClient(store_root).get_run(report["run_id"])
    assert parent.data.tags["mlcli.sweep.seed"] == "7"
    assert parent.data.tags["mlcli.sweep.sampler"] == "random"
    assert "best_run_id" not in parent.data.tags
    assert "No --objective" in first.stderr
    # The runs hold what the report says.
    client = TrackingClient(store_root)
    for trial in report["trials"]:
        run = client.get_run(trial["run_id"])
        assert run.info.status == RunStatus.FINISHED
        assert {k: run.data.params[k] for k in trial["params"]} == trial["params"]


def test_a_dry_run_shows_the_trials_and_runs_nothing(cli, workdir: Path, example: Path) -> None:
    grid = cli(
        "run", str(example), *LOCAL, "-P", "alpha=[0.1,0.01]", "-P", "epochs=[5,9]", "--dry-run"
    )
    assert grid.exit_code == 0, grid.stderr
    assert grid.stdout.splitlines() == [
        "TRIAL  alpha  epochs",
        "1      0.1    5",
        "2      0.1    9",
        "3      0.01   5",
        "4      0.01   9",
    ]
    assert "4 trial(s), grid; nothing was run" in grid.stderr
    args = ["run", str(example), *LOCAL, "-P", "alpha=uniform(0.01,0.1)", "--trials", "3"]
    seeded = cli(*args, "--seed", "11", "--dry-run", "--json").json()
    assert seeded["sampler"] == "random" and seeded["seed"] == 11 and seeded["total"] == 3
    assert [t["trial"] for t in seeded["trials"]] == [1, 2, 3]
    assert seeded == cli(*args, "--seed", "11", "--dry-run", "--json").json()
    unseeded = cli(*args, "--dry-run")
    assert "pass --seed" in unseeded.stderr
    assert not (workdir / ".mlruns").exists()


def test_a_dry_run_of_an_optuna_sweep_shows_the_domains(cli, workdir: Path, example: Path) -> None:
    pytest.importorskip("optuna")
    result = cli(
        "run",
        str(example),
        *LOCAL,
        "-P",
        "alpha=loguniform(1e-4,1e-1)",
        "-P",
        "epochs=[10,20]",
        "--sweep",
        "optuna",
        "--trials",
        "2",
        "--objective",
        "final_loss",
        "--dry-run",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    plan = result.json()
    assert plan["adaptive"] is True and plan["direction"] == "minimize"
    assert plan["trials"][0]["params"] == {"alpha": "loguniform(0.0001,0.1)", "epochs": "[10,20]"}
    assert not (workdir / ".mlruns").exists()


@pytest.mark.slow
def test_an_optuna_sweep_runs_and_records_its_best_trial(
    cli, store_root: Path, example: Path
) -> None:
    pytest.importorskip("optuna")
    result = cli(
        "run",
        str(example),
        *LOCAL,
        "-P",
        "alpha=loguniform(1e-3,2e-1)",
        "-P",
        "epochs=randint(5,40)",
        "--sweep",
        "optuna",
        "--trials",
        "10",
        "--seed",
        "3",
        "--objective",
        "metrics.final_loss",
        "--direction",
        "minimize",
        "--parallel",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = result.json()
    parent, children = sweep_runs(store_root)
    assert report["run_id"] == parent.run_id and report["sampler"] == "optuna"
    assert len(children) == 10 and all(r.info.status == RunStatus.FINISHED for r in children)
    best_value = min(r.data.metrics["final_loss"] for r in children)
    assert report["best_value"] == best_value
    assert parent.data.metrics["best_final_loss"] == best_value
    best = TrackingClient(store_root).get_run(parent.data.tags["best_run_id"])
    assert best.data.metrics["final_loss"] == best_value
    assert parent.data.tags["mlcli.sweep.direction"] == "minimize"
    artifact = TrackingClient(store_root).artifact_path(parent.run_id, "sweep/trials.json")
    assert [t["trial"] for t in json.loads(artifact.read_text())] == list(range(1, 11))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[0.1,0.01", "-P alpha=[0.1,0.01: unclosed '['; to pass it as text, quote it"),
        ("[]", "-P alpha=[]: the list is empty"),
        ("[0.1,,0.2]", "an empty item"),
        ("[0.1,0.1]", "'0.1' is listed twice"),
        ("normal(0,1)", "unknown distribution 'normal' (valid: uniform, loguniform, randint"),
        ("uniform(0.1)", "uniform takes 2 arguments, not 1: uniform(low, high)"),
        ("loguniform(0,1)", "low must be above 0"),
        ("uniform(a,b)", "'a' is not a number"),
        ("uniform(1,0)", "low must be less than high"),
        ("randint(1.5,3)", "'1.5' is not an integer"),
        ("[0.1]x", "unexpected text after ']'"),
    ],
)
def test_a_malformed_sweep_expression_is_a_clear_error_and_creates_nothing(
    cli, workdir: Path, example: Path, value: str, message: str
) -> None:
    result = cli("run", str(example), *LOCAL, "-P", f"alpha={value}", "--trials", "2")
    assert result.exit_code == 2
    assert result.stderr.startswith("mlcli: error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (workdir / ".mlruns").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-P", "epochs=[10,abc]"], "invalid value 'abc' for int parameter 'epochs'"),
        (["-P", "epochs=uniform(1,9)", "--trials", "2"], "use randint(low, high)"),
        (["-P", "alpha=[0.1,0.2]", "--trials", "3"], "a grid runs every combination (2 here)"),
        (["-P", "alpha=uniform(0.1,0.2)"], "a random sweep needs --trials N"),
        (["-P", "alpha=[0.1,0.2]", "--seed", "3"], "--seed is for random and optuna sweeps"),
        (["-P", "alpha=[0.1,0.2]", "--sweep", "bayes"], "unknown sweep sampler 'bayes'"),
        (
            ["-P", "alpha=uniform(0.1,0.2)", "--sweep", "grid"],
            "a grid sweep takes lists of values",
        ),
        (["-P", "alpha=[0.1,0.2]", "--direction", "up", "--objective", "x"], "--direction is"),
        (["-P", "alpha=[0.1,0.2]", "--direction", "maximize"], "--direction needs --objective"),
        (["-P", "alpha=[0.1,0.2]", "--objective", "params.alpha"], "--objective takes a metric"),
        (["-P", "alpha=[0.1,0.2]", "--parallel", "0"], "--parallel is from 1 to"),
        (["-P", "alpha=0.1", "--trials", "3"], "--trials is for sweeps"),
        (["-P", "alpha=0.1", "--parallel", "2"], "--parallel is for sweeps"),
        (["--sweep", "grid"], "a sweep needs a list or a distribution"),
        (["-e", "nope", "-P", "alpha=[0.1,0.2]"], "nope"),
    ],
)
def test_an_invalid_sweep_fails_before_any_trial(
    cli, workdir: Path, example: Path, args: list[str], message: str
) -> None:
    result = cli("run", str(example), *LOCAL, *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert not (workdir / ".mlruns").exists()


def test_an_optuna_sweep_needs_an_objective(cli, workdir: Path, example: Path) -> None:
    pytest.importorskip("optuna")
    args = ["-P", "alpha=uniform(0.1,0.2)", "--sweep", "optuna", "--trials", "2"]
    result = cli("run", str(example), *LOCAL, *args)
    assert result.exit_code == 2 and "needs --objective metrics.KEY" in result.stderr


def test_a_quoted_value_is_passed_as_it_is(
    cli, store_root: Path, workdir: Path, example: Path
) -> None:
    result = cli(
        "run", str(example), *LOCAL, "-P", "epochs=3", "-P", 'label="[64,32]"', "-P", "alpha='0.1'"
    )
    assert result.exit_code == 0, result.stderr
    (run,) = store_runs(store_root)
    assert run.data.params["label"] == "[64,32]" and run.data.params["alpha"] == "0.1"
    assert "[64,32]: w=" in result.stdout


@pytest.mark.slow
def test_list_items_may_be_quoted_or_bracketed(
    cli, store_root: Path, workdir: Path, example: Path
) -> None:
    result = cli(
        "run",
        str(example),
        *LOCAL,
        "-P",
        "epochs=2",
        "-P",
        """label=["a,b", [64,32], 'it\\'s']""",
        "--parallel",
        "3",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    parent, children = sweep_runs(store_root)
    assert result.stdout.strip() == parent.run_id
    assert [r.data.params["label"] for r in children] == ["a,b", "[64,32]", "it's"]


@pytest.mark.slow
def test_every_trial_of_a_git_project_runs_the_commit_the_sweep_resolved(
    cli, store_root: Path, trials_project: Path
) -> None:
    commit = git_commit_all(trials_project)
    result = cli(
        "run",
        str(trials_project),
        *LOCAL,
        "--version",
        "main",
        "-P",
        "x=[1,3]",
        "-P",
        "note=n",
        "--run-name",
        "tune",
        "--experiment",
        "demo",
        "--parallel",
        "2",
        "--objective",
        "score",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    parent, children = sweep_runs(store_root)
    assert parent.info.run_name == "tune" and parent.experiment_name == "demo"
    assert parent.data.tags["mlcli.project.version"] == "main"
    assert parent.data.tags["mlcli.source.git.commit"] == commit
    assert [r.info.run_name for r in children] == ["tune-1", "tune-2"]
    for child in children:
        assert child.experiment_name == "demo"
        assert child.data.tags["mlcli.source.git.commit"] == commit
        assert child.data.tags["mlcli.project.version"] == commit
        assert child.data.tags["mlcli.source.name"] == str(trials_project)
    assert parent.data.tags["best_run_id"] == children[1].run_id  # score 3 > 1


def test_the_python_api_refuses_the_options_mlcli_run_refuses(workdir: Path, example: Path) -> None:
    """The run-or-sweep rules live in the core: the Python API gets them too."""
    from mlcli.errors import InvalidInputError
    from mlcli.projects import RunRequest
    from mlcli.sweeps import SweepRequest, parse_sweep, plan_sweep, run_sweep, wants_sweep

    run = RunRequest(uri=str(example), env_manager="local")
    swept, fixed = parse_sweep({"alpha": "[0.1,0.2]"}), parse_sweep({"alpha": "0.1"})
    assert wants_sweep(SweepRequest(run, swept)) is True
    assert wants_sweep(SweepRequest(run, fixed)) is False
    with pytest.raises(InvalidInputError, match=r"^--trials is for sweeps: give a list"):
        wants_sweep(SweepRequest(run, fixed, trials=3))
    with pytest.raises(InvalidInputError, match=r"^--fail-fast is for sweeps"):
        wants_sweep(SweepRequest(run, fixed, fail_fast=True))
    compat = SweepRequest(
        RunRequest(uri=str(example), env_manager="local", mlflow_compat=True), swept
    )
    for call in (wants_sweep, plan_sweep, run_sweep):
        with pytest.raises(InvalidInputError, match=r"^--mlflow-compat does not reach a sweep"):
            call(compat)
    assert not (workdir / ".mlruns").exists()
