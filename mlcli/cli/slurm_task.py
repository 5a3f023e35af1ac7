"""What one task of a sweep's job array runs: ``python -m mlcli.cli.slurm_task
PLAN``. It reads its trial from the sweep's plan (``sweep/plan.json``, a copy next
to the job's output) by ``$SLURM_ARRAY_TASK_ID`` and runs, in this same process (no
second interpreter to start, and Slurm's signals reach mlcli itself), the trial's
``mlcli run <project> --run-id <its trial run> --param ...``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def trial_arguments_of(plan: dict[str, Any], task: int) -> list[str]:
    """The ``mlcli`` arguments of array task ``task`` in ``plan``."""
    trials = plan["trials"]
    if not 0 <= task < len(trials):
        raise SystemExit(f"mlcli: error: array task {task} is not in the sweep's plan")
    return [str(arg) for arg in trials[task]["arguments"]]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    task = os.environ.get("SLURM_ARRAY_TASK_ID", "")
    if len(args) != 1 or not task.isdigit():
        raise SystemExit("mlcli: error: usage: slurm_task PLAN (inside a Slurm job array task)")
    plan = json.loads(Path(args[0]).read_text())
    from mlcli.cli.main import main as mlcli_main

    mlcli_main(trial_arguments_of(plan, int(task)))


if __name__ == "__main__":
    main()
