"""The batch script of a Slurm job: ``#SBATCH`` lines from the config, the store's
location, and one command that ``exec``s mlcli, so that Slurm's signals (``--signal``
warnings, ``scancel``, time limits) reach mlcli itself rather than a shell that would
not pass them on.

The same builder serves a job array (``array``: the task ids, ``%P`` at most at once),
whose command reads its task from ``$SLURM_ARRAY_TASK_ID``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mlcli.clusters.slurm_config import SlurmConfig


@dataclass(frozen=True)
class JobSpec:
    """One job (or job array) to write a script for."""

    name: str
    config: SlurmConfig
    #: sbatch's --output/--error file patterns (``%j``: the job id, ``%A_%a``: array).
    output: str
    error: str
    #: The shell command the job runs (``shell_command`` quotes an argv).
    command: str
    #: Variables exported before the command; a value of None unsets the variable.
    environment: Mapping[str, str | None] = field(default_factory=dict)
    workdir: str | None = None
    #: A job array's task ids, and how many of them run at once (None: no limit).
    array: Sequence[int] | None = None
    array_parallel: int | None = None


def shell_command(argv: Sequence[str]) -> str:
    """``argv`` as one shell command line, each word quoted as needed."""
    return shlex.join(argv)


def sbatch_options(spec: JobSpec) -> list[str]:
    """The job's sbatch options, in the order they are written."""
    config = spec.config
    options = [f"--job-name={spec.name}", f"--output={spec.output}", f"--error={spec.error}"]
    if spec.workdir:
        options.append(f"--chdir={spec.workdir}")
    named = (
        ("partition", config.partition),
        ("time", config.time),
        ("gpus", config.gpus),
        ("mem", config.mem),
        ("cpus-per-task", config.cpus_per_task),
        ("account", config.account),
        ("qos", config.qos),
        ("signal", config.signal),
    )
    options += [f"--{name}={value}" for name, value in named if value is not None]
    options.append("--requeue" if config.requeue else "--no-requeue")
    if spec.array is not None:
        options.append(f"--array={array_ranges(spec.array, spec.array_parallel)}")
    options += [arg if arg.startswith("-") else f"--{arg}" for arg in config.sbatch_args]
    return options


def job_script(spec: JobSpec) -> str:
    """The batch script's text."""
    lines = ["#!/bin/bash"]
    lines += [f"#SBATCH {option}" for option in sbatch_options(spec)]
    lines.append("")
    for name, value in spec.environment.items():
        lines.append(f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}")
    lines += list(spec.config.setup)
    lines.append(f"exec {spec.command}")
    return "\n".join(lines) + "\n"


def array_ranges(tasks: Sequence[int], parallel: int | None = None) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5`` (with ``%P``: at most P tasks at once)."""
    ordered = sorted(set(tasks))
    if not ordered:
        raise ValueError("a job array needs at least one task")
    parts: list[str] = []
    start = previous = ordered[0]
    for task in [*ordered[1:], None]:
        if task is not None and task == previous + 1:
            previous = task
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if task is not None:
            start = previous = task
    return ",".join(parts) + (f"%{parallel}" if parallel else "")
