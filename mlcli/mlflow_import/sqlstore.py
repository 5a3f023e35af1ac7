"""Reading an MLflow SQLite database (``sqlite:///mlflow.db``) without MLflow, read-only.

The tables read are ``experiments``, ``experiment_tags``, ``runs``, ``params``, ``tags``,
``metrics`` and, where the database has them, ``datasets``, ``inputs`` and
``input_tags`` (what runs read), ``logged_models`` (with their tags, params and
metrics), ``registered_models``, ``registered_model_tags``, ``registered_model_aliases``,
``model_versions`` and ``model_version_tags``. Artifacts are wherever the runs'
``artifact_uri`` points; for ``mlflow-artifacts:`` URIs, under ``mlartifacts/`` beside
the database (an ``mlflow server``'s default artifacts destination).
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.mlflow_import.locations import local_folder, proxied_path
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

_MODEL_STATUS = {1: "PENDING", 2: "READY", 3: "FAILED"}


class SqliteSource(MlflowSource):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = f"sqlite:///{path}"
        try:
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self.tables = {
                row[0]
                for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise InvalidInputError(f"{path} is not a readable SQLite database: {exc}") from None
        if not {"experiments", "runs"} <= self.tables:
            raise InvalidInputError(f"{path} is not an MLflow database (no experiments table)")

    def experiments(self) -> list[SourceExperiment]:
        tags = self._grouped("SELECT experiment_id, key, value FROM experiment_tags")
        times = (
            "creation_time, last_update_time"
            if {"creation_time", "last_update_time"} <= self._columns("experiments")
            else "NULL, NULL"  # a database older than MLflow 2.2 does not keep them
        )
        return [
            SourceExperiment(
                str(eid),
                name,
                stage or "active",
                tags.get(str(eid), {}),
                creation_time=int(created) if created else None,
                last_update_time=int(updated) if updated else None,
            )
            for eid, name, stage, created, updated in self._rows(
                f"SELECT experiment_id, name, lifecycle_stage, {times} FROM experiments "
                "ORDER BY experiment_id"
            )
        ]

    def runs(self, experiment_id: str) -> Iterator[SourceRun]:
        rows = self._rows(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, "
            "deleted_time, artifact_uri FROM runs WHERE experiment_id = ? ORDER BY start_time",
            (experiment_id,),
        )
        for run_id, name, user, status, start, end, stage, deleted, uri in rows:
            yield SourceRun(
                run_id=run_id,
                experiment_id=experiment_id,
                name=name or "",
                user_id=user or "",
                status=RUN_STATUS_NUMBERS.get(status, str(status))
                if isinstance(status, int)
                else status,
                start_time=int(start or 0),
                end_time=None if end is None else int(end),
                lifecycle_stage=stage or "active",
                deleted_time=deleted,
                tags=self._pairs("SELECT key, value FROM tags WHERE run_uuid = ?", run_id),
                params=self._pairs("SELECT key, value FROM params WHERE run_uuid = ?", run_id),
                artifacts=self._folder(uri),
            )

    def metrics(self, run: SourceRun) -> list[Metric]:
        rows = self._rows(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
            "ORDER BY timestamp, step, key",
            (run.run_id,),
        )
        return [
            Metric(key, math.nan if is_nan else float(value), int(step or 0), int(timestamp or 0))
            for key, value, timestamp, step, is_nan in rows
        ]

    def inputs(self, run: SourceRun) -> RunInputs:
        """The run's rows of ``inputs`` (destination RUN): a DATASET source is a row of
        ``datasets``, with the input's ``input_tags``; a RUN_INPUT to a MODEL_INPUT
        (MLflow 3) is a logged model the run read."""
        if not {"inputs", "datasets"} <= self.tables:
            return RunInputs()
        found: list[dict[str, Any]] = []
        datasets = self._rows(
            "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, "
            "d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d "
            "ON i.source_id = d.dataset_uuid WHERE i.source_type = 'DATASET' AND "
            "i.destination_type = 'RUN' AND i.destination_id = ? ORDER BY i.rowid",
            (run.run_id,),
        )
        tags = self._input_tags([row[0] for row in datasets])
        for input_id, name, digest, source_type, source, schema, profile in datasets:
            dataset = {"name": name, "digest": digest, "source_type": source_type}
            dataset["source"] = source
            dataset.update({k: v for k, v in (("schema", schema), ("profile", profile)) if v})
            found.append({"dataset": dataset, "tags": tags.get(input_id, {})})
        for (model_id,) in self._rows(
            "SELECT destination_id FROM inputs WHERE source_type = 'RUN_INPUT' AND "
            "source_id = ? AND destination_type = 'MODEL_INPUT' ORDER BY rowid",
            (run.run_id,),
        ):
            found.append({"model_id": model_id})
        return fold_inputs(found)

    def logged_models(self, experiment_id: str) -> list[SourceLoggedModel]:
        if "logged_models" not in self.tables:
            return []
        tags = self._grouped("SELECT model_id, tag_key, tag_value FROM logged_model_tags")
        params = self._grouped("SELECT model_id, param_key, param_value FROM logged_model_params")
        rows = self._rows(
            "SELECT model_id, name, source_run_id, status, creation_timestamp_ms, model_type, "
            "artifact_location FROM logged_models WHERE experiment_id = ? AND "
            "lifecycle_stage = 'active' ORDER BY creation_timestamp_ms",
            (experiment_id,),
        )
        return [
            SourceLoggedModel(
                model_id=model_id,
                name=name or "model",
                run_id=run_id or None,
                status=_MODEL_STATUS.get(status, "READY"),
                creation_timestamp=int(created or 0),
                model_type=model_type or None,
                tags=tags.get(model_id, {}),
                params=params.get(model_id, {}),
                artifacts=self._folder(location),
                metrics=self._model_metrics(model_id),
            )
            for model_id, name, run_id, status, created, model_type, location in rows
        ]

    def registered_models(self) -> list[SourceModel]:
        if "registered_models" not in self.tables:
            return []
        model_tags = self._grouped("SELECT name, key, value FROM registered_model_tags")
        version_tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        for name, version, key, value in self._rows(
            "SELECT name, version, key, value FROM model_version_tags"
        ):
            version_tags[(name, int(version))][key] = value
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        if "registered_model_aliases" in self.tables:
            for name, alias, version in self._rows(
                "SELECT name, alias, version FROM registered_model_aliases"
            ):
                aliases[name][alias] = int(version)
        versions: dict[str, list[SourceVersion]] = defaultdict(list)
        for name, version, source, run_id, stage, description, storage in self._rows(
            "SELECT name, version, source, run_id, current_stage, description, storage_location "
            "FROM model_versions ORDER BY name, version"
        ):
            versions[name].append(
                SourceVersion(
                    version=int(version),
                    source=source or "",
                    run_id=run_id or None,
                    stage=stage or "None",
                    description=description or "",
                    tags=version_tags.get((name, int(version)), {}),
                    files=self._folder(storage) or self._folder(source),
                    model_id=source[len("models:/") :]
                    if (source or "").startswith("models:/m-")
                    else None,
                )
            )
        return [
            SourceModel(
                name, description or "", model_tags.get(name, {}), aliases[name], versions[name]
            )
            for name, description in self._rows(
                "SELECT name, description FROM registered_models ORDER BY name"
            )
        ]

    def close(self) -> None:
        self.db.close()

    # -- internals -------------------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise InvalidInputError(f"cannot read {self.path}: {exc}") from None

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._rows(f"PRAGMA table_info({table})")}

    def _input_tags(self, input_ids: list[str]) -> dict[str, dict[str, str]]:
        if not input_ids or "input_tags" not in self.tables:
            return {}
        marks = ",".join("?" * len(input_ids))
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for input_id, name, value in self._rows(
            f"SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ({marks})",
            tuple(input_ids),
        ):
            tags[input_id][name] = "" if value is None else str(value)
        return tags

    def _model_metrics(self, model_id: str) -> list[dict[str, Any]]:
        if "logged_model_metrics" not in self.tables:
            return []
        points = []
        for key, value, timestamp, step, run_id, dataset_name, dataset_digest in self._rows(
            "SELECT metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, "
            "dataset_name, dataset_digest FROM logged_model_metrics WHERE model_id = ? "
            "ORDER BY metric_timestamp_ms, metric_step, metric_name",
            (model_id,),
        ):
            point: dict[str, Any] = {
                "key": key,
                "value": json_number(math.nan if value is None else float(value)),
                "timestamp": int(timestamp or 0),
                "step": int(step or 0),
                "run_id": run_id,
            }
            if dataset_name is not None:
                point.update(dataset_name=dataset_name, dataset_digest=dataset_digest)
            points.append(point)
        return points

    def _pairs(self, sql: str, key: str) -> dict[str, str]:
        return {k: "" if v is None else str(v) for k, v in self._rows(sql, (key,))}

    def _grouped(self, sql: str) -> dict[str, dict[str, str]]:
        grouped: dict[str, dict[str, str]] = defaultdict(dict)
        for owner, key, value in self._rows(sql):
            grouped[str(owner)][key] = "" if value is None else str(value)
        return grouped

    def _folder(self, uri: str | None) -> Path | None:
        proxied = proxied_path(uri)
        fallback = [self.path.parent / "mlartifacts" / proxied] if proxied else []
        return local_folder(uri, *fallback)
