"""The artifact proxy, ``/api/2.0/mlflow-artifacts/artifacts/<path>``: what an MLflow
client uses for ``mlflow-artifacts:/`` locations (``log_artifact``, ``log_model``,
``load_model``, ``download_artifacts``).

    PUT  .../artifacts/<exp>/<run_id>/artifacts/<file>      upload one file (streamed)
    GET  .../artifacts/<exp>/<run_id>/artifacts/<file>      download it
    GET  .../artifacts?path=<exp>/<run_id>/artifacts/<dir>  list a folder
    GET  .../artifacts/models/<name>/versions/<n>/artifacts/<file>   a registered copy

Uploads are written to a temporary file beside their destination and renamed into
place, so a reader never sees half a file, and are refused beyond the server's limit.
Registered copies are read-only, but for a version an mlcli client is uploading
(``PENDING_REGISTRATION``, see ``registry.py``). Paths never leave the run's (or version's) folder:
a symbolic link planted in the store is listed as a file without a size and served
only when it leads to a file inside that folder (a 400 otherwise). An upload the file
system would refuse (a name too long, a file where a folder must be) is a 400.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.files.fileio import create_temp_file
from mlcli.store import (
    ArtifactRepository,
    Artifacts,
    artifact_write_errors,
    normalize_artifact_path,
)
from mlcli.tracking_server.backend import Backend

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass(frozen=True)
class RunArtifact:
    experiment_id: str
    run_id: str
    path: str  # relative to the run's artifacts ("" for the root)


@dataclass(frozen=True)
class VersionArtifact:
    name: str
    version: int
    path: str  # relative to the version's copy


def parse_artifact_path(path: str) -> RunArtifact | VersionArtifact:
    """What an artifact proxy path names; NotFoundError when it names nothing."""
    parts = [p for p in path.strip("/").split("/") if p]
    if (
        len(parts) >= 5
        and parts[0] == "models"
        and parts[2] == "versions"
        and parts[4] == "artifacts"
    ):
        if not (parts[3].isascii() and parts[3].isdigit()):
            raise NotFoundError(f"no artifact location {path!r}")
        rest = normalize_artifact_path("/".join(parts[5:]))
        return VersionArtifact(parts[1], int(parts[3]), rest)
    if len(parts) >= 3 and parts[2] == "artifacts":
        rest = normalize_artifact_path("/".join(parts[3:]))
        return RunArtifact(parts[0], parts[1], rest)
    raise NotFoundError(
        f"no artifact location {path!r}: expected <experiment_id>/<run_id>/artifacts/..."
    )


def repository(backend: Backend, target: RunArtifact | VersionArtifact) -> Artifacts:
    """The folder ``target`` lies in; NotFoundError for an unknown run or version."""
    if isinstance(target, VersionArtifact):
        registry = backend.client.registry()
        return ArtifactRepository(registry.artifacts_path(target.name, target.version))
    return backend.store.artifacts(run_of(backend, target))


def run_of(backend: Backend, target: RunArtifact) -> str:
    """The full id of the run ``target`` lies in; NotFoundError for a run unknown or
    in another experiment."""
    run_id = backend.client.resolve_run_id(target.run_id)
    info = backend.store.runs.info(run_id)
    if info.experiment_id != target.experiment_id:
        raise NotFoundError(f"no run {target.run_id} in experiment {target.experiment_id}")
    return run_id


def check_writable(backend: Backend, target: RunArtifact | VersionArtifact) -> None:
    """InvalidInputError unless ``target`` names a file that may be written: in an
    active run, or in a version being uploaded (``PENDING_REGISTRATION``)."""
    if isinstance(target, VersionArtifact):
        version = backend.client.registry().get_version(target.name, target.version)
        if version.status != "PENDING_REGISTRATION":
            raise InvalidInputError("a registered model version's files cannot be changed")
    if not target.path:
        raise InvalidInputError("name the file to upload: .../artifacts/<path>")
    if isinstance(target, RunArtifact):
        backend.writable_run(target.run_id)


def list_folder(backend: Backend, path: str) -> dict[str, Any]:
    """``{"files": [...]}``, names relative to the folder; a file lists as itself; a
    folder that does not exist lists as empty (as in MLflow)."""
    target = parse_artifact_path(path)
    repo = repository(backend, target)
    try:
        entries = repo.list(target.path or None)
    except NotFoundError:
        return {"files": []}
    files = []
    for entry in entries:
        shape: dict[str, Any] = {"path": posixpath.basename(entry.path), "is_dir": entry.is_dir}
        if entry.file_size is not None:
            shape["file_size"] = entry.file_size
        files.append(shape)
    return {"files": files}


def file_to_download(backend: Backend, path: str) -> Path:
    target = parse_artifact_path(path)
    if not target.path:
        raise InvalidInputError(f"{path!r} is a folder: list it with ?path=")
    local = repository(backend, target).resolve(target.path)
    if local.is_dir():
        raise InvalidInputError(f"{target.path!r} is a folder: list it with ?path=")
    if not local.is_file():
        raise InvalidInputError(f"{target.path!r} is not a regular file")
    return local


def open_upload(backend: Backend, path: str) -> tuple[Path, int, str]:
    """(destination, file descriptor, temporary name) for an upload to ``path``."""
    target = parse_artifact_path(path)
    check_writable(backend, target)
    repo = repository(backend, target)
    if os.path.isdir(repo.resolve(target.path, must_exist=False)):
        raise InvalidInputError(f"{target.path!r} is a folder; upload files into it")
    destination = repo.writable(target.path)  # a name too long, a file in the way: a 400
    with artifact_write_errors(target.path):
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = create_temp_file(destination)
    return destination, fd, temporary


def finish_upload(destination: Path, temporary: str, complete: bool) -> None:
    try:
        if complete:
            with artifact_write_errors(destination.name):
                os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
