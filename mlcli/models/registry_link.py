"""The one place where models meet the model registry.

Two things need the registry: resolving ``models:/`` URIs, and
``log_model(..., registered_model_name=...)``. Both go through a :class:`RegistryLink`;
:func:`registry_link` gives the one backed by the store's registry
(``.mlruns/models/<name>/versions/<n>/artifacts``). Callers, tests and a future remote
registry pass their own link instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcli.client import MlcliClient
    from mlcli.models.uri import RegistryModelUri
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

    def __init__(self, client: MlcliClient) -> None:
        self.client = client

    def model_version_dir(self, *, uri: RegistryModelUri) -> tuple[Path, str | None]:
        from mlcli.errors import NotFoundError

        registry = self.client.registry()
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
        version = self.client.register_model(model_uri, name)
        return RegisteredVersion(version.name, version.version)


def registry_link(client: TrackingClient) -> RegistryLink:
    """The registry of the store ``client`` works on."""
    from mlcli.client import MlcliClient

    if not isinstance(client, MlcliClient):
        client = MlcliClient(client.store)
    return StoreRegistryLink(client)
