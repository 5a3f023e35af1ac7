"""Samplers and objectives, in process: which trials each sampler picks."""

from __future__ import annotations

import pytest

from mlcli.errors import InvalidInputError
from mlcli.sweeps.objective import Objective, parse_objective
from mlcli.sweeps.samplers import GridSampler, RandomSampler, Sampler, Trial, sampler_class
from mlcli.sweeps.spec import parse_sweep


def _all(sampler: Sampler) -> list[Trial]:
    trials = []
    while (trial := sampler.ask()) is not None:
        trials.append(trial)
    return trials


def test_a_grid_is_the_cartesian_product_last_parameter_fastest() -> None:
    spec = parse_sweep({"lr": "[0.1,0.01,0.001]", "note": "x", "depth": "[3,5]"})
    sampler = GridSampler(spec, trials=None, seed=None, objective=None)
    trials = _all(sampler)
    assert sampler.total == 6 and [t.number for t in trials] == [1, 2, 3, 4, 5, 6]
    assert [(t.params["lr"], t.params["depth"]) for t in trials] == [
        ("0.1", "3"),
        ("0.1", "5"),
        ("0.01", "3"),
        ("0.01", "5"),
        ("0.001", "3"),
        ("0.001", "5"),
    ]
    assert all(
        list(t.params) == ["lr", "note", "depth"] and t.params["note"] == "x" for t in trials
    )
    assert sampler.ask() is None
    choice = GridSampler(parse_sweep({"a": "choice(1,2)"}), trials=None, seed=None, objective=None)
    assert choice.total == 2


def test_a_grid_that_is_too_large_is_refused() -> None:
    spec = parse_sweep({name: "[" + ",".join(map(str, range(20))) + "]" for name in "abcd"})
    with pytest.raises(InvalidInputError, match="160000 trials is more than 100000"):
        GridSampler(spec, trials=None, seed=None, objective=None)


def test_a_random_search_depends_only_on_its_seed() -> None:
    spec = parse_sweep(
        {"lr": "loguniform(1e-4,1)", "n": "randint(1,3)", "act": "choice(relu,tanh)", "d": "[1,2]"}
    )

    def params(seed: int) -> list[dict[str, str]]:
        return [t.params for t in _all(RandomSampler(spec, trials=400, seed=seed, objective=None))]

    first = params(7)
    assert first == params(7) and first != params(8)
    lrs = [float(p["lr"]) for p in first]
    assert all(1e-4 <= lr <= 1 for lr in lrs)
    below = sum(lr < 1e-2 for lr in lrs) / len(lrs)
    assert 0.4 < below < 0.6, "loguniform: half the draws in each half of the log range"
    assert {p["n"] for p in first} == {"1", "2", "3"}, "randint includes both ends"
    assert {p["act"] for p in first} == {"relu", "tanh"} and {p["d"] for p in first} == {"1", "2"}


def test_sampled_floats_are_short_and_read_back_to_the_value_passed() -> None:
    spec = parse_sweep({"lr": "uniform(0,1)"})
    for trial in _all(RandomSampler(spec, trials=50, seed=1, objective=None)):
        text = trial.params["lr"]
        assert format(float(text), ".6g") == text  # six significant digits, exactly


def test_optuna_asks_tells_and_is_reproducible_with_a_seed() -> None:
    pytest.importorskip("optuna")
    spec = parse_sweep({"x": "uniform(-3,3)", "k": "randint(1,4)", "c": "[a,b]", "fixed": "1"})
    kind = sampler_class("optuna")

    def run(seed: int) -> list[dict[str, str]]:
        sampler = kind(spec, trials=14, seed=seed, objective=Objective("loss", maximize=False))
        asked = []
        while (trial := sampler.ask()) is not None:
            asked.append(trial.params)
            x = float(trial.params["x"])
            sampler.tell(trial, None if trial.number == 3 else (x - 1) ** 2)
        assert sampler.total == 14 and len(asked) == 14
        return asked

    first = run(5)
    assert first == run(5)
    assert all(-3 <= float(p["x"]) <= 3 and p["fixed"] == "1" for p in first)
    assert {p["c"] for p in first} <= {"a", "b"} and {p["k"] for p in first} <= {"1", "2", "3", "4"}


def test_optuna_needs_an_objective_and_a_trial_count() -> None:
    pytest.importorskip("optuna")
    kind = sampler_class("optuna")
    spec = parse_sweep({"x": "uniform(0,1)"})
    with pytest.raises(InvalidInputError, match="needs --objective"):
        kind(spec, trials=3, seed=1, objective=None)
    with pytest.raises(InvalidInputError, match="needs --trials N"):
        kind(spec, trials=None, seed=1, objective=Objective("loss", False))


@pytest.mark.parametrize(
    ("text", "direction", "expected"),
    [
        ("metrics.final_loss", None, Objective("final_loss", maximize=False)),
        ("accuracy", None, Objective("accuracy", maximize=True)),
        ("metric.val.rmse", None, Objective("val.rmse", maximize=False)),
        ("val.acc", None, Objective("val.acc", maximize=True)),
        ("loss", "MAXIMIZE", Objective("loss", maximize=True)),
        ("acc", "minimize", Objective("acc", maximize=False)),
        (None, None, None),
    ],
)
def test_objectives(text: str | None, direction: str | None, expected: Objective | None) -> None:
    assert parse_objective(text, direction) == expected


def test_the_best_metric_of_an_objective() -> None:
    objective = Objective("final_loss", maximize=False)
    assert objective.best_metric == "best_final_loss" and objective.direction == "minimize"
