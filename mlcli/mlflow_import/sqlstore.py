"""Reading an MLflow SQLite database (``sqlite:///mlflow.db``) without MLflow, read-only.

The tables read are ``experiments``, ``experiment_tags``, ``runs``, ``params``, ``tags``,
``metrics`` and, where the database has them, ``logged_models`` (with their tags and
params), ``registered_models``, ``registered_model_tags``, ``registered_model_aliases``,
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
from mlcli.store import Metric

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
        return [
            SourceExperiment(str(eid), name, stage or "active", tags.get(str(eid), {}))
            for eid, name, stage in self._rows(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments "
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
