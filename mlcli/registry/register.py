"""Registering a model: copy it into the registry as the next version of a name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.registry.entities import ModelVersion

if TYPE_CHECKING:
    from mlcli.client import MlcliClient

GIT_COMMIT_TAG = "mlcli.source.git.commit"


def register_model(
    client: MlcliClient,
    model_uri: str,
    name: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ModelVersion:
    """The model at ``model_uri`` (``runs:/<run>/<path>`` or a local directory) becomes
    version N of ``name``; the version records its source run and that run's commit."""
    directory, run_id = _source(client, model_uri)
    if not (directory / "MLmodel").is_file():
        raise InvalidInputError(f"{model_uri} is not a model: it has no MLmodel file")
    commit = client.get_run(run_id).data.tags.get(GIT_COMMIT_TAG) if run_id else None
    source = f"runs:/{run_id}/{_run_path(model_uri)}" if run_id else str(directory)
    return client.registry(create=True).create_version(
        name, directory, source, run_id, commit, description, tags
    )


def _source(client: MlcliClient, model_uri: str) -> tuple[Path, str | None]:
    if model_uri.startswith("runs:/"):
        ref, _, path = model_uri.removeprefix("runs:/").partition("/")
        if not ref or not path:
            raise InvalidInputError(
                f"invalid model URI {model_uri!r}: expected runs:/<run id>/<path>"
            )
        run_id = client.resolve_run_id(ref)
        return client.artifact_path(run_id, path), run_id
    directory = Path(model_uri).expanduser()
    if not directory.is_dir():
        raise NotFoundError(f"no model directory at {model_uri}")
    return directory.resolve(), None


def _run_path(model_uri: str) -> str:
    return model_uri.removeprefix("runs:/").partition("/")[2].strip("/")
