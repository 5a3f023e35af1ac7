"""The job that ends a detached sweep (``mlcli run ... --backend slurm --detach``):
``python -m mlcli.clusters.slurm_sweep_end PARENT PLAN``, submitted with
``--dependency=afterany:<the array>`` so that it starts once every task has ended.
It ends each trial run its task left live from Slurm's state of the task, records
the best trial and ``sweep/trials.json``, and ends the parent, as the following
``mlcli run`` would have (``slurm_sweep_follow``); the sweep's facts come from the
parent's tags and the plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlcli.clusters.slurm_sweep import ARRAY_TAG, ArraySweep, ArrayTrial
from mlcli.clusters.slurm_sweep_follow import follow_array
from mlcli.clusters.sweep_ending import SweepFacts
from mlcli.errors import InvalidInputError, MlcliError
from mlcli.sweeps.samplers import Trial
from mlcli.tracking.client import TrackingClient


def end_sweep(client: TrackingClient, parent_id: str, plan_file: Path) -> str:
    """End the sweep ``parent_id`` whose array has ended; the parent's status."""
    parent = client.get_run(parent_id)
    job_id = parent.data.tags.get(ARRAY_TAG)
    if not job_id:
        raise InvalidInputError(f"run {parent_id} is not a sweep run as a Slurm job array")
    document = json.loads(plan_file.read_text())
    trials = tuple(
        ArrayTrial(Trial(int(item["trial"]), dict(item["params"])), str(item["run_id"]))
        for item in document["trials"]
    )
    sweep = ArraySweep(parent, parent.info.experiment_id, job_id, trials, plan_file.parent)
    return follow_array(client, sweep, SweepFacts.from_parent(parent)).status


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("mlcli: error: usage: slurm_sweep_end PARENT PLAN")
    try:
        status = end_sweep(TrackingClient(), args[0], Path(args[1]))
    except MlcliError as exc:
        raise SystemExit(f"mlcli: error: {exc.message}") from None
    sys.stdout.write(f"Sweep {args[0]} {status}\n")


if __name__ == "__main__":
    main()
