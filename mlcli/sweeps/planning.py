"""Checking a sweep before anything runs: the options, the sampler, and every value
a trial would get against the entry point's parameters (the project is fetched once,
and then planned as ``mlcli run`` plans its first trial).

``plan_sweep`` touches no store and starts nothing, so that a mistake in any
trial's parameters fails the whole sweep before its first trial, and so that
``--dry-run`` can show the trials.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.projects.fetch import fetch_project
from mlcli.projects.parameters import check_value, resolve_parameters
from mlcli.projects.runner import RunPlan, plan_run
from mlcli.projects.spec import EntryPoint, Project, load_project
from mlcli.store import validate_param_value
from mlcli.sweeps.choice import SweepRequest, check_sweep_options
from mlcli.sweeps.objective import Objective, parse_objective
from mlcli.sweeps.samplers import Sampler, Trial, sampler_class
from mlcli.sweeps.spec import SweepSpec

MAX_PARALLEL = 256


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: the project run it repeats, the sampler, the objective."""

    request: SweepRequest
    run_plan: RunPlan
    sampler: Sampler
    objective: Objective | None

    @property
    def total(self) -> int:
        return self.sampler.total

    @property
    def adaptive(self) -> bool:
        """Whether trials are chosen as results come in (Optuna)."""
        return self.sampler.planned() is None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``mlcli run --dry-run --json``."""
        objective = self.objective
        return {
            "sampler": self.sampler.name,
            "seed": self.sampler.seed,
            "total": self.total,
            "parallel": self.request.parallel,
            "objective": objective.metric if objective else None,
            "direction": objective.direction if objective else None,
            "adaptive": self.adaptive,
            "trials": [{"trial": t.number, "params": t.params} for t in self.preview()],
        }

    def preview(self) -> list[Trial]:
        """The trials that would run; an adaptive sampler's show their domains."""
        planned = self.sampler.planned()
        if planned is not None:
            return planned
        spec = self.request.spec
        shown = spec.trial({name: d.expression for name, d in spec.swept.items()})
        return [Trial(number, dict(shown)) for number in range(1, self.total + 1)]


def plan_sweep(request: SweepRequest) -> SweepPlan:
    """Check ``request``; every error is raised before anything is created or run."""
    check_sweep_options(request)
    spec = request.spec
    if not spec.is_sweep:
        raise InvalidInputError(
            "a sweep needs a list or a distribution as a -P value, e.g. -P 'lr=[0.1,0.01]'"
        )
    if not 1 <= request.parallel <= MAX_PARALLEL:
        raise InvalidInputError(f"--parallel is from 1 to {MAX_PARALLEL}, not {request.parallel}")
    objective = parse_objective(request.objective, request.direction)
    name = request.sampler or spec.default_sampler
    kind = sampler_class(name)
    seed = request.seed
    if seed is not None and not kind.seeded:
        raise InvalidInputError(f"--seed is for random and optuna sweeps; a {name} sweep has none")
    if seed is None and kind.seeded:
        seed = secrets.randbelow(1_000_000)
    sampler = kind(spec, trials=request.trials, seed=seed, objective=objective)
    planned = sampler.planned()
    first = planned[0].params if planned else _representative(spec)
    source = fetch_project(request.run.uri, request.run.version)
    project = load_project(source.directory)
    entry = project.entry_point(request.run.entry_point)
    _check_values(spec, project, entry, first, planned)
    run_plan = plan_run(replace(request.run, parameters=first), source=source)
    return SweepPlan(request, run_plan, sampler, objective)


def _representative(spec: SweepSpec) -> dict[str, str]:
    return spec.trial({name: d.candidates()[0] for name, d in spec.swept.items()})


def _check_values(
    spec: SweepSpec,
    project: Project,
    entry: EntryPoint,
    first: dict[str, str],
    planned: list[Trial] | None,
) -> None:
    """Every value a swept parameter takes (or, for Optuna, its bounds and choices)
    suits the parameter, then the first trial's parameters pass the entry point's
    checks (required ones, fixed values)."""
    for name, domain in spec.swept.items():
        declared = entry.parameter(name)
        if declared is not None and declared.type == "int" and domain.decimal:
            raise InvalidInputError(
                f"-P {name}={domain.expression} draws decimal numbers, but {name!r} is an "
                "int parameter: use randint(low, high)"
            )
        values = [t.params[name] for t in planned] if planned else domain.candidates()
        for value in dict.fromkeys(values):
            try:
                validate_param_value(name, value)
                if declared is not None:
                    check_value(declared, value, project.directory)
            except InvalidInputError as exc:
                raise InvalidInputError(
                    f"{exc.message} (a value of the sweep; nothing was run)"
                ) from None
    resolve_parameters(entry.parameters, first, project.directory, entry.name)
