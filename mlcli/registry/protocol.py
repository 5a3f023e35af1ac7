"""``Registry``: what every model registry does, whichever keeps it.

Two implement it: :class:`mlcli.registry.files.ModelRegistry`, the registry kept in a
local store's files, and :class:`mlcli.registry.rest.ServerRegistry`, the registry of a
team server reached over its REST API. Commands, the client, promotions and
``models:/`` URIs take a ``Registry`` and work the same on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mlcli.errors import InvalidInputError
from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage


class Registry(Protocol):
    user: str  # the name the audit trail records (a server records its signed-in user)

    # -- registered models ------------------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel: ...

    def ensure_model(self, name: str) -> RegisteredModel: ...

    def get_model(self, name: str) -> RegisteredModel: ...

    def list_models(self) -> list[RegisteredModel]: ...

    def update_model(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel: ...

    def delete_tag(self, name: str, key: str, version: int | None = None) -> None: ...

    def rename_model(self, name: str, new_name: str) -> RegisteredModel: ...

    def delete_model(self, name: str) -> None: ...

    # -- versions ---------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        source_dir: Path,
        source: str,
        run_id: str | None,
        git_commit: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """The model in ``source_dir`` (found from the URI ``source``) becomes the next
        version of ``name``, as an immutable copy."""
        ...

    def get_version(self, name: str, version: int) -> ModelVersion: ...

    def list_versions(self, name: str, include_deleted: bool = False) -> list[ModelVersion]: ...

    def update_version(
        self,
        name: str,
        version: int,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion: ...

    def delete_version(self, name: str, version: int, comment: str | None = None) -> None: ...

    # -- stages, aliases, history -----------------------------------------------------------

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing: bool = False,
        comment: str | None = None,
    ) -> ModelVersion: ...

    def set_alias(
        self, name: str, alias: str, version: int, comment: str | None = None
    ) -> ModelVersion: ...

    def delete_alias(self, name: str, alias: str) -> None: ...

    def version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    def latest_version(self, name: str) -> ModelVersion: ...

    def latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]: ...

    def holder(self, name: str, stage_or_alias: str) -> ModelVersion | None: ...

    def events(self, name: str) -> list[RegistryEvent]: ...

    def artifacts_path(self, name: str, version: int) -> Path:
        """A local folder holding the version's files (a server's are downloaded once)."""
        ...


def holder_of(registry: Registry, name: str, stage_or_alias: str) -> ModelVersion | None:
    """The version that holds a stage (the highest in it) or an alias, or None: the one
    definition both registries use."""
    try:
        stage = Stage.canonical(stage_or_alias)
    except InvalidInputError:
        if stage_or_alias in registry.get_model(name).aliases:
            return registry.version_by_alias(name, stage_or_alias)
        return None
    found = registry.latest_versions(name, [stage])
    return found[0] if found else None
