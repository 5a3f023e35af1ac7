"""MLflow's ``mlflow.entities`` under mlcli's name: the tracking entities, so that
``from mlflow.entities import Metric, Param, RunTag, ViewType`` works with only the
import changed (``from mlcli.entities import ...``).

They are mlcli's own classes (``mlcli.store``), with three made to MLflow's order of
arguments: ``Metric(key, value, timestamp, step)`` (mlcli's ``mlcli.store.Metric`` is
``(key, value, step, timestamp)``), and ``ExperimentTag``/``InputTag``, MLflow's
key-value pairs, which mlcli keeps as plain dicts. Registry entities are in
``mlcli.entities.model_registry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.store import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    LifecycleStage,
    LoggedModel,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from mlcli.store import Metric as _StoreMetric


class Metric(_StoreMetric):
    """A metric point, built in MLflow's order: ``Metric(key, value, timestamp, step)``.
    It is an ``mlcli.store.Metric`` (same fields), accepted wherever one is.
    MLflow's links of a point to a logged model or a dataset (``model_id``,
    ``dataset_name``, ``dataset_digest``) are not kept by mlcli: given, they are an
    InvalidInputError rather than dropped; ``run_id`` is accepted and not stored."""

    def __init__(
        self,
        key: str,
        value: float,
        timestamp: int,
        step: int,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        run_id: str | None = None,
    ) -> None:
        for name, given in (
            ("model_id", model_id),
            ("dataset_name", dataset_name),
            ("dataset_digest", dataset_digest),
        ):
            if given is not None:
                raise InvalidInputError(
                    f"Metric({key!r}): {name} is not supported by mlcli (a metric point "
                    "belongs to its run only)"
                )
        super().__init__(key, value, step, timestamp)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StoreMetric) and (
            (self.key, self.value, self.step, self.timestamp)
            == (other.key, other.value, other.step, other.timestamp)
        )

    def __hash__(self) -> int:
        return hash((self.key, self.value, self.step, self.timestamp))


@dataclass(frozen=True)
class ExperimentTag:
    """MLflow's experiment tag: a key and a value (mlcli's experiments keep a dict)."""

    key: str
    value: str


@dataclass(frozen=True)
class InputTag:
    """MLflow's tag of a dataset input: a key and a value (``DatasetInput.tags`` is a
    dict in mlcli)."""

    key: str
    value: str


class SourceType:
    """MLflow's kinds of run source (the ``mlflow.source.type`` tag's values)."""

    NOTEBOOK = "NOTEBOOK"
    JOB = "JOB"
    PROJECT = "PROJECT"
    LOCAL = "LOCAL"
    UNKNOWN = "UNKNOWN"
    RECIPE = "RECIPE"

    _SOURCE_TYPES = (NOTEBOOK, JOB, PROJECT, LOCAL, UNKNOWN, RECIPE)

    @staticmethod
    def to_string(value: Any) -> str:
        return str(value)

    @staticmethod
    def from_string(text: str) -> str:
        if text not in SourceType._SOURCE_TYPES:
            raise InvalidInputError(f"invalid source type {text!r}")
        return text


__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "LoggedModel",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "SourceType",
    "ViewType",
]
