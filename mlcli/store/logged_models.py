"""MLflow 3's "logged models", kept with the run that logged them.

MLflow 3 gives every ``log_model`` call a model id (``m-<32 hex>``) and its own
artifact folder. mlcli keeps the model's files where its own tools look for a run's
model, under the run's artifacts (``runs/<run_id>/artifacts/<name>/``, so that
``runs:/<run_id>/<name>`` works for ``mlcli models``, ``mlcli serve`` and
``mlcli register``), and the model's metadata beside the run's other documents::

    runs/<run_id>/logged_models/<model_id>.json   name, artifact folder, status, tags, params,
                                                  metrics, times

A document is replaced atomically under the run's lock. Finding a model by id lists
the run folders once and is then remembered.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.files.fileio import read_json, write_json_atomic
from mlcli.files.lock import FileLock
from mlcli.store.artifacts import normalize_artifact_path
from mlcli.store.layout import StoreLayout

_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}\Z")


class LoggedModelStatus:
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"

    ALL = (PENDING, READY, FAILED)


@dataclass(frozen=True)
class LoggedModel:
    model_id: str
    name: str
    experiment_id: str
    run_id: str
    artifact_path: str  # the model's folder, relative to the run's artifacts
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    status_message: str | None = None
    step: int = 0
    deleted: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    # mlcli's own: orders models created in the same millisecond (0 when unknown)
    created_ns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "name": self.name,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "status": self.status,
            "status_message": self.status_message,
            "model_type": self.model_type,
            "step": self.step,
            "deleted": self.deleted,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "tags": dict(self.tags),
            "params": dict(self.params),
            "metrics": list(self.metrics),
            "created_ns": self.created_ns,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LoggedModel:
        return cls(
            model_id=doc["model_id"],
            name=doc.get("name") or "",
            experiment_id=str(doc.get("experiment_id", "0")),
            run_id=doc["run_id"],
            artifact_path=doc.get("artifact_path") or "",
            status=doc.get("status") or LoggedModelStatus.PENDING,
            status_message=doc.get("status_message"),
            model_type=doc.get("model_type"),
            step=int(doc.get("step") or 0),
            deleted=bool(doc.get("deleted")),
            creation_timestamp=int(doc.get("creation_timestamp") or 0),
            last_updated_timestamp=int(doc.get("last_updated_timestamp") or 0),
            tags=dict(doc.get("tags") or {}),
            params=dict(doc.get("params") or {}),
            metrics=list(doc.get("metrics") or []),
            created_ns=int(doc.get("created_ns") or 0),
        )


class LoggedModelFiles:
    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout
        self._runs: dict[str, str] = {}  # model id -> run id, as found

    def create(
        self,
        *,
        run_id: str,
        experiment_id: str,
        name: str,
        model_type: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_id: str | None = None,
        status: str = LoggedModelStatus.PENDING,
        creation_timestamp: int | None = None,
    ) -> LoggedModel:
        """A new logged model of ``run_id``, with an empty folder of its own under the
        run's artifacts: ``<name>``, or ``<name>-<id>`` when that is taken."""
        model_id = new_model_id(model_id)
        if self.find_run(model_id) is not None:
            raise ConflictError(f"a logged model with id {model_id} already exists")
        folder = self._new_folder(run_id, name, model_id)
        model = new_model(
            model_id=model_id,
            name=name,
            experiment_id=experiment_id,
            run_id=run_id,
            artifact_path=folder,
            status=status,
            model_type=model_type,
            creation_timestamp=creation_timestamp,
            tags=tags,
            params=params,
        )
        self.layout.logged_models_dir(run_id).mkdir(exist_ok=True)
        write_json_atomic(self.layout.logged_model_doc(run_id, model_id), model.to_dict())
        self._runs[model_id] = run_id
        return model

    def get(self, model_id: str) -> LoggedModel:
        run_id = self.find_run(validate_model_id(model_id))
        if run_id is None:
            raise NotFoundError(f"no logged model with id {model_id!r}")
        return LoggedModel.from_dict(read_json(self.layout.logged_model_doc(run_id, model_id)))

    def of_run(self, run_id: str) -> list[LoggedModel]:
        """The run's logged models, oldest first (deleted ones included)."""
        directory = self.layout.logged_models_dir(run_id)
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        models = []
        for name in names:
            if name.endswith(".json") and _MODEL_ID.match(name[:-5]):
                try:
                    models.append(LoggedModel.from_dict(read_json(directory / name)))
                except FileNotFoundError:
                    continue
        return oldest_first(models)

    def update(self, model_id: str, **changes: Any) -> LoggedModel:
        """Apply ``changes`` to the document; ``tags``/``params`` are merged (a tag set to
        None is removed), ``metrics`` appended."""
        current = self.get(model_id)
        doc_path = self.layout.logged_model_doc(current.run_id, model_id)
        with FileLock(self.layout.run_lock(current.run_id)):
            doc = apply_changes(read_json(doc_path), changes)
            write_json_atomic(doc_path, doc)
        return LoggedModel.from_dict(doc)

    def find_run(self, model_id: str) -> str | None:
        """The run whose folder holds the model's document, or None."""
        known = self._runs.get(model_id)
        if known is not None and self.layout.logged_model_doc(known, model_id).is_file():
            return known
        try:
            run_ids = os.listdir(self.layout.runs_dir)
        except FileNotFoundError:
            return None
        for run_id in run_ids:
            if (
                not run_id.startswith(".")
                and self.layout.logged_model_doc(run_id, model_id).is_file()
            ):
                self._runs[model_id] = run_id
                return run_id
        return None

    def _new_folder(self, run_id: str, name: str, model_id: str) -> str:
        artifacts = self.layout.artifacts_dir(run_id)
        if not artifacts.is_dir():
            raise NotFoundError(f"no run with id {run_id!r}")
        candidates = folder_candidates(name, model_id)
        for candidate in candidates:
            target = artifacts / candidate
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.mkdir(target)
                return candidate
            except FileExistsError:
                continue
        raise ConflictError(f"run {run_id[:8]} already has artifacts at {candidates[0]!r}")


def new_model_id(model_id: str | None) -> str:
    """The id a new model gets: ``model_id`` when given (checked), else a fresh one."""
    return validate_model_id(model_id) if model_id else f"m-{uuid.uuid4().hex}"


def new_model(
    *,
    model_id: str,
    name: str,
    experiment_id: str,
    run_id: str,
    artifact_path: str,
    status: str,
    model_type: str | None,
    creation_timestamp: int | None,
    tags: dict[str, str] | None,
    params: dict[str, str] | None,
) -> LoggedModel:
    """A new model's record, stamped now (``status`` checked)."""
    now = now_ms()
    return LoggedModel(
        model_id=model_id,
        name=name,
        experiment_id=experiment_id,
        run_id=run_id,
        artifact_path=artifact_path,
        status=_status(status),
        model_type=model_type,
        creation_timestamp=creation_timestamp or now,
        last_updated_timestamp=now,
        tags=dict(tags or {}),
        params=dict(params or {}),
        created_ns=time.time_ns(),
    )


def folder_candidates(name: str, model_id: str) -> list[str]:
    """Where a new model's folder may go under its run's artifacts, first choice first:
    ``<name>``, then ``<name>-<8 hex of its id>``, then ``<name>-<its whole id>``."""
    base = normalize_artifact_path(name.strip())
    if not base:
        raise InvalidInputError(f"invalid logged model name {name!r}")
    return [base, f"{base}-{model_id[2:10]}", f"{base}-{model_id[2:]}"]


def apply_changes(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with ``changes`` applied (in place): ``tags``/``params`` merged (a tag set
    to None is removed), ``metrics`` appended, ``status`` checked, the rest replaced."""
    for key, value in changes.items():
        if key in ("tags", "params"):
            merged = {**(doc.get(key) or {}), **value}
            doc[key] = {k: v for k, v in merged.items() if v is not None}
        elif key == "metrics":
            doc["metrics"] = list(doc.get("metrics") or []) + list(value)
        elif key == "status":
            doc["status"] = _status(value)
        else:
            doc[key] = value
    doc["last_updated_timestamp"] = now_ms()
    return doc


def oldest_first(models: list[LoggedModel]) -> list[LoggedModel]:
    return sorted(models, key=lambda m: (m.creation_timestamp, m.created_ns, m.model_id))


def validate_model_id(model_id: object) -> str:
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise InvalidInputError(f"invalid logged model id {model_id!r}: expected m-<32 hex>")
    return model_id


def _status(status: str) -> str:
    text = str(status).upper()
    if text not in LoggedModelStatus.ALL:
        raise InvalidInputError(
            f"invalid logged model status {status!r}: expected one of "
            f"{', '.join(LoggedModelStatus.ALL)}"
        )
    return text
