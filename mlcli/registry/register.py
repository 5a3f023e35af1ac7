"""Registering a model: copy it into the registry as the next version of a name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlcli import system_tags
from mlcli.registry.entities import ModelVersion
from mlcli.registry.files import store_registry
from mlcli.registry.names import validate_model_name

if TYPE_CHECKING:
    from mlcli.tracking import TrackingClient


def register_version(
    client: TrackingClient,
    name: str,
    directory: Path,
    source: str,
    run_id: str | None,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ModelVersion:
    """The model in ``directory`` (found from the URI ``source``) becomes version N of
    ``name``; the version records its source run and that run's git commit. Resolving
    the URI is the caller's part (:func:`mlcli.models.registry_link.register_model`), so
    the registry never needs the models package."""
    validate_model_name(name)
    commit = client.get_run(run_id).data.tags.get(system_tags.GIT_COMMIT) if run_id else None
    return store_registry(client, create=True).create_version(
        name, directory, source, run_id, commit, description, tags
    )
