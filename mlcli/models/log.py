"""``log_model``: save a model into a run's artifacts and record it on the run.

The model is written to a hidden staging folder beside its destination
(``<artifacts>/<name>``) and renamed into place, so a reader never sees half a model.
The run's ``mlcli.log-model.history`` tag (MLflow's ``mlflow.log-model.history``) gets
a JSON entry per logged model. Without ``run_id`` the active run is used, and one is
started if there is none (as MLflow does).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli import system_tags
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.files.fileio import create_temp_dir
from mlcli.models.logged import remember_logged
from mlcli.models.mlmodel import Model
from mlcli.models.registry_link import RegistryLink, registry_link
from mlcli.models.save import write_model
from mlcli.models.signature import ModelSignature
from mlcli.models.trust import store_records_dir
from mlcli.store import MAX_TAG_VALUE_LENGTH, Artifacts, normalize_artifact_path

if TYPE_CHECKING:
    from mlcli.store import LoggedModel
    from mlcli.tracking import TrackingClient

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """What was logged, and the URI to load it by (MLflow 3's attribute names).

    ``model_uri`` is MLflow 3's ``models:/m-<model_id>``; ``runs:/<run_id>/<artifact_path>``
    (``run_model_uri``) names the same files and keeps loading."""

    run_id: str
    artifact_path: str
    model_uri: str
    model_uuid: str
    flavors: dict[str, dict[str, Any]]
    signature: ModelSignature | None
    utc_time_created: str
    mlcli_version: str | None
    registered_model_version: int | None = None
    model_id: str | None = None
    name: str | None = None
    experiment_id: str | None = None

    @property
    def run_model_uri(self) -> str:
        return f"runs:/{self.run_id}/{self.artifact_path}"

    @property
    def artifact_uri(self) -> str:
        return self.model_uri

    @property
    def saved_input_example_info(self) -> dict[str, Any] | None:
        return None


def log_model(
    model: Any = None,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    python_model: Any = None,
    flavor: str | None = None,
    run_id: str | None = None,
    registered_model_name: str | None = None,
    client: TrackingClient | None = None,
    registry: RegistryLink | None = None,
    **save_options: Any,
) -> ModelInfo:
    """Log ``model`` (or ``python_model``) to a run under ``name``; returns its ModelInfo.

    ``save_options`` are those of :func:`mlcli.models.save_model` (``signature``,
    ``input_example``, ``pip_requirements``, ``code_paths``, the flavor's own
    options...). ``artifact_path`` is MLflow 3's deprecated name of ``name``: accepted
    with MLflow's warning; ``name`` defaults to ``"model"``.
    """
    name = model_name(name, artifact_path)
    if python_model is not None:
        model, flavor = python_model, flavor or "python_function"
    if model is None:
        raise InvalidInputError("log_model needs a model (or python_model=...)")
    artifact_path = normalize_artifact_path(name)
    if not artifact_path:
        raise InvalidInputError("log_model needs a name for the model inside the run")
    client, run_id = _target_run(client, run_id)
    link = None
    if registered_model_name is not None:
        link = registry if registry is not None else registry_link(client)
        link.check_registrable(name=registered_model_name)
    artifacts = client.store.artifacts(run_id)
    target = artifacts.resolve(artifact_path, must_exist=False)
    if _taken(artifacts, artifact_path, target):
        raise ConflictError(f"run {run_id[:8]} already has an artifact at {artifact_path!r}")
    records = store_records_dir(client.store.root)
    logged = _new_logged_model(client, run_id, artifact_path)
    try:
        options = {**save_options, "model_id": logged.model_id}
        mlmodel = _save_in_place(model, target, flavor, run_id, artifact_path, records, options)
        artifacts.publish(artifact_path)  # a server's store uploads what was saved in its cache
    except BaseException:
        client.store.logged_models.update(logged.model_id, status="FAILED")
        with contextlib.suppress(OSError):  # the logged model's empty folder: nothing saved
            target.rmdir()
        raise
    client.store.logged_models.update(logged.model_id, status="READY")
    remember_logged(logged.model_id)
    _append_history(client, run_id, mlmodel)
    run_uri = f"runs:/{run_id}/{artifact_path}"
    version = None
    if link is not None and registered_model_name is not None:
        version = link.register(
            name=registered_model_name, model_uri=run_uri, model_dir=target, run_id=run_id
        ).version
    return ModelInfo(
        run_id=run_id,
        artifact_path=artifact_path,
        model_uri=f"models:/{logged.model_id}",
        model_id=logged.model_id,
        name=name,
        experiment_id=logged.experiment_id,
        model_uuid=mlmodel.model_uuid,
        flavors=mlmodel.flavors,
        signature=mlmodel.signature,
        utc_time_created=mlmodel.utc_time_created,
        mlcli_version=mlmodel.mlcli_version,
        registered_model_version=version,
    )


def _new_logged_model(client: TrackingClient, run_id: str, artifact_path: str) -> LoggedModel:
    """MLflow 3's logged model for this log_model call, PENDING until its files are in
    place; its folder is the run's ``artifact_path`` (created empty here, so the save's
    rename fills it)."""
    experiment_id = client.get_run(run_id).info.experiment_id
    logged = client.store.logged_models.create(
        run_id=run_id, experiment_id=experiment_id, name=artifact_path
    )
    if logged.artifact_path != artifact_path:  # taken meanwhile: mlcli keeps one per path
        client.store.logged_models.update(logged.model_id, status="FAILED", deleted=True)
        raise ConflictError(f"run {run_id[:8]} already has an artifact at {artifact_path!r}")
    return logged


def model_name(name: str | None, artifact_path: str | None) -> str:
    """The model's name from ``name=`` or MLflow's deprecated ``artifact_path=``, with
    MLflow's warning (a log record, as MLflow gives it) and MLflow's error for both."""
    if name is not None and artifact_path is not None:
        raise InvalidInputError(
            "Both `artifact_path` (deprecated) and `name` parameters were specified. "
            "Please only specify `name`."
        )
    if artifact_path is not None:
        _logger.warning("`artifact_path` is deprecated. Please use `name` instead.")
        return artifact_path
    return "model" if name is None else name


def _target_run(client: TrackingClient | None, run_id: str | None) -> tuple[TrackingClient, str]:
    from mlcli import fluent
    from mlcli.tracking import TrackingClient

    if run_id is None:
        if client is not None:
            raise InvalidInputError("log_model with an explicit client needs run_id too")
        active = fluent.active_run() or fluent.start_run()
        run_id = active.run_id
    client = client or TrackingClient()
    run = client.get_run(run_id)
    if run.info.lifecycle_stage != "active":
        raise InvalidInputError(f"run {run.run_id[:8]} is deleted; restore it to log to it")
    return client, run.run_id


def _taken(artifacts: Artifacts, artifact_path: str, target: Path) -> bool:
    """Whether the run already has something at ``artifact_path``: in place (``target``),
    or in the store itself when ``target`` is a local cache of it."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        return True
    try:
        return bool(artifacts.list(artifact_path))
    except NotFoundError:
        return False


def _save_in_place(
    model: Any,
    target: Path,
    flavor: str | None,
    run_id: str,
    artifact_path: str,
    trust_records: Path,
    options: dict[str, Any],
) -> Model:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = create_temp_dir(target)  # as the umask allows: an ordinary artifact folder
    try:
        mlmodel = write_model(
            model,
            staging,
            flavor=flavor,
            run_id=run_id,
            artifact_path=artifact_path,
            trust_records=[trust_records],
            **options,
        )
        try:
            os.rename(staging, target)  # atomic; refuses a non-empty target
        except OSError:
            raise ConflictError(
                f"run {run_id[:8]} already has an artifact at {artifact_path!r}"
            ) from None
        return mlmodel
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _append_history(client: TrackingClient, run_id: str, mlmodel: Model) -> None:
    """Add the model to the run's history tag, dropping the oldest entries if the tag
    would outgrow the tag value limit."""
    raw = client.get_run(run_id).data.tags.get(system_tags.LOG_MODEL_HISTORY)
    try:
        history = json.loads(raw) if raw else []
    except ValueError:
        history = []
    entry = {
        "run_id": run_id,
        "artifact_path": mlmodel.artifact_path,
        "utc_time_created": mlmodel.utc_time_created,
        "flavors": mlmodel.flavors,
        "model_uuid": mlmodel.model_uuid,
        "mlcli_version": mlmodel.mlcli_version,
    }
    history = [*(history if isinstance(history, list) else []), entry]
    text = json.dumps(history)
    while len(text) > MAX_TAG_VALUE_LENGTH and len(history) > 1:
        history = history[1:]
        text = json.dumps(history)
    if len(text) <= MAX_TAG_VALUE_LENGTH:
        client.set_tag(run_id, system_tags.LOG_MODEL_HISTORY, text)
