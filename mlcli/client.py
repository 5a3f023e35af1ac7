"""``MlcliClient``: tracking and registry operations in one client, named like MLflow's
``MlflowClient`` so that code written for it reads the same."""

from __future__ import annotations

from typing import Any

from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent
from mlcli.registry.files import store_registry
from mlcli.registry.names import parse_version
from mlcli.registry.promotion import Promotion, PromotionResult, promote
from mlcli.registry.protocol import Registry
from mlcli.system_tags import tags_to_store, to_store
from mlcli.tracking.client import TrackingClient


class MlcliClient(TrackingClient):
    """Everything :class:`TrackingClient` does, plus the model registry."""

    def registry(self, create: bool = False) -> Registry:
        return store_registry(self, create=create)

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self.registry(create=True).create_model(name, description or "", _store_tags(tags))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry().get_model(name)

    def search_registered_models(self) -> list[RegisteredModel]:
        return self.registry().list_models()

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        return self.registry().update_model(name, description=description)

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

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.registry().get_version(name, parse_version(version))

    def search_model_versions(self, name: str) -> list[ModelVersion]:
        return self.registry().list_versions(name)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        return self.registry().update_version(name, parse_version(version), description=description)

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: Any
    ) -> ModelVersion:
        tags = {to_store(key): value}
        return self.registry().update_version(name, parse_version(version), tags=tags)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.registry().delete_tag(name, to_store(key), parse_version(version))

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


def register_model(model_uri: str, name: str, tags: dict[str, str] | None = None) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` in the store
    found like the CLI finds it (MLflow's ``mlflow.register_model``)."""
    return MlcliClient().register_model(model_uri, name, tags=tags)


def _store_tags(tags: dict[str, str] | None) -> dict[str, str] | None:
    """Registry tags as stored: ``mlflow.X`` is ``mlcli.X`` (see ``mlcli.system_tags``)."""
    return None if tags is None else tags_to_store(tags)
