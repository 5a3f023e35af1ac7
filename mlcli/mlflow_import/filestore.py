"""Reading an MLflow file store (``mlruns/``, the layout below) without MLflow.

    <exp>/meta.yaml, <exp>/tags/<key>                 experiments (.trash/<exp> when deleted)
    <exp>/<run>/meta.yaml, params/, tags/, metrics/   runs; a metric file holds
                                                      "timestamp value step [...]" lines
    <exp>/<run>/artifacts/                            the run's files
    <exp>/<run>/inputs/<id>/meta.yaml                 what the run read: a dataset of
    <exp>/datasets/<id>/meta.yaml                     the experiment's, or a logged model
    <exp>/models/m-<hex>/meta.yaml, artifacts/        MLflow 3 logged models; their
    <exp>/models/m-<hex>/metrics/<key>                metrics "timestamp value step run [...]"
    models/<name>/meta.yaml, tags/, aliases/, version-<n>/   the registry

Keys with '/' are nested folders. A torn last metric line is skipped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.files.trees import is_inside
from mlcli.mlflow_import.locations import local_folder
from mlcli.mlflow_import.records import (
    RUN_STATUS_NUMBERS,
    MlflowSource,
    SourceExperiment,
    SourceLoggedModel,
    SourceModel,
    SourceRun,
    SourceVersion,
)
from mlcli.store import Metric, RunInputs, fold_inputs, json_number

_RESERVED = frozenset({"tags", "datasets", "traces", "models", ".trash"})
_MODEL_STATUS = {1: "PENDING", 2: "READY", 3: "FAILED"}
_C_LOADER_MAX_CHARS = 20_000  # at most 10,000 levels of nesting: libyaml survives those


class FileStoreSource(MlflowSource):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def experiments(self) -> list[SourceExperiment]:
        found = []
        for directory in self._experiment_dirs():
            meta = _yaml(directory / "meta.yaml")
            if not meta or "name" not in meta:
                continue
            found.append(
                SourceExperiment(
                    experiment_id=str(meta.get("experiment_id", directory.name)),
                    name=str(meta["name"]),
                    lifecycle_stage=str(meta.get("lifecycle_stage") or "active"),
                    tags=_key_files(directory / "tags"),
                    creation_time=_time(meta.get("creation_time")),
                    last_update_time=_time(meta.get("last_update_time")),
                )
            )
        return found

    def runs(self, experiment_id: str) -> Iterator[SourceRun]:
        directory = self._experiment_dir(experiment_id)
        if directory is None:
            return
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name in _RESERVED or not entry.is_dir():
                continue
            run_dir = Path(entry.path)
            meta = _yaml(run_dir / "meta.yaml")
            if not meta:
                continue
            yield self._run(run_dir, meta, experiment_id)

    def metrics(self, run: SourceRun) -> list[Metric]:
        run_dir = self._run_dir(run)
        if run_dir is None:
            return []
        metrics: list[Metric] = []
        seen: set[tuple[str, str, int, int]] = set()
        for key, text in _key_files(run_dir / "metrics").items():
            for line in text.splitlines():
                metric = _metric(key, line)
                if metric is None:
                    continue
                point = (key, repr(metric.value), metric.step, metric.timestamp)
                if point not in seen:  # MLflow's log_model re-logs a run's points
                    seen.add(point)
                    metrics.append(metric)
        return metrics

    def inputs(self, run: SourceRun) -> RunInputs:
        """``inputs/<id>/meta.yaml`` of the run: a DATASET names a dataset of the
        experiment (``datasets/<id>/meta.yaml``), a MODEL a logged model. An input whose
        dataset is missing is left out, as MLflow's file store leaves it out."""
        run_dir = self._run_dir(run)
        experiment_dir = self._experiment_dir(run.experiment_id)
        if run_dir is None or experiment_dir is None or not (run_dir / "inputs").is_dir():
            return RunInputs()
        found: list[dict[str, Any]] = []
        for input_dir in sorted((run_dir / "inputs").iterdir()):
            meta = _yaml(input_dir / "meta.yaml")
            source_id = str(meta.get("source_id") or "")
            if not source_id or source_id != os.path.basename(source_id):
                continue
            tags = meta.get("tags") if isinstance(meta.get("tags"), dict) else {}
            if meta.get("source_type") == "MODEL":
                found.append({"model_id": source_id})
            elif meta.get("source_type") == "DATASET":
                dataset = _yaml(experiment_dir / "datasets" / source_id / "meta.yaml")
                found.append({"dataset": _dataset_fields(dataset), "tags": tags})
        return fold_inputs(found)

    def logged_models(self, experiment_id: str) -> list[SourceLoggedModel]:
        directory = self._experiment_dir(experiment_id)
        if directory is None or not (directory / "models").is_dir():
            return []
        found = []
        for model_dir in sorted((directory / "models").iterdir()):
            meta = _yaml(model_dir / "meta.yaml")
            if not meta or not str(meta.get("model_id", "")).startswith("m-"):
                continue
            found.append(
                SourceLoggedModel(
                    model_id=str(meta["model_id"]),
                    name=str(meta.get("name") or "model"),
                    run_id=meta.get("source_run_id") or None,
                    status=_MODEL_STATUS.get(_int(meta.get("status")), "READY"),
                    creation_timestamp=_int(meta.get("creation_timestamp")),
                    model_type=meta.get("model_type") or None,
                    tags=_key_files(model_dir / "tags"),
                    params=_key_files(model_dir / "params"),
                    artifacts=local_folder(None, model_dir / "artifacts")
                    or local_folder(meta.get("artifact_location")),
                    metrics=_model_metrics(model_dir / "metrics"),
                )
            )
        return found

    def registered_models(self) -> list[SourceModel]:
        registry = self.root / "models"
        if not registry.is_dir():
            return []
        models = []
        for model_dir in sorted(registry.iterdir()):
            meta = _yaml(model_dir / "meta.yaml")
            if not meta:
                continue
            aliases = {
                alias: _int(text) for alias, text in _key_files(model_dir / "aliases").items()
            }
            versions = [
                self._version(version_dir)
                for version_dir in model_dir.iterdir()
                if version_dir.name.startswith("version-") and (version_dir / "meta.yaml").is_file()
            ]
            models.append(
                SourceModel(
                    name=str(meta.get("name") or model_dir.name),
                    description=str(meta.get("description") or ""),
                    tags=_key_files(model_dir / "tags"),
                    aliases=aliases,
                    versions=sorted(versions, key=lambda v: v.version),
                )
            )
        return models

    # -- internals -------------------------------------------------------------------------------

    def _experiment_dirs(self) -> list[Path]:
        dirs = [p for p in self.root.iterdir() if p.is_dir() and p.name not in _RESERVED]
        trash = self.root / ".trash"
        if trash.is_dir():
            dirs += [p for p in trash.iterdir() if p.is_dir()]
        return sorted(dirs, key=lambda p: (not p.name.isdigit(), len(p.name), p.name))

    def _experiment_dir(self, experiment_id: str) -> Path | None:
        for candidate in (self.root / experiment_id, self.root / ".trash" / experiment_id):
            if (candidate / "meta.yaml").is_file():
                return candidate
        return None

    def _run_dir(self, run: SourceRun) -> Path | None:
        directory = self._experiment_dir(run.experiment_id)
        return None if directory is None else directory / run.run_id

    def _run(self, run_dir: Path, meta: dict[str, Any], experiment_id: str) -> SourceRun:
        status = meta.get("status", 1)
        return SourceRun(
            run_id=str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name),
            experiment_id=experiment_id,
            name=str(meta.get("run_name") or ""),
            user_id=str(meta.get("user_id") or ""),
            status=RUN_STATUS_NUMBERS.get(_int(status), "RUNNING")
            if not isinstance(status, str)
            else status,
            start_time=_int(meta.get("start_time")),
            end_time=None if meta.get("end_time") is None else _int(meta.get("end_time")),
            lifecycle_stage=str(meta.get("lifecycle_stage") or "active"),
            deleted_time=meta.get("deleted_time"),
            tags=_key_files(run_dir / "tags"),
            params=_key_files(run_dir / "params"),
            artifacts=local_folder(None, run_dir / "artifacts")
            or local_folder(meta.get("artifact_uri")),
        )

    def _version(self, version_dir: Path) -> SourceVersion:
        meta = _yaml(version_dir / "meta.yaml")
        storage = meta.get("storage_location") or meta.get("source")
        return SourceVersion(
            version=_int(meta.get("version") or version_dir.name.removeprefix("version-")),
            source=str(meta.get("source") or ""),
            run_id=meta.get("run_id") or None,
            stage=str(meta.get("current_stage") or "None"),
            description=str(meta.get("description") or ""),
            tags=_key_files(version_dir / "tags"),
            files=local_folder(storage),
            model_id=meta.get("model_id") or None,
        )


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    # libyaml composes on the C stack: a document nested some 30,000 deep crashes the
    # interpreter. A short one cannot nest that deep; a long one takes Python's loader,
    # which raises RecursionError instead.
    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = fast if len(text) < _C_LOADER_MAX_CHARS else yaml.SafeLoader
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise InvalidInputError(f"{path} nests too deeply to be read") from None
    return document if isinstance(document, dict) else {}


def _key_files(directory: Path) -> dict[str, str]:
    """Files under ``directory`` as {relative path: content}; nested folders are keys
    with '/'."""
    found: dict[str, str] = {}
    if not directory.is_dir():
        return found
    root = os.path.realpath(directory)
    for path in sorted(directory.rglob("*")):
        # A link leading out of the run's folder would import another file's content.
        if path.is_file() and is_inside(os.path.realpath(path), root):
            found[path.relative_to(directory).as_posix()] = path.read_text(
                encoding="utf-8", errors="replace"
            )
    return found


def _metric(key: str, line: str) -> Metric | None:
    parts = line.split()
    if len(parts) not in (2, 3, 4, 5, 6):
        return None
    try:
        timestamp = int(parts[0])
        value = float(parts[1])
        step = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        return None
    if math.isnan(value):
        value = math.nan
    return Metric(key=key, value=value, step=step, timestamp=timestamp)


def _model_metrics(directory: Path) -> list[dict[str, Any]]:
    """A logged model's metric files: "timestamp value step run_id [dataset_name
    dataset_digest]" per line."""
    points = []
    for key, text in _key_files(directory).items():
        for line in text.splitlines():
            parts = line.split()
            metric = _metric(key, " ".join(parts[:3])) if len(parts) in (4, 6) else None
            if metric is None:
                continue
            point: dict[str, Any] = {
                "key": key,
                "value": json_number(metric.value),
                "timestamp": metric.timestamp,
                "step": metric.step,
                "run_id": parts[3],
            }
            if len(parts) == 6:
                point.update(dataset_name=parts[4], dataset_digest=parts[5])
            points.append(point)
    return points


def _dataset_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """A dataset's meta.yaml as ``inputs.jsonl`` writes a dataset (text fields only)."""
    return {
        name: str(meta[name])
        for name in ("name", "digest", "source_type", "source", "schema", "profile")
        if meta.get(name) is not None
    }


def _time(value: Any) -> int | None:
    return None if value is None or _int(value) <= 0 else _int(value)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
