"""``MlcliClient``: tracking and registry operations in one client, named like MLflow's
``MlflowClient`` so that code written for it reads the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.registry import search as registry_search
from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from mlcli.registry.files import store_registry
from mlcli.registry.names import parse_version
from mlcli.registry.promotion import Promotion, PromotionResult, promote
from mlcli.registry.protocol import Registry
from mlcli.system_tags import tags_to_store, to_store
from mlcli.tracking.client import PagedList, TrackingClient, paged


class MlcliClient(TrackingClient):
    """Everything :class:`TrackingClient` does, plus the model registry; MLflow's
    ``MlflowClient`` (also reachable as ``mlcli.tracking.MlflowClient``), with its
    methods' arguments in its order. Searches return every match unless
    ``max_results`` is given (MLflow's default pages are 100 registered models or
    10,000 versions), as a list whose ``token`` names the next page."""

    def registry(self, create: bool = False) -> Registry:
        return store_registry(self, create=create)

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        _no_deployment_job(deployment_job_id)
        registry = self.registry(create=True)
        return self._with_latest(registry.create_model(name, description or "", _store_tags(tags)))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._with_latest(self.registry().get_model(name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """The registered models ``filter_string`` matches (``"name LIKE 'iris%'"``,
        ``"tags.team = 'x'"``; every one but prompts when None), by ``order_by``
        (default: by name), as MLflow's ``search_registered_models``."""
        found = registry_search.search_models(self.registry(), filter_string, order_by)
        page = paged(found, max_results, page_token)
        return PagedList([self._with_latest(m) for m in page], page.token)

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        _no_deployment_job(deployment_job_id)
        if description is None:
            return self.get_registered_model(name)
        return self._with_latest(self.registry().update_model(name, description=description))

    def _with_latest(self, model: RegisteredModel) -> RegisteredModel:
        """The model with MLflow's ``latest_versions``: the newest version of each stage."""
        try:
            latest = self.registry().latest_versions(model.name)
        except NotFoundError:  # deleted meanwhile
            latest = []
        return replace(model, latest_versions=list(latest))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> RegisteredModel:
        return self.registry().update_model(name, tags={to_store(key): value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.registry().delete_tag(name, to_store(key))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give a registered model (its versions, aliases, history) a new name."""
        return self.registry().rename_model(name, new_name)

    def delete_registered_model(self, name: str) -> None:
        self.registry().delete_model(name)

    # -- versions ------------------------------------------------------------------------------

    def register_model(
        self,
        model_uri: str,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Copy the model at ``model_uri`` into the registry as the next version of
        ``name`` (creating the registered model if needed)."""
        from mlcli.models import registry_link

        tags = _store_tags(tags)
        return registry_link.register_model(self, model_uri, name, description or "", tags)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """The next version of the registered model ``name`` (which must exist, as in
        MLflow), from the model at ``source``: ``runs:/<run_id>/<path>``,
        ``models:/...``, or a folder (a folder inside ``run_id``'s artifacts is
        recorded as that run's ``runs:/`` URI). The model's files are copied into the
        registry at once, so ``await_creation_for`` has nothing to wait for;
        ``run_link`` is not kept, and a ``model_id`` is an InvalidInputError (give
        its ``source``)."""
        if model_id is not None:
            raise InvalidInputError(
                "create_model_version: model_id is not supported; give the model's "
                "source (runs:/<run_id>/<path>)"
            )
        self.registry().get_model(name)  # NotFoundError, as MLflow's RESOURCE_DOES_NOT_EXIST
        if run_id and not str(source).startswith(("runs:/", "models:/")):
            source = self._as_run_uri(run_id, str(source))
        return self.register_model(str(source), name, description, tags)

    def _as_run_uri(self, run_id: str, source: str) -> str:
        """``runs:/<run_id>/<path>`` for a folder inside the run's artifacts, else the
        source as given."""
        folder = Path(source.removeprefix("file://")).expanduser()
        root = self.artifact_path(run_id)
        try:
            inside = folder.resolve().relative_to(root.resolve())
        except ValueError:
            return source
        return f"runs:/{self.resolve_run_id(run_id)}/{inside.as_posix()}"

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.registry().get_version(name, parse_version(version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """The versions ``filter_string`` matches (``"name = 'iris'"``, ``"run_id =
        '...'"``, ``"tags.k = 'v'"``), by ``order_by`` (default: by name, newest
        version first), as MLflow's ``search_model_versions``.

        mlcli's older call, a model's name alone (``search_model_versions("iris")``),
        still lists that model's versions, oldest first."""
        registry = self.registry()
        try:
            found = registry_search.search_versions(registry, filter_string, order_by)
        except InvalidInputError:
            if order_by or not (_a_name(filter_string) or _a_model(registry, filter_string)):
                raise
            found = registry.list_versions(str(filter_string))
        return paged(found, max_results, page_token)

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None
    ) -> ModelVersion:
        if description is None:
            return self.get_model_version(name, version)
        return self.registry().update_version(name, parse_version(version), description=description)

    def set_model_version_tag(
        self,
        name: str,
        version: int | str | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> ModelVersion:
        """Tag a version, named by number or (MLflow's ``stage=``) as the newest
        version in that stage."""
        if key is None:
            raise InvalidInputError("set_model_version_tag needs a key")
        number = self._version_or_stage(name, version, stage)
        return self.registry().update_version(name, number, tags={to_store(key): value})

    def delete_model_version_tag(
        self,
        name: str,
        version: int | str | None = None,
        key: str | None = None,
        stage: str | None = None,
    ) -> None:
        if key is None:
            raise InvalidInputError("delete_model_version_tag needs a key")
        number = self._version_or_stage(name, version, stage)
        self.registry().delete_tag(name, to_store(key), number)

    def _version_or_stage(self, name: str, version: int | str | None, stage: str | None) -> int:
        if (version is None) == (stage is None):
            raise InvalidInputError("give a version or a stage, not both and not neither")
        if version is not None:
            return parse_version(version)
        found = self.registry().latest_versions(name, [str(stage)])
        if not found:
            raise NotFoundError(f"model {name!r} has no version in stage {stage}")
        return found[0].version

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        """Where the version's files are: a folder of the registry in the store."""
        number = parse_version(version)
        self.registry().get_version(name, number)  # NotFoundError when there is none
        return str(self.registry().artifacts_path(name, number))

    def get_model_version_stages(self, name: str, version: int | str) -> list[str]:
        return list(Stage.ALL)

    def get_parent_run(self, run_id: str) -> Any:
        """The run's parent run, or None."""
        parent = self.get_run(run_id).info.parent_run_id
        return None if not parent else self.get_run(parent)

    def delete_model_version(self, name: str, version: int | str) -> None:
        self.registry().delete_version(name, parse_version(version))

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return self.registry().transition_stage(
            name, parse_version(version), stage, archive_existing_versions
        )

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return self.registry().latest_versions(name, stages)

    # -- aliases and history ----------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> ModelVersion:
        return self.registry().set_alias(name, alias, parse_version(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.registry().delete_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry().version_by_alias(name, alias)

    def get_model_history(self, name: str) -> list[RegistryEvent]:
        return self.registry().events(name)

    def promote(self, request: Promotion) -> PromotionResult:
        """A gated promotion (see :mod:`mlcli.registry.promotion`)."""
        return promote(self.registry(), self, request)


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = 300,
    *,
    tags: dict[str, str] | None = None,
    env_pack: Any = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` in the store
    found like the CLI finds it (MLflow's ``mlflow.register_model``). The files are
    copied at once, so ``await_registration_for`` has nothing to wait for;
    ``env_pack`` (Databricks serving) is an InvalidInputError."""
    if env_pack is not None:
        raise InvalidInputError("register_model: env_pack (Databricks) is not supported")
    if isinstance(await_registration_for, dict) and tags is None:  # mlcli's older order
        await_registration_for, tags = 300, await_registration_for
    return MlcliClient().register_model(model_uri, name, tags=tags)


def _no_deployment_job(deployment_job_id: str | None) -> None:
    if deployment_job_id is not None:
        raise InvalidInputError("deployment_job_id (Databricks) is not supported")


def _a_name(text: str | None) -> bool:
    """Whether ``text`` is a registered model's name rather than a filter."""
    from mlcli.registry.names import validate_model_name

    if not text:
        return False
    try:
        validate_model_name(text)
    except InvalidInputError:
        return False
    return not any(mark in text for mark in ("=", "'", '"', "`", "<", ">"))


def _a_model(registry: Registry, text: str | None) -> bool:
    """Whether a registered model is named ``text`` (a name with quotes or spaces)."""
    try:
        registry.get_model(str(text))
    except (NotFoundError, InvalidInputError):
        return False
    return True


def _store_tags(tags: dict[str, str] | None) -> dict[str, str] | None:
    """Registry tags as stored: ``mlflow.X`` is ``mlcli.X`` (see ``mlcli.system_tags``)."""
    return None if tags is None else tags_to_store(tags)
