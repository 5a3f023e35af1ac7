"""Every ``mlcli.*`` system tag key, in one place (as MLflow's ``mlflow_tags.py``).

A leaf module (it imports nothing of mlcli's), so that every layer (the store included)
can name a key without importing upward. Tag keys are part of the contract: runs written by one
version are read by the next, and users filter on them (``tags.`mlcli.user` = 'ana'``).

``MLFLOW_NAMES`` pairs each key with MLflow's tag of the same meaning. Every way in
translates by the prefix rule (``mlflow.X`` -> ``mlcli.X``, :func:`to_store`): the
Python API and the CLI when they write tags and read filters, the tracking server
(``tracking_server/tags.py``, which also shows ``mlcli.X`` to MLflow clients as
``mlflow.X``) and ``mlcli import-mlflow``; the mapping names the keys that rule is for.
A run's tags are read as :class:`Tags`, which answer ``mlflow.X`` lookups too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

_T = TypeVar("_T")

PREFIX = "mlcli."  # every system tag key starts with it
MLFLOW_PREFIX = "mlflow."  # MLflow's system tags, translated to PREFIX by the server

# Run identity, set by the store.
RUN_NAME = "mlcli.runName"  # the run's name
PARENT_RUN_ID = "mlcli.parentRunId"  # the id of the parent of a nested run
USER = "mlcli.user"  # who started the run
END_REASON = "mlcli.endReason"  # why the store ended a run its owner left behind
NOTE_CONTENT = "mlcli.note.content"  # the run's description

# Where the code came from (tracking context and project lineage).
SOURCE_TYPE = "mlcli.source.type"  # LOCAL or PROJECT
SOURCE_NAME = "mlcli.source.name"  # the script or project that ran
GIT_PREFIX = "mlcli.source.git."  # every git lineage tag starts with it
GIT_COMMIT = "mlcli.source.git.commit"  # the commit the code was at
GIT_BRANCH = "mlcli.source.git.branch"  # the branch checked out
GIT_DIRTY = "mlcli.source.git.dirty"  # "true" when the work tree had changes
GIT_REPO_URL = "mlcli.source.git.repoURL"  # the remote the repository came from

# The machine and environment a run ran on.
HOST = "mlcli.host"  # the host name
PLATFORM = "mlcli.platform"  # the operating system, as platform.platform()
PYTHON_VERSION = "mlcli.python.version"  # the interpreter's version
CAPTURE_ERROR = "mlcli.environment.captureError"  # why capture failed
SYSTEM_CPU_COUNT = "mlcli.system.cpuCount"  # logical CPUs
SYSTEM_CPU = "mlcli.system.cpu"  # the CPU model
SYSTEM_MEMORY = "mlcli.system.memory"  # total memory, e.g. "16.0 GB"
SYSTEM_GPU_COUNT = "mlcli.system.gpuCount"  # GPUs seen
SYSTEM_GPU = "mlcli.system.gpu"  # the GPUs, described

# Project runs (``mlcli run`` of an MLproject).
PROJECT_NAME = "mlcli.project.name"  # the MLproject's name
PROJECT_VERSION = "mlcli.project.version"  # the version asked for (a git ref)
PROJECT_ENTRY_POINT = "mlcli.project.entryPoint"  # the entry point that ran
PROJECT_ENV = "mlcli.project.env"  # the environment manager
PROJECT_COMMAND = "mlcli.project.command"  # the command line that ran
PROJECT_EXIT_CODE = "mlcli.project.exitCode"  # the command's exit code
PROJECT_FAILURE_REASON = "mlcli.project.failureReason"  # why the project failed
PROJECT_ENV_PATH = "mlcli.project.envPath"  # the virtualenv or conda prefix used
PROJECT_ENV_CACHED = "mlcli.project.envCached"  # "true" when it was reused
PROJECT_CONDA_EXE = "mlcli.project.condaExe"  # the conda executable used
DOCKER_IMAGE_URI = "mlcli.docker.image.uri"  # the image built for the run
DOCKER_IMAGE_ID = "mlcli.docker.image.id"  # its id
DOCKER_BASE_IMAGE = "mlcli.docker.baseImage"  # the image it was built from

# Runs handed to a cluster's scheduler (see docs/clusters.md).
BACKEND = "mlcli.backend"  # where the run ran: "slurm" (absent: locally)
SLURM_JOB_ID = "mlcli.slurm.jobId"  # the Slurm job that carries the run
SLURM_CLUSTER = "mlcli.slurm.cluster"  # the Slurm cluster's name (ClusterName)
SLURM_STATE = "mlcli.slurm.state"  # the job's final state (TIMEOUT, CANCELLED, ...)
SLURM_ARRAY_JOB_ID = "mlcli.slurm.arrayJobId"  # on a sweep's parent: its job array
KUBERNETES_JOB = "mlcli.kubernetes.job"  # the Job that carries the run: "namespace/name"
KUBERNETES_JOB_UID = "mlcli.kubernetes.jobUid"  # its uid (a Job of the same name is another)
KUBERNETES_CONTEXT = "mlcli.kubernetes.context"  # the kubeconfig context it was created in
KUBERNETES_REASON = "mlcli.kubernetes.reason"  # why it failed (BackoffLimitExceeded, OOMKilled)
KUBERNETES_INDEX = "mlcli.kubernetes.index"  # a sweep trial's index in its Indexed Job

# Sweeps (see docs/sweeps.md).
SWEEP_SAMPLER = "mlcli.sweep.sampler"  # the sampler's name
SWEEP_SPEC = "mlcli.sweep.spec"  # the -P values as given
SWEEP_SEED = "mlcli.sweep.seed"  # the sampler's seed
SWEEP_TRIALS = "mlcli.sweep.trials"  # how many trials
SWEEP_PARALLEL = "mlcli.sweep.parallel"  # how many at once
SWEEP_OBJECTIVE = "mlcli.sweep.objective"  # the metric optimised
SWEEP_DIRECTION = "mlcli.sweep.direction"  # min or max
SWEEP_BEST_RUN_ID = "mlcli.sweep.bestRunId"  # the best trial's run id
SWEEP_BEST_TRIAL = "mlcli.sweep.bestTrial"  # the best trial's number
SWEEP_TRIAL = "mlcli.sweep.trial"  # on a trial's run: its number

# Models, autologging and imports.
LOG_MODEL_HISTORY = "mlcli.log-model.history"  # the models logged by the run (JSON)
AUTOLOGGING = "mlcli.autologging"  # the flavor that autologged the run
IMPORT_SOURCE = "mlcli.import.source"  # the MLflow store a run was imported from
IMPORT_INCOMPLETE = "mlcli.import.incomplete"  # set while an import is unfinished
PROMPT_IS_PROMPT = "mlcli.prompt.is_prompt"  # on a registered model that is a prompt

# MLflow's tag for each key that has one (the server shows PREFIX keys to MLflow
# clients under these names, and stores these names under PREFIX).
MLFLOW_NAMES: dict[str, str] = {
    RUN_NAME: "mlflow.runName",
    PARENT_RUN_ID: "mlflow.parentRunId",
    USER: "mlflow.user",
    NOTE_CONTENT: "mlflow.note.content",
    SOURCE_TYPE: "mlflow.source.type",
    SOURCE_NAME: "mlflow.source.name",
    GIT_COMMIT: "mlflow.source.git.commit",
    GIT_BRANCH: "mlflow.source.git.branch",
    GIT_REPO_URL: "mlflow.source.git.repoURL",
    GIT_DIRTY: "mlflow.source.git.dirty",
    PROJECT_ENTRY_POINT: "mlflow.project.entryPoint",
    PROJECT_ENV: "mlflow.project.env",
    DOCKER_IMAGE_URI: "mlflow.docker.image.uri",
    DOCKER_IMAGE_ID: "mlflow.docker.image.id",
    LOG_MODEL_HISTORY: "mlflow.log-model.history",
    AUTOLOGGING: "mlflow.autologging",
    PROMPT_IS_PROMPT: "mlflow.prompt.is_prompt",
}


def to_store(key: str) -> str:
    """``mlflow.runName`` -> ``mlcli.runName``; other keys unchanged (what a server
    stores for a key an MLflow client sends, and what mlcli's client reads back)."""
    return PREFIX + key[len(MLFLOW_PREFIX) :] if key.startswith(MLFLOW_PREFIX) else key


def to_mlflow(key: str) -> str:
    """``mlcli.runName`` -> ``mlflow.runName``; other keys unchanged."""
    return MLFLOW_PREFIX + key[len(PREFIX) :] if key.startswith(PREFIX) else key


def tags_to_store(tags: Mapping[str, _T]) -> dict[str, _T]:
    """Each key as :func:`to_store` names it."""
    return {to_store(k): v for k, v in tags.items()}


class Tags(dict[str, str]):
    """Tags as stored (``mlcli.runName``), that also answer MLflow's name of each
    (``tags["mlflow.runName"]``, ``tags.get("mlflow.parentRunId")``, ``"mlflow.user" in
    tags``). Iterating, ``len``, ``dict(tags)`` and displays see the stored keys only,
    once each. A key stored under its ``mlflow.`` name (written before mlcli stored it
    under ``mlcli.``) is found as stored."""

    __slots__ = ()

    def __missing__(self, key: str) -> str:
        if isinstance(key, str) and key.startswith(MLFLOW_PREFIX):
            stored = to_store(key)
            if dict.__contains__(self, stored):
                return dict.__getitem__(self, stored)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        return (
            isinstance(key, str)
            and key.startswith(MLFLOW_PREFIX)
            and dict.__contains__(self, to_store(key))
        )

    @overload
    def get(self, key: str, default: None = None, /) -> str | None: ...
    @overload
    def get(self, key: str, default: str, /) -> str: ...
    @overload
    def get(self, key: str, default: _T, /) -> str | _T: ...
    def get(self, key: str, default: Any = None, /) -> Any:
        try:
            return self[key]
        except KeyError:
            return default
