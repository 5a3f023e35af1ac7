"""The tags, metric and artifact a sweep records (part of the contract: see docs/sweeps.md).

On the parent run, set when it is created: the sampler, the ``-P`` values as given,
the seed, the number of trials, the parallelism and the objective. When the sweep
ends: the best trial (``best_run_id``, the name users script against, and the same
id as the system tag ``mlcli.sweep.bestRunId``), its number, and the metric
``best_<KEY>``. On each trial's run: its number (``mlcli.parentRunId`` is set by the
store, as for every child run).
"""

from __future__ import annotations

from mlcli.store.runs import PARENT_RUN_TAG

SAMPLER_TAG = "mlcli.sweep.sampler"
SPEC_TAG = "mlcli.sweep.spec"
SEED_TAG = "mlcli.sweep.seed"
TRIALS_TAG = "mlcli.sweep.trials"
PARALLEL_TAG = "mlcli.sweep.parallel"
OBJECTIVE_TAG = "mlcli.sweep.objective"
DIRECTION_TAG = "mlcli.sweep.direction"
BEST_RUN_TAG = "best_run_id"
BEST_RUN_SYSTEM_TAG = "mlcli.sweep.bestRunId"
BEST_TRIAL_TAG = "mlcli.sweep.bestTrial"
TRIAL_TAG = "mlcli.sweep.trial"
TRIALS_ARTIFACT = "sweep/trials.json"

__all__ = [
    "BEST_RUN_SYSTEM_TAG",
    "BEST_RUN_TAG",
    "BEST_TRIAL_TAG",
    "DIRECTION_TAG",
    "OBJECTIVE_TAG",
    "PARALLEL_TAG",
    "PARENT_RUN_TAG",
    "SAMPLER_TAG",
    "SEED_TAG",
    "SPEC_TAG",
    "TRIALS_ARTIFACT",
    "TRIALS_TAG",
    "TRIAL_TAG",
]
