"""The tags, metric and artifact a sweep records (part of the contract: see docs/sweeps.md).

On the parent run, set when it is created: the sampler, the ``-P`` values as given,
the seed, the number of trials, the parallelism and the objective. When the sweep
ends: the best trial (``best_run_id``, the name users script against, and the same
id as the system tag ``mlcli.sweep.bestRunId``), its number, and the metric
``best_<KEY>``. On each trial's run: its number (``mlcli.parentRunId`` is set by the
store, as for every child run).
"""

from __future__ import annotations

from mlcli import system_tags

SAMPLER_TAG = system_tags.SWEEP_SAMPLER
SPEC_TAG = system_tags.SWEEP_SPEC
SEED_TAG = system_tags.SWEEP_SEED
TRIALS_TAG = system_tags.SWEEP_TRIALS
PARALLEL_TAG = system_tags.SWEEP_PARALLEL
OBJECTIVE_TAG = system_tags.SWEEP_OBJECTIVE
DIRECTION_TAG = system_tags.SWEEP_DIRECTION
BEST_RUN_TAG = "best_run_id"
BEST_RUN_SYSTEM_TAG = system_tags.SWEEP_BEST_RUN_ID
BEST_TRIAL_TAG = system_tags.SWEEP_BEST_TRIAL
TRIAL_TAG = system_tags.SWEEP_TRIAL
TRIALS_ARTIFACT = "sweep/trials.json"

__all__ = [
    "BEST_RUN_SYSTEM_TAG",
    "BEST_RUN_TAG",
    "BEST_TRIAL_TAG",
    "DIRECTION_TAG",
    "OBJECTIVE_TAG",
    "PARALLEL_TAG",
    "SAMPLER_TAG",
    "SEED_TAG",
    "SPEC_TAG",
    "TRIALS_ARTIFACT",
    "TRIALS_TAG",
    "TRIAL_TAG",
]
