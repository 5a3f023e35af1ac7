"""Where a served model comes from: its directory, and for registered models the
version a stage or alias names right now.

``models:/NAME@ALIAS``, ``models:/NAME/STAGE`` and ``models:/NAME/latest`` move when
someone promotes a version; they are *pinned* to a version number once, and that
version is what gets loaded, so a promotion between resolving and loading cannot
mix two versions. The watcher asks :func:`current_version` again and again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcli import system_tags
from mlcli.models.uri import RegistryModelUri, parse_model_uri, resolve_model_uri

if TYPE_CHECKING:
    from mlcli.client import MlcliClient
    from mlcli.registry import ModelVersion


@dataclass(frozen=True)
class ModelOrigin:
    uri: str  # as the user gave it
    directory: Path
    name: str | None = None  # the registered model, for models:/ URIs
    version: int | None = None  # the registered version it resolved to
    run_id: str | None = None
    git_commit: str | None = None

    @property
    def movable(self) -> bool:
        """Whether the URI names a stage, an alias or ``latest``, which promotions move."""
        parsed = parse_model_uri(self.uri)
        return isinstance(parsed, RegistryModelUri) and parsed.version is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_uri": self.uri,
            "model_name": self.name,
            "model_version": self.version,
            "run_id": self.run_id,
            "git_commit": self.git_commit,
        }


def locate_model(uri: str, client: MlcliClient) -> ModelOrigin:
    """The model ``uri`` names now; NotFoundError / InvalidInputError otherwise."""
    parsed = parse_model_uri(uri)
    if isinstance(parsed, RegistryModelUri):
        version = registered_version(parsed, client)
        pinned = RegistryModelUri(parsed.name, version=version.version)
        resolved = resolve_model_uri(pinned, client=client)
        commit = version.git_commit or _run_commit(client, version.run_id)
        return ModelOrigin(
            uri, resolved.directory, parsed.name, version.version, version.run_id, commit
        )
    resolved = resolve_model_uri(parsed, client=client)
    return ModelOrigin(
        uri,
        resolved.directory,
        run_id=resolved.run_id,
        git_commit=_run_commit(client, resolved.run_id),
    )


def current_version(uri: str, client: MlcliClient) -> int | None:
    """The version a ``models:/`` URI names now (None for other URIs)."""
    parsed = parse_model_uri(uri)
    if not isinstance(parsed, RegistryModelUri):
        return None
    return registered_version(parsed, client).version


def registered_version(uri: RegistryModelUri, client: MlcliClient) -> ModelVersion:
    from mlcli.errors import NotFoundError

    registry = client.registry()
    if uri.version is not None:
        return registry.get_version(uri.name, uri.version)
    if uri.latest:
        return registry.latest_version(uri.name)
    if uri.alias is not None:
        return registry.version_by_alias(uri.name, uri.alias)
    found = registry.latest_versions(uri.name, [uri.stage or "None"])
    if not found:
        registry.get_model(uri.name)  # a clearer error when the model itself is unknown
        raise NotFoundError(f"model {uri.name!r} has no version in stage {uri.stage}")
    return found[0]


def _run_commit(client: MlcliClient, run_id: str | None) -> str | None:
    from mlcli.errors import MlcliError

    if run_id is None:
        return None
    try:
        return client.get_run(run_id).data.tags.get(system_tags.GIT_COMMIT)
    except MlcliError:  # the run was deleted or lives in another store
        return None
