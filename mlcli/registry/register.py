"""Registering a model: copy it into the registry as the next version of a name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcli import system_tags
from mlcli.registry.entities import ModelVersion
from mlcli.registry.names import validate_model_name

if TYPE_CHECKING:
    from mlcli.client import MlcliClient


def register_model(
    client: MlcliClient,
    model_uri: str,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ModelVersion:
    """The model at ``model_uri`` (a path, ``runs:/``, or ``models:/`` to copy a version)
    becomes version N of ``name``; the version records its source run and that run's
    git commit."""
    from mlcli.models.registry_link import StoreRegistryLink
    from mlcli.models.uri import LocalModelUri, RunModelUri, resolve_model_uri

    validate_model_name(name)  # before anything is resolved or copied
    resolved = resolve_model_uri(model_uri, client=client, registry=StoreRegistryLink(client))
    if isinstance(resolved.uri, RunModelUri):
        source = f"runs:/{resolved.run_id}/{resolved.uri.path}"
    elif isinstance(resolved.uri, LocalModelUri):
        source = str(resolved.directory.resolve())
    else:
        source = str(resolved.uri)
    run_id = resolved.run_id
    commit = client.get_run(run_id).data.tags.get(system_tags.GIT_COMMIT) if run_id else None
    return client.registry(create=True).create_version(
        name, resolved.directory, source, run_id, commit, description, tags
    )
