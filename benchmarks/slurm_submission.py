"""Sweeps on Slurm (issue 19 part 2), on a real one-node Slurm started here
(tests/slurmcluster.py): a 100-trial grid sweep with ``--backend slurm``.

1. Submission: seconds from the command's start to every trial queued (the line
   "submitted as Slurm job array" on stderr: the parent and 100 trial runs exist
   SCHEDULED, the array is released), and how many sbatch calls it made.
2. Per-trial overhead: from the job's start on the node (a ``setup`` line that
   writes the time) to its run ended by mlcli (the run's end time), for the array's
   tasks against bare ``sbatch --wrap "python -m mlcli run . -P alpha=X"`` jobs of
   the same entry point (a run of its own, no plan, no attach). Medians.

    python3 benchmarks/slurm_submission.py [--trials 100] [--bare 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from slurmcluster import slurm_running

MLPROJECT = """entry_points:
  main:
    parameters:
      alpha: {type: float}
    command: "python -c 'print(\\"score:\\", {alpha})'"
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--bare", type=int, default=10)
    args = parser.parse_args()
    with slurm_running() as cluster, tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        project, store, starts = top / "proj", top / "store", top / "starts"
        project.mkdir()
        starts.mkdir()
        (project / "MLproject").write_text(MLPROJECT)
        calls = top / "sbatch.calls"
        bin_dir = top / "bin"
        bin_dir.mkdir()
        real = subprocess.run(["which", "sbatch"], capture_output=True, text=True).stdout.strip()
        (bin_dir / "sbatch").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
        (bin_dir / "sbatch").chmod(0o755)
        env = {
            **os.environ,
            **cluster.env,
            "MLCLI_STORE": str(store),
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
        }
        mlcli = [sys.executable, "-m", "mlcli"]
        subprocess.run([*mlcli, "init", str(store)], env=env, check=True, capture_output=True)
        stamp = f"date +%s.%N > {starts}/$SLURM_JOB_ID"
        values = ",".join(str(i) for i in range(args.trials))
        began = time.monotonic()
        sweep = subprocess.Popen(
            [*mlcli, "run", ".", "-P", f"alpha=[{values}]", "--parallel", "2",
             "--backend", "slurm", "--backend-config", f"setup={stamp}", "--json"],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert sweep.stderr is not None
        queued = None
        for line in sweep.stderr:
            if "submitted as Slurm job array" in line:
                queued = time.monotonic() - began
                break
        out, err = sweep.communicate()
        result = json.loads(out)
        submitted = [c for c in calls.read_text().splitlines() if "--test-only" not in c]
        parent = result["run_id"]
        assert queued is not None, err
        array_overheads = _overheads(mlcli, env, starts, parent, lambda run: _task_job(run, env))
        bare_ids = []
        for i in range(args.bare):
            command = f"{stamp}; exec {' '.join(mlcli)} run . -P alpha={i} -q"
            done = subprocess.run(
                ["sbatch", "--parsable", f"--chdir={project}", "--output=/dev/null",
                 "--wrap", command],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            bare_ids.append(done.stdout.strip())
        _wait_idle(env)
        bare = _overheads(
            mlcli, env, starts, None, lambda run: bare_ids[int(float(run["params"]["alpha"]))]
        )
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores, shared)")
        print("| measure | value |")
        print("|---|---|")
        print(f"| trials | {len(result['trials'])} ({result['status']}) |")
        print(f"| command start -> all trials queued | {queued:.2f} s |")
        print(f"| sbatch calls (not counting --test-only) | {len(submitted)} |")
        array_median, bare_median = statistics.median(array_overheads), statistics.median(bare)
        print(f"| array task: job start -> run ended (median) | {array_median:.2f} s |")
        print(f"| bare sbatch --wrap: job start -> run ended (median) | {bare_median:.2f} s |")
        ratio = array_median / bare_median
        print(f"| ratio array / bare | {ratio:.2f}x |")


def _overheads(
    mlcli: list[str],
    env: dict[str, str],
    starts: Path,
    parent: str | None,
    job_of: Callable[[dict[str, Any]], str | None],
) -> list[float]:
    """Per run: its job's start (the stamp file of its job) to the run's end time."""
    listing = subprocess.run(
        [*mlcli, "runs", "list", "--json", "--limit", "100000"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = []
    for run in json.loads(listing.stdout):
        tags = run["tags"]
        if "mlcli.sweep.trials" in tags:
            continue
        if tags.get("mlcli.parentRunId") != parent:
            continue
        job = job_of(run)
        stamp = starts / job if job else None
        if stamp is None or not stamp.exists():
            continue
        found.append(run["end_time"] / 1000 - float(stamp.read_text()))
    return found


def _task_job(run: dict[str, Any], env: dict[str, str]) -> str | None:
    """An array task's own job id (its stamp's name), from its ``JOB_TASK`` tag."""
    task = run["tags"].get("mlcli.slurm.jobId")
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", task], env=env, capture_output=True, text=True
    ).stdout
    for word in shown.split():
        if word.startswith("JobId="):
            return word.split("=", 1)[1]
    return None


def _wait_idle(env: dict[str, str]) -> None:
    while subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout.strip():
        time.sleep(0.5)


if __name__ == "__main__":
    main()
