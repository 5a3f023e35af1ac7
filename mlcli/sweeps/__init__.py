"""Sweeps: hyperparameter search with ``mlcli run``, as a parent run and child runs.

    from mlcli.projects import RunRequest
    from mlcli.sweeps import SweepRequest, parse_sweep, run_sweep

    spec = parse_sweep({"alpha": "[0.1,0.05,0.01]", "epochs": "[20,50]"})
    result = run_sweep(SweepRequest(RunRequest(uri="examples/quickstart",
                                               env_manager="local"),
                                    spec, objective="metrics.final_loss", parallel=2))
    print(result.run_id, result.status, result.best)

Modules, one idea each: ``quoting`` (quoted values), ``expressions`` (reading a
``-P`` value), ``domains`` (lists and distributions), ``spec`` (every ``-P`` of a
sweep), ``objective`` (the metric to rank by), ``samplers`` (grid, random) and
``optuna_sampler``, ``planning`` (every check before anything runs), ``command``
(a trial's ``mlcli run`` command line), ``process`` (one trial as a process),
``scheduler`` (trials in parallel), ``parent`` (the parent run's tags and best
trial), ``runner`` (the whole sweep), ``results`` (a sweep's trials, best first),
``tags`` (the names recorded).
The command-line use is described in ``docs/sweeps.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Re-exported on first use: ``mlcli run`` reads every -P value with ``spec`` (a
# plain run too, and each trial of a sweep) and should not pay for the rest.
_LAZY: dict[str, str] = {
    "Objective": "mlcli.sweeps.objective",
    "parse_objective": "mlcli.sweeps.objective",
    "BestTrial": "mlcli.sweeps.parent",
    "SweepPlan": "mlcli.sweeps.planning",
    "SweepRequest": "mlcli.sweeps.choice",
    "plan_sweep": "mlcli.sweeps.planning",
    "wants_sweep": "mlcli.sweeps.choice",
    "TrialOutcome": "mlcli.sweeps.process",
    "SweepTrials": "mlcli.sweeps.results",
    "sweep_trials": "mlcli.sweeps.results",
    "SweepResult": "mlcli.sweeps.runner",
    "run_sweep": "mlcli.sweeps.runner",
    "SAMPLERS": "mlcli.sweeps.samplers",
    "Trial": "mlcli.sweeps.samplers",
    "SweepSpec": "mlcli.sweeps.spec",
    "parse_sweep": "mlcli.sweeps.spec",
}

__all__ = [
    "SAMPLERS",
    "BestTrial",
    "Objective",
    "SweepPlan",
    "SweepRequest",
    "SweepResult",
    "SweepSpec",
    "SweepTrials",
    "Trial",
    "TrialOutcome",
    "parse_objective",
    "parse_sweep",
    "plan_sweep",
    "run_sweep",
    "sweep_trials",
    "wants_sweep",
]

if TYPE_CHECKING:
    from mlcli.sweeps.choice import SweepRequest, wants_sweep
    from mlcli.sweeps.objective import Objective, parse_objective
    from mlcli.sweeps.parent import BestTrial
    from mlcli.sweeps.planning import SweepPlan, plan_sweep
    from mlcli.sweeps.process import TrialOutcome
    from mlcli.sweeps.results import SweepTrials, sweep_trials
    from mlcli.sweeps.runner import SweepResult, run_sweep
    from mlcli.sweeps.samplers import SAMPLERS, Trial
    from mlcli.sweeps.spec import SweepSpec, parse_sweep


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcli.sweeps' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
