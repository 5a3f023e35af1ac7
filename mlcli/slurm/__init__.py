"""Slurm's own commands, below the store: submit (``sbatch``), cancel (``scancel``)
and read (``scontrol``/``squeue``) jobs, and what a job's final state means for a run.

A leaf part (it imports only ``mlcli.errors`` and ``mlcli.system_tags``), so that the
store can ask whether a run's owning job still exists, and the backends above it
(``mlcli.clusters``) can build on the same calls.
"""
