"""What one pod of a sweep's Indexed Job runs: ``python -m mlcli.cli.kubernetes_task``.
It reads its trial from the sweep's plan (``MLCLI_SWEEP_PLAN``, which the Job carries)
by ``$JOB_COMPLETION_INDEX`` and runs, in this same process (the pod's signals reach
mlcli itself), the trial's ``mlcli run /mlcli/project --run-id <its trial run> --param
...``. In a detached sweep (``MLCLI_SWEEP_DETACHED``), the last trial to end then ends
the sweep: the best trial and ``sweep/trials.json``, and the parent's status.
"""

from __future__ import annotations

import json
import os
import sys

from mlcli.cli.slurm_task import trial_arguments_of
from mlcli.kubernetes.pod import (
    DETACHED_VARIABLE,
    INDEX_VARIABLE,
    PARENT_VARIABLE,
    PLAN_VARIABLE,
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    index = os.environ.get(INDEX_VARIABLE, "")
    document = os.environ.get(PLAN_VARIABLE, "")
    if args or not index.isdigit() or not document:
        raise SystemExit("mlcli: error: usage: kubernetes_task (inside a sweep's Indexed Job)")
    from mlcli.cli.main import main as mlcli_main

    try:
        mlcli_main(trial_arguments_of(json.loads(document), int(index)))
    finally:
        parent = os.environ.get(PARENT_VARIABLE, "")
        if parent and os.environ.get(DETACHED_VARIABLE) == "1":
            from mlcli.clusters.kubernetes_sweep_end import end_if_last

            end_if_last(parent)


if __name__ == "__main__":
    main()
