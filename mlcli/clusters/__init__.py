"""Runs handed to a cluster's scheduler (``mlcli run --backend slurm``).

Modules, one idea each: ``slurm_config`` (the ``--backend-config`` keys),
``slurm_script`` (the batch script of a job or a job array), ``slurm_submit`` (a run
created SCHEDULED, its job submitted and recorded as its owner), ``slurm_follow``
(the job's states and output until it ends), ``cancel`` (``mlcli runs cancel``).
Slurm's own commands are in ``mlcli.slurm``, below the store.
"""
