"""The tracking entities: small frozen values, separate from how they are stored.

They follow MLflow's entity model (experiments, runs with info and data, params,
metrics, tags) so that its users recognise everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlcli.system_tags import Tags

#: The input tag that says what a dataset was for (MLflow's name, kept as is).
DATASET_CONTEXT_TAG = "mlflow.data.context"


class RunStatus:
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = frozenset({FINISHED, FAILED, KILLED})
    LIVE = frozenset({RUNNING, SCHEDULED})


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType:
    """Which lifecycle stages a listing includes."""

    ACTIVE_ONLY = "active"
    DELETED_ONLY = "deleted"
    ALL = "all"

    CHOICES = (ACTIVE_ONLY, DELETED_ONLY, ALL)


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    artifact_location: str
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:  # tags["mlflow.note.content"] reads mlcli.note.content
        if type(self.tags) is not Tags:
            object.__setattr__(self, "tags", Tags(self.tags))

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "lifecycle_stage": self.lifecycle_stage,
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
            "artifact_location": self.artifact_location,
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp: int

    def sort_key(self) -> tuple[int, int, float]:
        """MLflow's notion of "latest": the greatest (step, timestamp, value); NaN lowest."""
        value = -math.inf if math.isnan(self.value) else self.value
        return (self.step, self.timestamp, value)


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    user_id: str
    parent_run_id: str | None
    artifact_uri: str
    deleted_time: int | None = None


@dataclass(frozen=True)
class RunData:
    params: dict[str, str] = field(default_factory=dict)
    latest_metrics: dict[str, Metric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:  # tags["mlflow.runName"] reads mlcli.runName
        if type(self.tags) is not Tags:
            object.__setattr__(self, "tags", Tags(self.tags))

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of each metric, as MLflow's ``run.data.metrics`` gives it."""
        return {key: metric.value for key, metric in self.latest_metrics.items()}


@dataclass(frozen=True)
class Dataset:
    """A dataset a run read, as MLflow describes one: a name and a digest (its
    identity), where it came from (``source_type``: ``local``, ``http``, ``code``, ...;
    ``source``: a JSON document of the source's own fields), and optionally its schema
    and profile (JSON text)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
        }
        if self.schema is not None:
            shape["schema"] = self.schema
        if self.profile is not None:
            shape["profile"] = self.profile
        return shape


@dataclass(frozen=True)
class DatasetInput:
    """A dataset as one run's input, with the input's tags (MLflow's
    ``mlflow.data.context``: ``training``, ``eval``, ...)."""

    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> str | None:
        return self.tags.get(DATASET_CONTEXT_TAG)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset.to_dict(), "tags": dict(self.tags)}


@dataclass(frozen=True)
class ModelInput:
    """A logged model a run read (MLflow 3's ``LoggedModelInput``)."""

    model_id: str


@dataclass(frozen=True)
class RunInputs:
    """What a run read: datasets (one per name and digest, the first logged) and
    logged models."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[ModelInput] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_inputs": [d.to_dict() for d in self.dataset_inputs],
            "model_inputs": [{"model_id": m.model_id} for m in self.model_inputs],
        }


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    experiment_name: str | None = None
    # What the run read. A run from ``get_run`` carries them; runs from a search do
    # not (read them with ``TrackingClient.get_run``).
    inputs: RunInputs = field(default_factory=RunInputs)

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of a run (``mlcli runs show --json``).

        Non-finite metric values become the strings "NaN", "Infinity" and "-Infinity"
        so that every JSON tool can read the output.
        """
        info = self.info
        return {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "experiment_name": self.experiment_name,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "parent_run_id": info.parent_run_id,
            "user_id": info.user_id,
            "params": dict(self.data.params),
            "metrics": {k: json_number(v) for k, v in sorted(self.data.metrics.items())},
            "tags": dict(self.data.tags),
            "artifact_uri": info.artifact_uri,
        }


@dataclass(frozen=True)
class FileInfo:
    """One entry of an artifact listing; ``path`` is relative to the artifact root."""

    path: str
    is_dir: bool
    file_size: int | None
    symlink: str | None = None  # where a symbolic link points; it is listed, not followed

    def to_dict(self) -> dict[str, Any]:
        shape = {"path": self.path, "is_dir": self.is_dir, "file_size": self.file_size}
        if self.symlink is not None:
            shape["symlink"] = self.symlink
        return shape


def json_number(value: float) -> float | str:
    """A float as JSON can carry it: finite values as numbers, the rest as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def parse_json_number(value: Any) -> float:
    """The inverse of :func:`json_number`."""
    if isinstance(value, str):
        return float(value)  # float() reads "NaN", "Infinity" and "-Infinity"
    return float(value)
