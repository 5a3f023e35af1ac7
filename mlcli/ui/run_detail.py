"""The run page: the run's facts, params, latest metrics and tags, its git lineage and
the models logged in its artifacts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.compare.code import UNCOMMITTED_DIFF
from mlcli.errors import MlcliError
from mlcli.models.mlmodel import MLMODEL_FILE
from mlcli.models.signature import ColSpec, TensorSpec
from mlcli.store import Artifacts, Run, json_number, normalize_artifact_path
from mlcli.tracking import TrackingClient

MAX_DIFF_BYTES = 512 * 1024
# How much of an artifact tree is searched for MLmodel files (a run may hold many files).
MODEL_SEARCH_DEPTH = 3
MODEL_SEARCH_ENTRIES = 5_000


def run_detail(client: TrackingClient, run_ref: str) -> dict[str, Any]:
    run = client.get_run(run_ref)
    info = run.info
    artifacts = client.store.artifacts(run.run_id)
    tags = run.data.tags
    return {
        "run": {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "experiment_name": run.experiment_name,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "duration": None if info.end_time is None else info.end_time - info.start_time,
            "lifecycle_stage": info.lifecycle_stage,
            "user_id": info.user_id,
            "parent_run_id": info.parent_run_id,
            "artifact_uri": info.artifact_uri,
        },
        "params": dict(sorted(run.data.params.items())),
        "metrics": [
            {
                "key": m.key,
                "value": json_number(m.value),
                "step": m.step,
                "timestamp": m.timestamp,
            }
            for m in sorted(run.data.latest_metrics.values(), key=lambda m: m.key)
        ],
        "tags": {k: v for k, v in sorted(tags.items()) if not k.startswith(system_tags.PREFIX)},
        "system_tags": {k: v for k, v in sorted(tags.items()) if k.startswith(system_tags.PREFIX)},
        "lineage": lineage(run, artifacts),
        "models": logged_models(run, artifacts),
    }


def lineage(run: Run, artifacts: Artifacts) -> dict[str, Any] | None:
    """The ``mlcli.source.git.*`` tags and the recorded uncommitted diff; None without."""
    tags = run.data.tags
    git = {
        k.removeprefix(system_tags.GIT_PREFIX): v
        for k, v in tags.items()
        if k.startswith(system_tags.GIT_PREFIX)
    }
    diff_file = artifacts.root / UNCOMMITTED_DIFF
    if not git and not diff_file.is_file():
        return None
    diff = None
    if diff_file.is_file():
        with open(diff_file, "rb") as handle:
            data = handle.read(MAX_DIFF_BYTES + 1)
        diff = {
            "path": UNCOMMITTED_DIFF,
            "text": data[:MAX_DIFF_BYTES].decode("utf-8", errors="replace"),
            "truncated": len(data) > MAX_DIFF_BYTES,
        }
    return {
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "repo_url": git.get("repoURL"),
        "dirty": git.get("dirty") == "true" if "dirty" in git else None,
        "source_name": tags.get(system_tags.SOURCE_NAME),
        "diff": diff,
    }


def logged_models(run: Run, artifacts: Artifacts) -> list[dict[str, Any]]:
    """Model directories among the artifacts: those the run's ``mlcli.log-model.history``
    names, and any other directory holding an ``MLmodel`` file near the top."""
    paths = dict.fromkeys(_history_paths(run.data.tags.get(system_tags.LOG_MODEL_HISTORY)))
    paths.update(dict.fromkeys(_model_directories(artifacts.root)))
    models = []
    for path in paths:
        try:
            directory = artifacts.resolve(path)
        except MlcliError:
            continue
        if (directory / MLMODEL_FILE).is_file():
            models.append(describe_model(path, directory))
    return sorted(models, key=lambda m: m["path"])


def describe_model(path: str, directory: Path) -> dict[str, Any]:
    """A model's flavors and signature, read from its MLmodel file."""
    from mlcli.models.mlmodel import Model

    try:
        model = Model.load(directory)
    except MlcliError as exc:
        return {"path": path, "error": exc.message, "flavors": [], "signature": None}
    signature = None
    if model.signature is not None:
        inputs, outputs, params = (
            model.signature.inputs,
            model.signature.outputs,
            model.signature.params,
        )
        signature = {
            "inputs": None if inputs is None else [_spec(s) for s in inputs.specs],
            "outputs": None if outputs is None else [_spec(s) for s in outputs.specs],
            "params": None if params is None else [s.to_dict() for s in params.specs],
        }
    return {
        "path": path,
        "flavors": sorted(model.flavors),
        "utc_time_created": model.utc_time_created,
        "model_uuid": model.model_uuid,
        "run_id": model.run_id,
        "signature": signature,
        "has_input_example": model.saved_input_example_info is not None,
        "error": None,
    }


def _spec(spec: ColSpec | TensorSpec) -> dict[str, Any]:
    return {**spec.to_dict(), "description": spec.describe()}


def _history_paths(raw: str | None) -> list[str]:
    try:
        history = json.loads(raw) if raw else []
    except ValueError:
        return []
    paths = []
    for entry in history if isinstance(history, list) else []:
        path = entry.get("artifact_path") if isinstance(entry, dict) else None
        if isinstance(path, str):
            try:
                paths.append(normalize_artifact_path(path))
            except MlcliError:
                continue
    return paths


def _model_directories(root: Path) -> list[str]:
    """Directories up to MODEL_SEARCH_DEPTH below ``root`` that hold an MLmodel file,
    looking at no more than MODEL_SEARCH_ENTRIES entries."""
    found: list[str] = []
    seen = 0
    level = [(root, "")]
    for _ in range(MODEL_SEARCH_DEPTH + 1):
        next_level = []
        for directory, relative in level:
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            seen += len(entries)
            if any(e.name == MLMODEL_FILE and e.is_file() for e in entries) and relative:
                found.append(relative)
            next_level += [
                (Path(e.path), f"{relative}/{e.name}" if relative else e.name)
                for e in entries
                if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
            ]
            if seen > MODEL_SEARCH_ENTRIES:
                return found
        level = next_level
    return found
