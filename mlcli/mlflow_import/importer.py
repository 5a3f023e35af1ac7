"""Copying an MLflow store into an mlcli store, idempotently.

- Experiments are matched by name (MLflow's ``0``/``Default`` is mlcli's ``0``) and
  created when missing, deleted ones as deleted.
- Experiments keep their creation and last update times (when the source has them).
- Runs keep their MLflow ids. A run is created with the tag ``mlcli.import.incomplete``
  and loses it as the last step, after its params, metric history, tags, artifacts and
  logged models are in; a later import skips runs that exist without that tag and
  starts again those that have it (an import that was interrupted). Their datasets
  and model inputs come too, and logged models' metrics. Runs that exist
  but were not imported are left alone.
- System tags ``mlflow.X`` become ``mlcli.X``; the run's parent, name and user come
  from the run and its tags, as MLflow recorded them.
- Registered models keep their version numbers, stages, aliases, tags and
  descriptions; a version already present is skipped; a deleted MLflow version (or one
  whose files cannot be found) becomes a deleted version, so the numbers still line up.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError, MlcliError, NotFoundError
from mlcli.mlflow_import.records import MlflowSource, SourceModel, SourceRun, SourceVersion
from mlcli.registry.entities import Stage
from mlcli.store import (
    Experiment,
    LifecycleStage,
    RunStatus,
    ViewType,
    printable_run_name,
    validate_experiment_tags,
    validate_key,
    validate_param_value,
    validate_run_id,
    validate_tag_value,
)
from mlcli.tracking_server.tags import tags_to_store

_METRIC_CHUNK = 10_000

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    source: str
    experiments_created: int = 0
    runs_imported: int = 0
    runs_skipped: int = 0
    metric_points: int = 0
    dataset_inputs: int = 0
    logged_model_metric_points: int = 0
    artifact_files: int = 0
    logged_models: int = 0
    models_created: int = 0
    versions_imported: int = 0
    versions_skipped: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Importer:
    def __init__(self, source: MlflowSource, client: MlcliClient) -> None:
        self.source = source
        self.client = client
        self.store = client.writable_store()
        self.logged_models = self.store.logged_models
        self.report = ImportReport(source.label)

    def run(self, progress: Progress | None = None) -> ImportReport:
        """Import everything; a symbolic link a copy skipped (one leading out of the
        folder copied) is one of the report's warnings."""
        import warnings

        from mlcli.files.trees import SkippedFileWarning

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SkippedFileWarning)
                return self._import(progress)
        finally:
            for warning in caught:
                if issubclass(warning.category, SkippedFileWarning):
                    self.report.warnings.append(str(warning.message))
                else:  # someone else's: passed on as it came
                    warnings.warn_explicit(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )

    def _import(self, progress: Progress | None) -> ImportReport:
        experiments = self.source.experiments()
        mapping = {e.experiment_id: self._experiment(e) for e in experiments}
        runs = [run for e in experiments for run in self.source.runs(e.experiment_id)]
        models = {
            m.model_id: m for e in experiments for m in self.source.logged_models(e.experiment_id)
        }
        orphans = [m.model_id for m in models.values() if m.run_id is None]
        if orphans:
            self.report.warnings.append(
                f"{len(orphans)} logged model(s) without a run were not imported: "
                + ", ".join(orphans[:5])
            )
        for done, run in enumerate(runs, 1):
            own = [m for m in models.values() if m.run_id == run.run_id]
            self._run(run, mapping[run.experiment_id], own)
            if progress:
                progress(done, len(runs))
        for model in self.source.registered_models():
            self._registered_model(model)
        return self.report

    # -- experiments ---------------------------------------------------------------------------

    def _experiment(self, experiment: Any) -> str:
        files = self.store.experiments
        target: Experiment | None
        if experiment.experiment_id == "0" and experiment.name == "Default":
            target = files.get("0")
        else:
            target = files.find_by_name(experiment.name) or files.find_by_name(
                experiment.name, ViewType.ALL
            )
        if target is None:
            target = files.create(
                experiment.name,
                _clean_experiment_tags(tags_to_store(experiment.tags)),
                creation_time=experiment.creation_time,
                last_update_time=experiment.last_update_time,
            )
            self.report.experiments_created += 1
            if experiment.lifecycle_stage == LifecycleStage.DELETED:
                files.delete(target.experiment_id)
        for key, value in tags_to_store(experiment.tags).items():
            if target.tags.get(key) != value:
                files.set_tag(target.experiment_id, key, value)
        return target.experiment_id

    # -- runs ----------------------------------------------------------------------------------

    def _run(self, run: SourceRun, experiment_id: str, models: list[Any]) -> None:
        try:
            run_id = validate_run_id(run.run_id.lower())
        except InvalidInputError as exc:
            self.report.warnings.append(f"run {run.run_id!r} skipped: {exc}")
            return
        runs = self.store.runs
        if runs.exists(run_id):
            if system_tags.IMPORT_INCOMPLETE not in runs.read_tags(run_id):
                self.report.runs_skipped += 1
                return
            runs.purge(run_id)  # an interrupted import of this run: start it again
        try:
            self._write_run(run, run_id, experiment_id, models)
        except MlcliError as exc:
            if runs.exists(run_id):
                runs.purge(run_id)
            self.report.warnings.append(f"run {run_id} skipped: {exc}")
            return
        self.report.runs_imported += 1

    def _write_run(
        self, run: SourceRun, run_id: str, experiment_id: str, models: list[Any]
    ) -> None:
        raw_tags = tags_to_store(run.tags)
        name = self._run_name(run.name or raw_tags.get(system_tags.RUN_NAME) or "", run_id)
        tags = _clean_tags({**raw_tags, system_tags.RUN_NAME: name})
        params = {
            validate_key(k, "param key"): validate_param_value(k, v) for k, v in run.params.items()
        }
        metrics = self.source.metrics(run)
        for metric in metrics:
            validate_key(metric.key, "metric key")
        parent = tags.get(system_tags.PARENT_RUN_ID) or None
        runs = self.store.runs
        runs.create(
            experiment_id=experiment_id,
            run_name=name,
            user_id=run.user_id or tags.get(system_tags.USER) or "unknown",
            tags={
                **tags,
                system_tags.IMPORT_INCOMPLETE: "true",
                system_tags.IMPORT_SOURCE: self.source.label,
            },
            parent_run_id=parent.lower() if parent else None,
            start_time=run.start_time,
            run_id=run_id,
        )
        runs.log_params(run_id, params)
        for start in range(0, len(metrics), _METRIC_CHUNK):
            runs.append_metrics(run_id, metrics[start : start + _METRIC_CHUNK])
        self.report.metric_points += len(metrics)
        if run.artifacts is not None:
            copied = self.store.artifacts(run_id).log_dir(run.artifacts)
            self.report.artifact_files += len(copied)
        for model in models:
            self._logged_model(model, run_id, experiment_id)
        self._inputs(run, run_id)
        status = run.status if run.status in RunStatus.ALL else RunStatus.FAILED
        runs.update(
            run_id,
            status=status,
            end_time=run.end_time if status in RunStatus.TERMINAL else None,
            lifecycle_stage=run.lifecycle_stage,
            deleted_time=run.deleted_time
            if run.lifecycle_stage == LifecycleStage.DELETED
            else None,
        )
        runs.set_tags(run_id, {system_tags.IMPORT_INCOMPLETE: None})

    def _inputs(self, run: SourceRun, run_id: str) -> None:
        """The datasets and models the run read; ones mlcli cannot keep (beyond
        MLflow's own limits) are left out with a warning, the run is kept."""
        inputs = self.source.inputs(run)
        try:
            self.store.runs.log_inputs(run_id, inputs.dataset_inputs, inputs.model_inputs)
        except InvalidInputError as exc:
            self.report.warnings.append(f"run {run_id}: its inputs were not imported: {exc}")
            return
        self.report.dataset_inputs += len(inputs.dataset_inputs)

    def _run_name(self, name: str, run_id: str) -> str:
        """MLflow lets a run's name hold a newline, which would forge rows of mlcli's run
        listings: such characters become spaces, with a warning, and the run is kept."""
        shown = printable_run_name(name)
        if shown != name:
            self.report.warnings.append(
                f"run {run_id}: control characters in its name {name!r} became spaces"
            )
        return shown if shown.strip() else run_id[:8]

    def _logged_model(self, model: Any, run_id: str, experiment_id: str) -> None:
        if self.logged_models.find_run(model.model_id) is not None:
            return
        created = self.logged_models.create(
            run_id=run_id,
            experiment_id=experiment_id,
            name=model.name,
            model_type=model.model_type,
            tags=_clean_tags(tags_to_store(model.tags)),
            params=dict(model.params),
            model_id=model.model_id,
            status=model.status,
            creation_timestamp=model.creation_timestamp,
        )
        if model.metrics:
            self.logged_models.update(model.model_id, metrics=model.metrics)
            self.report.logged_model_metric_points += len(model.metrics)
        if model.artifacts is not None:
            repo = self.store.artifacts(run_id)
            copied = repo.log_dir(model.artifacts, created.artifact_path)
            self.report.artifact_files += len(copied)
        self.report.logged_models += 1

    # -- registry ------------------------------------------------------------------------------

    def _registered_model(self, model: SourceModel) -> None:
        registry = self.client.registry(create=True)
        try:
            registry.get_model(model.name)
        except NotFoundError:
            registry.create_model(
                model.name, model.description, _clean_tags(tags_to_store(model.tags))
            )
            self.report.models_created += 1
        existing = {v.version for v in registry.list_versions(model.name, include_deleted=True)}
        for version in model.versions:
            if version.version in existing:
                self.report.versions_skipped += 1
                continue
            self._version(model.name, version, existing)
        for alias, number in sorted(model.aliases.items()):
            try:
                if registry.get_model(model.name).aliases.get(alias) != number:
                    registry.set_alias(model.name, alias, number)
            except MlcliError as exc:
                self.report.warnings.append(f"alias {model.name}@{alias} skipped: {exc}")

    def _version(self, name: str, version: SourceVersion, existing: set[int]) -> None:
        registry = self.client.registry(create=True)
        while (max(existing, default=0) + 1) < version.version:  # numbers MLflow skipped
            existing.add(self._tombstone(name, "a version number MLflow never used"))
        if max(existing, default=0) + 1 != version.version:
            self.report.warnings.append(
                f"{name} version {version.version} skipped: this store's next version of "
                f"{name} is {max(existing, default=0) + 1}"
            )
            return
        files, source, run_id = self._version_files(version)
        if version.deleted or files is None:
            if not version.deleted:
                self.report.warnings.append(
                    f"{name} version {version.version}: its files were not found "
                    f"({version.source}); imported as deleted"
                )
            existing.add(self._tombstone(name, f"deleted in MLflow ({version.source})"))
            self.report.versions_imported += 1
            return
        commit = None
        if run_id and self.store.runs.exists(run_id):
            commit = self.store.runs.read_tags(run_id).get(system_tags.GIT_COMMIT)
        created = registry.create_version(
            name,
            files,
            source,
            run_id,
            commit,
            version.description,
            _clean_tags(tags_to_store(version.tags)),
        )
        existing.add(created.version)
        if version.stage.lower() != Stage.NONE.lower():
            try:
                registry.transition_stage(name, created.version, version.stage)
            except InvalidInputError as exc:
                self.report.warnings.append(f"{name} version {created.version}: {exc}")
        self.report.versions_imported += 1

    def _version_files(self, version: SourceVersion) -> tuple[Path | None, str, str | None]:
        """The model folder to copy, the source to record, and the run."""
        run_id = (version.run_id or "").lower() or None
        if version.model_id:
            run = self.logged_models.find_run(version.model_id)
            if run is not None:
                model = self.logged_models.get(version.model_id)
                folder = self.store.artifacts(run).resolve(model.artifact_path, must_exist=False)
                if folder.is_dir():
                    return folder, f"runs:/{run}/{model.artifact_path}", run
        return version.files, version.source, run_id

    def _tombstone(self, name: str, comment: str) -> int:
        """A deleted version holding a number, so that later numbers match MLflow's."""
        registry = self.client.registry(create=True)
        with tempfile.TemporaryDirectory() as empty:
            created = registry.create_version(name, Path(empty), "", None)
        registry.delete_version(name, created.version, comment)
        return created.version


def _clean_tags(tags: dict[str, str]) -> dict[str, str]:
    return {validate_key(k, "tag key"): validate_tag_value(k, v) for k, v in tags.items()}


def _clean_experiment_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags a new experiment is created with; one the store refuses is set (and
    refused, with its error) after, as before."""
    kept = {}
    for key, value in tags.items():
        try:
            kept.update(validate_experiment_tags({key: value}))
        except InvalidInputError:
            continue
    return kept


def import_mlflow(
    location: str | Path, client: MlcliClient | None = None, progress: Progress | None = None
) -> ImportReport:
    """Copy the MLflow store at ``location`` (an ``mlruns`` folder, ``file:`` URI, SQLite
    file or ``sqlite:///`` URI) into the client's store."""
    from mlcli.mlflow_import.source import open_source

    source = open_source(location)
    try:
        return Importer(source, client or MlcliClient()).run(progress)
    finally:
        source.close()
