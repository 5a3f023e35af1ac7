"""What an MLflow store holds, as read by either source (file store or SQLite), in the
shape the importer writes from. Tag keys are MLflow's own (``mlflow.runName``)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli.store import Metric, RunInputs

# MLflow's RunStatus enum, as its file store writes it (a number in meta.yaml).
RUN_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
DELETED_STAGE = "Deleted_Internal"


@dataclass(frozen=True)
class SourceExperiment:
    experiment_id: str
    name: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None  # None: the source does not say
    last_update_time: int | None = None


@dataclass(frozen=True)
class SourceRun:
    run_id: str
    experiment_id: str
    name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    deleted_time: int | None
    tags: dict[str, str]
    params: dict[str, str]
    artifacts: Path | None  # a local folder, when the artifacts can be found


@dataclass(frozen=True)
class SourceLoggedModel:
    model_id: str
    name: str
    run_id: str | None
    status: str  # PENDING, READY, FAILED
    creation_timestamp: int
    model_type: str | None
    tags: dict[str, str]
    params: dict[str, str]
    artifacts: Path | None
    # each point as mlcli keeps it: key, value, timestamp, step, run_id
    # (and dataset_name, dataset_digest when MLflow linked it to a dataset)
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SourceVersion:
    version: int
    source: str
    run_id: str | None
    stage: str
    description: str
    tags: dict[str, str]
    files: Path | None  # the model's folder, when it can be found
    model_id: str | None = None

    @property
    def deleted(self) -> bool:
        return self.stage == DELETED_STAGE


@dataclass(frozen=True)
class SourceModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: list[SourceVersion]


class MlflowSource(abc.ABC):
    """An MLflow store being read; ``label`` says which, in tags and messages."""

    label: str

    @abc.abstractmethod
    def experiments(self) -> list[SourceExperiment]: ...

    @abc.abstractmethod
    def runs(self, experiment_id: str) -> Iterator[SourceRun]: ...

    @abc.abstractmethod
    def metrics(self, run: SourceRun) -> list[Metric]:
        """The run's full metric history, each logged point once."""

    @abc.abstractmethod
    def inputs(self, run: SourceRun) -> RunInputs:
        """The datasets (with their input tags) and logged models the run read."""

    @abc.abstractmethod
    def logged_models(self, experiment_id: str) -> list[SourceLoggedModel]: ...

    @abc.abstractmethod
    def registered_models(self) -> list[SourceModel]: ...

    def close(self) -> None:  # noqa: B027 (most sources hold nothing open)
        """Release what the source holds open."""
