"""``--sweep optuna``: Optuna's TPE sampler, through its ask-and-tell interface.

Optuna is an optional dependency, imported here only. Each trial is asked for when
a slot is free and told its objective value when its run ends, so trials running
at once are chosen from the results finished so far. With ``--parallel 1`` a seed
gives the same trials for the same results.
"""

from __future__ import annotations

from typing import Any

from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.sweeps.objective import Objective
from mlcli.sweeps.samplers import Sampler, Trial, required_trials
from mlcli.sweeps.spec import SweepSpec


class OptunaSampler(Sampler):
    name = "optuna"

    def __init__(
        self, spec: SweepSpec, *, trials: int | None, seed: int | None, objective: Objective | None
    ) -> None:
        super().__init__(spec, trials=trials, seed=seed, objective=objective)
        if objective is None:
            raise InvalidInputError(
                "--sweep optuna needs --objective metrics.KEY: the metric it optimises"
            )
        self._total = required_trials(trials, self.name)
        self._optuna = _import_optuna()
        self._optuna.logging.set_verbosity(self._optuna.logging.WARNING)
        self._study = self._optuna.create_study(
            direction=objective.direction,
            sampler=self._optuna.samplers.TPESampler(seed=seed),
        )
        self._asked = 0
        self._pending: dict[int, Any] = {}

    @property
    def total(self) -> int:
        return self._total

    def ask(self) -> Trial | None:
        if self._asked >= self._total:
            return None
        handle = self._study.ask()
        self._asked += 1
        chosen = {name: domain.suggest(handle, name) for name, domain in self.spec.swept.items()}
        trial = Trial(self._asked, self.spec.trial(chosen))
        self._pending[trial.number] = handle
        return trial

    def tell(self, trial: Trial, value: float | None) -> None:
        handle = self._pending.pop(trial.number)
        if value is None:
            self._study.tell(handle, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(handle, value)


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise EnvironmentFailure(
            "--sweep optuna needs the optuna package: pip install optuna"
        ) from None
    return optuna
