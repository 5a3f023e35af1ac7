"""A run or a sweep: which one a request asks for, and the options that only one of
them takes. ``mlcli run`` and the Python API (:func:`plan_sweep`, :func:`run_sweep`)
share these rules, so neither silently ignores an option."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError

if TYPE_CHECKING:
    from mlcli.projects.runner import RunRequest
    from mlcli.sweeps.spec import SweepSpec


@dataclass(frozen=True)
class SweepRequest:
    """What ``mlcli run`` was asked to sweep. ``run`` says what each trial runs (its
    ``parameters`` are ignored: ``spec`` has them)."""

    run: RunRequest
    spec: SweepSpec
    sampler: str | None = None
    trials: int | None = None
    seed: int | None = None
    objective: str | None = None
    direction: str | None = None
    parallel: int = 1
    fail_fast: bool = False


def wants_sweep(request: SweepRequest, *, planning: bool = False) -> bool:
    """Whether ``request`` is a sweep: a list or a distribution as a -P value, a named
    sampler, or ``planning`` (``--dry-run``). Otherwise it is one project run, and an
    option that only a sweep takes is an InvalidInputError naming it."""
    if request.spec.is_sweep or request.sampler is not None or planning:
        check_sweep_options(request)
        return True
    given = [
        name
        for name, value in (
            ("--trials", request.trials),
            ("--seed", request.seed),
            ("--objective", request.objective),
            ("--direction", request.direction),
            ("--parallel", request.parallel if request.parallel != 1 else None),
            ("--fail-fast", request.fail_fast or None),
        )
        if value is not None
    ]
    if given:
        raise InvalidInputError(
            f"{given[0]} is for sweeps: give a list or a distribution as a -P value, "
            "e.g. -P 'lr=[0.1,0.01]'"
        )
    return False


def check_sweep_options(request: SweepRequest) -> None:
    """What a sweep cannot take from its run request."""
    if request.run.mlflow_compat:
        raise InvalidInputError(
            "--mlflow-compat does not reach a sweep's trials: put 'mlflow_compat: true' "
            "in the MLproject instead"
        )
