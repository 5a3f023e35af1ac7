"""Model URIs: parsed into typed values, resolved to a local model directory.

    path/to/model, file:///abs/path        a directory holding MLmodel
    runs:/<run_id>/<artifact/path>         a model logged to a run (the id may be a prefix)
    models:/<name>/<version>               a registered version (digits)
    models:/<name>/<stage>                 the latest version in None/Staging/Production/Archived
    models:/<name>/latest                  the highest version
    models:/<name>@<alias>                 the version an alias points to
    models:/m-<32 hex>                     an MLflow 3 logged model, by its id

``models:/`` URIs are resolved by the registry through :mod:`mlcli.models.registry_link`.

A model found in the store (``runs:/``, ``models:/``) is refused when it holds a
symbolic link leading outside its folder: loading, serving or packaging it would read
a file that is not part of it. A model folder the user names is the user's own and is
taken as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.mlmodel import MLMODEL_FILE
from mlcli.models.registry_link import RegistryLink, registry_link
from mlcli.store import normalize_artifact_path

if TYPE_CHECKING:
    from mlcli.tracking import TrackingClient

STAGES = ("None", "Staging", "Production", "Archived")
_ALIAS = re.compile(r"^[\w\-]{1,255}\Z")
_RUN_PREFIX = re.compile(r"^[0-9a-fA-F]{1,32}\Z")
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}\Z")


@dataclass(frozen=True)
class LocalModelUri:
    path: Path

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class RunModelUri:
    run: str  # a run id or unique prefix
    path: str  # the model's artifact path inside the run

    def __str__(self) -> str:
        return f"runs:/{self.run}/{self.path}"


@dataclass(frozen=True)
class RegistryModelUri:
    """Exactly one of version, stage, alias or latest is set."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        suffix = self.version if self.version is not None else self.stage or "latest"
        return f"models:/{self.name}/{suffix}"


@dataclass(frozen=True)
class LoggedModelUri:
    """``models:/m-<id>``: an MLflow 3 logged model, kept with the run that logged it."""

    model_id: str

    def __str__(self) -> str:
        return f"models:/{self.model_id}"


ModelUri = LocalModelUri | RunModelUri | RegistryModelUri | LoggedModelUri


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model URI led: the local directory, if known the run it came from, and
    the root of the store it was resolved against (whose trust records apply to it)."""

    uri: ModelUri
    directory: Path
    run_id: str | None = None
    store_root: Path | None = None


def parse_model_uri(text: str) -> ModelUri:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("empty model URI: give a path, runs:/RUN/PATH or models:/NAME/...")
    if text.startswith("runs:"):
        return _parse_runs(text)
    if text.startswith("models:"):
        return _parse_models(text)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return LocalModelUri(Path(unquote(parsed.path)))
    if len(parsed.scheme) > 1:  # one letter is a Windows drive
        raise InvalidInputError(
            f"unsupported model URI {text!r}: use a path, runs:/RUN/PATH or models:/NAME/VERSION"
        )
    return LocalModelUri(Path(text))


def resolve_model_uri(
    uri: str | ModelUri,
    *,
    client: TrackingClient | None = None,
    registry: RegistryLink | None = None,
) -> ResolvedModel:
    """The local directory of the model ``uri`` names; NotFoundError if there is none."""
    parsed = parse_model_uri(uri) if isinstance(uri, str) else uri
    if isinstance(parsed, LocalModelUri):
        directory = _model_dir(parsed.path.expanduser(), str(parsed))
        return ResolvedModel(parsed, directory, store_root=store_root_of(client))
    if client is None:
        from mlcli.tracking import TrackingClient

        client = TrackingClient()
    from mlcli.tracking.background import background_work

    background_work().wait()  # a model this process is logging in the background
    if isinstance(parsed, LoggedModelUri):
        model = client.store.logged_models.get(parsed.model_id)
        if model.deleted:
            raise NotFoundError(f"logged model {model.model_id} is deleted")
        try:
            directory = client.store.artifacts(model.run_id).resolve(model.artifact_path)
        except NotFoundError:
            raise NotFoundError(f"logged model {model.model_id} has no files") from None
        return ResolvedModel(
            parsed, _stored_model_dir(directory, str(parsed)), model.run_id, client.store.root
        )
    if isinstance(parsed, RunModelUri):
        run_id = client.resolve_run_id(parsed.run)
        repo = client.store.artifacts(run_id)
        try:
            directory = repo.resolve(parsed.path)
        except NotFoundError:
            raise NotFoundError(f"run {run_id[:8]} has no model at {parsed.path!r}") from None
        return ResolvedModel(
            parsed, _stored_model_dir(directory, str(parsed)), run_id, client.store.root
        )
    link = registry if registry is not None else registry_link(client)
    directory, source_run_id = link.model_version_dir(uri=parsed)
    model_dir = _stored_model_dir(directory, str(parsed))
    return ResolvedModel(parsed, model_dir, source_run_id, client.store.root)


def store_root_of(client: TrackingClient | None) -> Path | None:
    """The root of ``client``'s store, or None when there is no client or no store."""
    from mlcli.errors import MlcliError

    if client is None:
        return None
    try:
        return client.store.root
    except MlcliError:
        return None


def _stored_model_dir(path: Path, label: str) -> Path:
    """The model folder at ``path`` in the store, refused if a link in it leads out."""
    from mlcli.files.trees import links_leading_outside

    directory = _model_dir(path, label)
    outside = links_leading_outside(directory)
    if outside:
        first = outside[0]
        raise InvalidInputError(
            f"the model at {label} holds a symbolic link leading outside it "
            f"({first.relative} -> {first.link}); mlcli does not follow it"
        )
    return directory


def _model_dir(path: Path, label: str) -> Path:
    if path.is_file() and path.name == MLMODEL_FILE:
        return path.parent
    if not path.exists():
        raise NotFoundError(f"no model at {label}: no such file or directory")
    if not (path / MLMODEL_FILE).is_file():
        raise NotFoundError(f"no model at {label}: it has no MLmodel file")
    return path


def _parse_runs(text: str) -> RunModelUri:
    body = text[len("runs:") :]
    if not body.startswith("/") or body.startswith("///"):
        raise InvalidInputError(f"invalid model URI {text!r}: expected runs:/<run_id>/<path>")
    run, _, path = body.lstrip("/").partition("/")
    if not _RUN_PREFIX.match(run) or not path.strip("/"):
        raise InvalidInputError(f"invalid model URI {text!r}: expected runs:/<run_id>/<path>")
    return RunModelUri(run.lower(), normalize_artifact_path(path.strip("/")))


def _parse_models(text: str) -> RegistryModelUri | LoggedModelUri:
    body = text[len("models:") :]
    usage = (
        "expected models:/<name>/<version|stage|latest>, models:/<name>@<alias> "
        "or models:/m-<logged model id>"
    )
    if not body.startswith("/") or body.startswith("//"):
        raise InvalidInputError(f"invalid model URI {text!r}: {usage}")
    parts = body[1:].rstrip("/").split("/")
    if len(parts) == 1 and _LOGGED_MODEL_ID.match(parts[0]):
        return LoggedModelUri(parts[0])
    if len(parts) == 1 and "@" in parts[0]:
        name, _, alias = parts[0].rpartition("@")
        if not name or not _ALIAS.match(alias):
            raise InvalidInputError(f"invalid model URI {text!r}: {usage}")
        return RegistryModelUri(name, alias=alias)
    if len(parts) != 2 or not parts[0] or not parts[1] or "@" in parts[1]:
        raise InvalidInputError(f"invalid model URI {text!r}: {usage}")
    name, suffix = parts
    if suffix.isascii() and suffix.isdigit():
        return RegistryModelUri(name, version=int(suffix))
    if suffix.lower() == "latest":
        return RegistryModelUri(name, latest=True)
    stage = next((s for s in STAGES if s.lower() == suffix.lower()), None)
    if stage is None:
        raise InvalidInputError(
            f"invalid model URI {text!r}: {suffix!r} is not a version number, 'latest' or a "
            f"stage ({', '.join(STAGES)})"
        )
    return RegistryModelUri(name, stage=stage)
