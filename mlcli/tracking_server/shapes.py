"""mlcli's entities in the JSON shapes of MLflow's REST API (its protobuf messages as
proto3 JSON), with system tags renamed ``mlcli.`` -> ``mlflow.``.

Artifact locations point at the server's artifact proxy, as an ``mlflow server``
with ``--serve-artifacts`` does: an MLflow client resolves ``mlflow-artifacts:/P`` to
``<tracking URI>/api/2.0/mlflow-artifacts/artifacts/P``. ``P`` is
``<experiment_id>/<run_id>/artifacts/...`` for a run's files and
``models/<name>/versions/<n>/artifacts`` for a registered version's copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from mlcli.registry.entities import ModelVersion, RegisteredModel
from mlcli.store import Experiment, LoggedModel, Metric, Run, RunInfo, RunInputs, json_number
from mlcli.tracking_server.tags import tags_to_mlflow

ARTIFACTS_SCHEME = "mlflow-artifacts:"
_LOGGED_MODEL_STATUS = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}


def run_artifact_uri(experiment_id: str, run_id: str, path: str = "") -> str:
    base = f"{ARTIFACTS_SCHEME}/{experiment_id}/{run_id}/artifacts"
    return f"{base}/{path}" if path else base


def version_artifact_uri(name: str, version: int) -> str:
    return f"{ARTIFACTS_SCHEME}/models/{quote(name, safe='')}/versions/{version}/artifacts"


def key_values(pairs: Mapping[str, Any], rename: bool = True) -> list[dict[str, Any]]:
    items = tags_to_mlflow(pairs) if rename else pairs
    return [{"key": k, "value": v} for k, v in items.items()]


def double(value: float) -> float | str:
    """A double as proto3 JSON writes it: NaN and infinities as strings."""
    return json_number(value)


# -- tracking -----------------------------------------------------------------------------------


def experiment(entity: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": entity.experiment_id,
        "name": entity.name,
        "artifact_location": f"{ARTIFACTS_SCHEME}/{entity.experiment_id}",
        "lifecycle_stage": entity.lifecycle_stage,
        "last_update_time": entity.last_update_time,
        "creation_time": entity.creation_time,
        "tags": key_values(entity.tags),
    }


def run_info(info: RunInfo) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "artifact_uri": run_artifact_uri(info.experiment_id, info.run_id),
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        shape["end_time"] = info.end_time
    return shape


def metric(entity: Metric) -> dict[str, Any]:
    return {
        "key": entity.key,
        "value": double(entity.value),
        "timestamp": entity.timestamp,
        "step": entity.step,
    }


def run(
    entity: Run, models: Iterable[LoggedModel] = (), inputs: RunInputs | None = None
) -> dict[str, Any]:
    """A run; ``inputs`` when given, else the run's own (those of ``get_run``)."""
    data = entity.data
    return {
        "info": run_info(entity.info),
        "data": {
            "metrics": [metric(m) for _, m in sorted(data.latest_metrics.items())],
            "params": key_values(data.params, rename=False),
            "tags": key_values(data.tags),
        },
        "inputs": run_inputs(entity.inputs if inputs is None else inputs),
        "outputs": {
            "model_outputs": [
                {"model_id": m.model_id, "step": m.step} for m in models if not m.deleted
            ]
        },
    }


def run_inputs(inputs: RunInputs) -> dict[str, Any]:
    """``run.inputs``: datasets with their input tags, and logged models."""
    return {
        "dataset_inputs": [
            {"tags": key_values(item.tags, rename=False), "dataset": item.dataset.to_dict()}
            for item in inputs.dataset_inputs
        ],
        "model_inputs": [{"model_id": model.model_id} for model in inputs.model_inputs],
    }


def logged_model(entity: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": entity.model_id,
        "experiment_id": entity.experiment_id,
        "name": entity.name,
        "creation_timestamp_ms": entity.creation_timestamp,
        "last_updated_timestamp_ms": entity.last_updated_timestamp,
        "artifact_uri": run_artifact_uri(entity.experiment_id, entity.run_id, entity.artifact_path),
        "status": _LOGGED_MODEL_STATUS.get(entity.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
        "source_run_id": entity.run_id,
        "tags": key_values(entity.tags),
    }
    if entity.model_type:
        info["model_type"] = entity.model_type
    if entity.status_message:
        info["status_message"] = entity.status_message
    return {
        "info": info,
        "data": {
            "params": key_values(entity.params, rename=False),
            "metrics": [
                {**m, "value": double(float(m["value"])), "model_id": entity.model_id}
                for m in entity.metrics
            ],
        },
    }


def logged_model_status(text: str) -> str:
    """``LOGGED_MODEL_READY`` (or ``READY``, or the enum's number) -> ``READY``."""
    names = {v: k for k, v in _LOGGED_MODEL_STATUS.items()}
    numbers = {"1": "PENDING", "2": "READY", "3": "FAILED"}
    return names.get(text) or numbers.get(text) or text


# -- registry -----------------------------------------------------------------------------------


def model_version(entity: ModelVersion, model_id: str | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": entity.name,
        "version": str(entity.version),
        "creation_timestamp": entity.creation_time,
        "last_updated_timestamp": entity.last_update_time,
        "user_id": entity.user_id,
        "current_stage": entity.stage,
        "description": entity.description,
        "source": entity.source,
        "status": entity.status,
        "tags": key_values(entity.tags),
        "aliases": list(entity.aliases),
    }
    if entity.run_id:
        shape["run_id"] = entity.run_id
    if model_id:
        shape["model_id"] = model_id
    return shape


def registered_model(
    entity: RegisteredModel, latest: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "name": entity.name,
        "creation_timestamp": entity.creation_time,
        "last_updated_timestamp": entity.last_update_time,
        "description": entity.description,
        "latest_versions": list(latest),
        "tags": key_values(entity.tags),
        "aliases": [
            {"alias": alias, "version": str(version)}
            for alias, version in sorted(entity.aliases.items())
        ],
    }
