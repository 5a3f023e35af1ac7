"""The one place where models meet the model registry.

Two things need the registry: resolving ``models:/`` URIs, and
``log_model(..., registered_model_name=...)``. Both go through a :class:`RegistryLink`;
:func:`registry_link` gives the one backed by the store's registry
(``.mlruns/models/<name>/versions/<n>/artifacts``). Callers, tests and a future remote
registry pass their own link instead.

The arrow points one way: models use the registry (``mlcli.registry``), the registry
never imports models, and neither imports the client (``mlcli.client``), which sits
on top of both. That is why :func:`register_model`, which resolves a model URI before
the registry copies the model, lives here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcli.models.uri import RegistryModelUri
    from mlcli.registry import ModelVersion
    from mlcli.tracking import TrackingClient


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: int


class RegistryLink(ABC):
    """What models need from a registry."""

    @abstractmethod
    def model_version_dir(self, *, uri: RegistryModelUri) -> tuple[Path, str | None]:
        """The directory of the version ``uri`` names, and the id of its source run."""

    @abstractmethod
    def check_registrable(self, *, name: str) -> None:
        """Raise, before anything is logged, if ``name`` cannot be registered."""

    @abstractmethod
    def register(
        self, *, name: str, model_uri: str, model_dir: Path, run_id: str | None
    ) -> RegisteredVersion:
        """Register the model logged as ``model_uri`` as the next version of ``name``."""


class StoreRegistryLink(RegistryLink):
    """The registry kept in the store (``mlcli.registry``)."""

    def __init__(self, client: TrackingClient) -> None:
        self.client = client

    def model_version_dir(self, *, uri: RegistryModelUri) -> tuple[Path, str | None]:
        from mlcli.errors import NotFoundError
        from mlcli.registry.files import store_registry

        registry = store_registry(self.client)
        if uri.version is not None:
            version = registry.get_version(uri.name, uri.version)
        elif uri.alias is not None:
            version = registry.version_by_alias(uri.name, uri.alias)
        elif uri.stage is not None:
            found = registry.latest_versions(uri.name, [uri.stage])
            if not found:
                raise NotFoundError(f"model {uri.name!r} has no version in stage {uri.stage}")
            version = found[0]
        else:
            version = registry.latest_version(uri.name)
        return registry.artifacts_path(uri.name, version.version), version.run_id

    def check_registrable(self, *, name: str) -> None:
        from mlcli.registry.names import validate_model_name

        validate_model_name(name)

    def register(
        self, *, name: str, model_uri: str, model_dir: Path, run_id: str | None
    ) -> RegisteredVersion:
        version = register_model(self.client, model_uri, name)
        return RegisteredVersion(version.name, version.version)


def registry_link(client: TrackingClient) -> RegistryLink:
    """The registry of the store ``client`` works on."""
    return StoreRegistryLink(client)


def register_model(
    client: TrackingClient,
    model_uri: str,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ModelVersion:
    """The model at ``model_uri`` (a path, ``runs:/``, or ``models:/`` to copy a version)
    becomes version N of ``name`` in the store's registry."""
    from mlcli.models.uri import LocalModelUri, LoggedModelUri, RunModelUri, resolve_model_uri
    from mlcli.registry.names import validate_model_name
    from mlcli.registry.register import register_version

    validate_model_name(name)  # before anything is resolved or copied
    resolved = resolve_model_uri(model_uri, client=client, registry=StoreRegistryLink(client))
    if isinstance(resolved.uri, RunModelUri):
        source = f"runs:/{resolved.run_id}/{resolved.uri.path}"
    elif isinstance(resolved.uri, LoggedModelUri):  # where its files are, as the server says
        model = client.store.logged_models.get(resolved.uri.model_id)
        source = f"runs:/{model.run_id}/{model.artifact_path}"
    elif isinstance(resolved.uri, LocalModelUri):
        source = str(resolved.directory.resolve())
    else:
        source = str(resolved.uri)
    return register_version(
        client, name, resolved.directory, source, resolved.run_id, description, tags
    )
