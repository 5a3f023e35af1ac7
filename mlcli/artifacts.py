"""MLflow's ``mlflow.artifacts`` functions: list, download and load the artifacts of a
run by ``runs:/<run_id>/<path>`` URI or by run id, a registered model's by
``models:/`` URI, or a local folder's by path or ``file:`` URI.

Reads only: nothing here starts a run or creates a store. ``tracking_uri`` names the
store to read (a path, ``s3://`` or a server's URL, as ``--store`` takes); without it,
the store every other call uses.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mlcli.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from mlcli.store import FileInfo
    from mlcli.tracking import TrackingClient

__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_text"]


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """The artifacts directly under a run's path (``run_id`` and ``artifact_path``, or
    ``artifact_uri="runs:/<run_id>/<path>"``); paths are relative to the run's root."""
    client, target = _target(artifact_uri, run_id, artifact_path, tracking_uri)
    if isinstance(target, Path):
        return _list_local(target)
    run, path = target
    return client.list_artifacts(run, path or None)


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Copy an artifact file or folder into ``dst_path`` (created if missing; a new
    temporary folder by default) and return the local path of the copy: the file or
    folder by its base name, or ``dst_path`` itself for a run's whole artifact root."""
    client, target = _target(artifact_uri, run_id, artifact_path, tracking_uri)
    destination = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="mlcli-"))
    destination.mkdir(parents=True, exist_ok=True)
    if isinstance(target, Path):
        copy = destination / target.name
        if target.is_dir():
            shutil.copytree(target, copy, dirs_exist_ok=True)
        else:
            shutil.copy2(target, copy)
        return str(copy.resolve())
    run, path = target
    if path:
        return str(Path(client.download_artifacts(run, path, destination)).resolve())
    for entry in client.list_artifacts(run):  # the whole root: its entries into dst_path
        client.download_artifacts(run, entry.path, destination)
    return str(destination.resolve())


def load_text(artifact_uri: str) -> str:
    """The text of the artifact file ``artifact_uri`` names."""
    with tempfile.TemporaryDirectory(prefix="mlcli-") as scratch:
        local = Path(download_artifacts(artifact_uri, dst_path=scratch))
        if not local.is_file():
            raise InvalidInputError(f"{artifact_uri}: not an artifact file")
        return local.read_text()


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """The JSON (or YAML, by its extension) artifact ``artifact_uri`` names, as a dict."""
    text = load_text(artifact_uri)
    if artifact_uri.lower().endswith((".yaml", ".yml")):
        import yaml

        loaded = yaml.safe_load(text)
    else:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{artifact_uri}: not JSON ({exc.msg})") from None
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"{artifact_uri}: holds a {type(loaded).__name__}, not a dict")
    return loaded


def _target(
    artifact_uri: str | None,
    run_id: str | None,
    artifact_path: str | None,
    tracking_uri: str | None,
) -> tuple[TrackingClient, tuple[str, str] | Path]:
    """The client, and either (run id, path in its artifacts) or a local path."""
    from mlcli.tracking import TrackingClient

    if (artifact_uri is None) == (run_id is None):
        raise InvalidInputError("give exactly one of artifact_uri or run_id")
    if artifact_uri is not None and artifact_path is not None:
        raise InvalidInputError("artifact_path cannot be given with artifact_uri")
    client = TrackingClient(tracking_uri)
    if run_id is not None:
        return client, (client.resolve_run_id(run_id), (artifact_path or "").strip("/"))
    uri = str(artifact_uri)
    if uri.startswith("runs:"):
        rest = uri[len("runs:") :].lstrip("/")
        run, _, path = rest.partition("/")
        if not run:
            raise InvalidInputError(f"{uri!r}: expected runs:/<run_id>/<path>")
        return client, (client.resolve_run_id(run), path.strip("/"))
    if uri.startswith("models:"):
        from mlcli.models.uri import resolve_model_uri

        return client, resolve_model_uri(uri, client=client).directory
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        local = Path(unquote(parsed.path))
    elif len(parsed.scheme) > 1:
        raise InvalidInputError(
            f"unsupported artifact URI {uri!r}: use runs:/RUN/PATH, models:/NAME/VERSION, "
            "a path or file:///path"
        )
    else:
        local = Path(uri)
    if not local.exists():
        raise NotFoundError(f"no artifact at {local}")
    return client, local


def _list_local(path: Path) -> list[FileInfo]:
    from mlcli.store import FileInfo

    if not path.is_dir():
        return []
    entries = sorted(path.iterdir(), key=lambda p: p.name)
    return [FileInfo(p.name, p.is_dir(), None if p.is_dir() else p.stat().st_size) for p in entries]
