"""MLflow's REST shapes (proto3 JSON) back into mlcli's entities, system tags renamed
``mlflow.X`` -> ``mlcli.X``: the inverse of what ``mlcli server`` sends
(``mlcli/tracking_server/shapes.py``), so that a run read through a server is the run
read from the files."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from mlcli.store.entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    Metric,
    ModelInput,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    parse_json_number,
)
from mlcli.store.inputs import dataset_input_from_dict
from mlcli.system_tags import PARENT_RUN_ID, to_mlflow, to_store


def tags_from(pairs: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {to_store(str(p["key"])): str(p.get("value", "")) for p in pairs or ()}


def key_values(pairs: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(p["key"]): str(p.get("value", "")) for p in pairs or ()}


def tags_to(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as a request carries them (``mlcli.X`` sent as ``mlflow.X``)."""
    return [{"key": to_mlflow(k), "value": v} for k, v in tags.items()]


def params_to(params: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in params.items()]


def view_type(view: str) -> str:
    """mlcli's view (``active``, ``deleted``, ``all``) as MLflow's API names it."""
    return {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}.get(view, view)


def experiment(doc: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(doc["experiment_id"]),
        name=str(doc.get("name", "")),
        lifecycle_stage=str(doc.get("lifecycle_stage", "active")),
        creation_time=int(doc.get("creation_time") or 0),
        last_update_time=int(doc.get("last_update_time") or 0),
        artifact_location=str(doc.get("artifact_location", "")),
        tags=tags_from(doc.get("tags")),
    )


def metric(doc: Mapping[str, Any]) -> Metric:
    return Metric(
        key=str(doc["key"]),
        value=parse_json_number(doc.get("value", math.nan)),
        step=int(doc.get("step") or 0),
        timestamp=int(doc.get("timestamp") or 0),
    )


def metric_to(entity: Metric) -> dict[str, Any]:
    value: float | str = entity.value
    if not math.isfinite(entity.value):
        value = (
            "NaN" if math.isnan(entity.value) else ("Infinity" if entity.value > 0 else "-Infinity")
        )
    return {"key": entity.key, "value": value, "timestamp": entity.timestamp, "step": entity.step}


def run_info(doc: Mapping[str, Any], tags: Mapping[str, str]) -> RunInfo:
    end_time = doc.get("end_time")
    return RunInfo(
        run_id=str(doc.get("run_id") or doc["run_uuid"]),
        run_name=str(doc.get("run_name", "")),
        experiment_id=str(doc["experiment_id"]),
        status=str(doc.get("status", "RUNNING")),
        start_time=int(doc.get("start_time") or 0),
        end_time=None if end_time is None else int(end_time),
        lifecycle_stage=str(doc.get("lifecycle_stage", "active")),
        user_id=str(doc.get("user_id", "")),
        parent_run_id=tags.get(PARENT_RUN_ID) or None,
        artifact_uri=str(doc.get("artifact_uri", "")),
    )


def run(doc: Mapping[str, Any], experiment_name: str | None = None) -> Run:
    data = doc.get("data") or {}
    tags = tags_from(data.get("tags"))
    metrics = [metric(m) for m in data.get("metrics") or ()]
    return Run(
        info=run_info(doc["info"], tags),
        data=RunData(
            params=key_values(data.get("params")),
            latest_metrics={m.key: m for m in metrics},
            tags=tags,
        ),
        experiment_name=experiment_name,
        inputs=run_inputs(doc.get("inputs") or {}),
    )


def run_inputs(doc: Mapping[str, Any]) -> RunInputs:
    """``run.inputs`` of MLflow's REST API (tags as a list of key/value objects)."""
    datasets = []
    for item in doc.get("dataset_inputs") or ():
        tags = {str(t["key"]): str(t.get("value", "")) for t in item.get("tags") or ()}
        found = dataset_input_from_dict({"dataset": item.get("dataset"), "tags": tags})
        if found is not None:
            datasets.append(found)
    models = [ModelInput(str(m["model_id"])) for m in doc.get("model_inputs") or ()]
    return RunInputs(dataset_inputs=datasets, model_inputs=models)


def dataset_input_to(item: DatasetInput) -> dict[str, Any]:
    """A dataset input as MLflow's REST API sends it."""
    return {
        "tags": [{"key": k, "value": v} for k, v in item.tags.items()],
        "dataset": item.dataset.to_dict(),
    }


def file_info(doc: Mapping[str, Any]) -> FileInfo:
    size = doc.get("file_size")
    return FileInfo(
        path=str(doc["path"]),
        is_dir=bool(doc.get("is_dir", False)),
        file_size=None if size is None else int(size),
    )
