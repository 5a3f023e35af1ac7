"""Experiments as files: ``experiments/<id>/experiment.json``.

Ids are small integers allocated by an exclusive ``mkdir``. Names are unique among
active experiments; every change to names (create, rename, restore) holds the
experiments lock so that two processes creating "demo" at once get one experiment.
"""

from __future__ import annotations

import builtins
import os
import shutil
from typing import Any, Protocol

from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.files.fileio import read_json, write_json_atomic
from mlcli.files.lock import FileLock
from mlcli.store.entities import Experiment, LifecycleStage, ViewType
from mlcli.store.layout import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, StoreLayout
from mlcli.store.validation import (
    MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    validate_experiment_name,
    validate_key,
    validate_tag_value,
    validate_timestamp,
)


class ExperimentFiles:
    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout

    # -- reading -------------------------------------------------------------------

    def get(self, experiment_id: str) -> Experiment:
        path = self.layout.experiment_doc(str(experiment_id))
        if not _is_plain_name(str(experiment_id)) or not path.is_file():
            raise NotFoundError(f"no experiment with id {experiment_id!r}")
        return self._from_doc(read_json(path))

    def list(self, view: str = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        experiments = []
        for doc in self._documents():
            experiment = self._from_doc(doc)
            if in_view(experiment.lifecycle_stage, view):
                experiments.append(experiment)
        return sorted(experiments, key=lambda e: id_order(e.experiment_id))

    def find_by_name(self, name: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment | None:
        for experiment in self.list(view):
            if experiment.name == name:
                return experiment
        return None

    def resolve(self, ref: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment:
        """An experiment named ``ref``, or else with id ``ref``."""
        experiment = self.find_by_name(ref, view)
        if experiment is not None:
            return experiment
        if _is_plain_name(ref) and self.layout.experiment_doc(ref).is_file():
            experiment = self.get(ref)
            if in_view(experiment.lifecycle_stage, view):
                return experiment
        state = {ViewType.DELETED_ONLY: "deleted ", ViewType.ACTIVE_ONLY: ""}.get(view, "")
        raise NotFoundError(f"no {state}experiment named {ref!r} (see 'mlcli experiments list')")

    # -- writing -------------------------------------------------------------------

    def ensure_default(self) -> None:
        directory = self.layout.experiment_dir(DEFAULT_EXPERIMENT_ID)
        if self.layout.experiment_doc(DEFAULT_EXPERIMENT_ID).is_file():
            return
        directory.mkdir(parents=True, exist_ok=True)
        now = now_ms()
        write_json_atomic(
            self.layout.experiment_doc(DEFAULT_EXPERIMENT_ID),
            _document(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, now),
        )

    def create(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        *,
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> Experiment:
        """A new experiment; its times are now unless given (an import keeps MLflow's)."""
        validate_experiment_name(name)
        clean_tags = validate_experiment_tags(tags or {})
        with FileLock(self.layout.experiments_lock):
            if self.find_by_name(name) is not None:
                raise ConflictError(f"an experiment named {name!r} already exists")
            experiment_id = self._allocate_id()
            doc = _document(experiment_id, name, now_ms(), clean_tags)
            doc.update(experiment_times(doc["creation_time"], creation_time, last_update_time))
            write_json_atomic(self.layout.experiment_doc(experiment_id), doc)
        return self._from_doc(doc)

    def get_or_create(self, name: str) -> Experiment:
        return get_or_create(self, name)

    def rename(self, experiment_id: str, new_name: str) -> Experiment:
        validate_experiment_name(new_name)
        with FileLock(self.layout.experiments_lock):
            taken = self.find_by_name(new_name)
            if taken is not None and taken.experiment_id != experiment_id:
                raise ConflictError(f"an experiment named {new_name!r} already exists")
            return self._update(experiment_id, name=new_name)

    def delete(self, experiment_id: str) -> Experiment:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidInputError("the Default experiment cannot be deleted")
        with FileLock(self.layout.experiments_lock):
            now = now_ms()
            return self._update(
                experiment_id, lifecycle_stage=LifecycleStage.DELETED, deleted_time=now
            )

    def restore(self, experiment_id: str) -> Experiment:
        with FileLock(self.layout.experiments_lock):
            experiment = self.get(experiment_id)
            taken = self.find_by_name(experiment.name)
            if taken is not None and taken.experiment_id != experiment_id:
                raise ConflictError(
                    f"cannot restore experiment {experiment_id}: an active experiment is named "
                    f"{experiment.name!r}; rename one of them first"
                )
            return self._update(
                experiment_id, lifecycle_stage=LifecycleStage.ACTIVE, deleted_time=None
            )

    def set_tag(self, experiment_id: str, key: str, value: str) -> Experiment:
        clean = validate_experiment_tags({key: value})
        with FileLock(self.layout.experiments_lock):
            tags = dict(self.get(experiment_id).tags)
            tags.update(clean)
            return self._update(experiment_id, tags=tags)

    def delete_tag(self, experiment_id: str, key: str) -> Experiment:
        """Remove a tag of an active experiment; NotFoundError when it has no such tag."""
        with FileLock(self.layout.experiments_lock):
            experiment = self.get(experiment_id)
            check_tag_deletable(experiment, key)
            tags = {k: v for k, v in experiment.tags.items() if k != key}
            return self._update(experiment_id, tags=tags)

    def purge(self, experiment_id: str) -> None:
        """Remove a deleted experiment's folder for good (``mlcli gc``)."""
        directory = self.layout.experiment_dir(experiment_id)
        trash = directory.with_name(f".purge-{experiment_id}")
        os.replace(directory, trash)
        shutil.rmtree(trash)

    def deleted_time(self, experiment_id: str) -> int | None:
        return read_json(self.layout.experiment_doc(experiment_id)).get("deleted_time")

    # -- internals -------------------------------------------------------------------

    def _update(self, experiment_id: str, **changes: Any) -> Experiment:
        path = self.layout.experiment_doc(experiment_id)
        self.get(experiment_id)  # raises NotFoundError
        doc = read_json(path)
        doc.update(changes)
        doc["last_update_time"] = now_ms()
        write_json_atomic(path, doc)
        return self._from_doc(doc)

    def _allocate_id(self) -> str:
        self.layout.experiments_dir.mkdir(parents=True, exist_ok=True)
        numbers = [int(n) for n in os.listdir(self.layout.experiments_dir) if n.isdigit()]
        candidate = max(numbers, default=0) + 1
        while True:
            try:
                os.mkdir(self.layout.experiment_dir(str(candidate)))
                return str(candidate)
            except FileExistsError:
                candidate += 1

    def _documents(self) -> builtins.list[dict[str, Any]]:  # `list` is a method here
        try:
            names = os.listdir(self.layout.experiments_dir)
        except FileNotFoundError:
            return []
        docs = []
        for name in names:
            if not _is_plain_name(name):
                continue
            path = self.layout.experiment_doc(name)
            try:
                docs.append(read_json(path))
            except FileNotFoundError:
                continue  # a folder whose creation has not finished
        return docs

    def _from_doc(self, doc: dict[str, Any]) -> Experiment:
        return Experiment(
            experiment_id=str(doc["experiment_id"]),
            name=doc["name"],
            lifecycle_stage=doc.get("lifecycle_stage", LifecycleStage.ACTIVE),
            creation_time=doc.get("creation_time", 0),
            last_update_time=doc.get("last_update_time", 0),
            artifact_location=self.layout.runs_dir.as_uri(),
            tags=dict(doc.get("tags") or {}),
        )


def _document(
    experiment_id: str, name: str, now: int, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "name": name,
        "lifecycle_stage": LifecycleStage.ACTIVE,
        "creation_time": now,
        "last_update_time": now,
        "deleted_time": None,
        "tags": dict(tags or {}),
    }


def experiment_times(
    now: int, creation_time: int | None, last_update_time: int | None
) -> dict[str, int]:
    """A new experiment's creation and last update times: ``now`` unless given (the
    last update never before the creation)."""
    created = now if creation_time is None else validate_timestamp(creation_time)
    updated = created if last_update_time is None else validate_timestamp(last_update_time)
    return {"creation_time": created, "last_update_time": max(created, updated)}


def validate_experiment_tags(tags: dict[str, str]) -> dict[str, str]:
    return {
        validate_key(k, "tag key"): validate_tag_value(k, v, MAX_EXPERIMENT_TAG_VALUE_LENGTH)
        for k, v in tags.items()
    }


class _Named(Protocol):
    def find_by_name(self, name: str, view: str = ...) -> Experiment | None: ...
    def create(self, name: str, tags: dict[str, str] | None = None) -> Experiment: ...
    def resolve(self, ref: str, view: str = ...) -> Experiment: ...


def get_or_create(experiments: _Named, name: str) -> Experiment:
    """The active experiment named ``name``, created if there is none (every kind of
    store: another writer may create it between the look and the create)."""
    existing = experiments.find_by_name(name)
    if existing is not None:
        return existing
    try:
        return experiments.create(name)
    except ConflictError:
        return experiments.resolve(name)


def in_view(stage: str, view: str) -> bool:
    """Whether an experiment in ``stage`` belongs in a listing of ``view`` (every kind of
    store lists experiments by this rule)."""
    if view == ViewType.ALL:
        return True
    if view == ViewType.DELETED_ONLY:
        return stage == LifecycleStage.DELETED
    return stage == LifecycleStage.ACTIVE


def _is_plain_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name and name != ".."


def id_order(experiment_id: str) -> tuple[int, str]:
    """The sort key of experiments in a listing: numeric ids in numeric order first."""
    return (int(experiment_id), "") if experiment_id.isdigit() else (1 << 62, experiment_id)


def check_tag_deletable(experiment: Experiment, key: str) -> None:
    """What every store checks before deleting an experiment's tag (MLflow's rules)."""
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidInputError(
            f"experiment {experiment.experiment_id} is deleted; restore it before changing "
            "its tags",
            error_code="INVALID_STATE",
        )
    if key not in experiment.tags:
        raise NotFoundError(
            f"no tag {key!r} on experiment {experiment.name!r} ({experiment.experiment_id})"
        )
